"""The site suite: one real site process per test module (HTTPS on 127.0.0.1, the test PKI's
trust anchors, the real verifier), and the real host signing with the SoftHSM2 cards."""

from __future__ import annotations

import pytest

from tests.site.browser import Browser
from tests.testbed.hostproc import HostProcess
from tests.testbed.site import SiteProcess


@pytest.fixture(scope="module")
def site(pki_dir, tmp_path_factory):
    # Revocation is the verifier suite's subject (with its own OCSP/CRL server); here it is
    # off so that both suites can run in one session.
    with SiteProcess(tmp_path_factory.mktemp("site"), pki_dir / "trust", revocation="off") as s:
        yield s


@pytest.fixture
def host(host_env, site):
    env = dict(host_env, CPSBRIDGE_ALLOWED_ORIGINS=f"{site.origin},https://trajectoire.example.test")
    with HostProcess(env) as h:
        yield h


@pytest.fixture
def browser(site) -> Browser:
    return Browser(site)


@pytest.fixture
def ids(pki) -> dict[str, str]:
    """certificateId of each holder's authentication certificate."""
    return {slug: h.certificate_id for slug, h in pki.holders.items()}
