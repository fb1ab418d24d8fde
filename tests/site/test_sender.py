"""E-mails through SMTP when configured (the outbox otherwise), and nothing half-written
when sending fails."""

from __future__ import annotations

import email
import email.header
import os
import socket
import threading
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore  # deprecated, still in 3.11: the stdlib's own SMTP server
    import smtpd


class Inbox(smtpd.SMTPServer):
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), None, decode_data=True)
        self.received: list[tuple[str, list[str], str]] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.received.append((mailfrom, rcpttos, data))


@pytest.fixture
def smtp_server():
    server = Inbox()
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    yield server
    server.close()


def smtp_env(port: int) -> dict[str, str]:
    return {**os.environ, "CPSBRIDGE_SITE_SMTP_HOST": "127.0.0.1",
            "CPSBRIDGE_SITE_SMTP_PORT": str(port), "CPSBRIDGE_SITE_SMTP_STARTTLS": "0"}


def test_account_mail_through_smtp(site, smtp_server):
    port = smtp_server.socket.getsockname()[1]
    made = site.create_account("smtp1", "smtp1@chu.example.test", "Smtp", "Paul",
                               env=smtp_env(port))
    assert made.returncode == 0, made.stderr
    assert len(smtp_server.received) == 1
    _, to, data = smtp_server.received[0]
    assert to == ["smtp1@chu.example.test"]
    mail = email.message_from_string(data)
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject == "ViaTrajectoire : votre compte utilisateur a été créé"
    assert "Votre identifiant de connexion : smtp1" in mail.get_payload(decode=True).decode()
    assert all(m.to != "smtp1@chu.example.test" for m in site.outbox())


def test_a_failed_send_creates_nothing(site):
    with socket.socket() as s:  # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    failed = site.create_account("smtp2", "smtp2@chu.example.test", "Smtp", "Anne",
                                 env=smtp_env(closed))
    assert failed.returncode == 1
    assert "l'e-mail n'a pas pu être envoyé" in failed.stderr
    assert "le compte n'a pas été créé" in failed.stderr
    made = site.create_account("smtp2", "smtp2@chu.example.test", "Smtp", "Anne")
    assert made.returncode == 0, made.stderr
