"""HTTPS serving: a threaded WSGI server with the site's TLS certificate."""

from __future__ import annotations

import logging
import ssl

import re
import socket

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .app import HTTP_MESSAGES
from .config import SiteConfig
from .tls import ensure_certificate
from .web import SECURITY_HEADERS

log = logging.getLogger(__name__)

# Links sent by e-mail carry a secret in their path: it never reaches the logs.
_SECRET_PATH = re.compile(r"(/(?:definir|reinitialiser|valider|invitation)/)[^/\s?]+")
# Seconds a connection may stay silent: in its TLS handshake, before or within a request,
# or kept alive between requests. Then it is closed and its thread freed.
IDLE_TIMEOUT = 30.0
# The few refusals written before the site's own code runs (by http.server: a request line,
# a header, too long or malformed), as the site would word them.
_ERROR_PAGE = ("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
               "<title>ViaTrajectoire</title></head>\n<body><p role=\"alert\">%(explain)s</p>"
               "</body></html>\n")


class RedactingHandler(WSGIRequestHandler):
    # A request line that cannot be read is answered as HTTP/1.0, with a status line, rather
    # than as the HTTP/0.9 of http.server's default, which has none.
    default_request_version = "HTTP/1.0"
    error_message_format = _ERROR_PAGE
    error_content_type = "text/html; charset=utf-8"
    _error_page = False

    def log_request(self, code="-", size="-") -> None:
        line = _SECRET_PATH.sub(r"\1…", getattr(self, "path", "") or self.requestline)
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), line, code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """http.server's own refusals (414, 431, 400…), in French and with the site's
        security headers. `message` stays the standard reason phrase of the status line."""
        self._error_page = True
        super().send_error(code, None, HTTP_MESSAGES.get(code, HTTP_MESSAGES[400]))

    def end_headers(self) -> None:
        if self._error_page:  # the site's own answers get them from the app
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
        super().end_headers()


class TlsServer(ThreadedWSGIServer):
    """The TLS handshake in each connection's own thread, under IDLE_TIMEOUT.

    Werkzeug's ssl_context wraps the listening socket, so that accept() itself does the
    handshake, in the one thread that accepts: a single connection that never speaks (a
    port scanner, a browser's spare pre-connection, half a ClientHello) stopped the whole
    site. Here the listening socket stays plain; `ssl_context` is still set, for the
    request's https scheme."""

    def __init__(self, host: str, port: int, app: Flask, tls: ssl.SSLContext, fd: int):
        super().__init__(host, port, app, RedactingHandler, fd=fd)
        self.ssl_context = tls

    def finish_request(self, request: socket.socket, client_address) -> None:
        request.settimeout(IDLE_TIMEOUT)  # the TLS socket inherits it
        try:
            connection = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):  # silent, not TLS, or refused: nothing to answer
            return
        try:
            super().finish_request(connection, client_address)
        finally:
            connection.close()  # the raw socket was detached into it


def run(app: Flask, config: SiteConfig, bind: str, port: int) -> None:
    cert, key = ensure_certificate(config.data_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    # Bound here, not by werkzeug, so that a taken port is our OSError (a French message in
    # __main__) rather than werkzeug's English text and exit.
    listener = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((bind, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    server = TlsServer(bind, port, app, ctx, listener.fileno())
    log.info("site ViaTrajectoire de référence : %s (écoute %s:%d, certificat %s)",
             config.origin, bind, server.port, cert)
    # One line on stdout that launchers wait for.
    print(f"PRET {config.origin} {cert}", flush=True)
    server.serve_forever()
