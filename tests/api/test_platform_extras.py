"""Platform extras of the core API: annotations, resource details and icons (showicon), GUI themes, the root CA
provider and custom certificates, extensions and custom actions, archive/delete events, listDetailOptions,
purgeExpungedResources and the console sessions devcloud records."""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from management.api.app import api_app
from management.drivers.simulator import SimulatorDriver
from tests.api.test_console import FakeVnc
from tests.api.test_vm_lifecycle import deploy, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api

# The smallest PNG there is (1x1, transparent).
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082")).decode()


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


# ---- annotations -------------------------------------------------------------------------------------------------

def test_annotations(api: ApiClient) -> None:
    dom = api("createDomain", name="noted")["domain"]
    a = api("addAnnotation", annotation="billing contact: ops", entitytype="DOMAIN", entityid=dom["id"])["annotation"]
    assert (a["entitytype"], a["entityid"], a["entityname"], a["username"], a["adminsonly"]) == (
        "DOMAIN", dom["id"], "noted", "admin", False)
    listed = api("listAnnotations", entitytype="DOMAIN", entityid=dom["id"])
    assert listed["count"] == 1 and listed["annotation"][0]["annotation"] == "billing contact: ops"
    assert api("updateAnnotationVisibility", id=a["id"], adminsonly=True)["annotation"]["adminsonly"] is True
    assert api("listAnnotations", annotationfilter="self")["annotation"][0]["id"] == a["id"]
    removed = api("removeAnnotation", id=a["id"])["annotation"]
    assert removed["id"] == a["id"] and removed["removed"]
    assert api("listAnnotations", entityid=dom["id"]) == {}

    status, _ = api.error("addAnnotation", annotation="x", entitytype="SPACESHIP", entityid=dom["id"])
    assert status == 431
    status, _ = api.error("addAnnotation", annotation="x", entitytype="DOMAIN",
                          entityid="00000000-0000-0000-0000-000000000000")
    assert status == 431
    status, err = api.error("removeAnnotation", id=a["id"])
    assert (status, err["errortext"]) == (431, f"Unable to find an annotation with ID: {a['id']}")
    user = api.client_for(api.new_account(name="curious"))
    assert user.error("listAnnotations")[0] == 401  # admins only, as in CloudStack


# ---- resource details, icons, console sessions, purge -----------------------------------------------------------

def test_details_and_icons_on_a_users_vm(api: ApiClient, zone: dict[str, Any]) -> None:
    owner = api.new_account(name="iconic")
    ua = api.client_for(owner)
    vm = deploy(ua, zone)
    ua.run("addResourceDetail", {"details[0].key": "team", "details[0].value": "blue"}, resourcetype="UserVm",
           resourceid=vm["id"], fordisplay=False)
    (d,) = ua("listResourceDetails", resourcetype="UserVm", resourceid=vm["id"])["resourcedetail"]
    assert (d["key"], d["value"], d["resourceid"], d["account"], d["fordisplay"]) == (
        "team", "blue", vm["id"], "iconic", True)  # only admins may hide a detail from users
    api.run("addResourceDetail", {"details[0].key": "audit", "details[0].value": "q3"}, resourcetype="UserVm",
            resourceid=vm["id"], fordisplay=False)
    assert [x["key"] for x in ua("listResourceDetails", resourcetype="UserVm")["resourcedetail"]] == ["team"]
    assert {x["key"] for x in api("listResourceDetails", resourcetype="UserVm",
                                  resourceid=vm["id"])["resourcedetail"]} == {"team", "audit"}

    other = api.client_for(api.new_account(name="stranger"))
    job = other.wait(other("addResourceDetail", {"details[0].key": "k", "details[0].value": "v"},
                           resourcetype="UserVm", resourceid=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 531
    assert other.error("listResourceDetails", resourcetype="UserVm", resourceid=vm["id"])[0] == 531
    assert api.error("listResourceDetails", resourcetype="Spaceship")[0] == 431

    ua.run("removeResourceDetail", resourcetype="UserVm", resourceid=vm["id"], key="team")
    assert [x["key"] for x in api("listResourceDetails", resourcetype="UserVm",
                                  resourceid=vm["id"])["resourcedetail"]] == ["audit"]

    assert ua("uploadResourceIcon", resourceids=vm["id"], resourcetype="UserVm", base64image=PNG) == {
        "success": True}
    (icon,) = ua("listResourceIcon", resourceids=vm["id"], resourcetype="UserVm")["icon"]
    assert (icon["resourceid"], icon["resourcetype"], icon["base64image"]) == (vm["id"], "UserVm", PNG)
    # showicon on a list that has it (zones here: their icons are the root admin's to set)
    api("uploadResourceIcon", resourceids=zone["zone"], resourcetype="Zone", base64image=PNG)
    assert ua("listZones", id=zone["zone"], showicon=True)["zone"][0]["icon"] == {
        "resourcetype": "Zone", "resourceid": zone["zone"], "base64image": PNG}
    assert "icon" not in ua("listZones", id=zone["zone"])["zone"][0]
    assert ua.error("uploadResourceIcon", resourceids=zone["zone"], resourcetype="Zone", base64image=PNG)[0] == 531
    status, err = ua.error("uploadResourceIcon", resourceids=vm["id"], resourcetype="UserVm",
                           base64image=base64.b64encode(b"plain text").decode())
    assert (status, err["errortext"]) == (431, "The image provided is not a PNG, JPEG, GIF or SVG image")
    assert other.error("uploadResourceIcon", resourceids=vm["id"], resourcetype="UserVm",
                       base64image=PNG)[0] == 531
    assert ua("deleteResourceIcon", resourceids=vm["id"], resourcetype="UserVm") == {"success": True}
    assert ua("listResourceIcon", resourceids=vm["id"], resourcetype="UserVm") == {}


def test_console_sessions_record_the_tokens_handed_out(server: InProcess, api: ApiClient,
                                                       zone: dict[str, Any]) -> None:
    owner = api.new_account(name="viewer")
    ua = api.client_for(owner)
    vm = deploy(ua, zone)
    vnc = FakeVnc()
    SimulatorDriver(zone["urls"][0])._host.next_console_port = vnc.port
    ep = ua("createConsoleEndpoint", virtualmachineid=vm["id"])["consoleendpoint"]
    assert ua("listConsoleSessions") == {}  # active = acquired and not ended
    (issued,) = ua("listConsoleSessions", activeonly=False)["consolesession"]
    assert (issued["virtualmachineid"], issued["account"], issued["user"]) == (vm["id"], "viewer", "viewer")
    assert "acquired" not in issued

    with TestClient(api_app(server.server.dispatcher)) as http:
        with http.websocket_connect(f"/client/console?token={ep['websocket']['token']}",
                                    subprotocols=["binary"]) as ws:
            assert ws.receive_bytes() == b"RFB 003.008\n"
            (active,) = ua("listConsoleSessions")["consolesession"]
            assert active["id"] == issued["id"] and active["acquired"] and active["clientaddress"]
        # The proxy records the end once the connection has closed on its side.
        ended = wait_for(lambda: [x for x in ua("listConsoleSessions", activeonly=False,
                                                acquired=True)["consolesession"] if x.get("removed")],
                         what="the console session's end")
    assert ended[0]["id"] == issued["id"]
    assert api.client_for(api.new_account(name="other"))("listConsoleSessions", activeonly=False) == {}
    assert api("listConsoleSessions", activeonly=False, virtualmachineid=vm["id"])["count"] == 1


def test_purge_expunged_vms(api: ApiClient, zone: dict[str, Any]) -> None:
    vm = deploy(api, zone)
    api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    out = api.run("purgeExpungedResources", resourcetype="VirtualMachine")
    assert out == {"success": True, "displaytext": "Purged 1 expunged resource(s)"}
    assert api.run("purgeExpungedResources") == {"success": True, "displaytext": "Purged 0 expunged resource(s)"}
    job = api.wait(api("purgeExpungedResources", resourcetype="Volume")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == (
        "Invalid resource type: Volume specified. Supported types: VirtualMachine")


# ---- GUI themes --------------------------------------------------------------------------------------------------

def test_gui_themes(api: ApiClient) -> None:
    dom = api("createDomain", name="branded")["domain"]
    acct = api.new_account(name="brandee", domainid=dom["id"])
    t = api("createGuiTheme", name="blue", css=".logo{color:blue}", jsonconfiguration='{"appTitle": "Blue"}',
            domainids=dom["id"], ispublic=False)["guithemes"]
    assert (t["name"], t["css"], t["domainids"], t["ispublic"]) == ("blue", ".logo{color:blue}", dom["id"], False)
    by_cn = api("createGuiTheme", name="site", commonnames="*.example.org", ispublic=False)["guithemes"]

    user = api.client_for(acct)
    assert [x["id"] for x in user("listGuiThemes")["guiThemes"]] == [t["id"]]
    assert [x["id"] for x in user("listGuiThemes", commonname="cloud.example.org")["guiThemes"]] == [
        by_cn["id"], t["id"]]
    outsider = api.client_for(api.new_account(name="plain"))
    assert outsider("listGuiThemes") == {}
    assert {x["id"] for x in api("listGuiThemes", listall=True)["guiThemes"]} == {t["id"], by_cn["id"]}

    status, err = api.error("createGuiTheme", name="broken", jsonconfiguration="[1, 2]")
    assert (status, err["errortext"]) == (431, "The JSON attribute is not a valid JSON object")
    status, err = api.error("createGuiTheme", name="lost", domainids="00000000-0000-0000-0000-000000000000")
    assert (status, err["errortext"]) == (431, "Unable to find domain with ID [00000000-0000-0000-0000-000000000000]")

    assert api("updateGuiTheme", id=t["id"], ispublic=True)["guithemes"]["ispublic"] is True
    assert t["id"] in [x["id"] for x in outsider("listGuiThemes")["guiThemes"]]
    assert api("removeGuiTheme", id=t["id"])["guithemes"]["removed"]
    assert t["id"] not in [x["id"] for x in api("listGuiThemes", listall=True).get("guiThemes", [])]
    assert outsider.error("createGuiTheme", name="mine")[0] == 401


# ---- certificates ------------------------------------------------------------------------------------------------

def test_root_ca_issues_and_revokes(api: ApiClient) -> None:
    assert [p["name"] for p in api("listCAProviders")["caprovider"]] == ["root"]
    ca_pem = api("listCaCertificate")["cacertificates"]["cacertificates"]
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    user = api.client_for(api.new_account(name="trusting"))
    assert user("listCaCertificate")["cacertificates"]["cacertificates"] == ca_pem

    out = api.run("issueCertificate", domain="agent.example.org,alt.example.org", ipaddress="10.0.0.5",
                  duration=10)["certificates"]
    cert = x509.load_pem_x509_certificate(out["certificate"].encode())
    key = serialization.load_pem_private_key(out["privatekey"].encode(), None)
    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                  cert.signature_hash_algorithm or hashes.SHA256())  # raises unless the CA signed it
    assert cert.issuer == ca.subject and cert.public_key() == key.public_key()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["agent.example.org", "alt.example.org"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) <= dt.timedelta(days=10, minutes=5)

    csr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.example.org")]))
           .sign(csr_key, hashes.SHA256()))
    from_csr = api.run("issueCertificate", csr=csr.public_bytes(serialization.Encoding.PEM).decode())["certificates"]
    assert "privatekey" not in from_csr
    assert x509.load_pem_x509_certificate(from_csr["certificate"].encode()).public_key() == csr_key.public_key()

    serial = format(cert.serial_number, "x")
    assert api.run("revokeCertificate", serial=serial) == {"success": True}
    job = api.wait(api("revokeCertificate", serial="abc123")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == (
        "Unable to find a certificate issued by this CA with serial abc123")
    job = api.wait(api("issueCertificate")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 431
    assert api.error("listCaCertificate", provider="vault")[1]["errortext"] == (
        "Failed to find CA provider plugin with name: vault")


def _self_signed(cn: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def test_upload_custom_certificate(api: ApiClient) -> None:
    cert, key = _self_signed("*.consoles.example.org")
    out = api.run("uploadCustomCertificate", certificate=cert, privatekey=key,
                  domainsuffix="consoles.example.org")["customcertificate"]
    assert out["message"].startswith("Certificate has been successfully updated")
    _other_cert, other_key = _self_signed("other")
    job = api.wait(api("uploadCustomCertificate", certificate=cert, privatekey=other_key,
                       domainsuffix="consoles.example.org")["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == "Private key does not match the certificate"
    job = api.wait(api("uploadCustomCertificate", certificate="not a cert", domainsuffix="x.org")["jobid"])
    assert job["jobresult"]["errorcode"] == 431


# ---- extensions --------------------------------------------------------------------------------------------------

def test_extensions_and_custom_actions(server: InProcess, api: ApiClient, zone: dict[str, Any]) -> None:
    status, err = api.error("createExtension", name="provisioner", type="Orchestrator")
    assert (status, err["errortext"]) == (530, "Failed to enable extension: provisioner as it entry-point is not "
                                               "ready")
    ext = api("createExtension", name="provisioner", type="Orchestrator", state="Disabled",
              description="external VMs")["extension"]
    entry = Path(server.settings.state_dir) / "extensions" / "provisioner" / "provisioner.sh"
    assert (ext["state"], ext["path"], ext["pathready"], ext["isuserdefined"]) == (
        "Disabled", str(entry), False, True)
    status, err = api.error("createExtension", name="provisioner", type="Orchestrator", state="Disabled")
    assert (status, err["errortext"]) == (530, "Extension by name already exists")
    status, err = api.error("createExtension", name="other", type="Storage", state="Disabled")
    assert (status, err["errortext"]) == (530, "Invalid type specified - Storage")

    # An executable entry point makes it ready; then it can be enabled.
    entry.parent.mkdir(parents=True)
    entry.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(entry, 0o700)
    up = api("updateExtension", id=ext["id"], state="Enabled")["extension"]
    assert (up["state"], up["pathready"]) == ("Enabled", True)
    assert [e["name"] for e in api("listExtensions")["extension"]] == ["provisioner"]

    # Only clusters of the External hypervisor can take an orchestrator extension.
    status, err = api.error("registerExtension", extensionid=ext["id"], resourceid=zone["cluster"],
                            resourcetype="Cluster")
    assert status == 530 and err["errortext"].startswith(f"Cluster ID: {zone['cluster']} is not of")

    action = api("addCustomAction", {"parameters[0].name": "size", "parameters[0].type": "NUMBER",
                                     "parameters[0].required": "true"}, extensionid=ext["id"], name="resize",
                 resourcetype="VirtualMachine", allowedroletypes="Admin,User", enabled=True,
                 timeout=10)["extensioncustomaction"]
    assert (action["name"], action["extensionname"], action["resourcetype"], action["enabled"]) == (
        "resize", "provisioner", "VirtualMachine", True)
    assert [p["name"] for p in action["parameters"]] == ["size"]
    assert set(action["allowedroletypes"]) == {"Admin", "User"}
    assert api("updateCustomAction", id=action["id"], description="grow the disk") == {"success": True}
    (listed,) = api("listCustomActions", extensionid=ext["id"])["extensioncustomaction"]
    assert listed["description"] == "grow the disk"

    vm = deploy(api, zone)
    job = api.wait(api("runCustomAction", customactionid=action["id"], resourceid=vm["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == "Internal error running action"

    assert api("deleteCustomAction", id=action["id"]) == {"success": True}
    assert api("listCustomActions", extensionid=ext["id"]) == {}
    api("deleteExtension", id=ext["id"])
    assert api("listExtensions") == {}


# ---- events, detail options --------------------------------------------------------------------------------------

def test_archive_and_delete_events(api: ApiClient) -> None:
    api("createDomain", name="ev-one")
    api("createDomain", name="ev-two")
    created = api("listEvents", type="DOMAIN.CREATE")["event"]
    assert len(created) == 2
    first = created[-1]["id"]
    status, err = api.error("archiveEvents")
    assert (status, err["errortext"]) == (431, "either ids, type or enddate must be specified")

    assert api("archiveEvents", ids=first) == {"success": True}
    assert [e["id"] for e in api("listEvents", type="DOMAIN.CREATE", archived=True)["event"]] == [first]
    assert first not in [e["id"] for e in api("listEvents", type="DOMAIN.CREATE")["event"]]

    assert api("deleteEvents", type="DOMAIN.CREATE") == {"success": True}
    assert api("listEvents", type="DOMAIN.CREATE") == {}
    assert api("listEvents", type="DOMAIN.CREATE", archived=True) == {}
    user = api.client_for(api.new_account(name="eventful"))
    assert user("deleteEvents", type="DOMAIN.CREATE") == {"success": True}  # a user's selection is only theirs


def test_list_detail_options(api: ApiClient) -> None:
    vm_opts = api("listDetailOptions", resourcetype="UserVm")["detailoptions"]["details"]
    assert "virtio" in vm_opts["rootDiskController"] and vm_opts["keyboard"][0] == "us"
    assert "rootDiskController" in api("listDetailOptions", resourcetype="Volume")["detailoptions"]["details"]
    status, _ = api.error("listDetailOptions", resourcetype="Zone")
    assert status == 431
