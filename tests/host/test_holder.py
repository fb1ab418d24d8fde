"""host/holder.py, the naming rules the host and the verifier share (PROTOCOL §4), on the
subjects an outside conformance probe tried against the verifier."""

from __future__ import annotations

import pytest

from host.holder import OID_CN, OID_GN, OID_SN, OID_TITLE, holder_fields, split_id_nat


@pytest.mark.parametrize("id_nat, expected", [
    ("899700367917", ("RPPS", "99700367917", None)),
    ("0751234567", ("ADELI", None, "751234567")),
    ("02A1234567", ("ADELI", None, "2A1234567")),  # Corsica: 2A / 2B
    ("0751234567/01", ("ADELI", None, "751234567/01")),  # §4: adeli = the rest
    ("3450000000/1234", ("OTHER", None, None)),  # a CPE: '3' + FINESS
    ("8" + "９" * 11, ("OTHER", None, None)),  # fullwidth digits are no RPPS number
    ("8997003679", ("OTHER", None, None)),  # not the 11 digits §4 names
    ("8ABCDEFGHIJK", ("OTHER", None, None)),
    ("0", ("OTHER", None, None)),  # no rest: no ADELI number
    ("", ("OTHER", None, None)),
])
def test_id_nat_types(id_nat, expected):
    assert split_id_nat(id_nat) == expected


def subject(*rdns: dict[str, str]) -> list[list[tuple[str, str]]]:
    return [list(rdn.items()) for rdn in rdns]


def test_the_names_are_those_of_the_idnat_group():
    """§4: idNat is the CN of the multi-valued RDN CN + SN + GN; its SN and GN name the
    holder, not an SN or GN elsewhere in the subject, before or after it."""
    for rdns in [
        ({OID_CN: "899700367917", OID_SN: "DUPONT", OID_GN: "JEAN"}, {OID_SN: "AUTRE"}),
        ({OID_SN: "AUTRE", OID_GN: "PIERRE"}, {OID_CN: "899700367917", OID_SN: "DUPONT", OID_GN: "JEAN"}),
        ({OID_CN: "un service"}, {OID_CN: "899700367917", OID_SN: "DUPONT", OID_GN: "JEAN"},
         {OID_TITLE: "Médecin"}),
    ]:
        fields = holder_fields(subject(*rdns), [])
        assert (fields["idNat"], fields["familyName"], fields["givenName"]) == \
            ("899700367917", "DUPONT", "JEAN"), rdns


def test_a_subject_without_the_group_takes_its_first_cn_and_names():
    fields = holder_fields(subject({OID_CN: "0751234567"}, {OID_SN: "MARTIN"}, {OID_GN: "CLAIRE"},
                                   {OID_SN: "AUTRE"}), [])
    assert (fields["idType"], fields["familyName"], fields["givenName"]) == ("ADELI", "MARTIN", "CLAIRE")


def test_no_cn_is_no_holder():
    with pytest.raises(ValueError):
        holder_fields(subject({OID_SN: "DUPONT", OID_GN: "JEAN"}), [])
