"""Entry point: `python -m host` (or the frozen `cpsbridge-host`).

Started by a browser, the arguments say who called (Chrome: `chrome-extension://ID/`,
Firefox: the manifest path then the add-on id, Windows adds `--parent-window=N`): any of
these means native messaging. A first argument naming a sub-command (install, uninstall,
diagnose) runs that command for people instead.
"""

from __future__ import annotations

import sys

SUBCOMMANDS = {
    "install": "host.registration",
    "uninstall": "host.registration",
    "diagnose": "host.diagnose",
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv)
    if argv and argv[0] in ("--version", "-V"):
        from host import __version__

        sys.stderr.write(f"cpsbridge-host {__version__}\n")
        return 0
    if argv and argv[0] in ("--help", "-h"):
        sys.stderr.write(__doc__ + "\nUsage: cpsbridge-host [install|uninstall|diagnose] …\n")
        return 0
    return native_messaging()


def native_messaging() -> int:
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
    from host.pkcs11_card import Pkcs11Card  # python-pkcs11 only when a card is needed

    return Pkcs11Card(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
