"""A page that carries the site library (extension/page/cpsbridge.js), served from a
thread over http or https: a site that is not the reference site (another origin, the
benchmark's page). `/cpsbridge.js` is the library; any other path is the page. No
Cache-Control header (the reference site sends no-store): a browser may keep the page in its
back/forward cache."""

from __future__ import annotations

import http.server
import ssl
import threading
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "extension" / "page" / "cpsbridge.js"


def serve_page(html: str, host: str = "127.0.0.1", certfile: Path | None = None,
               keyfile: Path | None = None) -> http.server.ThreadingHTTPServer:
    """A started server on a free port of `host` (https when a certificate is given);
    stop it with .shutdown()."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/cpsbridge.js":
                body, ctype = LIBRARY.read_bytes(), "text/javascript"
            else:
                body, ctype = html.encode(), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Page)
    if certfile is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
