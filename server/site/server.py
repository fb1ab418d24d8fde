"""HTTPS serving: a threaded WSGI server with the site's TLS certificate."""

from __future__ import annotations

import logging
import ssl

import re
import socket

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .config import SiteConfig
from .tls import ensure_certificate

log = logging.getLogger(__name__)

# Links sent by e-mail carry a secret in their path: it never reaches the logs.
_SECRET_PATH = re.compile(r"(/(?:definir|reinitialiser|valider|invitation)/)[^/\s?]+")


class RedactingHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:
        line = _SECRET_PATH.sub(r"\1…", getattr(self, "path", "") or self.requestline)
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), line, code, size)


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
    server = make_server(bind, port, app, threaded=True, ssl_context=ctx,
                         request_handler=RedactingHandler, fd=listener.fileno())
    log.info("site ViaTrajectoire de référence : %s (écoute %s:%d, certificat %s)",
             config.origin, bind, server.port, cert)
    # One line on stdout that launchers wait for.
    print(f"PRET {config.origin} {cert}", flush=True)
    server.serve_forever()
