"""Card login, server side: a challenge bound to the session, then the extension's token
verified against the site's own origin (PROTOCOL §6) by the project's verifier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .config import SiteConfig

# The French sentence for each §6 reason, and the site's own codes.
REASONS: dict[str, str] = {
    "TOKEN_MALFORMED": "La réponse de la carte est illisible. Recommencez la connexion par carte CPS.",
    "NONCE_UNKNOWN": "Cette demande de connexion par carte n'est pas reconnue ou a déjà été "
                     "utilisée. Recommencez la connexion par carte CPS.",
    "NONCE_EXPIRED": "La demande de connexion par carte a expiré (plus de 5 minutes). "
                     "Recommencez la connexion par carte CPS.",
    "CERT_EXPIRED": "Le certificat de votre carte CPS a expiré. Utilisez votre nouvelle carte "
                    "ou connectez-vous par identifiant et mot de passe.",
    "CERT_NOT_YET_VALID": "Le certificat de votre carte CPS n'est pas encore valide. Vérifiez "
                          "la date et l'heure de l'ordinateur.",
    # What to do next, as for the other refusals: another card, or the password.
    "CERT_WRONG_USAGE": "Le certificat présenté n'est pas un certificat d'authentification de "
                        "carte CPS. Utilisez votre carte CPS, ou connectez-vous avec votre "
                        "identifiant et votre mot de passe.",
    "CERT_UNTRUSTED": "Cette carte n'a pas été émise par l'autorité de certification des "
                      "professionnels de santé (IGC-Santé). Utilisez votre carte CPS, ou "
                      "connectez-vous avec votre identifiant et votre mot de passe.",
    "CERT_REVOKED": "Le certificat de votre carte CPS a été révoqué (carte perdue, volée ou "
                    "remplacée). Utilisez votre nouvelle carte.",
    "REVOCATION_UNKNOWN": "La validité de votre carte n'a pas pu être vérifiée pour le moment. "
                          "Réessayez dans quelques minutes ou connectez-vous par identifiant et "
                          "mot de passe.",
    "SIGNATURE_INVALID": "La signature de votre carte ne correspond pas à la demande de "
                         "connexion de ce site. Recommencez la connexion par carte CPS.",
    # The site's own codes.
    "CSRF_INVALIDE": "La page a expiré ou la demande ne vient pas de ce site. Rechargez la page, "
                     "puis recommencez.",
    "REQUETE_INVALIDE": "La demande reçue est invalide. Rechargez la page, puis recommencez.",
    "TROP_DE_TENTATIVES": "Trop de tentatives de connexion par carte. Réessayez dans 15 minutes.",
    "LIEN_INVALIDE": "L'invitation n'est plus valable.",
}


@dataclass
class CardRefused(Exception):
    code: str

    @property
    def message(self) -> str:
        return REASONS.get(self.code, REASONS["TOKEN_MALFORMED"])


@dataclass
class CardIdentity:
    holder: dict  # host.identity.Holder as a dict
    fingerprint: str


class CardAuth:
    def __init__(self, config: SiteConfig):
        # Imported here: the verifier loads trust anchors and network clients, which the
        # command-line tools (create-account) do not need.
        from server.challenges import SqliteChallengeStore
        from server.verify import Verifier, load_trust_anchors

        self.origin = config.origin
        self.store = SqliteChallengeStore(config.challenges_path)
        self.anchors = [a for path in config.trust_paths for a in load_trust_anchors(path)]
        self.verifier = Verifier(self.anchors,
                                 revocation=config.revocation,
                                 clock_skew=timedelta(seconds=60))

    def challenge(self, session_id: str) -> str:
        return self.store.issue(session_id).nonce

    def verify(self, session_id: str, nonce: str | None, token: object) -> CardIdentity:
        # The §6 order through the verifier's own store step: the nonce is consumed first
        # whatever comes next, but a token that does not decode is TOKEN_MALFORMED before
        # any nonce reason. The token must be a JSON object here (a string is no token).
        out = self.verifier.verify_with_store(token if isinstance(token, dict) else {},
                                              origin=self.origin, session_id=session_id,
                                              nonce=nonce or "", store=self.store)
        if not out.valid:
            raise CardRefused(out.reason or "TOKEN_MALFORMED")
        holder = out.holder.model_dump() if hasattr(out.holder, "model_dump") else dict(out.holder)
        return CardIdentity(holder=holder, fingerprint=out.fingerprint)
