"""Deploy a zone spec through the API; prints what happened as JSON (the datacenter role's `changed` comes from it).

    deploy_spec.py SPEC.yaml ENDPOINT STATE_DIR [--first-vm] [--timeout SECONDS]

The zone, pods, clusters, hosts and storage come from appliance.deploy.Deployer. With --first-vm it then registers
the spec's templates (a `builtin:<name>` URL is the image the role copied to STATE_DIR/images/<name>.qcow2), deploys
the first VM with its network, key pair and port forwarding, and waits until the guest answers SSH: what `devcloud
up` does on the sandbox, without building images on this host.

--timeout bounds each API request (not a job: jobs are polled). A nested appliance under QEMU TCG, on a machine busy
with other work, has taken more than 120 s to answer deployVirtualMachine; the role's default is 600.
"""

import argparse
import json
import sys
from pathlib import Path

import httpx

from appliance.client import ApiError, CloudClient
from appliance.deploy import Deployer, ensure_first_vm, ensure_templates, wait_ssh
from appliance.zonespec import load


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("spec")
    args.add_argument("endpoint")
    args.add_argument("state_dir")
    args.add_argument("--first-vm", action=argparse.BooleanOptionalAction, default=False)
    args.add_argument("--timeout", type=float, default=600.0, help="seconds one API request may take")
    a = args.parse_args()
    try:
        return deploy(a.spec, a.endpoint, a.state_dir, a.first_vm, a.timeout)
    except httpx.TimeoutException:
        # The step it was in is the last line printed before this one.
        raise SystemExit(f"the API at {a.endpoint} did not answer a request within {a.timeout:g} s: the management "
                         "server is busy or stuck (journalctl -u devcloud-management); the role's "
                         "datacenter_api_timeout sets the limit") from None
    except ApiError as exc:  # the server's own words are the message; the stack would only bury them
        raise SystemExit(f"the API refused it: {exc}") from None


def deploy(spec_path: str, endpoint: str, state_dir: str, first_vm: bool, timeout: float) -> int:
    state = Path(state_dir)
    admin = json.loads((state / "admin.json").read_text())
    client = CloudClient(endpoint, admin["apikey"], admin["secretkey"], timeout=timeout)

    def notify(msg: str) -> None:
        print(msg, file=sys.stderr)

    def image_url(url: str) -> str:
        if not url.startswith("builtin:"):
            return url
        image = state / "images" / f"{url.removeprefix('builtin:')}.qcow2"
        if not image.is_file():
            raise SystemExit(f"{image} is missing: the datacenter role copies it from dist/images/")
        return f"file://{image}"

    spec = load(spec_path, state_dir)
    out: dict[str, object] = {}
    try:
        report = Deployer(client, notify=notify).deploy(spec)
        created = list(report.created)
        if first_vm and spec.first_vm is not None:
            fv = spec.first_vm
            zone = client.one("listZones", "zone", name=fv.zone)
            zid = zone["id"] if zone else None
            known = {t.get("name") for t in client.items("listTemplates", "template", templatefilter="all",
                                                          zoneid=zid)}
            for tpl in ensure_templates(client, spec, image_url, notify):
                if tpl["name"] not in known:
                    created.append(f"template {tpl['name']}")
            running = [v for v in client.items("listVirtualMachines", "virtualmachine", zoneid=zid, name=fv.name)
                       if v.get("name") == fv.name and v.get("state") == "Running"]
            facts = ensure_first_vm(client, spec, state / "keys", notify)
            if not running:
                created.append(f"vm {fv.name}")
            facts["ssh"] = wait_ssh(facts, fv.boot_timeout)
            out["first_vm"] = facts
    finally:
        client.close()
    out.update(changed=bool(created), created=created, existing=report.existing)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
