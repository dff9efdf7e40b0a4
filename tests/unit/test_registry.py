"""The command registry: what listApis (cmk `sync`, Marvin codegen, cloudstack-go) is built from.

Walks the live registry, so commands added later are checked automatically.
"""

from __future__ import annotations

from typing import Any

import pytest

from management.api.cloudstack import registry

pytestmark = pytest.mark.unit

SPECS = sorted(registry.commands().values(), key=lambda s: s.name)
IDS = [s.name for s in SPECS]
PARAM_TYPES = {"boolean", "date", "double", "float", "integer", "short", "long", "list", "map", "object", "string",
               "tzdate", "uuid"}


def test_registry_is_populated() -> None:
    names = set(registry.commands())
    for core in ("listApis", "listCapabilities", "login", "logout", "queryAsyncJobResult", "listZones",
                 "createTags", "listTags", "listAccounts", "createAccount", "listDomains", "listUsers",
                 "getUserKeys", "registerUserKeys", "listEvents", "listRoles", "createRolePermission"):
        assert core in names


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_command_metadata(spec: registry.CommandSpec) -> None:
    assert isinstance(spec.description, str) and spec.description.strip(), f"{spec.name} has no description"
    assert spec.name[0].islower() and spec.name.isalnum()
    assert registry.lookup(spec.name.lower()) is spec and registry.lookup(spec.name.upper()) is spec
    assert spec.response_name.endswith("response") or spec.name in registry.RESPONSE_NAME_OVERRIDES
    assert spec.roles, f"{spec.name} is callable by no role"
    if spec.mutating:
        assert spec.event, f"mutating command {spec.name} declares no event type"
    # an async command's job result sits under its result key; only a bare success ({success, displaytext}, which
    # listApis describes with SuccessResponse's fields as CloudStack's does) has none
    if spec.is_async and spec.result_key is None and spec.response is not None \
            and set(spec.response.model_fields) - {"success", "displaytext", "jobid", "jobstatus"}:
        pytest.fail(f"async {spec.name} has a response model but no result key")


def _check_listapis_entry(api: dict[str, Any]) -> None:
    """The keys and JSON types cmk's config/cache.go casts and Marvin's codegenerator reads."""
    assert set(api) >= {"name", "description", "isasync", "params", "response"}
    assert isinstance(api["name"], str)
    assert isinstance(api["description"], str)
    assert isinstance(api["isasync"], bool)
    assert isinstance(api.get("since", ""), str)
    assert isinstance(api.get("related", ""), str)
    assert isinstance(api.get("type", ""), str)
    assert isinstance(api["params"], list) and isinstance(api["response"], list)
    seen = set()
    for p in api["params"]:
        assert set(p) >= {"name", "description", "type", "required", "length"}, p
        assert isinstance(p["name"], str) and p["name"] == p["name"].lower(), p
        assert p["name"] not in seen, f"duplicate param {p['name']}"
        seen.add(p["name"])
        assert isinstance(p["description"], str), p
        assert p["type"] in PARAM_TYPES, p
        assert isinstance(p["required"], bool), p
        assert isinstance(p["length"], int), p
        if "related" in p:
            assert isinstance(p["related"], str), p
    _check_response_fields(api["response"])


def _check_response_fields(fields: list[dict[str, Any]]) -> None:
    for f in fields:
        assert isinstance(f["name"], str) and isinstance(f["description"], str) and isinstance(f["type"], str), f
        if "response" in f:
            _check_response_fields(f["response"])


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_listapis_entry_shape(spec: registry.CommandSpec) -> None:
    _check_listapis_entry(registry.api_description(spec))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_uuid_params_are_refs(spec: registry.CommandSpec) -> None:
    """Every uuid-typed parameter is resolved (and access-checked) by the dispatcher, and names a known entity —
    or is declared `Uuid` (an entity this server does not resolve, such as a project), which the handler must
    look up through services.access itself if it uses the value."""
    from management.services import access

    for p in spec.facts.params_info:
        if p["type"] == "uuid":
            assert p["name"] in spec.facts.refs or p["name"] in spec.facts.unresolved_uuids
    for name, ref in spec.facts.refs.items():
        assert ref.entity in access.ENTITIES, f"{spec.name}.{name} refers to unregistered entity {ref.entity}"
        assert ref.access in ("read", "write")


def test_mutating_verbs_need_an_event() -> None:
    with pytest.raises(ValueError, match="event"):
        registry.api_command("frobnicateWidget", params=registry.Params, description="x")(lambda ctx, p: None)
    assert "frobnicateWidget" not in registry.REGISTRY


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        registry.api_command("listZones", params=registry.Params, description="x")(lambda ctx, p: None)
