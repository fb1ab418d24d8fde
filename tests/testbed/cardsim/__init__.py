"""A simulated CPS3 (IAS-ECC "CPx") card in a real PC/SC reader, read by OpenSC.

    card = SimulatedCps3(pki.holders["dupont"], pin="1234", puk="12345678")
    card.insert(pcscd, reader=0)      # the VirtualCard; card.remove() pulls it out
    env = opensc_env(pcscd, workdir)  # PCSCLITE_CSOCK_NAME, OPENSC_CONF, CPSBRIDGE_PKCS11_MODULE
"""

from tests.testbed.cardsim.card import SimulatedCps3
from tests.testbed.cardsim.env import OPENSC_PKCS11, client_env, opensc_env

__all__ = ["SimulatedCps3", "opensc_env", "client_env", "OPENSC_PKCS11"]
