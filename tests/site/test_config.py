"""The site's configuration: its origin in the form browsers send and the host signs, and what
the card login trusts by default. In process (Flask's test client): no site is started."""

from __future__ import annotations

import re

import pytest
from cryptography.x509.oid import NameOID

from server.site import __main__ as cli
from server.site.app import create_app
from server.site.cardauth import CardAuth
from server.site.config import SiteConfig, check_origin
from tests.site.browser import sign
from tests.testbed.hostproc import HostProcess

BASE = "https://localhost"  # the site's address, as the browser shows it (port 443)


@pytest.mark.parametrize("configured, canonical", [
    ("https://localhost:443", "https://localhost"),
    ("HTTPS://LocalHost:8443", "https://localhost:8443"),
    ("https://trajectoire.sante-ra.fr/", "https://trajectoire.sante-ra.fr"),
])
def test_the_configured_origin_is_the_one_browsers_send(tmp_path, configured, canonical):
    assert check_origin(configured) == canonical
    assert SiteConfig(data_dir=tmp_path, origin=configured).origin == canonical


@pytest.mark.parametrize("origin", ["http://localhost", "wss://localhost", "https://localhost/x",
                                    "https://a@localhost", "https://localhost:0", "localhost"])
def test_what_is_not_an_https_origin_is_refused(origin):
    with pytest.raises(ValueError, match="origine invalide"):
        check_origin(origin)


def serve_config(monkeypatch, argv: list[str]):
    """`python -m server.site ARGV` up to the point where it would listen."""
    seen = {}
    monkeypatch.setattr("server.site.server.run",
                        lambda app, config, bind, port: seen.update(app=app, config=config))
    assert cli.main(argv) == 0
    return seen["app"], seen["config"]


def test_port_443_gives_the_origin_without_port(monkeypatch, tmp_path, pki_dir):
    app, config = serve_config(monkeypatch, ["--port", "443", "--data", str(tmp_path),
                                             "--trust", str(pki_dir / "trust")])
    assert config.origin == "https://localhost"
    assert app.config["CARD_AUTH"].origin == "https://localhost"  # what tokens are checked against


def test_a_site_on_port_443_takes_its_browsers_posts_and_card_tokens(tmp_path, pki_dir, host_env, ids):
    """A browser on https://localhost sends `Origin: https://localhost`, and the host signs
    that origin: both must match the site's own."""
    config = SiteConfig(data_dir=tmp_path, trust_dir=pki_dir / "trust", revocation="off",
                        origin="https://localhost:443")
    client = create_app(config).test_client()
    page = client.get("/", base_url=BASE).get_data(as_text=True)
    headers = {"Origin": "https://localhost",
               "X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)}
    refused = client.post("/connexion", data={"identifiant": "x", "mot_de_passe": "y"},
                          headers=headers, base_url=BASE)
    assert refused.status_code == 401  # a wrong password, not a 403 for the Origin
    answer = client.post("/connexion/carte-cps/defi", json={}, headers=headers, base_url=BASE)
    assert answer.status_code == 200, answer.get_json()
    nonce = answer.get_json()["challengeNonce"]
    with HostProcess(dict(host_env, CPSBRIDGE_ALLOWED_ORIGINS="https://localhost")) as host:
        token = sign(host, nonce, "https://localhost", ids["martin"])
    answer = client.post("/connexion/carte-cps", json={"token": token, "nonce": nonce},
                         headers=headers, base_url=BASE)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"redirect": "/connexion/carte-cps/association"}


def common_names(auth: CardAuth) -> list[str]:
    return sorted(a.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                  for a in auth.anchors)


def test_the_card_login_trusts_only_the_cps_chain_by_default(monkeypatch, tmp_path):
    """A CPS card's authentication certificate: AC IGC-SANTE FORT PERSONNES under AC RACINE
    IGC-SANTE FORT. The STANDARD, ELEMENTAIRE and ORGANISATIONS CAs issue certificates that
    need no card (software, servers): not trusted for a login « par carte »."""
    app, config = serve_config(monkeypatch, ["--data", str(tmp_path), "--revocation", "off"])
    assert common_names(app.config["CARD_AUTH"]) == ["AC IGC-SANTE FORT PERSONNES",
                                                     "AC RACINE IGC-SANTE FORT"]


def test_a_trust_folder_is_taken_whole(tmp_path, pki_dir):
    auth = CardAuth(SiteConfig(data_dir=tmp_path, trust_dir=pki_dir / "trust", revocation="off"))
    assert len(auth.anchors) == 2  # the test PKI's root and intermediate


@pytest.mark.parametrize("trust", ["README.md", "empty-folder"])
def test_unusable_trust_anchors_are_a_usage_error_in_french(tmp_path, trust):
    """A file that is no certificate, or a folder without any: one line saying so, exit 2
    (argparse's usage error), never a traceback."""
    import subprocess
    import sys

    from tests.testbed.hostproc import REPO

    path = REPO / trust if trust == "README.md" else tmp_path / trust
    if trust == "empty-folder":
        path.mkdir()
    p = subprocess.run([sys.executable, "-m", "server.site", "--data", str(tmp_path / "data"),
                        "--trust", str(path)], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert "autorités de confiance inutilisables" in p.stderr
