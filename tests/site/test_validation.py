"""What the site takes as digits: ASCII 0-9 only. Python's \\d also matches the digits of other
scripts (٩, ９ …): an RPPS written so would be accepted, and a phone number would get a second
spelling, hence a second key for its SMS limit. No site process needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.site.referent import NewAccount
from server.site.views.compte import normalize_phone

SITE = Path(__file__).resolve().parents[2] / "server" / "site"


def account(rpps: str) -> NewAccount:
    return NewAccount(identifiant="jdupont", email="j.dupont@chu.example.test", nom="Dupont",
                      prenom="Jean", rpps=rpps)


@pytest.mark.parametrize("rpps", ["٩٩٧٠٠٣٦٧٩١٧", "９９７００３６７９１７", "9970036791٧"])
def test_an_rpps_is_eleven_ascii_digits(rpps):
    assert account("99700367917").problem() is None
    assert account(rpps).problem() == "numéro RPPS invalide (11 chiffres)"


@pytest.mark.parametrize("raw", ["06١٢٣٤٥٦٧٨", "+336١٢٣٤٥٦٧٨", "０６１２３４５６７８"])
def test_a_phone_number_has_one_spelling(raw):
    assert normalize_phone("06 12 34 56 78") == normalize_phone("+33612345678") == "+33612345678"
    assert normalize_phone(raw) is None


def test_no_site_regex_uses_the_unicode_digit_class():
    """Where digits are validated, [0-9]: a guard for the next regex written."""
    found = [f"{path.relative_to(SITE)}:{n}" for path in sorted(SITE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r'\br["\'][^"\']*\\d', line)]
    assert found == []
