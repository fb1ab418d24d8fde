"""The page contract (server/site/README.md) that the extension, the browser tests and
integrators rely on, and the real-world plumbing: cookies, TLS, stored passwords, outbox."""

from __future__ import annotations

import html
import re
import sqlite3

import requests
from cryptography import x509

from tests.site.browser import Browser, text_of
from tests.site.flows import established
from tests.testbed.site import REPO


def test_connexion_page_tiles(site, browser):
    page = browser.get("/")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    tile = re.search(r"<section[^>]*data-cpsbridge-tile[^>]*>(.*?)</section>", page.text, re.S)
    assert tile, "no element with data-cpsbridge-tile"
    button = re.search(r'<button[^>]*id="tuile-cps"[^>]*>(.*?)</button>', tile.group(1), re.S)
    # Named after what it does, the card login (audit finding 7): e-CPS is another tile.
    assert words(button.group(1)) == "S'identifier par carte CPS"
    assert "data-cpsbridge-status" in tile.group(1) and 'role="alert"' in tile.group(1)
    assert '<script src="/static/cpsbridge.js"></script>' in page.text
    assert '<script src="/static/connexion.js"></script>' in page.text
    assert ">Se connecter</button>" in page.text and "Mot de passe oublié ?" in page.text
    psc = re.search(r'<a[^>]*href="/pro-sante-connect"[^>]*>(.*?)</a>', page.text, re.S)
    assert words(psc.group(1)) == "PSC S'identifier par E-CPS (Pro Santé Connect)"
    assert 'aria-hidden="true">PSC<' in psc.group(1)  # the logo's letters are not read


def words(fragment: str) -> str:
    """The text of an HTML fragment, spaces collapsed."""
    return html.unescape(re.sub(r"(<[^>]+>|\s)+", " ", fragment)).strip()
    assert re.search(r'<meta name="csrf-token" content="[\w-]{40,}">', page.text)


def test_site_library_is_the_extensions_file(site, browser):
    served = browser.get("/static/cpsbridge.js")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert served.content == (REPO / "extension" / "page" / "cpsbridge.js").read_bytes()
    js = browser.get("/static/connexion.js")
    assert "/connexion/carte-cps/defi" in js.text and "CpsBridge.authenticate" in js.text
    # The invitation page's tile sends its step with the challenge request.
    assert 'getAttribute("data-cpsbridge-etape")' in js.text and "{etape: etape}" in js.text


def test_session_cookie_flags_and_rotation(site, browser):
    first = browser.get("/")
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("__Host-vt_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie, cookie
    before = browser.http.cookies.get("__Host-vt_session")
    established(site, browser, "cookie1", "cookie1@chu.example.test")
    after = browser.http.cookies.get("__Host-vt_session")
    assert after and after != before  # a new session id at login: no fixation
    assert browser.get("/espace").status_code == 200
    # The old cookie is worth nothing now.
    stale = Browser(site)
    stale.http.cookies.set("__Host-vt_session", before, domain="localhost.local", path="/")
    assert stale.get("/espace").url == site.url


def test_passwords_are_stored_with_argon2id(site, browser):
    established(site, browser, "argon1", "argon1@chu.example.test")
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    (stored,) = conn.execute("SELECT mot_de_passe FROM comptes WHERE identifiant = 'argon1'").fetchone()
    conn.close()
    assert stored.startswith("$argon2id$") and "m=65536" in stored


def test_tls_certificate_names_localhost_and_127_0_0_1(site):
    cert = x509.load_pem_x509_certificate(site.ca_cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    r = requests.get(f"https://127.0.0.1:{site.port}/", verify=str(site.ca_cert_path), timeout=10)
    assert r.status_code == 200


def test_outbox_page_lists_the_messages(site, browser):
    site.create_account("boite1", "boite1@chu.example.test", "Boite", "Lettre")
    page = browser.get("/boite-mail")
    assert "Boîte de réception de démonstration" in page.text
    assert "votre compte utilisateur a été créé" in page.text
    message_id = site.outbox()[-1].id
    one = browser.get(f"/boite-mail/{message_id}")
    assert "Votre identifiant de connexion : boite1" in one.text
    assert '<a href="https://localhost:' in one.text  # the link is clickable
    listing = browser.get("/boite-mail.json").json()
    assert listing[-1]["to"] == "boite1@chu.example.test" and listing[-1]["links"]


def test_logged_in_page_contract(site, browser):
    established(site, browser, "contrat1", "contrat1@chu.example.test", nom="Moreau",
                prenom="jean-luc", profession="Médecin")
    page = browser.get("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Jean-Luc MOREAU"
    assert "Vous êtes connecté" in page.text


def test_pro_sante_connect_is_documented_as_outside(browser):
    page = browser.get("/pro-sante-connect")
    assert "ne passe pas par CPS Bridge" in page.text and "wallet.esw.esante.gouv.fr" in page.text


def test_link_secrets_stay_out_of_the_log(site, browser):
    site.create_account("log1", "log1@chu.example.test", "Journal", "Paul")
    link = site.outbox()[-1].links[0]
    secret = link.rsplit("/", 1)[1]
    assert browser.get(link).status_code == 200
    assert "/mot-de-passe/definir/…" in site.log()
    assert secret not in site.log()


def test_security_headers(browser):
    for path in ("/", "/static/connexion.js", "/nulle-part"):
        headers = browser.get(path).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
