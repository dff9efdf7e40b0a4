"""The root CA provider (CloudStack's `root` CA plugin): a self-signed CA created on first use, that issues
certificates (from a CSR, or with a new key pair), revokes them by serial, and provisions host certificates.
Also uploadCustomCertificate: an SSL certificate chain for the system VMs' domain suffix, checked and stored.

The CA's key and certificate live in the settings table under CloudStack's hidden names
(ca.plugin.root.private.key / ca.plugin.root.ca.certificate), never listed."""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from management.db.base import utcnow
from management.db.session import Database
from management.errors import ParamError
from management.models.events import Configuration
from management.models.platform import IssuedCertificate
from management.services import configuration

configuration.SETTINGS.update({
    "ca.framework.provider.plugin": ("root", "Advanced", None, "The CA provider plugin that is used for secure "
                                     "CloudStack management server-agent communication for encryption and "
                                     "authentication."),
    "ca.framework.cert.validity.period": ("365", "Advanced", None, "The validity period of a client certificate "
                                          "in days."),
    "ca.plugin.root.issuer.dn": ("CN=ca.cloudstack.apache.org", "Advanced", None, "The CA issue distinguished "
                                 "name used by the root CA provider"),
})

PROVIDERS = {"root": "CloudStack's Root CA provider plugin"}
_KEY, _CERT = "ca.plugin.root.private.key", "ca.plugin.root.ca.certificate"


def provider(session: Session, name: str | None) -> str:
    chosen = (name or configuration.get(session, "ca.framework.provider.plugin", "root") or "root").lower()
    if chosen not in PROVIDERS:
        raise ParamError(f"Failed to find CA provider plugin with name: {name}")
    return chosen


def _hidden(session: Session, name: str) -> str | None:
    row = session.get(Configuration, name)
    return row.value if row is not None else None


def _store(session: Session, name: str, value: str) -> None:
    row = session.get(Configuration, name)
    if row is None:
        session.add(Configuration(name=name, value=value, category="Hidden", component="RootCAProvider",
                                  description="the root CA provider's own material", is_dynamic=False))
    else:
        row.value = value
    session.flush()


def _issuer_name(session: Session) -> x509.Name:
    dn = configuration.get(session, "ca.plugin.root.issuer.dn", "CN=ca.cloudstack.apache.org") or ""
    cn = dn.split("=", 1)[1] if "=" in dn else "ca.cloudstack.apache.org"
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def root_ca(session: Session) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The CA key and certificate, created once (10 years, 2048-bit RSA)."""
    key_pem, cert_pem = _hidden(session, _KEY), _hidden(session, _CERT)
    if key_pem and cert_pem:
        key = serialization.load_pem_private_key(key_pem.encode(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(cert_pem.encode())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _issuer_name(session)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _store(session, _KEY, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode())
    _store(session, _CERT, cert.public_bytes(serialization.Encoding.PEM).decode())
    return key, cert


def ca_pem(session: Session) -> str:
    return root_ca(session)[1].public_bytes(serialization.Encoding.PEM).decode()


def published_ca_pem(session: Session, db: Database) -> str:
    """The CA certificate for a read-only command: made on first use in its own write transaction."""
    pem = _hidden(session, _CERT)
    if pem:
        return pem
    with db.session() as w:  # serialised with other writers: a concurrent first call reuses the CA made here
        return ca_pem(w)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def issue(session: Session, *, csr_pem: str | None, domains: str | None, addresses: str | None,
          days: int | None, host_id: int | None = None) -> tuple[str, str | None]:
    """(certificate PEM, private key PEM or None when a CSR was given)."""
    ca_key, ca_cert = root_ca(session)
    names, ips = _csv(domains), _csv(addresses)
    key_pem: str | None = None
    if csr_pem:
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise ParamError("Failed to parse the provided CSR, please provide a valid CSR") from None
        if not csr.is_signature_valid:
            raise ParamError("The CSR's signature is not valid")
        subject, public_key = csr.subject, csr.public_key()
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names += [n for n in san.get_values_for_type(x509.DNSName) if n not in names]
            ips += [str(a) for a in san.get_values_for_type(x509.IPAddress) if str(a) not in ips]
        except x509.ExtensionNotFound:
            pass
    else:
        if not names and not ips:
            raise ParamError("Please provide a valid CSR or the domain name(s) and/or IP address(es) to issue a "
                             "certificate for")
        new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_key = new_key.public_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else ips[0])])
        key_pem = new_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    try:
        san_entries: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        san_entries += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    except ValueError as exc:
        raise ParamError(f"Invalid IP address provided: {exc}") from None
    validity = days or int(configuration.get_float(session, "ca.framework.cert.validity.period", 365))
    if validity <= 0:
        raise ParamError("Certificate validity duration must be a positive number of days")
    now = dt.datetime.now(dt.UTC)
    serial = x509.random_serial_number()
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
               .serial_number(serial).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=validity))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if san_entries:
        builder = builder.add_extension(x509.SubjectAlternativeName(san_entries), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    session.add(IssuedCertificate(serial=format(serial, "x"), cn=str(cn[0].value) if cn else "",
                                  certificate=cert_pem, host_id=host_id,
                                  not_after=cert.not_valid_after_utc))
    session.flush()
    return cert_pem, key_pem


def revoke(session: Session, serial: str, cn: str | None) -> None:
    try:
        wanted = format(int(serial.replace(":", ""), 16), "x")
    except ValueError:
        raise ParamError("Certificate serial provided is not a valid hex number") from None
    row = session.get(IssuedCertificate, wanted)
    if row is None or (cn and row.cn != cn):
        raise ParamError(f"Unable to find a certificate issued by this CA with serial {serial}")
    if row.revoked is None:
        row.revoked = utcnow()
    session.flush()


def is_revoked(session: Session, serial: int) -> bool:
    row = session.get(IssuedCertificate, format(serial, "x"))
    return row is not None and row.revoked is not None


def custom_certificate(session: Session, *, certificate: str, private_key: str | None, index: int | None,
                       name: str | None, domain_suffix: str) -> str:
    """uploadCustomCertificate: a chain uploaded piece by piece (the server certificate with its private key, then
    each intermediate/root with an index and a name), kept for the system VMs of the domain suffix."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise ParamError("Failed to parse certificate, please provide a valid certificate in PEM format") from None
    if private_key:
        try:
            key = serialization.load_pem_private_key(private_key.encode(), None)
        except (ValueError, TypeError):
            raise ParamError("Failed to parse private key, please provide a valid private key in PEM format") from None
        if key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) != \
                cert.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ParamError("Private key does not match the certificate")
        _store(session, f"custom.certificate.{domain_suffix}.key", private_key)
        _store(session, f"custom.certificate.{domain_suffix}.server", certificate)
    else:
        if index is None or not name:
            raise ParamError("Certificate id and name are required for a chain (intermediate/root) certificate")
        _store(session, f"custom.certificate.{domain_suffix}.chain.{index}.{name}", certificate)
    return ("Certificate has been successfully updated, if its the server certificate we would reboot all running "
            "console proxy VMs and secondary storage VMs to propagate the new certificate, please give a few minutes "
            "for console access and storage services service to be up and working again")

