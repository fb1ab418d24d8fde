"""Every refusal: a clear French message and a proper status, nothing written, no
traceback. Card tokens come from the real host."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest
import requests

from tests.site.browser import Browser, alert, code_in, last_message, sign
from tests.site.flows import PASSWORD, established


def count(site, table: str) -> int:
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def error(answer: requests.Response) -> dict:
    return answer.json()["error"]


CSRF_MESSAGE = ("La page a expiré ou la demande ne vient pas de ce site (jeton de sécurité absent "
                "ou invalide). Rechargez la page, puis recommencez.")
CSRF_REFUSAL = {"code": "CSRF_INVALIDE", "message": CSRF_MESSAGE}


# -- card endpoint -------------------------------------------------------------------------

def test_reused_challenge(site, browser, host, ids):
    browser.get("/")
    token = sign(host, browser.challenge(), site.origin, ids["martin"])
    first = browser.present(token)
    assert first.status_code == 200  # unknown card: on to the association page
    again = browser.present(token)
    assert again.status_code == 409
    assert error(again) == {"code": "NONCE_UNKNOWN", "message": (
        "Cette demande de connexion par carte n'est pas reconnue ou a déjà été utilisée. "
        "Recommencez la connexion par carte CPS.")}


def test_token_of_another_session(site, host, ids):
    alice, mallory = Browser(site), Browser(site)
    alice.get("/")
    mallory.get("/")
    token = sign(host, alice.challenge(), site.origin, ids["dupont"])
    # Presented in a session that asked no challenge: unknown.
    assert error(mallory.present(token))["code"] == "NONCE_UNKNOWN"
    # Presented in a session with its own challenge: signed over another nonce.
    mallory.challenge()
    answer = mallory.present(token)
    assert answer.status_code == 401 and error(answer)["code"] == "SIGNATURE_INVALID"
    assert "ne correspond pas à la demande de connexion de ce site" in error(answer)["message"]


def test_two_tabs_each_present_their_own_challenge(site, browser, host, ids):
    """Two tabs of one session, each with its challenge: each token is checked against the
    nonce its page sends, not against the last challenge asked."""
    browser.get("/")
    first, second = browser.challenge(), browser.challenge()
    answer = browser.present(sign(host, first, site.origin, ids["martin"]), first)
    assert answer.status_code == 200, answer.text
    answer = browser.present(sign(host, second, site.origin, ids["martin"]), second)
    assert answer.status_code == 200, answer.text


def test_a_nonce_the_session_does_not_hold_is_unknown(site, host, ids):
    alice, mallory = Browser(site), Browser(site)
    alice.get("/")
    mallory.get("/")
    nonce = alice.challenge()
    token = sign(host, nonce, site.origin, ids["dupont"])
    mallory.challenge()
    answer = mallory.present(token, nonce)
    assert answer.status_code == 409 and error(answer)["code"] == "NONCE_UNKNOWN"
    # Presented once, anywhere, a nonce is spent (§6): it had leaked, it serves no more.
    assert error(alice.present(token, nonce))["code"] == "NONCE_UNKNOWN"


def test_every_challenge_of_a_session_stays_pending_until_presented(site, browser, host, ids):
    browser.get("/")
    nonces = [browser.challenge() for _ in range(6)]
    for nonce in (nonces[0], nonces[5], nonces[2]):
        answer = browser.present(sign(host, nonce, site.origin, ids["martin"]), nonce)
        assert answer.status_code == 200, answer.text


def test_a_challenge_asked_while_another_tab_verifies_its_card_stays_pending(
        tmp_path, pki_dir, host_env, ids):
    """Tab A's token is being verified (slowly: revocation fetches) when tab B asks for its
    challenge; A's request then saves the session it had read. B's login must still work:
    its challenge is kept by the challenge store, not in the session. In-process, A's
    verification held until B has its challenge (no real card holds a request on cue)."""
    import re
    import threading

    from server.site.app import create_app
    from server.site.cardauth import CardRefused
    from server.site.config import SiteConfig
    from tests.testbed.hostproc import HostProcess

    base = "https://localhost:8443"
    app = create_app(SiteConfig(data_dir=tmp_path, trust_dir=pki_dir / "trust", revocation="off",
                                origin=base))
    auth = app.config["CARD_AUTH"]
    real_verify, seen = auth.verify, []
    entered, release = threading.Event(), threading.Event()

    def verify(session_id: str, nonce: str, token: object):
        seen.append(nonce)
        if len(seen) > 1:
            return real_verify(session_id, nonce, token)
        entered.set()  # tab A: held until tab B has its challenge
        release.wait(10)
        raise CardRefused("SIGNATURE_INVALID")

    auth.verify = verify
    tab_a = app.test_client()
    page = tab_a.get("/", base_url=base).get_data(as_text=True)
    headers = {"X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1),
               "Origin": base}
    tab_b = app.test_client()
    for cookie in tab_a._cookies.values():  # one browser session, two tabs
        tab_b.set_cookie(cookie.key, cookie.value, domain=cookie.domain)

    def defi(client) -> str:
        return client.post("/connexion/carte-cps/defi", json={}, headers=headers,
                           base_url=base).get_json()["challengeNonce"]

    def present(client, token: dict, nonce: str):
        return client.post("/connexion/carte-cps", json={"token": token, "nonce": nonce},
                           headers=headers, base_url=base)

    first = defi(tab_a)
    held = threading.Thread(target=present, args=(tab_a, {}, first))
    held.start()
    assert entered.wait(10)
    second = defi(tab_b)
    release.set()
    held.join(10)
    with HostProcess(dict(host_env, CPSBRIDGE_ALLOWED_ORIGINS=base)) as host:
        token = sign(host, second, base, ids["martin"])
    answer = present(tab_b, token, second)
    assert answer.status_code == 200, answer.get_json()
    assert seen == [first, second]


def test_a_token_without_its_nonce_is_unknown(site, browser, host, ids):
    """The body of a tile script from before the nonce was sent back: {"token": {...}}. Not
    checked against a guessed challenge, none spent: a reload brings the current script."""
    browser.get("/")
    nonce = browser.challenge()
    token = sign(host, nonce, site.origin, ids["martin"])
    answer = browser.post_json("/connexion/carte-cps", {"token": token})
    assert answer.status_code == 409 and error(answer)["code"] == "NONCE_UNKNOWN"
    assert browser.present(token, nonce).status_code == 200


def test_token_made_for_another_origin(site, browser, host, ids):
    browser.get("/")
    token = sign(host, browser.challenge(), "https://trajectoire.example.test", ids["dupont"])
    assert error(browser.present(token))["code"] == "SIGNATURE_INVALID"


def test_expired_certificate(site, browser, host, ids):
    browser.get("/")
    token = sign(host, browser.challenge(), site.origin, ids["expire"])
    answer = browser.present(token)
    assert answer.status_code == 401
    assert error(answer) == {"code": "CERT_EXPIRED", "message": (
        "Le certificat de votre carte CPS a expiré. Utilisez votre nouvelle carte ou "
        "connectez-vous par identifiant et mot de passe.")}


ANOTHER_WAY = "Utilisez votre carte CPS, ou connectez-vous avec votre identifiant et votre mot de passe."


def test_a_certificate_the_login_cannot_take_says_what_to_do(site, browser, pki):
    """The card's signature certificate (CERT_WRONG_USAGE), and a card of another authority
    (CERT_UNTRUSTED): each refusal ends with what to do instead. Made here, not by the
    host: the host never signs with the signature key, nor holds another authority's card."""
    from tests.server.tokens import make_token
    from tests.testbed.pki import TestPKI

    dupont = pki.holders["dupont"]
    stranger = TestPKI.create(pki.base_url).holders["dupont"]  # same names, other keys
    for key, cert, code, reason in [
        (dupont.sig_key, dupont.sig_cert, "CERT_WRONG_USAGE",
         "Le certificat présenté n'est pas un certificat d'authentification de carte CPS."),
        (stranger.auth_key, stranger.auth_cert, "CERT_UNTRUSTED",
         "Cette carte n'a pas été émise par l'autorité de certification des professionnels de "
         "santé (IGC-Santé)."),
    ]:
        browser.get("/")
        nonce = browser.challenge()
        answer = browser.present(make_token(key, cert, nonce, origin=site.origin), nonce)
        assert answer.status_code == 401
        assert error(answer) == {"code": code, "message": f"{reason} {ANOTHER_WAY}"}


def test_expired_challenge(site, browser, host, ids):
    browser.get("/")
    nonce = browser.challenge()
    token = sign(host, nonce, site.origin, ids["dupont"])
    # Age the challenge in the store as five minutes would.
    conn = sqlite3.connect(site.data_dir / "challenges.sqlite")
    with conn:
        conn.execute("UPDATE challenges SET issued_at = issued_at - 301 WHERE nonce = ?", (nonce,))
    conn.close()
    answer = browser.present(token)
    assert answer.status_code == 409 and error(answer)["code"] == "NONCE_EXPIRED"


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"token": "x"}', b'{"token": {}, "more": 1}', b'{"jeton": {}}',
    b'{"token": {}, "nonce": 1}', b'{"nonce": "x"}', b'{"token": {}, "token": {}}',
    b'{"token": {"format": "a", "format": "cpsbridge:1"}}'])
def test_malformed_card_requests(site, browser, body):
    browser.get("/")
    browser.challenge()
    answer = browser.http.post(site.origin + "/connexion/carte-cps", data=body,
                               headers={"X-CSRF-Token": browser.csrf,
                                        "Content-Type": "application/json"},
                               verify=browser.verify, timeout=30)
    assert answer.status_code == 400
    assert error(answer)["code"] == "REQUETE_INVALIDE"
    assert "La demande doit être un objet JSON" in error(answer)["message"]


def test_a_malformed_token_spends_the_challenge(site, browser, host, ids):
    browser.get("/")
    nonce = browser.challenge()
    broken = browser.present({"format": "cpsbridge:1", "unverifiedCertificate": "%%%"})
    assert broken.status_code == 400 and error(broken)["code"] == "TOKEN_MALFORMED"
    token = sign(host, nonce, site.origin, ids["dupont"])
    assert error(browser.present(token))["code"] == "NONCE_UNKNOWN"


def test_a_token_that_does_not_decode_is_malformed_before_any_nonce_reason(site, browser, host, ids):
    """§6: step 1 (every field decodes, the certificate too) before step 2 (the nonce)."""
    browser.get("/")
    token = dict(sign(host, browser.challenge(), site.origin, ids["dupont"]))
    assert browser.present(token).status_code == 200  # the challenge is spent
    token["unverifiedCertificate"] = "bm90IGEgY2VydGlmaWNhdGU="  # base64, not DER
    answer = browser.present(token)  # no challenge left in this session
    assert answer.status_code == 400 and error(answer)["code"] == "TOKEN_MALFORMED"


def test_csrf_missing_on_card_endpoints(site, browser):
    browser.get("/")
    for path in ("/connexion/carte-cps/defi", "/connexion/carte-cps"):
        answer = browser.post_json(path, {"token": {}}, csrf=False)
        assert answer.status_code == 403
        assert error(answer) == CSRF_REFUSAL
    wrong = browser.http.post(site.origin + "/connexion/carte-cps/defi", json={},
                              headers={"X-CSRF-Token": "faux"}, verify=browser.verify, timeout=30)
    assert wrong.status_code == 403 and error(wrong) == CSRF_REFUSAL


def test_a_foreign_origin_header_is_refused(site, browser):
    browser.get("/")
    answer = browser.post_json("/connexion/carte-cps/defi",
                               headers={"Origin": "https://evil.example.test"})
    assert answer.status_code == 403 and error(answer)["code"] == "CSRF_INVALIDE"


# -- forms ---------------------------------------------------------------------------------

def test_csrf_missing_on_forms(site, browser):
    established(site, browser, "csrf1", "csrf1@chu.example.test")
    browser.logout()
    before = count(site, "tentatives")
    for path, data in [("/connexion", {"identifiant": "csrf1", "mot_de_passe": PASSWORD}),
                       ("/mot-de-passe-oublie", {"identifiant": "csrf1", "email": "x@y.fr"}),
                       ("/deconnexion", {})]:
        page = browser.post(path, data, csrf=False)
        assert page.status_code == 403, path
        assert "jeton de sécurité absent ou invalide" in alert(page.text)
    assert count(site, "tentatives") == before
    # A new visitor without any session posting straight away is refused too.
    fresh = Browser(site)
    page = fresh.post("/connexion", {"identifiant": "csrf1", "mot_de_passe": PASSWORD,
                                     "csrf_token": "devine"})
    assert page.status_code == 403 and alert(page.text) == CSRF_MESSAGE


def test_login_attempts_are_limited(site, browser):
    established(site, browser, "limite", "limite@chu.example.test")
    browser.logout()
    answers = [browser.login("limite", f"faux{i}xxxxxx").status_code for i in range(5)]
    assert answers == [401] * 5
    page = browser.login("limite", PASSWORD)  # even the right password, for now
    assert page.status_code == 429
    assert alert(page.text).startswith("Trop de tentatives de connexion.")


def test_empty_and_oversized_input(site, browser):
    browser.get("/")
    page = browser.post("/connexion", {"identifiant": "", "mot_de_passe": ""})
    assert page.status_code == 400
    assert alert(page.text) == "Renseignez votre identifiant et votre mot de passe."
    page = browser.post("/connexion", {"identifiant": "x" * 500, "mot_de_passe": "y"})
    assert page.status_code == 400 and alert(page.text) == "Une des valeurs saisies est trop longue."
    big = browser.post("/connexion", {"identifiant": "x" * 100_000, "mot_de_passe": "y"})
    assert big.status_code == 413 and alert(big.text) == "La demande envoyée est trop volumineuse."


def test_unknown_pages_and_methods(site, browser):
    page = browser.get("/nulle-part")
    assert page.status_code == 404 and alert(page.text) == "Cette page n'existe pas."
    page = browser.get("/connexion")
    assert page.status_code == 405 and "Traceback" not in page.text
    assert alert(page.text) == "Cette action n'est pas possible sur cette page."
    page = browser.get("/mot-de-passe/definir/" + "A" * 43)
    assert page.status_code == 410 and alert(page.text).startswith("Ce lien n'est pas valide.")
    page = browser.get("/assistant/invitation/court")
    assert page.status_code == 410 and alert(page.text) == (
        "Ce lien n'est pas valide. Vérifiez que vous avez copié le lien complet reçu par e-mail.")
    page = browser.get("/boite-mail/inconnu")
    assert page.status_code == 404 and alert(page.text) == "Cette page n'existe pas."


def test_pending_steps_need_their_start(site, browser):
    for path in ("/connexion/code", "/connexion/cgu", "/connexion/carte-cps/association",
                 "/liberal/cgu", "/assistant/finalisation"):
        page = browser.get(path)
        assert page.url == site.url, path


# -- site tiers ------------------------------------------------------------------------------

def test_arrival_from_a_third_party_site(site, browser, host, ids):
    # The account of the card's holder (Claire Martin), so that the card can be linked to it.
    established(site, browser, "tiers1", "tiers1@chu.example.test", nom="Martin", prenom="Claire")
    browser.logout()
    assert browser.login("tiers1", PASSWORD).url.endswith("/espace")  # no code: within interval
    page = browser.get("/connexion/site-tiers?site=Logiciel%20DPI&retour=/compte")
    # Logged in by password only, the arrival is refused...
    assert page.status_code == 403
    refusal = alert(page.text)
    assert refusal == ("Accès refusé : le site depuis lequel vous souhaitez vous connecter n'a "
                       "pas de mode de connexion fort (double authentification ou connexion par "
                       "carte de professionnel).")
    assert 'id="tuile-cps"' in page.text
    browser.logout()
    # ... and the way out: password with a confirmation code, whatever the interval...
    browser.get("/connexion/site-tiers?site=Logiciel%20DPI&retour=/compte")
    page = browser.post("/connexion", {"identifiant": "tiers1", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/connexion/code")
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, "tiers1@chu.example.test"))})
    assert page.url.endswith("/compte")
    assert browser.get("/connexion/site-tiers?retour=/compte").url.endswith("/compte")
    browser.logout()
    # ... or the card: its first use links it to the account, then on to the arrival...
    browser.get("/connexion/site-tiers?site=Logiciel%20DPI&retour=/compte")
    answer = browser.card_login(host, ids["martin"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    browser.follow(answer)
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "tiers1", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/connexion/code")  # a password login: here, with its code
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, "tiers1@chu.example.test"))})
    assert page.url.endswith("/compte")
    browser.logout()
    # ... and a linked card goes straight there.
    browser.get("/connexion/site-tiers?site=Logiciel%20DPI&retour=/compte")
    assert browser.card_login(host, ids["martin"]).json() == {"redirect": "/compte"}


def test_site_tiers_shows_no_text_from_the_link(site, browser):
    """Anyone can write the link: what it carries must not become the site's own words."""
    page = browser.get("/connexion/site-tiers?retour=/compte&site=" + quote(
        "ViaTrajectoire. Votre compte est suspendu : appelez le 08 99 00 00 00"))
    assert page.status_code == 403
    assert "appelez" not in page.text and "suspendu" not in page.text
    assert alert(page.text).startswith("Accès refusé : le site depuis lequel vous souhaitez")


def test_site_tiers_stays_on_this_site(site, browser):
    browser.get("/connexion/site-tiers?retour=//evil.example.test/")
    established(site, browser, "tiers2", "tiers2@chu.example.test")
    assert browser.get("/espace").url == site.origin + "/espace"


def test_a_failed_send_leaves_nothing_written(site, browser):
    """The e-mail is sent inside the transaction: when sending fails, the link it carried
    is not stored either, and the person reads a French message, not a traceback."""
    established(site, browser, "panne1", "panne1@chu.example.test")
    browser.logout()
    outbox = site.data_dir / "outbox"
    parked = site.data_dir / "outbox-parked"
    links_before = count(site, "liens")
    outbox.rename(parked)
    outbox.write_text("not a folder: every write into it fails")
    try:
        browser.get("/mot-de-passe-oublie")
        page = browser.post("/mot-de-passe-oublie", {"identifiant": "panne1",
                                                     "email": "panne1@chu.example.test"})
    finally:
        outbox.unlink()
        parked.rename(outbox)
    assert page.status_code == 500
    assert alert(page.text) == ("Une erreur inattendue est survenue ; rien n'a été enregistré. "
                                "Réessayez dans quelques instants.")
    assert "Traceback" not in page.text
    assert count(site, "liens") == links_before


def test_oversized_card_request(site, browser):
    browser.get("/")
    answer = browser.post_json("/connexion/carte-cps", {"token": {"x": "A" * 100_000}})
    assert answer.status_code == 413
    assert error(answer) == {"code": "REQUETE_INVALIDE",
                             "message": "La demande envoyée est trop volumineuse."}


def nested(browser, path: str) -> requests.Response:
    return browser.http.post(browser.site.origin + path, data=b"[" * 30_000 + b"]" * 30_000,
                             headers={"X-CSRF-Token": browser.csrf,
                                      "Content-Type": "application/json"},
                             verify=browser.verify, timeout=30)


def test_deeply_nested_card_request(site, browser):
    """Nesting deeper than the JSON parser goes is a malformed request, not a server error."""
    browser.get("/")
    browser.challenge()
    answer = nested(browser, "/connexion/carte-cps")
    assert answer.status_code == 400
    assert error(answer) == {"code": "REQUETE_INVALIDE", "message": (
        "La demande doit être un objet JSON {\"token\": {...}, \"nonce\": \"…\"} envoyé par la page "
        "de connexion.")}
    # The challenge reads its body too (the invitation page's step): no step there.
    assert "challengeNonce" in nested(browser, "/connexion/carte-cps/defi").json()
