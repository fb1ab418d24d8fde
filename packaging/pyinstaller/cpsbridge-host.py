"""Entry script of the frozen host (PyInstaller): the same dispatch as `python -m host`."""

import sys

from host.__main__ import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
