"""CPS Bridge native messaging host."""

__version__ = "1.2.0"
PROTOCOL_VERSION = 1
HOST_NAME = "fr.viatrajectoire.cpsbridge"
DEB_PACKAGE = "cpsbridge"  # the Debian package build.py makes; install/uninstall respect it
