"""SSL certificates for load balancer rules of protocol ssl: parsed and checked with `cryptography` (the key must
match the certificate, the chain must be certificates), stored per account, bound to at most one certificate per
rule; the router's haproxy terminates TLS with them."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from management.errors import ParamError


def _certs(pem: str, what: str) -> list[x509.Certificate]:
    try:
        found = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ParamError(f"Invalid {what} format. Expected X509 certificate") from None
    if not found:
        raise ParamError(f"Invalid {what} format. Expected X509 certificate")
    return found


def check(certificate: str, private_key: str, chain: str | None, password: str | None) -> str:
    """Validates the upload; returns the certificate's fingerprint (SHA-1, upper-case hex pairs joined by ':')."""
    cert = _certs(certificate, "certificate")[0]
    try:
        key = serialization.load_pem_private_key(private_key.encode(), password.encode() if password else None)
    except (ValueError, TypeError):
        raise ParamError("Invalid private key format. Expected a PEM encoded private key") from None
    pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    if pub != cert.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo):
        raise ParamError("Bad public-private key pair")
    if chain:
        _certs(chain, "certificate chain")
    digest = cert.fingerprint(hashes.SHA1())  # noqa: S303 - CloudStack's fingerprint is SHA-1
    return ":".join(f"{b:02X}" for b in digest)


def unencrypted_key(private_key: str, password: str | None) -> str:
    """haproxy can not ask for a pass phrase: a protected key is stored decrypted (the file is 0600 on the router)."""
    if not password:
        return private_key
    key = serialization.load_pem_private_key(private_key.encode(), password.encode())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
