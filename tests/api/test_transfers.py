"""Images in and out through the management server, on the simulator: extractVolume / extractTemplate as a
signed download URL served by the API listener, uploadVolume from a URL, and the signed POST form of
getUploadParamsForVolume / Template / Iso (the UI's upload)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from management.api.app import MAX_BODY
from tests.api.test_vm_lifecycle import deploy, domains, sim_zone
from tests.conftest import ApiClient, InProcess, wait_for

pytestmark = pytest.mark.api


@pytest.fixture
def zone(server: InProcess, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from sim_zone(server, tmp_path, hosts=1)


def qcow2(path: Path, size: str) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return path


def fetch(api: ApiClient, url: str) -> Any:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.path.startswith("/userdata/"), url
    return api.http.get(parts.path)


def post(api: ApiClient, params: dict[str, Any], data: bytes, *, signature: str | None = None) -> Any:
    """What CloudStack's UI does: multipart POST to postURL with the x-signature/x-metadata/x-expires headers."""
    path = urlsplit(params["postURL"]).path
    headers = {"x-signature": signature or params["signature"], "x-metadata": params["metadata"],
               "x-expires": params["expires"]}
    return api.http.post(path, files={"file": ("image.bin", data, "application/octet-stream")}, headers=headers)


def test_upload_attach_extract_volume_and_extract_template(api: ApiClient, zone: dict[str, Any],
                                                            tmp_path: Path) -> None:
    img = tmp_path / "disk.raw"
    img.write_bytes(b"\x5a" * (3 * 1024 * 1024))
    md5 = hashlib.md5(img.read_bytes()).hexdigest()  # noqa: S324 - CloudStack's default checksum form
    up = api.run("uploadVolume", name="uploaded", url=img.as_uri(), format="RAW", zoneid=zone["zone"],
                 checksum=md5)["volume"]
    assert (up["name"], up["state"], up["size"]) == ("uploaded", "Uploaded", 3 * 1024 * 1024)
    job = api.wait(api("uploadVolume", name="bad", url=img.as_uri(), format="RAW", zoneid=zone["zone"],
                       checksum="0" * 32)["jobid"])
    assert job["jobstatus"] == 2 and "checksum mismatch" in job["jobresult"]["errortext"]

    vm = deploy(api, zone)
    attached = api.run("attachVolume", id=up["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["state"] == "Ready" and attached["virtualmachineid"] == vm["id"]
    assert up["id"] in domains(zone)[vm["id"]].volumes
    job = api.wait(api("extractVolume", id=up["id"], zoneid=zone["zone"], mode="HTTP_DOWNLOAD")["jobid"])
    assert job["jobstatus"] == 2 and "stop the VM or detach the volume first" in job["jobresult"]["errortext"]
    api.run("detachVolume", id=up["id"])
    out = api.run("extractVolume", id=up["id"], zoneid=zone["zone"], mode="HTTP_DOWNLOAD")["volume"]
    assert (out["id"], out["state"], out["extractMode"], out["zoneid"]) == (up["id"], "DOWNLOAD_URL_CREATED",
                                                                            "HTTP_DOWNLOAD", zone["zone"])
    got = fetch(api, out["url"])
    assert got.status_code == 200 and len(got.content) == 3 * 1024 * 1024
    forged = urlsplit(out["url"]).path.replace("/userdata/", "/userdata/x")
    assert api.http.get(forged).status_code == 403

    src = qcow2(tmp_path / "tpl.qcow2", "64M")
    tmpl = api("registerTemplate", name="exportable", displaytext="x", url=src.as_uri(), format="QCOW2",
               hypervisor="Simulator", zoneid=zone["zone"], isextractable=True)["template"][0]
    wait_for(lambda: api("listTemplates", templatefilter="all", id=tmpl["id"])["template"][0]["isready"], timeout=30,
             what="the template to download")
    ext = api.run("extractTemplate", id=tmpl["id"], zoneid=zone["zone"], mode="HTTP_DOWNLOAD")["template"]
    assert fetch(api, ext["url"]).content == src.read_bytes()


def test_post_upload_of_volume_template_and_iso(api: ApiClient, zone: dict[str, Any], tmp_path: Path) -> None:
    params = api("getUploadParamsForVolume", name="posted", format="RAW", zoneid=zone["zone"])["getuploadparams"]
    assert set(params) == {"id", "postURL", "metadata", "expires", "signature"}
    assert urlsplit(params["postURL"]).path == f"/upload/{params['id']}"
    vol = api("listVolumes", id=params["id"])["volume"][0]
    assert vol["state"] == "NotUploaded"
    assert post(api, params, b"x", signature="forged").status_code == 403
    # a file is bigger than the API's form bodies may be: the upload path has no body limit
    size = MAX_BODY + 2**20
    assert post(api, params, b"\x11" * size).status_code == 200
    vol = api("listVolumes", id=params["id"])["volume"][0]
    assert (vol["state"], vol["size"]) == ("Uploaded", size)
    assert post(api, params, b"again").status_code == 409  # the volume no longer waits for an upload

    tparams = api("getUploadParamsForTemplate", name="posted-tpl", format="QCOW2", hypervisor="Simulator",
                  zoneid=zone["zone"], ispublic=True)["getuploadparams"]
    qcow = qcow2(tmp_path / "posted.qcow2", "32M").read_bytes()
    assert post(api, tparams, qcow).status_code == 200
    tmpl = api("listTemplates", templatefilter="all", id=tparams["id"])["template"][0]
    assert tmpl["isready"] is True and tmpl["size"] == 32 * 1024 * 1024
    assert deploy(api, zone, templateid=tmpl["id"])["state"] == "Running"

    iparams = api("getUploadParamsForIso", name="posted-iso", format="ISO", zoneid=zone["zone"])["getuploadparams"]
    assert post(api, iparams, b"CD001" * 1000).status_code == 200
    assert api("listIsos", isofilter="all", id=iparams["id"])["iso"][0]["isready"] is True
