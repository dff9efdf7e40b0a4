"""API-surface fingerprint: every command's name, sync/async, roles, event, entity, response name and
parameters (name, type, required), compared with the committed ``api_surface.json``.

The test fails with a readable diff whenever the surface changes. When the change is intended (you added or
changed a command), regenerate the file with ONE command and commit it with your change:

    GENERATE_API_SURFACE=1 .venv/bin/pytest -q tests/contract/api/test_api_surface.py

(or ``make api-surface``). Reviewers then see the API change as a diff of api_surface.json.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from management.api.cloudstack import registry

pytestmark = pytest.mark.contract

SURFACE = Path(__file__).with_name("api_surface.json")
REGENERATE = "GENERATE_API_SURFACE=1 .venv/bin/pytest -q tests/contract/api/test_api_surface.py"


def current_surface() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in sorted(registry.commands().items()):
        out[name] = {
            "async": spec.is_async,
            "response": spec.response_name,
            "object": spec.result_key,
            "roles": sorted(str(getattr(r, "value", r)) for r in spec.roles),
            "event": spec.event,
            "entity": spec.entity,
            "params": {p["name"]: f"{p['type']}{'!' if p['required'] else ''}" for p in spec.facts.params_info},
            "refs": {k: f"{v.entity}:{v.access}" for k, v in sorted(spec.facts.refs.items())},
        }
    return out


def _dump(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=1, sort_keys=True) + "\n"


def test_api_surface_matches_committed_fingerprint() -> None:
    now = _dump(current_surface())
    if os.environ.get("GENERATE_API_SURFACE") == "1":
        SURFACE.write_text(now)  # regenerated: commit it (the comparison below then holds)
        print(f"regenerated {SURFACE} ({len(registry.commands())} commands): commit it")
    assert SURFACE.is_file(), f"{SURFACE} is missing; generate it with:\n  {REGENERATE}"
    before = SURFACE.read_text()
    if before != now:
        diff = "".join(difflib.unified_diff(before.splitlines(True), now.splitlines(True),
                                            "api_surface.json (committed)", "api_surface.json (registry now)", n=2))
        pytest.fail(f"The API surface changed. If intended, regenerate and commit:\n  {REGENERATE}\n\n{diff}",
                    pytrace=False)
