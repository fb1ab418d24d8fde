"""The site's settings: command line first, then environment for what a deployment adds
(SMTP). The origin is configured, never read from a request: it is what tokens are verified
against."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from host.origins import OriginError, normalize_written_origin
from server.verify.chain import CARD_TRUST_FILES

REPO = Path(__file__).resolve().parents[2]


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
    # A folder (or file) of trust anchors, taken whole; None: the card chain (CARD_TRUST_FILES).
    trust_dir: Path | None = None
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

    def __post_init__(self) -> None:
        # The canonical origin, whoever builds the config: it is compared with the browser's
        # Origin header and signed by the host in that form (PROTOCOL §5).
        object.__setattr__(self, "origin", check_origin(self.origin))

    @property
    def trust_paths(self) -> tuple[Path, ...]:
        return CARD_TRUST_FILES if self.trust_dir is None else (self.trust_dir,)

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
    """The https origin in the form browsers send and the host signs (lower case, no default
    port: `https://localhost:443` is `https://localhost`), by the host's own normaliser, so
    that the two never disagree; ValueError in French otherwise."""
    try:  # a trailing "/" is tolerated: people paste the site's address
        canonical = normalize_written_origin(origin)
    except OriginError as e:
        raise ValueError(f"origine invalide (attendu https://hôte[:port]) : {origin} "
                         f"({e})") from None
    if not canonical.startswith("https://"):  # the host also allows wss; a site is https
        raise ValueError(f"origine invalide (attendu https://hôte[:port]) : {origin}")
    return canonical


def smtp_from_env(env: dict[str, str] = os.environ) -> Smtp | None:
    host = env.get("CPSBRIDGE_SITE_SMTP_HOST")
    if not host:
        return None
    return Smtp(host=host, port=int(env.get("CPSBRIDGE_SITE_SMTP_PORT", "587")),
                user=env.get("CPSBRIDGE_SITE_SMTP_USER") or None,
                password=env.get("CPSBRIDGE_SITE_SMTP_PASSWORD") or None,
                starttls=env.get("CPSBRIDGE_SITE_SMTP_STARTTLS", "1") != "0")
