"""Odd HTTP requests to every route of the reference site: wrong methods, forms and JSON of
any shape, odd path parameters, with and without the session's CSRF token. Every answer is
a 2xx, 3xx or 4xx: a bad request is never a server error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.site.browser import Browser
from tests.site.flows import established

ROUTES = ["/", "/connexion", "/connexion/code", "/connexion/code/renvoyer", "/connexion/cgu",
          "/deconnexion", "/connexion/carte-cps/defi", "/connexion/carte-cps",
          "/connexion/carte-cps/association", "/espace", "/compte", "/compte/telephone",
          "/compte/telephone/code", "/compte/otp", "/compte/assistants", "/compte/assistants/{n}",
          "/compte/email/lien",
          "/assistant/invitation/{t}", "/assistant/finalisation", "/liberal/creation",
          "/liberal/cgu", "/mot-de-passe/definir/{t}", "/mot-de-passe/reinitialiser/{t}",
          "/mot-de-passe-oublie", "/email/valider/{t}", "/referent", "/boite-mail",
          "/boite-mail.json", "/boite-mail/{t}", "/connexion/site-tiers", "/pro-sante-connect",
          "/cgu", "/aide/carte-cps", "/static/cpsbridge.js"]
FIELDS = ["identifiant", "mot_de_passe", "code", "email", "rpps", "nom", "prenom", "telephone",
          "accepte", "cgu", "token", "nonce", "origin", "challengeNonce", "mot_de_passe_confirmation",
          "csrf_token", "x"]
odd_text = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "\x00", "é" * 300, "0" * 5000, "<script>", "' OR 1=1 --", "../../etc/passwd", "%00",
     "https://evil.example", "10000000001", "a@b", "\ud7ff"]))
odd_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
                        | odd_text, lambda c: st.lists(c, max_size=3)
                        | st.dictionaries(odd_text, c, max_size=3), max_leaves=8)
path_param = st.one_of(odd_text.filter(lambda t: "/" not in t and "?" not in t and "#" not in t),
                       st.integers(-5, 2**64).map(str))


def send_odd_request(browser: Browser, data, routes: list[str]) -> None:
    route = data.draw(st.sampled_from(routes))
    param = data.draw(path_param)
    path = route.replace("{t}", param).replace("{n}", param)
    # Mostly the methods the routes take, so that the handlers are reached.
    method = data.draw(st.sampled_from(["GET", "POST"] * 4 + ["PUT", "DELETE", "HEAD"]))
    kind = data.draw(st.sampled_from(["form", "json", "raw"]))
    csrf = data.draw(st.sampled_from([True, True, True, False]))
    headers = {"X-CSRF-Token": browser.csrf} if csrf else {}
    kw: dict = {}
    if kind == "form":
        form = data.draw(st.dictionaries(st.sampled_from(FIELDS), odd_text, max_size=6))
        if csrf:
            form.setdefault("csrf_token", browser.csrf)
        kw["data"] = {k: v.encode("utf-8", "surrogatepass") for k, v in form.items()}
    elif kind == "json":  # NaN and Infinity included, which strict JSON parsers refuse
        kw["data"] = json.dumps(data.draw(odd_json)).encode()
        headers["Content-Type"] = "application/json"
    else:
        kw["data"] = data.draw(st.binary(max_size=200))
        headers["Content-Type"] = data.draw(st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain",
             "multipart/form-data; boundary=x", "application/json; charset=latin-1"]))
    r = browser.http.request(method, browser.site.origin + path, headers=headers, timeout=30,
                             verify=browser.verify, allow_redirects=False, **kw)
    assert r.status_code < 500, (method, path, kind, r.status_code, r.text[:300])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.data())
def test_no_request_is_a_server_error(site, data):
    browser = Browser(site)
    browser.get("/")  # a session and its CSRF token, as a page would have
    send_odd_request(browser, data, ROUTES)


@pytest.fixture(scope="module")
def logged_in(site):
    browser = Browser(site)
    established(site, browser, "fuzz.durand", "fuzz.durand@chu.example")
    return browser


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.data())
def test_no_request_of_a_logged_in_user_is_a_server_error(logged_in, data):
    page = logged_in.get("/espace", allow_redirects=False)  # a fresh CSRF token
    assert page.status_code == 200, "the fuzz logged the user out: the test would prove less"
    send_odd_request(logged_in, data, [r for r in ROUTES if r != "/deconnexion"])
