"""The site's settings: command line first, then environment for what a deployment adds
(SMTP). The origin is configured, never read from a request: it is what tokens are verified
against."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRUST = REPO / "server" / "trust" / "igc-sante"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True


@dataclass(frozen=True)
class SiteConfig:
    data_dir: Path
    trust_dir: Path = DEFAULT_TRUST
    origin: str = "https://localhost:8443"
    revocation: str = "hard"
    otp_interval: timedelta = timedelta(days=30)
    sender_address: str = "ViaTrajectoire <ne-pas-repondre@viatrajectoire.localhost>"
    smtp: Smtp | None = None
    # Lifetimes: links sent by e-mail, codes, and sessions.
    link_ttl: timedelta = timedelta(hours=72)
    reset_ttl: timedelta = timedelta(hours=1)
    code_ttl: timedelta = timedelta(minutes=10)
    session_idle: timedelta = timedelta(hours=2)
    pending_card_ttl: timedelta = timedelta(minutes=15)
    extension_js: Path = REPO / "extension" / "page" / "cpsbridge.js"
    extra: dict = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "site.sqlite"

    @property
    def challenges_path(self) -> Path:
        return self.data_dir / "challenges.sqlite"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def check_origin(origin: str) -> str:
    """An https origin without path: what the host signs and the verifier checks."""
    parts = urlsplit(origin)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValueError(f"origine invalide (attendu https://hôte[:port]) : {origin}")
    return f"https://{parts.netloc}"


def smtp_from_env(env: dict[str, str] = os.environ) -> Smtp | None:
    host = env.get("CPSBRIDGE_SITE_SMTP_HOST")
    if not host:
        return None
    return Smtp(host=host, port=int(env.get("CPSBRIDGE_SITE_SMTP_PORT", "587")),
                user=env.get("CPSBRIDGE_SITE_SMTP_USER") or None,
                password=env.get("CPSBRIDGE_SITE_SMTP_PASSWORD") or None,
                starttls=env.get("CPSBRIDGE_SITE_SMTP_STARTTLS", "1") != "0")
