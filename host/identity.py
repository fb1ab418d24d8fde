"""The holder as a pydantic model, from a `cryptography` certificate (server side).

The naming rules live in host/holder.py, shared with the host, which reads certificates
without `cryptography` to keep its start-up short.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from host.holder import CARD_TYPES, holder_fields, split_id_nat

__all__ = ["CARD_TYPES", "Holder", "holder_of", "split_id_nat"]

IdType = Literal["RPPS", "ADELI", "OTHER"]
CardType = Literal["CPS", "CPF", "CPE", "CPA", "CDE", "UNKNOWN"]


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


def holder_of(cert, policies: dict[str, str] | None = None) -> Holder:
    """Raises ValueError when the subject has no idNat (not a CPx holder certificate)."""
    from cryptography import x509

    subject = [[(a.oid.dotted_string, str(a.value)) for a in rdn] for rdn in cert.subject.rdns]
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        oids = [p.policy_identifier.dotted_string for p in ext]
    except x509.ExtensionNotFound:
        oids = []
    return Holder(**holder_fields(subject, oids, policies))
