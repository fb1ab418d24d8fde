"""CPS Bridge native messaging host."""

__version__ = "1.2.0"
PROTOCOL_VERSION = 1
HOST_NAME = "fr.viatrajectoire.cpsbridge"
