"""Server side of CPS Bridge: the token verifier, the challenge store, the reference site."""
