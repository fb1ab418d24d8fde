"""A person's browser, as far as HTTP goes: one cookie jar, the CSRF token of the last page,
forms posted the way the pages post them, and the card tile's two JSON calls."""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path

import requests

from tests.testbed.hostproc import HostProcess
from tests.testbed.site import SiteProcess

PIN = "1234"
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def text_of(page: str, attribute: str) -> str | None:
    """The text of the first element carrying `attribute` (e.g. data-testid="utilisateur")."""
    m = re.search(rf'<(\w+)[^>]*{re.escape(attribute)}[^>]*>(.*?)</\1>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip() if m else None


def alert(page: str) -> str | None:
    """The refusal shown with the page (data-refus: it takes the focus on load; role="alert"
    is the tile's, for its messages inserted after load)."""
    return text_of(page, "data-refus")


class Browser:
    def __init__(self, site: SiteProcess):
        self.site = site
        self.http = requests.Session()
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's own setting.
        self.verify = str(site.ca_cert_path)
        self.csrf = ""
        self.nonce: str | None = None  # the last challenge, sent back with the token as the tile does

    def _seen(self, r: requests.Response) -> requests.Response:
        m = META_CSRF.search(r.text) if "text/html" in r.headers.get("Content-Type", "") else None
        if m:
            self.csrf = m.group(1)
        return r

    def get(self, path: str, **kw) -> requests.Response:
        url = path if path.startswith("https://") else self.site.origin + path
        return self._seen(self.http.get(url, timeout=30, verify=self.verify, **kw))

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw) -> requests.Response:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self._seen(self.http.post(self.site.origin + path, data=data, timeout=30,
                                         verify=self.verify, **kw))

    def post_json(self, path: str, body: dict | None = None, csrf: bool = True,
                  headers: dict | None = None, **kw) -> requests.Response:
        headers = {**({"X-CSRF-Token": self.csrf} if csrf else {}), **(headers or {})}
        return self.http.post(self.site.origin + path, json=body or {}, headers=headers,
                              timeout=60, verify=self.verify, **kw)

    # -- the card tile --------------------------------------------------------------------

    def challenge(self, etape: str | None = None) -> str:
        """The tile's first call; `etape` as the invitation page's tile sends it."""
        r = self.post_json("/connexion/carte-cps/defi", {"etape": etape} if etape else {})
        assert r.status_code == 200, r.text
        self.nonce = r.json()["challengeNonce"]
        return self.nonce

    def present(self, token: dict, nonce: str | None = None) -> requests.Response:
        """The tile's second call: the token and the nonce it signed (default: the last
        challenge this browser asked for; none before any)."""
        nonce = nonce or self.nonce
        return self.post_json("/connexion/carte-cps",
                              {"token": token, **({"nonce": nonce} if nonce else {})})

    def card_login(self, host: HostProcess, certificate_id: str,
                   etape: str | None = None) -> requests.Response:
        """Click on the tile: challenge, the host signs with the card, the token goes back.
        `etape="invitation"`: the tile of the assistant's invitation page."""
        if not self.csrf:
            self.get("/")
        return self.present(sign(host, self.challenge(etape), self.site.origin, certificate_id))

    def follow(self, answer: requests.Response) -> requests.Response:
        assert answer.status_code == 200, answer.text
        return self.get(answer.json()["redirect"])

    def login(self, identifiant: str, password: str) -> requests.Response:
        self.get("/")
        return self.post("/connexion", {"identifiant": identifiant, "mot_de_passe": password})

    def logout(self) -> requests.Response:
        return self.post("/deconnexion")


def sign(host: HostProcess, nonce: str, origin: str, certificate_id: str) -> dict:
    """The real host signs the challenge with the software card (PKCS#11, PIN 1234)."""
    answer = host.request("authenticate", {"challengeNonce": nonce, "origin": origin,
                                           "certificateId": certificate_id, "pin": PIN}, timeout=60)
    assert "result" in answer, (answer, host.stderr_text()[-2000:])
    return answer["result"]["token"]


def last_message(site: SiteProcess, to: str, canal: str = "email"):
    found = [m for m in site.outbox() if m.to == to and m.canal == canal]
    assert found, f"no {canal} to {to} in the outbox: {[(m.to, m.subject) for m in site.outbox()]}"
    return found[-1]


def code_in(message) -> str:
    m = re.search(r"\b(\d{6})\b", message.body)
    assert m, message.body
    return m.group(1)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def query(site: SiteProcess, sql: str, *params) -> list[tuple]:
    """Rows of the site's own database, as the site stored them."""
    conn = sqlite3.connect(Path(site.data_dir) / "site.sqlite")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def age(site: SiteProcess, sql: str, *params) -> None:
    """Move stored times into the past, as the clock would: the site reads them, tests do not
    wait (used for expired links and the OTP interval)."""
    conn = sqlite3.connect(Path(site.data_dir) / "site.sqlite")
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()
