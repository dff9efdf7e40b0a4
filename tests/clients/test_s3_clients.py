"""awscli and s3cmd, unmodified, against a served `devcloud-management serve` (S3 on an ephemeral port).

The tools live outside the project venv: ``$DEVCLOUD_S3_TOOLS/bin`` (default /opt/s3tools-venv, made with
``python3 -m venv /opt/s3tools-venv && /opt/s3tools-venv/bin/pip install awscli s3cmd``), else PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Served, _free_port, start_served

pytestmark = [pytest.mark.clients, pytest.mark.slow]
MiB = 1 << 20
TOOLS = Path(os.environ.get("DEVCLOUD_S3_TOOLS", "/opt/s3tools-venv")) / "bin"


def tool(name: str) -> str:
    p = TOOLS / name
    if p.exists():
        return str(p)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install awscli s3cmd into {TOOLS.parent})")
    return found


@pytest.fixture(scope="module")
def served_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int]]:
    state = tmp_path_factory.mktemp("s3clients")
    port = _free_port()
    s = start_served(state, f"sqlite:///{state / 'devcloud.db'}", extra_env={"DEVCLOUD_S3_PORT": str(port)})
    try:
        yield s, port
    finally:
        s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("s3files")
    out = {}
    for name, size in (("one", MiB), ("hundred", 100 * MiB)):
        p = d / name
        with open(p, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        out[name] = p
    return out


def sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


def run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> str:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd[:4]} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r.stdout


AWSCLIS = {
    # awscli 1.x from PyPI (vendors a current botocore: CRC32 checksums by default), and Debian's 2.x
    # (predates the default-integrity change): the two generations clients meet.
    "pypi": lambda: tool("aws"),
    "debian": lambda: "/usr/bin/aws" if Path("/usr/bin/aws").exists() else pytest.skip("apt-get install awscli"),
}


@pytest.mark.parametrize("flavour", list(AWSCLIS))
def test_awscli(served_s3: tuple[Served, int], files: dict[str, Path], tmp_path: Path, flavour: str) -> None:
    served, port = served_s3
    aws = AWSCLIS[flavour]()
    bucket = f"cli-aws-{flavour}"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": served.apikey,
           "AWS_SECRET_ACCESS_KEY": served.secretkey, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    base = [aws, "--endpoint-url", f"http://127.0.0.1:{port}"]
    run(base + ["s3", "mb", f"s3://{bucket}"], env)
    assert bucket in run(base + ["s3", "ls"], env)
    for name, p in files.items():
        run(base + ["s3", "cp", str(p), f"s3://{bucket}/up/{name}"], env)
        down = tmp_path / f"{name}.down"
        run(base + ["s3", "cp", f"s3://{bucket}/up/{name}", str(down)], env)
        assert sha(down) == sha(p), name
        down.unlink()
    listing = run(base + ["s3", "ls", f"s3://{bucket}/up/"], env)
    assert "hundred" in listing and "one" in listing and str(100 * MiB) in listing
    head = run(base + ["s3api", "head-object", "--bucket", bucket, "--key", "up/hundred"], env)
    assert '-13\\"' in head or "-13" in head  # 8 MiB parts: multipart ETag
    rng = tmp_path / "range"
    run(base + ["s3api", "get-object", "--bucket", bucket, "--key", "up/hundred", "--range", "bytes=1000-1999",
                str(rng)], env)
    with open(files["hundred"], "rb") as f:
        f.seek(1000)
        assert rng.read_bytes() == f.read(1000)
    # copies: small (CopyObject) and large (multipart copy, UploadPartCopy)
    run(base + ["s3", "cp", f"s3://{bucket}/up/one", f"s3://{bucket}/copy/one"], env)
    run(base + ["s3", "cp", f"s3://{bucket}/up/hundred", f"s3://{bucket}/copy/hundred"], env)
    for name in ("one", "hundred"):
        down = tmp_path / f"{name}.copy"
        run(base + ["s3", "cp", f"s3://{bucket}/copy/{name}", str(down)], env)
        assert sha(down) == sha(files[name]), name
        down.unlink()
    run(base + ["s3", "rm", f"s3://{bucket}/up/one"], env)
    assert "one" not in run(base + ["s3", "ls", f"s3://{bucket}/up/"], env)
    run(base + ["s3", "rm", "--recursive", f"s3://{bucket}/"], env)
    run(base + ["s3", "rb", f"s3://{bucket}"], env)
    assert bucket not in run(base + ["s3", "ls"], env)


def test_s3cmd(served_s3: tuple[Served, int], files: dict[str, Path], tmp_path: Path) -> None:
    served, port = served_s3
    s3cmd = tool("s3cmd")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {served.apikey}\nsecret_key = {served.secretkey}\n"
                   f"host_base = 127.0.0.1:{port}\nhost_bucket = 127.0.0.1:{port}\nuse_https = False\n"
                   "signature_v2 = False\nbucket_location = us-east-1\ncheck_ssl_certificate = False\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    base = [s3cmd, "-c", str(cfg)]
    run(base + ["mb", "s3://cli-s3cmd"], env)
    assert "s3://cli-s3cmd" in run(base + ["ls"], env)
    for name, p in files.items():
        run(base + ["put", str(p), f"s3://cli-s3cmd/dir/{name}"], env)
        down = tmp_path / f"{name}.down"
        run(base + ["get", f"s3://cli-s3cmd/dir/{name}", str(down)], env)
        assert sha(down) == sha(p), name
        down.unlink()
    listing = run(base + ["ls", "s3://cli-s3cmd/dir/"], env)
    assert "dir/hundred" in listing and "dir/one" in listing
    assert "DIR" in run(base + ["ls", "s3://cli-s3cmd/"], env)  # delimiter listing: a common prefix
    # a ranged download: `get --continue` fetches the rest of a partial file with a Range request
    partial = tmp_path / "partial"
    with open(files["one"], "rb") as f:
        partial.write_bytes(f.read(300_000))
    run(base + ["get", "--continue", "s3://cli-s3cmd/dir/one", str(partial)], env)
    assert sha(partial) == sha(files["one"])
    run(base + ["cp", "s3://cli-s3cmd/dir/one", "s3://cli-s3cmd/copy/one"], env)
    down = tmp_path / "copy"
    run(base + ["get", "s3://cli-s3cmd/copy/one", str(down)], env)
    assert sha(down) == sha(files["one"])
    run(base + ["--signature-v2", "ls", "s3://cli-s3cmd/copy/"], env)  # SigV2 too
    run(base + ["del", "--recursive", "--force", "s3://cli-s3cmd/"], env)
    run(base + ["rb", "s3://cli-s3cmd"], env)
    assert "s3://cli-s3cmd" not in run(base + ["ls"], env)


def test_s3cmd_virtual_host_style(served_s3: tuple[Served, int], tmp_path: Path) -> None:
    """host_bucket = %(bucket)s.localhost: the bucket travels in the Host header. *.localhost does not resolve
    here, so s3cmd goes through its proxy setting pointed at the S3 port (the Host header is unchanged)."""
    served, port = served_s3
    s3cmd = tool("s3cmd")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {served.apikey}\nsecret_key = {served.secretkey}\n"
                   f"host_base = localhost:{port}\nhost_bucket = %(bucket)s.localhost:{port}\nuse_https = False\n"
                   f"proxy_host = 127.0.0.1\nproxy_port = {port}\nsignature_v2 = False\nbucket_location = us-east-1\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    base = [s3cmd, "-c", str(cfg)]
    src = tmp_path / "src"
    src.write_bytes(os.urandom(300_000))
    r = subprocess.run(base + ["--debug", "mb", "s3://vhost-bucket"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "get_hostname(vhost-bucket): vhost-bucket.localhost" in r.stderr
    run(base + ["put", str(src), "s3://vhost-bucket/d/obj"], env)
    assert "d/obj" in run(base + ["ls", "s3://vhost-bucket/d/"], env)
    run(base + ["get", "s3://vhost-bucket/d/obj", str(tmp_path / "out")], env)
    assert (tmp_path / "out").read_bytes() == src.read_bytes()
    assert "DIR" in run(base + ["--signature-v2", "ls", "s3://vhost-bucket/"], env)
    run(base + ["del", "s3://vhost-bucket/d/obj"], env)
    run(base + ["rb", "s3://vhost-bucket"], env)


def test_awscli_versioning_acls_public_policy_and_curl(served_s3: tuple[Served, int], tmp_path: Path) -> None:
    """`aws s3api` round trips for versioning, ACLs and a public-read policy; plain curl, without credentials,
    reads what is public and is refused the rest."""
    import json

    served, port = served_s3
    aws = tool("aws")
    curl = shutil.which("curl") or pytest.fail("curl is not installed (apt-get install curl)")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": served.apikey,
           "AWS_SECRET_ACCESS_KEY": served.secretkey, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    endpoint = f"http://127.0.0.1:{port}"
    api = [aws, "--endpoint-url", endpoint, "--output", "json", "s3api"]
    b = "cli-fidelity"

    def s3api(*args: str) -> dict[str, object]:
        out = run(api + list(args), env)
        return json.loads(out) if out.strip() else {}

    def anonymous(path: str) -> tuple[int, bytes]:
        r = subprocess.run([curl, "-s", "-o", "-", "-w", "\n%{http_code}", f"{endpoint}/{path}"],
                           capture_output=True, timeout=30)
        body, _, status = r.stdout.rpartition(b"\n")
        return int(status), body

    s3api("create-bucket", "--bucket", b)
    # versioning
    s3api("put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    assert s3api("get-bucket-versioning", "--bucket", b)["Status"] == "Enabled"
    f1, f2 = tmp_path / "v1", tmp_path / "v2"
    f1.write_bytes(b"first")
    f2.write_bytes(b"second")
    v1 = s3api("put-object", "--bucket", b, "--key", "doc", "--body", str(f1))["VersionId"]
    s3api("put-object", "--bucket", b, "--key", "doc", "--body", str(f2))
    versions = s3api("list-object-versions", "--bucket", b)["Versions"]
    assert [v["IsLatest"] for v in versions] == [True, False]  # type: ignore[index]
    s3api("get-object", "--bucket", b, "--key", "doc", "--version-id", str(v1), str(tmp_path / "got"))
    assert (tmp_path / "got").read_bytes() == b"first"
    marker = s3api("delete-object", "--bucket", b, "--key", "doc")
    assert marker["DeleteMarker"] is True
    # ACLs: a public-read object for curl, a private one it may not read
    s3api("put-object", "--bucket", b, "--key", "public.txt", "--body", str(f1), "--acl", "public-read")
    s3api("put-object", "--bucket", b, "--key", "private.txt", "--body", str(f2))
    acl = s3api("get-object-acl", "--bucket", b, "--key", "public.txt")
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in acl["Grants"]  # type: ignore[operator]
    assert anonymous(f"{b}/public.txt") == (200, b"first")
    status, body = anonymous(f"{b}/private.txt")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    s3api("put-bucket-acl", "--bucket", b, "--acl", "public-read")
    assert anonymous(f"{b}?list-type=2")[0] == 200
    s3api("put-bucket-acl", "--bucket", b, "--acl", "private")
    assert anonymous(f"{b}?list-type=2")[0] == 403
    # a public-read bucket policy
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{b}/*"}]}
    s3api("put-bucket-policy", "--bucket", b, "--policy", json.dumps(policy))
    assert json.loads(str(s3api("get-bucket-policy", "--bucket", b)["Policy"])) == policy
    assert s3api("get-bucket-policy-status", "--bucket", b)["PolicyStatus"] == {"IsPublic": True}
    assert anonymous(f"{b}/private.txt") == (200, b"second")
    s3api("delete-bucket-policy", "--bucket", b)
    assert anonymous(f"{b}/private.txt")[0] == 403
    # empty it the way test suites do: every version and delete marker, then the bucket
    listing = s3api("list-object-versions", "--bucket", b)
    for v in list(listing.get("Versions", [])) + list(listing.get("DeleteMarkers", [])):  # type: ignore[call-overload]
        s3api("delete-object", "--bucket", b, "--key", v["Key"], "--version-id", v["VersionId"])
    s3api("delete-bucket", "--bucket", b)
