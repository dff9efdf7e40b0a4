"""The README's code blocks run: every fenced block is either run here or listed in EXCLUDED with the reason.

The blocks that talk to a cloud run against one sandbox of this module (`devcloud up --scenario simulator-advanced`
in a temporary state directory on free ports; the README's ports 8080/8081/8082 and `.venv/bin/` are rewritten to
that sandbox's). Python blocks run in this interpreter with the sandbox's keys for APIKEY/SECRET.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, _free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
S3_TOOLS = Path(os.environ.get("DEVCLOUD_S3_TOOLS", "/opt/s3tools-venv")) / "bin"

# first line of a block -> why it does not run here
EXCLUDED = {
    "make up     # installs what it needs": "`make up` starts the developer's sandbox and `make test` is this "
    "suite; tests/e2e/test_sandbox.py runs `devcloud up` in a state directory of its own",
    "management/   the management server": "a directory listing, not a command",
    "cs addCluster zoneid=$ZONE podid=$POD clustername=kvm": "deploys a real KVM guest into the default state "
    "directory's storage; tests/integration/test_kvm_api.py makes the same calls through the API on a real host",
    "cs addCluster zoneid=$ZONE podid=$POD clustername=xs-pool": "needs a real XenServer/XCP-ng pool "
    "(192.0.2.21); tests/api/test_xen_api.py makes the same calls against the fake XAPI pool",
}
# lines of a run block that do not run here, and why
SKIPPED_LINES = {
    "devcloud scenario run smoke-local": "smoke-local needs a KVM sandbox with guests; tests/e2e/test_sandbox.py "
    "runs it",
}

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("readme")]


@dataclass
class Block:
    lang: str
    text: str
    line: int

    @property
    def first(self) -> str:
        return self.text.splitlines()[0].strip()


def blocks() -> list[Block]:
    out: list[Block] = []
    lines = README.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            out.append(Block(m.group(1), "\n".join(lines[start + 1:j]) + "\n", start + 1))
            i = j + 1
        else:
            i += 1
    return out


def excluded(b: Block) -> str | None:
    return next((why for first, why in EXCLUDED.items() if b.first.startswith(first)), None)


def test_every_block_is_run_or_excluded_with_a_reason() -> None:
    found = blocks()
    assert len(found) >= 9
    runners = {"python": {"from libcloud.compute.providers"},
               "sh": {'eval "$(.venv/bin/devcloud env)"          # CLOUDSTACK_', "devcloud host prepare --probe",
                      'eval "$(.venv/bin/devcloud env)"      # AWS_ACCESS_KEY_ID', "export AWS_ACCESS_KEY_ID=<apikey>",
                      "aws s3api put-object --bucket demo --key hello.txt",
                      "curl -s http://127.0.0.1:8080/metrics", "curl -s -o /dev/null -D - -H 'X-Request-Id"}}
    unclaimed = [f"README.md:{b.line}: {b.first}" for b in found
                 if excluded(b) is None and not any(b.first.startswith(r) for r in runners.get(b.lang, ()))]
    assert not unclaimed, f"blocks neither run by tests/docs/test_readme.py nor in its EXCLUDED: {unclaimed}"
    assert not [b for b in found if b.lang not in ("sh", "python", "")], "a block in a language nothing runs"
    for first in EXCLUDED:
        assert any(b.first.startswith(first) for b in found), f"EXCLUDED names a block the README lost: {first}"


def block(first: str) -> str:
    found = [b for b in blocks() if b.first.startswith(first)]
    assert len(found) == 1, (first, found)
    return found[0].text


# ------------------------------------------------------------------------------------------------ the sandbox

@dataclass
class Cloud:
    state: Path
    env: dict[str, str]
    api_port: int
    s3_port: int
    ec2_port: int

    def admin(self) -> dict[str, str]:
        return json.loads((self.state / "admin.json").read_text())  # type: ignore[no-any-return]

    def localise(self, text: str) -> str:
        """The README as written for a default sandbox, pointed at this one."""
        text = text.replace(".venv/bin/", f"{VENV_BIN}/")
        return (text.replace(":8080", f":{self.api_port}").replace(":8081", f":{self.s3_port}")
                .replace(":8082", f":{self.ec2_port}"))

    def sh(self, script: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=self.env, cwd=cwd, capture_output=True,
                           text=True, timeout=timeout)
        assert r.returncode == 0, f"exit {r.returncode}\n--- script\n{script}\n--- stdout\n{r.stdout[-3000:]}\n" \
                                  f"--- stderr\n{r.stderr[-3000:]}"
        return r


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state = tmp_path_factory.mktemp("readme") / "state"
    api, s3, ec2 = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVCLOUD_", "CLOUDSTACK_", "AWS_"))}
    env.update({"DEVCLOUD_STATE_DIR": str(state), "DEVCLOUD_API_PORT": str(api), "DEVCLOUD_S3_PORT": str(s3),
                "DEVCLOUD_INTEGRATION_PORT": str(_free_port()), "DEVCLOUD_EC2_PORT": str(ec2), "COLUMNS": "200",
                "PATH": f"{VENV_BIN}:{S3_TOOLS}:{env.get('PATH', '/usr/bin:/bin')}", "HOME": str(state.parent)})
    c = Cloud(state, env, api, s3, ec2)
    c.sh(f"{VENV_BIN}/devcloud up --scenario simulator-advanced", cwd=ROOT)
    try:
        yield c
    finally:
        subprocess.run([str(VENV_BIN / "devcloud"), "down", "--purge"], env=env, cwd=ROOT, capture_output=True,
                       timeout=120)


# ------------------------------------------------------------------------------------------------ the blocks

def test_libcloud_example(cloud: Cloud) -> None:
    code = cloud.localise(block("from libcloud.compute.providers"))
    keys = cloud.admin()
    scope: dict[str, object] = {"APIKEY": keys["apikey"], "SECRET": keys["secretkey"]}
    exec(compile(code, "README.md (Apache Libcloud)", "exec"), scope)  # noqa: S102 - the README's own example
    locations = scope["driver"].list_locations()  # type: ignore[attr-defined]
    assert [loc.name for loc in locations] == ["Sandbox-simulator-advanced"]


def test_s3_block(cloud: Cloud, tmp_path: Path) -> None:
    (tmp_path / "big.iso").write_bytes(os.urandom(3 * 2**20))  # the file the README copies
    r = cloud.sh(cloud.localise(block('eval "$(.venv/bin/devcloud env)"      # AWS_ACCESS_KEY_ID')), cwd=tmp_path)
    assert "big.iso" in r.stdout and "s3://demo" in r.stdout, r.stdout


def test_s3_access_block(cloud: Cloud, tmp_path: Path) -> None:
    """The access-control block: a public-read object answers curl without credentials; the policy is accepted."""
    (tmp_path / "hello.txt").write_text("hello from the README\n")
    setup = 'eval "$(devcloud env)"\naws s3api head-bucket --bucket demo 2>/dev/null || aws s3 mb s3://demo\n'
    after = ("\naws s3api put-object --bucket demo --key private.txt --body hello.txt >/dev/null"
             "\naws s3api put-object --bucket demo --key public/p.txt --body hello.txt >/dev/null")
    r = cloud.sh(setup + cloud.localise(block("aws s3api put-object --bucket demo --key hello.txt")) + after,
                 cwd=tmp_path)
    assert "hello from the README" in r.stdout, r.stdout

    def anonymous(key: str) -> str:
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://127.0.0.1:{cloud.s3_port}/demo/{key}"], capture_output=True, text=True).stdout

    assert (anonymous("private.txt"), anonymous("public/p.txt")) == ("403", "200")


def test_metrics_block(cloud: Cloud, tmp_path: Path) -> None:
    r = cloud.sh(cloud.localise(block("curl -s http://127.0.0.1:8080/metrics")), cwd=tmp_path)
    lines = r.stdout.splitlines()
    hosts = [ln for ln in lines if ln.startswith("devcloud_hosts{")]
    assert hosts and all('state="Up"' in ln for ln in hosts), r.stdout
    assert int(lines[-1]) == len(cloud_commands(cloud)), r.stdout  # one operation per command of listApis


def test_request_id_block(cloud: Cloud, tmp_path: Path) -> None:
    """The client's X-Request-Id comes back in the answer and finds the request's access line in the log."""
    r = cloud.sh(cloud.localise(block("curl -s -o /dev/null -D - -H 'X-Request-Id")), cwd=tmp_path)
    assert "x-request-id: readme-trace-1" in r.stdout.lower(), r.stdout
    assert "(logid:readme-trace-1)" in r.stdout and "[listZones] 401" in r.stdout, r.stdout


def cloud_commands(cloud: Cloud) -> list[str]:
    from cs import CloudStack

    keys = cloud.admin()
    c = CloudStack(endpoint=f"http://127.0.0.1:{cloud.api_port}/client/api", key=keys["apikey"],
                   secret=keys["secretkey"])
    return [a["name"] for a in c.listApis()["api"]]


def test_ec2_block(cloud: Cloud) -> None:
    import boto3

    keys = cloud.admin()
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{cloud.ec2_port}", region_name="us-east-1",
                       aws_access_key_id=keys["apikey"], aws_secret_access_key=keys["secretkey"])
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_key_pair(KeyName="mykey")
    text = (cloud.localise(block("export AWS_ACCESS_KEY_ID=<apikey>")).replace("<apikey>", keys["apikey"])
            .replace("<secretkey>", keys["secretkey"]).replace("ami-…", ami))
    r = cloud.sh(text, cwd=ROOT)  # awscli prints JSON by default
    instances = json.loads(r.stdout)["Instances"]
    assert len(instances) == 2 and {i["KeyName"] for i in instances} == {"mykey"}


def test_host_prepare_block() -> None:
    if os.geteuid() != 0:
        pytest.fail("`devcloud host prepare` needs root")
    line = block("devcloud host prepare --probe").splitlines()[0].split("#")[0].strip()
    r = subprocess.run(["bash", "-c", line.replace("devcloud ", f"{VENV_BIN}/devcloud ", 1)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "libvirt-ready" in r.stdout and "virt-type" in r.stdout, r.stdout
    # the probe's cache is in the default state directory, which keeps every file private
    assert oct(os.stat("/var/lib/devcloud/virt-type.json").st_mode & 0o777) == oct(0o600)


def test_this_interpreter_is_the_venvs() -> None:
    """The blocks call .venv/bin/...: the suite's interpreter must be that venv's (make test runs it so)."""
    assert Path(sys.executable).parent == VENV_BIN and (VENV_BIN / "devcloud").exists()


def test_using_it(cloud: Cloud, tmp_path: Path) -> None:
    """The `Using it` block: env, cs, status, snapshot/restore, logs, down/--all/--purge, in order (last here: it
    purges the module's sandbox)."""
    text = block('eval "$(.venv/bin/devcloud env)"          # CLOUDSTACK_')
    lines = [ln for ln in text.splitlines() if not any(skip in ln for skip in SKIPPED_LINES)]
    assert len(lines) == len(text.splitlines()) - len(SKIPPED_LINES)
    before_down = [ln for ln in lines if " down" not in ln]
    r = cloud.sh(cloud.localise("\n".join(before_down)), cwd=tmp_path)
    assert "healthy" in r.stdout and "snapshot clean: " in r.stdout and ".tar.gz" in r.stdout, r.stdout
    r = cloud.sh(cloud.localise("\n".join(ln for ln in lines if " down" in ln)), cwd=tmp_path)
    assert "management server stopped" in r.stdout and f"removed {cloud.state}" in r.stdout, r.stdout
    assert not cloud.state.exists()
