"""Who holds a card: read from an IGC-Santé holder certificate.

Shared by the host (list-certificates) and the verifier (the outcome's holder), so that
both name a practitioner the same way.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

IdType = Literal["RPPS", "ADELI", "OTHER"]
CardType = Literal["CPS", "CPF", "CPE", "CPA", "CDE", "UNKNOWN"]
CARD_TYPES: tuple[str, ...] = ("CPS", "CPF", "CPE", "CPA", "CDE")

# Card type is read from the certificate-policy OID, through a table, never guessed from
# the profession. These OIDs belong to the project's test PKI (a private 2.25 arc).
# Production IGC-Santé policy OIDs are added through the host configuration
# (`cardTypePolicies`, see host/config.py) from the ANS certificate templates.
TEST_CARD_TYPE_POLICIES: dict[str, str] = {
    "2.25.258118230373226431806513622463526384673.1": "CPS",
    "2.25.258118230373226431806513622463526384673.2": "CPF",
    "2.25.258118230373226431806513622463526384673.3": "CPE",
    "2.25.258118230373226431806513622463526384673.4": "CPA",
    "2.25.258118230373226431806513622463526384673.5": "CDE",
}

_OID_CN = "2.5.4.3"
_OID_SN = "2.5.4.4"
_OID_GN = "2.5.4.42"
_OID_TITLE = "2.5.4.12"


class Holder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idNat: str
    idType: IdType
    rpps: str | None = None
    adeli: str | None = None
    familyName: str
    givenName: str
    title: str | None = None
    cardType: CardType


def split_id_nat(id_nat: str) -> tuple[IdType, str | None, str | None]:
    """'8' + 11-digit RPPS, '0' + ADELI, anything else OTHER (e.g. a CPE's '3' + FINESS)."""
    if id_nat.startswith("8") and len(id_nat) == 12 and id_nat.isdigit():
        return "RPPS", id_nat[1:], None
    if id_nat.startswith("0") and len(id_nat) > 1 and id_nat[1:].isalnum():
        return "ADELI", None, id_nat[1:]
    return "OTHER", None, None


def card_type_of(cert, policies: dict[str, str] | None = None) -> CardType:
    from cryptography import x509

    table = {**TEST_CARD_TYPE_POLICIES, **(policies or {})}
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return "UNKNOWN"
    found = {table[p.policy_identifier.dotted_string] for p in ext
             if p.policy_identifier.dotted_string in table}
    if len(found) == 1:
        return found.pop()  # type: ignore[return-value]
    if not found:
        log.info("card type unknown: no certificate policy of %s is in the table",
                 [p.policy_identifier.dotted_string for p in ext])
    else:
        log.warning("card type ambiguous: policies name %s", sorted(found))
    return "UNKNOWN"


def holder_of(cert, policies: dict[str, str] | None = None) -> Holder:
    """The IGC-Santé subject: a multi-valued RDN CN=idNat + SN + GN, then title.
    Raises ValueError when the subject has no idNat (not a CPx holder certificate)."""
    cn = sn = gn = None
    for rdn in cert.subject.rdns:
        attrs = {a.oid.dotted_string: a.value for a in rdn}
        if _OID_CN in attrs and (_OID_SN in attrs or _OID_GN in attrs or cn is None):
            cn, sn, gn = attrs.get(_OID_CN), attrs.get(_OID_SN, sn), attrs.get(_OID_GN, gn)
        else:
            sn = attrs.get(_OID_SN, sn)
            gn = attrs.get(_OID_GN, gn)
    titles = [a.value for a in cert.subject if a.oid.dotted_string == _OID_TITLE]
    if not cn:
        raise ValueError("the certificate subject has no CN (idNat)")
    id_type, rpps, adeli = split_id_nat(str(cn))
    return Holder(idNat=str(cn), idType=id_type, rpps=rpps, adeli=adeli,
                  familyName=str(sn or ""), givenName=str(gn or ""),
                  title=str(titles[0]) if titles else None,
                  cardType=card_type_of(cert, policies))
