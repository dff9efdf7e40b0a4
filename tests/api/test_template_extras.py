"""prepareTemplate (the template copied onto the zone's pools now) and direct-download certificates (parsed,
stored, provisioned and revoked per host) on a simulator zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.api.test_vm_lifecycle import sim, sim_zone
from tests.conftest import ApiClient, InProcess

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path)


def self_signed_pem(cn: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(4242).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_prepare_template_copies_it_to_the_pools(api: ApiClient, zone: dict[str, Any]) -> None:
    def held() -> list[Any]:
        return [v for url in zone["urls"] for p in sim(url)._host.pools.values()  # noqa: SLF001
                for v in p.volumes.values() if v.is_template and v.uuid == zone["template"]]

    pool = api("listStoragePools", zoneid=zone["zone"])["storagepool"][0]
    assert held() == []  # nothing deployed yet: no pool holds the template
    t = api("prepareTemplate", zoneid=zone["zone"], templateid=zone["template"], storageid=pool["id"])
    assert t["count"] == 1 and t["template"][0]["id"] == zone["template"]
    assert len(held()) == 1
    status, err = api.error("prepareTemplate", zoneid=zone["zone"], templateid="0" * 8)
    assert status == 431


def test_direct_download_certificates(api: ApiClient, zone: dict[str, Any]) -> None:
    status, err = api.error("uploadTemplateDirectDownloadCertificate", certificate=self_signed_pem("a"), name="c1",
                            hypervisor="VMware", zoneid=zone["zone"])
    assert status == 431 and "KVM" in err["errortext"]
    status, err = api.error("uploadTemplateDirectDownloadCertificate", certificate="not a certificate", name="c1",
                            hypervisor="KVM", zoneid=zone["zone"])
    assert status == 431 and "certificate" in err["errortext"]
    cert = api("uploadTemplateDirectDownloadCertificate", certificate=self_signed_pem("downloads.example"), name="c1",
               hypervisor="KVM", zoneid=zone["zone"])["directdownloadcertificate"]
    assert cert["subject"] == "CN=downloads.example" and cert["serialnum"] == "4242" and cert["hostsmap"] == []
    status, _ = api.error("uploadTemplateDirectDownloadCertificate", certificate=self_signed_pem("x"), name="c1",
                          hypervisor="KVM", zoneid=zone["zone"])
    assert status == 431
    listed = api("listTemplateDirectDownloadCertificates", zoneid=zone["zone"], listhosts=True)
    assert listed["count"] == 1 and listed["directdownloadcertificate"][0]["alias"] == "c1"
    # the zone's hosts are simulator hosts: provisioning is for KVM hosts of the certificate's zone
    status, err = api.error("provisionTemplateDirectDownloadCertificate", id=cert["id"], hostid=zone["hosts"][0])
    assert status == 431 and "KVM" in err["errortext"]
    revoked = api("revokeTemplateDirectDownloadCertificate", name="c1", hypervisor="KVM", zoneid=zone["zone"])
    assert revoked == {}

