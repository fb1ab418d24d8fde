"""How e-mails and SMS leave the site: SMTP when configured, otherwise an outbox folder
(one JSON file per message) that the page /boite-mail lists, for the demo and the tests.

No SMS gateway is configured in the reference site: SMS always go to the outbox."""

from __future__ import annotations

import json
import os
import re
import smtplib
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from .config import Smtp

LINK = re.compile(r"https://[^\s<>\"]+")


@dataclass
class Message:
    canal: str  # "email" or "sms"
    to: str
    subject: str
    body: str
    id: str = field(default_factory=lambda: f"{time.time_ns()}-{uuid.uuid4().hex[:8]}")
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    links: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.links = LINK.findall(self.body)


class SendError(smtplib.SMTPException):
    """The e-mail did not leave: the relay is down, unreachable, or refuses the site (its
    login, its sender address, the message). The site's problem, not the person's.
    An SMTPException (an OSError) still, for callers that catch those."""


class RecipientRefused(SendError):
    """The relay refused the recipient's address itself, for good: the address is wrong (no
    such domain or mailbox), which the person who typed it can correct."""

    def __init__(self, address: str, code: int, reply: str):
        super().__init__(f"adresse {address} refusée par le serveur de messagerie "
                         f"({code} {reply})")
        self.address, self.code, self.reply = address, code, reply


# An RFC 3463 enhanced status at the start of a reply: 5.1.x is about the address, 5.2.x
# about the mailbox; others (5.7.1 relaying denied, 5.7.0 authentication required, 5.3.x
# system) are about the site or the relay, whatever the address.
_ENHANCED = re.compile(r"\s*5\.([0-9]{1,3})\.[0-9]{1,3}\b")


def refuses_the_address(code: int, reply: str) -> bool:
    """Whether a refusal of RCPT TO is the address's fault (permanent, about the address)."""
    if not 500 <= code < 600:
        return False  # 4xx: try again later, the relay's problem
    status = _ENHANCED.match(reply)
    if status is not None:
        return status.group(1) in ("1", "2")
    return code in (550, 551, 553)  # no enhanced status: mailbox unavailable, not local, bad name


class Sender(Protocol):
    def send(self, message: Message) -> None: ...

    def check(self) -> None:
        """SendError if no e-mail could be sent now (the relay out of service)."""


class OutboxSender:
    """Writes each message atomically (temp file, then rename) into the outbox folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        target = self.folder / f"{message.id}.json"
        tmp = target.with_suffix(".tmp")
        with self._lock:
            tmp.write_text(json.dumps(asdict(message), ensure_ascii=False, indent=1), "utf-8")
            os.replace(tmp, target)

    def check(self) -> None:
        pass  # a folder on this machine: what could fail is not the relay's kind of failure

    def messages(self) -> list[Message]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            data = json.loads(path.read_text("utf-8"))
            found.append(Message(**{k: data[k] for k in ("canal", "to", "subject", "body",
                                                          "id", "date")}))
        return found

    def get(self, message_id: str) -> Message | None:
        return next((m for m in self.messages() if m.id == message_id), None)


class SmtpSender:
    """E-mails through an SMTP relay; SMS still go to the outbox (no gateway here)."""

    def __init__(self, smtp: Smtp, sender_address: str, sms_outbox: OutboxSender):
        self.smtp, self.sender_address, self.sms = smtp, sender_address, sms_outbox

    def check(self) -> None:
        """Open a session with the relay as a send would (TLS, login), then NOOP and QUIT."""
        try:
            with self._session() as client:
                client.noop()
        except OSError as e:
            raise SendError(f"serveur de messagerie {self._relay} : {e}") from e

    @property
    def _relay(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def _session(self) -> smtplib.SMTP:
        client = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=20)
        try:
            if self.smtp.starttls:
                client.starttls()
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: Message) -> None:
        if message.canal == "sms":
            self.sms.send(message)
            return
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender_address, message.to, message.subject
        mail.set_content(message.body)
        relay = self._relay
        try:
            with self._session() as client:
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as e:  # one recipient per message
            code, reply = next(iter(e.recipients.values()), (0, b""))
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            if refuses_the_address(code, text):
                raise RecipientRefused(message.to, code, text) from e
            raise SendError(f"serveur de messagerie {relay} : destinataire refusé "
                            f"({code} {text})") from e
        except smtplib.SMTPNotSupportedError as e:
            if not message.to.isascii():  # an accented address, a relay without SMTPUTF8
                raise RecipientRefused(message.to, 553, "5.6.7 adresse non ASCII (SMTPUTF8 "
                                                        "non proposé)") from e
            raise SendError(f"serveur de messagerie {relay} : {e}") from e
        except OSError as e:  # smtplib's own errors are OSErrors too; so are timeouts, TLS
            raise SendError(f"serveur de messagerie {relay} : {e}") from e
