"""The French of the commands' refusals, against this Python's own argparse and OS errors:
a Python whose argparse words a message otherwise fails here, not in front of IT."""

from __future__ import annotations

import errno
import os
import re

import pytest

from host.command_line import FrenchArgumentParser, os_error


def parser() -> FrenchArgumentParser:
    p = FrenchArgumentParser(prog="cmd")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--user", action="store_true")
    level.add_argument("--system", action="store_true")
    p.add_argument("--browser", choices=["chrome", "firefox"])
    p.add_argument("--port", type=int)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--version-of", dest="vof")
    p.add_argument("--email", required=True)
    return p


@pytest.mark.parametrize("argv, french", [
    (["--email", "a", "--browser", "opera"],
     "--browser : valeur inconnue 'opera' (valeurs possibles : "),
    (["--email", "a", "--port", "x"], "--port : valeur invalide 'x'"),
    (["--email"], "--email attend une valeur"),
    (["--email", "a", "--verbose=oui"], "--verbose ne prend pas de valeur (reçu 'oui')"),
    (["--email", "a", "--user", "--system"], "--system et --user ne peuvent pas être donnés ensemble"),
    ([], "options obligatoires manquantes : --email"),
    (["--email", "a", "--bogus"], "arguments inconnus : --bogus"),
    (["--email", "a", "--ver", "x"], "--ver est ambigu : "),
])
def test_each_refusal_of_the_command_line_is_in_french(capsys, argv, french):
    with pytest.raises(SystemExit) as stop:
        parser().parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("utilisation : cmd [-h]")
    last = err.splitlines()[-1]
    assert last.startswith("Erreur : " + french) and last.endswith(". Aide : cmd --help"), last
    english = r"\b(argument|invalid|expected|required|unrecognized|ambiguous|allowed|choose|usage)\b"
    assert not re.search(english, last), last


def test_the_help_is_in_french(capsys):
    with pytest.raises(SystemExit) as stop:
        parser().parse_args(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("utilisation : cmd") and "-h, --help" in out and "affiche cette aide" in out
    assert "usage" not in out and "show this help" not in out


def test_os_errors_name_the_file_and_say_why_in_french(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [(lambda: (blocker / "sub").mkdir(), errno.ENOTDIR,
              f"{blocker / 'sub'} : un élément du chemin est un fichier, pas un dossier"),
             (lambda: (tmp_path / "missing").read_text(), errno.ENOENT,
              f"{tmp_path / 'missing'} : introuvable"),
             (lambda: tmp_path.read_text(), errno.EISDIR, f"{tmp_path} : c'est un dossier, pas un fichier")]
    for make, code, said in cases:
        with pytest.raises(OSError) as err:
            make()
        assert err.value.errno == code and os_error(err.value) == said
    # An error without a French wording keeps the system's own, with the file.
    odd = OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/x")
    assert os_error(odd) == f"/x : {os.strerror(errno.EXDEV)}"
