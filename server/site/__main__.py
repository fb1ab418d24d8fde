"""Command line: serve the site, or create an établissement account as a référent would.

  python -m server.site [--port 8443] [--data DIR] [--trust DIR|FILE] [--revocation hard|soft|off]
                        [--origin https://localhost:8443] [--otp-interval-days 30]
  python -m server.site create-account --identifiant ID --email ADDR [--nom NOM --prenom PRENOM]
                        [--profession ...] [--etablissement ...] [--rpps ...] [--referent] [--data DIR]
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

from host.command_line import FrenchArgumentParser, os_error

from .config import REPO, SiteConfig, check_origin, smtp_from_env

DEFAULT_DATA = REPO / ".state" / "site"


def serve(argv: list[str]) -> int:
    p = FrenchArgumentParser(prog="python -m server.site",
                                description="Site de référence ViaTrajectoire (connexion par carte CPS).")
    p.add_argument("--port", type=int, default=8443, help="port HTTPS (8443 par défaut)")
    p.add_argument("--bind", default="127.0.0.1", help="adresse d'écoute (127.0.0.1 par défaut)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="dossier des données : comptes, sessions, certificat TLS, boîte d'envoi")
    p.add_argument("--trust", type=Path,
                   help="dossier (ou fichier) des autorités de confiance, pris en entier ; par "
                        "défaut les deux autorités IGC-Santé des cartes CPS : AC RACINE "
                        "IGC-SANTE FORT et AC IGC-SANTE FORT PERSONNES (les autorités STANDARD, "
                        "ELEMENTAIRE et ORGANISATIONS émettent des certificats logiciels et "
                        "serveur, sans carte)")
    p.add_argument("--revocation", choices=("hard", "soft", "off"), default="hard",
                   help="contrôle de révocation des cartes (hard par défaut)")
    p.add_argument("--origin", help="origine du site (par défaut https://localhost:PORT)")
    p.add_argument("--otp-interval-days", type=float, default=30.0,
                   help="intervalle entre deux demandes de code de confirmation")
    a = p.parse_args(argv)
    try:
        origin = check_origin(a.origin or f"https://localhost:{a.port}")
    except ValueError as e:
        p.error(str(e))
    if a.trust is not None and not a.trust.exists():
        p.error(f"dossier ou fichier des autorités de confiance introuvable : {a.trust}")
    config = SiteConfig(data_dir=a.data.resolve(), origin=origin,
                        trust_dir=a.trust.resolve() if a.trust else None,
                        revocation=a.revocation, smtp=smtp_from_env(),
                        otp_interval=timedelta(days=a.otp_interval_days))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .app import create_app
    from .server import run

    try:
        app = create_app(config)
    except ValueError as e:  # the trust anchors: not certificates, not CAs, none at all
        p.error(f"autorités de confiance inutilisables ({a.trust or 'par défaut'}) : {e}")
    try:
        run(app, config, a.bind, a.port)
    except OSError as e:  # port taken, address not available
        print(f"Erreur : impossible d'écouter sur {a.bind}:{a.port} ({os_error(e)}).",
              file=sys.stderr)
        return 1
    return 0


def create_account(argv: list[str]) -> int:
    p = FrenchArgumentParser(prog="python -m server.site create-account",
                                description="Créer le compte d'un professionnel en établissement "
                                            "(rôle du référent ViaTrajectoire).")
    p.add_argument("--identifiant", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--nom", default="")
    p.add_argument("--prenom", default="")
    p.add_argument("--profession", default="")
    p.add_argument("--etablissement", default="")
    p.add_argument("--rpps", help="numéro RPPS (11 chiffres), s'il est connu")
    p.add_argument("--referent", action="store_true",
                   help="ce compte est lui-même référent : il pourra créer des comptes depuis /referent")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--origin", default="https://localhost:8443",
                   help="origine du site, pour le lien envoyé par e-mail")
    a = p.parse_args(argv)
    from .referent import AccountError, NewAccount, create_from_command

    try:
        origin = check_origin(a.origin)
    except ValueError as e:
        p.error(str(e))
    config = SiteConfig(data_dir=a.data.resolve(), origin=origin, smtp=smtp_from_env())
    try:
        create_from_command(config, NewAccount(
            identifiant=a.identifiant, email=a.email, nom=a.nom, prenom=a.prenom,
            profession=a.profession, etablissement=a.etablissement, rpps=a.rpps,
            referent=a.referent))
    except AccountError as e:
        print(f"Erreur : {e}", file=sys.stderr)
        return 1
    print(f"Compte « {a.identifiant} » créé ; un e-mail a été envoyé à {a.email}.")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "create-account":
        return create_account(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
