"""A real OCSP responder, CRL server and CA-certificate server for the test PKI, over HTTP on
127.0.0.1 (the port the test PKI's AIA/CDP URLs name).

    /ocsp                          OCSP over POST (and GET /ocsp/<base64>), RFC 6960
    /crl/ac-fort-personnes.crl     the intermediate's CRL (DER)
    /aia/ac-fort-personnes.der     the intermediate's certificate (DER)

Tests steer it through attributes: `revoked` (serials), `ocsp_mode` and `crl_mode` choose
good or faulty answers; `hits` counts requests per path (to see caches work)."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.testbed.pki import TestPKI, der, new_key

UTC = dt.timezone.utc
OCSP_MODES = ("good",         # a correct answer from the CA itself, nonce echoed
              "delegated",    # a correct answer from a responder certificate the CA issued
              "by-name",      # a correct answer from the CA, responder named by its subject
              "no-nonce",     # a correct answer that does not echo the nonce
              "unknown",      # a correctly signed 'unknown' whatever the certificate
              "stale",        # correctly signed, nextUpdate in the past
              "wrong-signer",  # signed by a look-alike CA key with the CA's very name
              "forged",       # names the real CA as responder, its signature altered
              "rogue-delegated",  # a responder certificate with OCSP signing, issued by the
                                  # look-alike CA, shipped in the answer
              "wrong-nonce",  # correctly signed, another nonce
              "try-later",    # OCSP status tryLater
              "http-500",     # HTTP error
              "drop",         # connection closed without an answer
              "slow")         # answers after `slow_seconds` (beyond the client's timeout)
CRL_MODES = ("good", "stale", "wrong-signer", "missing", "garbage")


class RevocationServer:
    def __init__(self, pki: TestPKI, port: int, host: str = "127.0.0.1"):
        self.pki = pki
        self.address = (host, port)
        self.revoked: dict[int, dt.datetime] = {}
        self.ocsp_mode = "good"
        self.crl_mode = "good"
        self.slow_seconds = 3.0
        self.hits: Counter[str] = Counter()
        self.nonces: list[bytes | None] = []  # the nonce of each OCSP request, in order
        self._lookalike = pki.lookalike_ca()
        self._responder = self._responder_certificate(pki.ca_key, pki.ca_cert)
        self._rogue = self._responder_certificate(*self._lookalike)
        self._httpd: ThreadingHTTPServer | None = None

    # -- control -------------------------------------------------------------------------

    def reset(self) -> None:
        self.revoked.clear()
        self.ocsp_mode = "good"
        self.crl_mode = "good"
        self.hits.clear()
        self.nonces.clear()

    def revoke(self, cert: x509.Certificate) -> None:
        self.revoked[cert.serial_number] = dt.datetime.now(UTC) - dt.timedelta(hours=1)

    def start(self) -> "RevocationServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server._handle(self, self.rfile.read(length))

        self._httpd = ThreadingHTTPServer(self.address, Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "RevocationServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- answers -------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        path = urllib.parse.urlsplit(h.path).path
        if path == "/ocsp" or path.startswith("/ocsp/"):
            self.hits["ocsp"] += 1
            if body is None:
                body = base64.b64decode(urllib.parse.unquote(path[len("/ocsp/"):]))
            self._ocsp(h, body)
        elif path == "/crl/ac-fort-personnes.crl":
            self.hits["crl"] += 1
            if self.crl_mode == "missing":
                return self._send(h, 404, b"", "text/plain")
            if self.crl_mode == "garbage":
                return self._send(h, 200, b"not a CRL", "application/pkix-crl")
            self._send(h, 200, self.crl(), "application/pkix-crl")
        elif path == "/aia/ac-fort-personnes.der":
            self.hits["aia"] += 1
            self._send(h, 200, der(self.pki.ca_cert), "application/pkix-cert")
        else:
            self._send(h, 404, b"", "text/plain")

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _ocsp(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        mode = self.ocsp_mode
        if mode == "http-500":
            return self._send(h, 500, b"", "text/plain")
        if mode == "drop":
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode == "try-later":
            answer = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
            return self._send(h, 200, answer.public_bytes(serialization.Encoding.DER),
                              "application/ocsp-response")
        try:
            request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            answer = ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
            return self._send(h, 200, answer.public_bytes(serialization.Encoding.DER),
                              "application/ocsp-response")
        answer = bytearray(self.ocsp_answer(request, mode).public_bytes(serialization.Encoding.DER))
        if mode == "forged":
            answer[-1] ^= 0x01  # with no certificates attached, the signature ends the answer
        self._send(h, 200, bytes(answer), "application/ocsp-response")

    def ocsp_answer(self, request: ocsp.OCSPRequest, mode: str) -> ocsp.OCSPResponse:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        this_update, next_update = now - dt.timedelta(minutes=1), now + dt.timedelta(hours=1)
        if mode == "stale":
            this_update, next_update = now - dt.timedelta(days=2), now - dt.timedelta(days=1)
        serial = request.serial_number
        if mode == "unknown":
            status, revoked_at = ocsp.OCSPCertStatus.UNKNOWN, None
        elif serial in self.revoked:
            status, revoked_at = ocsp.OCSPCertStatus.REVOKED, self.revoked[serial]
        else:
            status, revoked_at = ocsp.OCSPCertStatus.GOOD, None
        # The response names the certificate by the request's CertID (we do not keep the
        # holder certificates here): the same hashes, the same serial.
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash, request.issuer_key_hash, serial, request.hash_algorithm,
            status, this_update, next_update, revoked_at,
            x509.ReasonFlags.key_compromise if revoked_at else None)
        signer_key, signer_cert = self.pki.ca_key, self.pki.ca_cert
        if mode == "delegated":
            signer_key, signer_cert = self._responder
            builder = builder.certificates([signer_cert])
        elif mode == "rogue-delegated":
            signer_key, signer_cert = self._rogue
            builder = builder.certificates([signer_cert])
        elif mode == "wrong-signer":
            signer_key, signer_cert = self._lookalike
        encoding = (ocsp.OCSPResponderEncoding.NAME if mode == "by-name"
                    else ocsp.OCSPResponderEncoding.HASH)
        builder = builder.responder_id(encoding, signer_cert)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            nonce = None
        self.nonces.append(nonce)
        if mode == "wrong-nonce":
            nonce = b"\x00" * 16
        if nonce is not None and mode != "no-nonce":
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.sign(signer_key, hashes.SHA256())

    def crl(self) -> bytes:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        last, nxt = now - dt.timedelta(minutes=1), now + dt.timedelta(days=1)
        if self.crl_mode == "stale":
            last, nxt = now - dt.timedelta(days=3), now - dt.timedelta(days=1)
        key = self._lookalike[0] if self.crl_mode == "wrong-signer" else self.pki.ca_key
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.pki.ca_cert.subject)
                   .last_update(last).next_update(nxt))
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
                .build())
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _responder_certificate(ca_key, ca_cert):
        """A delegated OCSP responder certificate issued by `ca_cert`."""
        key = new_key("p256")
        now = dt.datetime.now(UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            "TEST OCSP AC IGC-SANTE FORT PERSONNES")]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        return key, cert
