"""Verification of `cpsbridge:1` tokens (PROTOCOL.md §5–6), as a library and as
`python -m server.verify`."""

from server.verify.chain import (CARD_TRUST_FILES, DEFAULT_TRUST_DIR, card_trust_anchors,
                                 load_trust_anchors)
from server.verify.outcome import REASONS, Outcome, Reason, Rejected, RevocationPolicy
from server.verify.signature import signed_message
from server.verify.verifier import Verifier

__all__ = ["Verifier", "Outcome", "Reason", "REASONS", "Rejected", "RevocationPolicy",
           "load_trust_anchors", "card_trust_anchors", "CARD_TRUST_FILES", "DEFAULT_TRUST_DIR",
           "signed_message"]
