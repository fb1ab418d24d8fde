"""Who holds a card, from the subject and policies of an IGC-Santé certificate.

Pure data in, a plain dict out: the host calls it with fields read by host/certificate.py,
the verifier (through host/identity.py) with a `cryptography` certificate, so that both
name a practitioner the same way.
"""

from __future__ import annotations

CARD_TYPES: tuple[str, ...] = ("CPS", "CPF", "CPE", "CPA", "CDE")

# Card type is read from the certificate-policy OIDs through a table given by configuration
# (the host's `cardTypePolicies`, the verifier's `card_type_policies`), never guessed from
# the profession: the IGC-Santé OIDs per card type come from the ANS certificate templates.
# None are built in (the test PKI brings its own table, tests/testbed/pki.py).

OID_CN, OID_SN, OID_GN, OID_TITLE = "2.5.4.3", "2.5.4.4", "2.5.4.42", "2.5.4.12"

Rdns = list[list[tuple[str, str]]]  # the subject: RDNs, each a list of (OID, value)


def split_id_nat(id_nat: str) -> tuple[str, str | None, str | None]:
    """§4: '8' + the 11 digits of an RPPS number; '0' + ADELI (the rest, whatever it is:
    a Corsican ADELI holds letters, 2A/2B); anything else OTHER (a CPE's '3' + FINESS…).
    Digits are ASCII ones: '８' passes str.isdigit() and is no RPPS."""
    if id_nat.startswith("8") and len(id_nat) == 12 and id_nat.isascii() and id_nat.isdigit():
        return "RPPS", id_nat[1:], None
    if id_nat.startswith("0") and len(id_nat) > 1:
        return "ADELI", None, id_nat[1:]
    return "OTHER", None, None


def is_oid(text: object) -> bool:
    """An OID in the dotted form certificates' policies are read in (1.2.250.1.71.1.2.1):
    two numbers at least, the first 0, 1 or 2, no leading zero; anything else would never
    match a certificate. By hand: the host's start does not import `re`."""
    if not isinstance(text, str):
        return False
    arcs = text.split(".")
    return len(arcs) >= 2 and arcs[0] in ("0", "1", "2") and all(
        arc.isascii() and arc.isdigit() and (arc == "0" or arc[0] != "0") for arc in arcs)


def is_card_type_table(value: object) -> bool:
    """A usable `cardTypePolicies` (the host's) or `--card-type-policies` (the verifier's):
    an object of certificate-policy OIDs -> CARD_TYPES."""
    return isinstance(value, dict) and all(is_oid(k) and v in CARD_TYPES
                                           for k, v in value.items())


def card_type(policy_oids: list[str], table: dict[str, str] | None = None) -> str:
    """The one card type the policies name, else UNKNOWN (none, or contradictory)."""
    table = table or {}
    found = {table[oid] for oid in policy_oids if oid in table}
    return found.pop() if len(found) == 1 else "UNKNOWN"


def holder_fields(subject: Rdns, policy_oids: list[str],
                  card_type_policies: dict[str, str] | None = None) -> dict:
    """The IGC-Santé subject: a multi-valued RDN CN=idNat + SN + GN (§4), then title.
    The names are that RDN's: an SN elsewhere in the subject names nobody. A subject without
    such an RDN (a CN alone) takes its first CN, SN and GN. Raises ValueError when there is
    no idNat (not a CPx holder certificate)."""
    group = first = None
    sn = gn = title = None
    for rdn in subject:
        attrs = dict(rdn)
        if OID_CN in attrs:
            if group is None and (OID_SN in attrs or OID_GN in attrs):
                group = attrs
            if first is None:
                first = attrs
        if sn is None:
            sn = attrs.get(OID_SN)
        if gn is None:
            gn = attrs.get(OID_GN)
        if title is None:
            title = attrs.get(OID_TITLE)
    if group is not None:
        sn, gn = group.get(OID_SN), group.get(OID_GN)
    cn = (group or first or {}).get(OID_CN)
    if not cn:
        raise ValueError("the certificate subject has no CN (idNat)")
    id_type, rpps, adeli = split_id_nat(cn)
    return {"idNat": cn, "idType": id_type, "rpps": rpps, "adeli": adeli,
            "familyName": sn or "", "givenName": gn or "", "title": title,
            "cardType": card_type(policy_oids, card_type_policies)}
