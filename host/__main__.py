"""Entry point: `python -m host` (or the frozen `cpsbridge-host`).

Started by a browser, the arguments say who called (Chrome: `chrome-extension://ID/`,
Firefox: the manifest path then the add-on id, Windows adds `--parent-window=N`): any of
these means native messaging. A first argument naming a sub-command (install, uninstall,
diagnose) runs that command for people instead; `--help` prints a short French usage; any
other bare word or option first is a mistyped command (exit 2).
"""

from __future__ import annotations

import sys

SUBCOMMANDS = {
    "install": "host.registration",
    "uninstall": "host.registration",
    "diagnose": "host.diagnose",
}
# What `cpsbridge-host --help` says, to IT at a terminal.
USAGE = """\
utilisation : cpsbridge-host <commande> [options]

Module natif CPS Bridge : lit la carte CPS et signe le défi de connexion à ViaTrajectoire.

Commandes (service informatique) :
  install     déclare le module aux navigateurs (--user ou --system)
  uninstall   retire cette déclaration
  diagnose    vérifie le poste, du lecteur de carte au site (--json, --hors-ligne)
  --version   affiche la version

Sans commande, le module est lancé par le navigateur (extension CPS Bridge) et échange
avec lui sur l'entrée et la sortie standard : rien à lancer à la main.
Options d'une commande : cpsbridge-host <commande> --help.
"""
# The arguments browsers start the host with (Chrome, Edge, Brave: the extension's origin,
# then on Windows --parent-window=N; Firefox: the manifest's path, then the add-on id) are
# never a bare word nor an option other than that one: such a first argument is a person's.
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _mistyped(arg: str) -> bool:
    if arg.startswith("-"):
        return not arg.startswith("--parent-window")
    return bool(arg) and arg[0].isalpha() and set(arg) <= _WORD


def main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv)
    if argv and argv[0] in ("--version", "-V"):
        from host import __version__

        sys.stderr.write(f"cpsbridge-host {__version__}\n")
        return 0
    if argv and argv[0] in ("--help", "-h"):
        sys.stderr.write(USAGE)  # stderr, as --version: stdout is the browser's
        return 0
    if argv and _mistyped(argv[0]):
        sys.stderr.write(f"Erreur : commande inconnue « {argv[0]} » (commandes : "
                         + ", ".join(SUBCOMMANDS) + "). Aide : cpsbridge-host --help\n")
        return 2
    return native_messaging()


def native_messaging() -> int:
    from host.lazy_imports import collector_paused

    with collector_paused():
        # Reserve stdout for frames before anything else can write to it.
        from host.framing import guard_stdout

        frames_out = guard_stdout()
        from host import config, logs
        from host.service import exit_now, serve

    config_error = None
    try:
        settings = config.load()
    except config.ConfigError as exc:
        config_error, settings = exc, config.Settings()
    logs.init(settings)
    if config_error is not None:
        logs.get("main").error("%s", config_error)
    try:
        status = serve(sys.stdin.buffer, frames_out, settings, lambda: _card(settings), config_error)
    except KeyboardInterrupt:
        status = 0
    exit_now(status)
    return status


def _card(settings):
    from host.lazy_imports import collector_paused

    with collector_paused():
        from host.pkcs11_card import Pkcs11Card  # python-pkcs11 only when a card is needed

    return Pkcs11Card(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
