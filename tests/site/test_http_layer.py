"""The site's HTTP layer, below its pages, over raw sockets: connections that never speak,
requests http.server refuses before the site's code runs, bodies without a length, Host
headers that are not the site's."""

from __future__ import annotations

import socket
import ssl
import threading

import requests


def tls_socket(site) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(site.ca_cert_path))
    raw = socket.create_connection(("127.0.0.1", site.port), timeout=15)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def exchange(site, request: bytes) -> bytes:
    """Send raw bytes over TLS, return all the server answers before closing."""
    with tls_socket(site) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_connections_that_never_speak_do_not_stop_the_site(site):
    """A port scanner, a browser's spare pre-connection, half a TLS ClientHello: the
    handshake used to run in the one thread that accepts, so that any of them stopped
    every other visitor until it closed."""
    silent = socket.create_connection(("127.0.0.1", site.port), timeout=5)
    half = socket.create_connection(("127.0.0.1", site.port), timeout=5)
    half.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and nothing more
    try:
        answered = []
        # The timeout only guards against a hang (the old behaviour): not a speed check.
        worker = threading.Thread(target=lambda: answered.append(
            requests.get(site.url, verify=str(site.ca_cert_path), timeout=20).status_code))
        worker.start()
        worker.join(25)
        assert answered == [200], "the site did not answer while two connections stayed silent"
    finally:
        silent.close()
        half.close()


def test_refusals_before_the_site_are_in_french_with_a_status_line_and_headers(site):
    for request, status in [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"".join(
            b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"\x01\x02 nonsense\r\n\r\n", 400),
    ]:
        answer = exchange(site, request)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 %d " % status) or head.startswith(
            b"HTTP/1.1 %d " % status), head[:80]
        headers = head.decode("latin-1").lower()
        assert "content-type: text/html; charset=utf-8" in headers
        assert "content-security-policy:" in headers and "x-frame-options: deny" in headers
        text = body.decode("utf-8")
        assert '<html lang="fr">' in text and "<p role=\"alert\">" in text, text
        assert "Error response" not in text and "Request-URI" not in text


def test_a_chunked_body_is_refused_rather_than_cut(site, browser):
    """Werkzeug read a chunked body up to the 64 KiB limit and dropped the rest silently: the
    form was then refused for a field that had been filled in."""
    browser.get("/mot-de-passe-oublie")
    fields = {"pad": "x" * 70000, "identifiant": "quelquun", "email": "q@example.test",
              "csrf_token": browser.csrf}
    body = iter([f"{k}={v}&".encode() for k, v in fields.items()])  # a generator: chunked
    r = browser.http.post(site.origin + "/mot-de-passe-oublie", data=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"},
                          verify=browser.verify, timeout=30)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 411
    assert "les envois par morceaux (Transfer-Encoding: chunked) ne sont pas acceptés" in r.text


def test_a_host_that_is_not_the_sites_is_refused(site):
    """Werkzeug's redirect of a doubled slash is built from the Host header: with any host
    accepted, /connexion//code sent to https://evil.example/connexion/code."""
    for path in ("/connexion//code", "/"):
        answer = exchange(site, b"GET %s HTTP/1.1\r\nHost: evil.example\r\nConnection: close"
                                b"\r\n\r\n" % path.encode())
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"evil.example" not in answer
    for host in (b"localhost:%d" % site.port, b"127.0.0.1:%d" % site.port):
        answer = exchange(site, b"GET /cgu HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                          % host)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
