"""Deploy a zone spec through the API with appliance.deploy.Deployer; prints the report as JSON.

    deploy_spec.py SPEC.yaml ENDPOINT STATE_DIR
"""

import json
import sys
from pathlib import Path

from appliance.client import CloudClient
from appliance.deploy import Deployer
from appliance.zonespec import load


def main() -> int:
    spec_path, endpoint, state_dir = sys.argv[1:4]
    admin = json.loads((Path(state_dir) / "admin.json").read_text())
    client = CloudClient(endpoint, admin["apikey"], admin["secretkey"], timeout=120)
    try:
        report = Deployer(client, notify=lambda m: print(m, file=sys.stderr)).deploy(load(spec_path, state_dir))
    finally:
        client.close()
    print(json.dumps({"changed": report.changed, "created": report.created, "existing": report.existing}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
