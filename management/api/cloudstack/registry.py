"""The command registry: one decorator per API command, the single source for dispatch, validation, role
checks, `listApis` and the API-surface fingerprint."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

from management.models.identity import RoleType

VERSION = "4.22.0.0"

ADMIN = frozenset({RoleType.ADMIN})
RESOURCE_ADMIN = frozenset({RoleType.ADMIN, RoleType.RESOURCE_ADMIN})
DOMAIN_ADMIN = frozenset({RoleType.ADMIN, RoleType.RESOURCE_ADMIN, RoleType.DOMAIN_ADMIN})
ALL_ROLES = frozenset(RoleType)


@dataclass(frozen=True, slots=True)
class Ref:
    """Marks a parameter as the uuid of an entity; the dispatcher resolves it and checks the caller's access."""

    entity: str
    # "read" only needs visibility (e.g. a public template used for a deploy); "write" needs ownership rights.
    access: str = "write"


@dataclass(frozen=True, slots=True)
class ApiType:
    """The parameter type listApis prints (CloudStack's CommandType, lower-cased) where the Python type alone does
    not say it: `int` prints "integer", `float` "double", a `Ref` "uuid"; these aliases cover the rest."""

    name: str


Long = Annotated[int, ApiType("long")]
Short = Annotated[int, ApiType("short")]
Uuid = Annotated[str, ApiType("uuid")]  # the uuid of an entity this server does not resolve (e.g. projects)
Date = Annotated[str, ApiType("date")]


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """Extra listApis metadata that has no pydantic equivalent."""

    length: int = 255
    since: str | None = None
    related: str | None = None
    admin_port: bool = True  # False: refused on the integration port (acceptedOnAdminPort=false)
    keep_empty: bool = False  # `name=` reaches the command as "" (elsewhere an empty value is an absent one)


@dataclass(frozen=True, slots=True)
class Limit:
    """What the dispatcher checks of a raw value before the model parses it (CloudStack's ParamProcessWorker):
    a string's length, an integer's range, a float being finite."""

    kind: str  # "string" | "integer" | "float"
    length: int = 0
    low: int = 0
    high: int = 0


class Params(BaseModel):
    """Base of every command's parameter model: names are the lower-cased CloudStack names."""

    # defer_build: ~900 command and response models would otherwise each build a validator at import (most of a
    # start-up second); a model is built the first time it is used.
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False, defer_build=True)


class MapItem(dict[str, str]):
    """One `name[N].key=value` group."""


MapParam = list[dict[str, str]]


class ListParams(Params):
    keyword: str | None = Field(None, description="List by keyword")
    page: int | None = Field(None, description="The page number (1-based); needs pagesize", ge=1)
    pagesize: int | None = Field(None, description="The number of entries per page (-1 for all)")


class ScopedListParams(ListParams):
    """account/domainid/isrecursive/listall: the scope of a list of owned resources."""

    account: str | None = Field(None, description="list resources by account. Must be used with the domainId "
                                "parameter.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(
        None, description="list only resources belonging to the domain specified")
    isrecursive: bool = Field(False, description="defaults to false, but if true, lists all resources from the "
                              "parent specified by the domainId till leaves.")
    listall: bool = Field(False, description="If set to false, list only resources belonging to the command's "
                          "caller; if set to true - list resources that the caller is authorized to see.")


class OwnedListParams(ScopedListParams):
    projectid: Uuid | None = Field(None, description="list objects by project; if projectid=-1 lists All VMs")

    @model_validator(mode="before")
    @classmethod
    def _id_implies_listall(cls, data: Any) -> Any:
        """CloudStack's rule (AccountManagerImpl.buildACLSearchParameters): a list by `id` is scoped to what the
        caller may see, as with listall=true — a root admin gets another account's row, a domain admin one of
        its subtree, a user still only its own."""
        if isinstance(data, dict) and "id" in cls.model_fields and data.get("id") not in (None, ""):
            data = {**data, "listall": True}
        return data


class TaggedListParams(OwnedListParams):
    tags: MapParam | None = Field(None, description="List resources by tags (key/value pairs)")


@dataclass(slots=True)
class CommandSpec:
    name: str
    handler: Callable[..., Any]
    params: type[Params]
    description: str
    result_key: str | None
    is_async: bool
    roles: frozenset[RoleType]
    entity: str | None
    event: str | None
    since: str
    response: type[BaseModel] | None
    response_name: str
    create: Callable[..., Any] | None = None
    related: str = ""
    mutating: bool = False
    cmd_class: str = ""
    module: str = ""  # the module whose import registers it (the commands index)
    _facts: ParamFacts | None = None

    # What the parameters' annotations say, read at the command's first use rather than at import: ~700 commands
    # register when the server starts, and reading all their fields was ~7% of its start-up (0.15 of 2.3 s).
    @property
    def facts(self) -> ParamFacts:
        if self._facts is None:
            self._facts = _describe_params(self)
        return self._facts


@dataclass(frozen=True, slots=True)
class ParamFacts:
    params_info: list[dict[str, Any]]
    refs: dict[str, Ref]
    list_params: frozenset[str]
    unresolved_uuids: frozenset[str]  # declared `Uuid`: listApis says uuid, the dispatcher leaves it
    keep_empty: frozenset[str]
    limits: dict[str, Limit]


# Commands whose response name is not `<name>response` (CloudStack's s_name differs from the command name).
RESPONSE_NAME_OVERRIDES = {
    "acquirePodIpAddress": "acquirepodipaddress",  # AcquirePodIpCmdByAdmin's command name, no suffix
    "restoreVirtualMachine": "restorevmresponse",
    "resetSSHKeyForVirtualMachine": "resetSSHKeyforvirtualmachineresponse",
    "enableStorageMaintenance": "prepareprimarystorageformaintenanceresponse",
    "cancelStorageMaintenance": "cancelprimarystoragemaintenanceresponse",
    "updateNetworkACLItem": "createnetworkaclresponse",
    "addIpToNic": "addiptovmnicresponse",
    "archiveSnapshot": "createsnapshotresponse",
    "updateVMAffinityGroup": "updatevirtualmachineresponse",
    "scaleSystemVm": "changeserviceforsystemvmresponse",
    # network family
    "createLBStickinessPolicy": "createLBStickinessPolicy",
    "deleteLBStickinessPolicy": "deleteLBstickinessrruleresponse",
    "listNetworkDevice": "listnetworkdevice",
    "removeFromGlobalLoadBalancerRule": "removefromloadbalancerruleresponse",
    "deletePortableIpRange": "deleteportablepublicipresponse",
    "listPortableIpRanges": "listportableipresponse",
    "createCounter": "counterresponse",
    "listCounters": "counterresponse",
    "createCondition": "conditionresponse",
    "createAutoScalePolicy": "autoscalepolicyresponse",
    "createAutoScaleVmProfile": "autoscalevmprofileresponse",
    "createAutoScaleVmGroup": "autoscalevmgroupresponse",
    "enableAutoScaleVmGroup": "enableautoscalevmGroupresponse",
    "disableAutoScaleVmGroup": "disableautoscalevmGroupresponse",
    "moveNetworkAclItem": "moveNetworkAclItemResponse",
    "listInternalLoadBalancerVMs": "listinternallbvmsresponse",
    "startInternalLoadBalancerVM": "startinternallbvmresponse",
    "stopInternalLoadBalancerVM": "stopinternallbvmresponse",
    "configureSimulator": "simulatormock",  # the simulator's commands set this response name
    "querySimulatorMock": "simulatormock",
    # CloudStack's own spellings (its s_name), which clients parse
    "addImageStoreS3": "addImageStoreS3Response",
    "updateImageStore": "updateImageStore",
    "updateObjectStoragePool": "updateObjectStoragePool",
}

_READ_VERBS = ("list", "get", "query", "login", "logout", "verify", "find", "isAccountAllowed")

REGISTRY: dict[str, CommandSpec] = {}
_BY_LOWER: dict[str, CommandSpec] = {}


@dataclass(slots=True)
class _Loader:
    """How command modules come in (the `commands` package installs it when imported): one command's module on
    its first call, or all of them (listApis, a job, a write). Registering ~700 commands with their ~900 pydantic
    models was a third of the server's start-up; now a start imports none of them before its first answer."""

    one: Callable[[str], None]
    everything: Callable[[], None]


_loader: _Loader | None = None


def install_loader(one: Callable[[str], None], everything: Callable[[], None]) -> None:
    global _loader
    _loader = _Loader(one, everything)


def _loaded() -> _Loader:
    if _loader is None:  # the registry imported alone (a tool, a test): the package installs its loader
        importlib.import_module(f"{__package__}.commands")
    assert _loader is not None
    return _loader


def lookup(name: str) -> CommandSpec | None:
    """The command called `name` (any case), its module imported if it was not yet. A name the index does not know
    (a stale index, a command registered at run time) loads every module before it is called unknown."""
    lname = name.lower()
    spec = _BY_LOWER.get(lname)
    if spec is None:
        loader = _loaded()
        loader.one(lname)
        spec = _BY_LOWER.get(lname)
        if spec is None:
            loader.everything()
            spec = _BY_LOWER.get(lname)
    return spec


def load_all() -> None:
    """Every command module imported: what a write, a job or a background task needs, since modules register the
    entities, tag types and hooks other commands rely on."""
    _loaded().everything()


def commands() -> dict[str, CommandSpec]:
    """Every command, by name (all modules loaded)."""
    load_all()
    return REGISTRY


def api_command(
    name: str,
    *,
    params: type[Params],
    description: str,
    result_key: str | None = None,
    is_async: bool = False,
    roles: frozenset[RoleType] = ALL_ROLES,
    entity: str | None = None,
    event: str | None = None,
    since: str = "3.0.0",
    response: type[BaseModel] | None = None,
    create: Callable[..., Any] | None = None,
    related: str = "",
    response_name: str | None = None,
    read_only: bool = False,  # a read whose name has no read verb (readyForShutdown, quotaBalance...)
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    module = sys._getframe(1).f_globals.get("__name__", "")  # the registering module (not the handler's)

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"command {name} registered twice")
        # a read verb with an event writes all the same (getUploadParamsFor* creates the entity it signs for)
        mutating = (not read_only and not name.startswith(_READ_VERBS)) or event is not None
        if mutating and event is None:
            raise ValueError(f"mutating command {name} must declare its event type")
        spec = CommandSpec(
            name=name, handler=fn, params=params, description=description, result_key=result_key,
            is_async=is_async, roles=roles, entity=entity, event=event, since=since, response=response,
            response_name=response_name or RESPONSE_NAME_OVERRIDES.get(name, name.lower() + "response"),
            create=create, related=related, mutating=mutating,
            cmd_class=f"org.apache.cloudstack.api.command.{name}Cmd", module=module,
        )
        REGISTRY[name] = spec
        _BY_LOWER[name.lower()] = spec
        return fn

    return register


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strips Optional/Annotated; returns the base type and the Annotated metadata."""
    meta: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            args = get_args(annotation)
            annotation, meta = args[0], meta + list(args[1:])
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else str
        else:
            return annotation, meta


def _type_name(annotation: Any, meta: list[Any]) -> str:
    declared = next((m for m in meta if isinstance(m, ApiType)), None)
    if declared is not None:
        return declared.name
    origin = get_origin(annotation)
    if any(isinstance(m, Ref) for m in meta):
        return "list" if origin is list else "uuid"
    if origin is list:
        (inner,) = get_args(annotation) or (str,)
        return "map" if get_origin(inner) is dict or inner is dict else "list"
    if origin is dict:
        return "map"
    return {bool: "boolean", int: "integer", float: "double", dt.datetime: "date", dt.date: "date"}.get(
        annotation, "string")


_INT_BITS = {"short": 16, "integer": 32, "long": 64}  # CloudStack's SHORT, INTEGER, LONG


def _limit(base: Any, tname: str, extra: ParamInfo) -> Limit | None:
    if tname == "string" and base is str:
        return Limit("string", length=extra.length)
    if base is int and tname in _INT_BITS:
        bits = _INT_BITS[tname]
        return Limit("integer", low=-(1 << (bits - 1)), high=(1 << (bits - 1)) - 1)
    if base is float:
        return Limit("float")
    return None


def _describe_params(spec: CommandSpec) -> ParamFacts:
    refs: dict[str, Ref] = {}
    lists: set[str] = set()
    unresolved: set[str] = set()
    keep_empty: set[str] = set()
    limits: dict[str, Limit] = {}
    infos: list[dict[str, Any]] = []
    for pname, f in spec.params.model_fields.items():
        base, meta = _unwrap(f.annotation)
        meta = meta + list(f.metadata)
        tname = _type_name(base, meta)
        for m in meta:
            if isinstance(m, Ref):
                refs[pname] = m
        if tname == "list":
            lists.add(pname)
        if tname == "uuid" and pname not in refs:
            unresolved.add(pname)
        extra = next((m for m in meta if isinstance(m, ParamInfo)), ParamInfo())
        if extra.keep_empty:
            keep_empty.add(pname)
        limit = _limit(base, tname, extra)
        if limit is not None:
            limits[pname] = limit
        info: dict[str, Any] = {
            "name": pname,
            "description": f.description or "",
            "type": tname,
            "length": extra.length,
            "required": f.is_required(),
            "since": extra.since or spec.since,
        }
        ref = refs.get(pname)
        related = extra.related or (f"list{ref.entity}s" if ref else None)
        if related:
            info["related"] = related
        infos.append(info)
    return ParamFacts(params_info=infos, refs=refs, list_params=frozenset(lists),
                      unresolved_uuids=frozenset(unresolved), keep_empty=frozenset(keep_empty), limits=limits)


def response_fields(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    """listApis `response` entries from a pydantic response model."""
    if model is None:
        return []
    out: list[dict[str, Any]] = []
    for fname, f in model.model_fields.items():
        base, _meta = _unwrap(f.annotation)
        origin = get_origin(base)
        entry: dict[str, Any] = {"name": f.alias or fname, "description": f.description or ""}
        if origin in (list, set):
            (inner,) = get_args(base) or (str,)
            entry["type"] = "set" if origin is set else "list"
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                entry["response"] = response_fields(inner)
        elif isinstance(base, type) and issubclass(base, BaseModel):
            entry["type"] = "object"
            entry["response"] = response_fields(base)
        elif origin is dict:
            entry["type"] = "map"
        else:
            entry["type"] = {bool: "boolean", int: "long", float: "float", dt.datetime: "date"}.get(base, "string")
        out.append(entry)
    return out


def api_description(spec: CommandSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "since": spec.since,
        "isasync": spec.is_async,
        "related": spec.related,
        "params": spec.facts.params_info,
        "response": response_fields(spec.response),
        "type": spec.result_key or "",
    }


def map_pairs(items: MapParam | None) -> dict[str, str]:
    """A map parameter as one dict: `details[0].key=k&details[0].value=v` pairs, or the `details[0].k=v` shape
    some clients send."""
    out: dict[str, str] = {}
    for item in items or []:
        if "key" in item and "value" in item and len(item) == 2:
            out[item["key"]] = item["value"]
        else:
            out.update(item)
    return out
