"""What a command (install, uninstall, diagnose, the reference site's) tells a person when
the command line or the file system refuses: in French, like the rest of its output.

argparse writes its own messages in English and Python ships no French catalogue for
them: the few a mistyped command line meets are translated here; any other is shown as
it is rather than lost. The same goes for the operating system's error texts (the C
library's, English under the C locale the browsers and services run in).
"""

from __future__ import annotations

import argparse
import errno
import re
import sys

# argparse's messages as Python 3.11 to 3.13 write them (3.12 dropped the quotes around
# the choices), each with its French wording.
_ARGPARSE = [
    (r"argument (?P<a>\S+): invalid choice: (?P<v>.+?) \(choose from (?P<c>.+)\)",
     "{a} : valeur inconnue {v} (valeurs possibles : {c})"),
    (r"argument (?P<a>\S+): invalid (?P<t>\w+) value: (?P<v>.+)",
     "{a} : valeur invalide {v}"),
    (r"argument (?P<a>\S+): expected one argument", "{a} attend une valeur"),
    (r"argument (?P<a>\S+): ignored explicit argument (?P<v>.+)",
     "{a} ne prend pas de valeur (reçu {v})"),
    (r"argument (?P<a>\S+): not allowed with argument (?P<b>\S+)",
     "{a} et {b} ne peuvent pas être donnés ensemble"),
    (r"the following arguments are required: (?P<v>.+)", "options obligatoires manquantes : {v}"),
    (r"unrecognized arguments: (?P<v>.+)", "arguments inconnus : {v}"),
    (r"ambiguous option: (?P<a>\S+) could match (?P<v>.+)", "{a} est ambigu : {v} ?"),
]
_ARGPARSE_RE = [(re.compile(pattern + r"\Z", re.S), french) for pattern, french in _ARGPARSE]

_ERRNO = {
    errno.ENOENT: "introuvable",
    errno.ENOTDIR: "un élément du chemin est un fichier, pas un dossier",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota du disque dépassé",
    errno.ENAMETOOLONG: "nom trop long",
    errno.ELOOP: "trop de liens symboliques",
    errno.EEXIST: "existe déjà",
    errno.EADDRINUSE: "adresse déjà utilisée (un autre programme écoute sur ce port ?)",
    errno.EADDRNOTAVAIL: "adresse absente de ce poste",
}


def french_usage_error(message: str) -> str:
    """argparse's `message` in French, or as it is when it is not one of those above."""
    for pattern, french in _ARGPARSE_RE:
        match = pattern.match(message)
        if match:
            return french.format(**match.groupdict())
    return message


def os_error(exc: OSError) -> str:
    """`path : ce qui ne va pas` for an OSError, the reason in French where it is known."""
    reason = _ERRNO.get(exc.errno) or exc.strerror or str(exc)
    return f"{exc.filename} : {reason}" if exc.filename else reason


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)


class FrenchArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and errors are in French. An error prints the usage,
    then `Erreur : …` and where the help is, and exits with status 2 as argparse does."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", help="affiche cette aide")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"Erreur : {french_usage_error(message)}. Aide : {self.prog} --help\n")
