"""The reference ViaTrajectoire site: the connection pages of the "Manuel de connexion pour
professionnels" (V10.0) that involve the CPS card, and what they rest on.

`python -m server.site` serves it over HTTPS; see README.md for the page contract.
"""
