"""Deploy a zone spec through the API; prints what happened as JSON (the datacenter role's `changed` comes from it).

    deploy_spec.py SPEC.yaml ENDPOINT STATE_DIR [--first-vm]

The zone, pods, clusters, hosts and storage come from appliance.deploy.Deployer. With --first-vm it then registers
the spec's templates (a `builtin:<name>` URL is the image the role copied to STATE_DIR/images/<name>.qcow2), deploys
the first VM with its network, key pair and port forwarding, and waits until the guest answers SSH: what `devcloud
up` does on the sandbox, without building images on this host.
"""

import json
import sys
from pathlib import Path

from appliance.client import CloudClient
from appliance.deploy import Deployer, ensure_first_vm, ensure_templates, wait_ssh
from appliance.zonespec import load


def main() -> int:
    spec_path, endpoint, state_dir = sys.argv[1:4]
    first_vm = "--first-vm" in sys.argv[4:]
    state = Path(state_dir)
    admin = json.loads((state / "admin.json").read_text())
    client = CloudClient(endpoint, admin["apikey"], admin["secretkey"], timeout=120)

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
