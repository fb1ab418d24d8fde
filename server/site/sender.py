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


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


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

    def send(self, message: Message) -> None:
        if message.canal == "sms":
            self.sms.send(message)
            return
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender_address, message.to, message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=20) as client:
            if self.smtp.starttls:
                client.starttls()
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password or "")
            client.send_message(mail)
