"""Step 3: the certificate is valid now and is an authentication certificate."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from server.verify.outcome import Rejected


def check_dates(cert: x509.Certificate, now: datetime, skew: timedelta) -> None:
    if now + skew < cert.not_valid_before_utc:
        raise Rejected("CERT_NOT_YET_VALID", f"notBefore {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if now - skew > cert.not_valid_after_utc:
        raise Rejected("CERT_EXPIRED", f"notAfter {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as e:  # a duplicated or undecodable extension
        raise Rejected("CERT_WRONG_USAGE", f"unreadable extensions: {e}") from None


def check_usage(cert: x509.Certificate) -> None:
    """keyUsage must name digitalSignature. A nonRepudiation-only certificate (the card's
    signature certificate) therefore fails, and so does a CA or a non-client EKU."""
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        raise Rejected("CERT_WRONG_USAGE", "no keyUsage")
    if not usage.digital_signature:
        raise Rejected("CERT_WRONG_USAGE",
                       "nonRepudiation-only (signature) certificate" if usage.content_commitment
                       else "keyUsage lacks digitalSignature")
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise Rejected("CERT_WRONG_USAGE", "a CA certificate")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is not None and not ({ExtendedKeyUsageOID.CLIENT_AUTH,
                                  ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku)):
        raise Rejected("CERT_WRONG_USAGE", "extendedKeyUsage lacks clientAuth")
