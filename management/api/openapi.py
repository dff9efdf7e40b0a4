"""OpenAPI 3.1 description of the CloudStack API, generated from the command registry (the source `listApis`
answers from), served at `/client/api/openapi.json`.

CloudStack has one endpoint and names the operation in the `command` parameter, while OpenAPI keys operations by
path. Each command is therefore the path `/client/api#<command>`: the fragment never leaves the client, so a
request built from the operation goes to `/client/api` with `command=<name>` (a required parameter whose only
value is the command's name). Authentication (apiKey + HMAC-SHA1 signature, or a session) is described in
`securitySchemes`; OpenAPI has no way to express the signature itself.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
from functools import cache
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from management.api.cloudstack import registry
from management.api.cloudstack.registry import CommandSpec

_PARAM_SCHEMA: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "integer": {"type": "integer", "format": "int32"},
    "short": {"type": "integer", "minimum": -32768, "maximum": 32767},
    "long": {"type": "integer", "format": "int64"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "description": "yyyy-MM-dd, or yyyy-MM-dd HH:mm:ss"},
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
    "list": {"type": "array", "items": {"type": "string"}},
    "map": {"type": "object", "additionalProperties": {"type": "string"}},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["errorcode", "errortext"],
    "properties": {
        "uuidList": {"type": "array", "items": {"type": "string"}},
        "errorcode": {"type": "integer", "description": "the HTTP status (401, 405, 431, 432, 530...)"},
        "cserrorcode": {"type": "integer", "description": "CloudStack's exception code (4350 for a parameter "
                                                          "error...)"},
        "errortext": {"type": "string"},
    },
}
JOB_SCHEMA = {
    "type": "object",
    "required": ["jobid"],
    "properties": {"jobid": {"type": "string", "format": "uuid", "description": "queryAsyncJobResult polls it"},
                   "id": {"type": "string", "format": "uuid", "description": "the entity the job creates"}},
}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else str
        else:
            return annotation


class _Models:
    """Response models become `components.schemas` entries, each once, referenced by name."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self.names: dict[type[BaseModel], str] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        name = self.names.get(model)
        if name is None:
            name = model.__name__
            n = 2
            while name in self.schemas:  # two families may name their models alike
                name, n = f"{model.__name__}{n}", n + 1
            self.names[model] = name
            self.schemas[name] = {}  # reserved first: models refer to themselves (nested lists of the same kind)
            self.schemas[name] = self._object(model)
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, model: type[BaseModel]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for fname, f in model.model_fields.items():
            schema = self._field(_unwrap(f.annotation))
            if f.description:
                schema = {**schema, "description": f.description}
            props[f.alias or fname] = schema
        return {"type": "object", "properties": props}

    def _field(self, base: Any) -> dict[str, Any]:
        origin = get_origin(base)
        if origin in (list, set, tuple):
            (inner, *_) = get_args(base) or (str,)
            return {"type": "array", "items": self._field(_unwrap(inner))}
        if origin is dict:
            return {"type": "object"}
        if isinstance(base, type) and issubclass(base, BaseModel):
            return self.ref(base)
        if base is bool:
            return {"type": "boolean"}
        if base is int:
            return {"type": "integer"}
        if base is float:
            return {"type": "number"}
        if base in (dt.datetime, dt.date):
            return {"type": "string", "description": "yyyy-MM-dd'T'HH:mm:ssZ"}
        if base is typing.Any:
            return {}
        return {"type": "string"}


def _returns_list(spec: CommandSpec) -> bool:
    ann = inspect.signature(spec.handler).return_annotation
    return "ListResult" in str(ann)


def _family(spec: CommandSpec) -> str:
    parts = spec.handler.__module__.split(".")
    return parts[4] if len(parts) > 5 and parts[3] == "commands" else "general"


def _operation(spec: CommandSpec, models: _Models) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": "command", "in": "query", "required": True, "schema": {"type": "string", "const": spec.name}},
        {"name": "response", "in": "query", "required": False,
         "description": "json, or xml (the default)", "schema": {"type": "string", "enum": ["json", "xml"]}},
    ]
    for info in spec.facts.params_info:
        schema = dict(_PARAM_SCHEMA.get(info["type"], {"type": "string"}))
        if info["type"] in ("string", "uuid", "date") and info.get("length"):
            schema["maxLength"] = info["length"]
        p: dict[str, Any] = {"name": info["name"], "in": "query", "required": bool(info["required"]),
                             "description": info["description"], "schema": schema}
        if info["type"] == "list":
            p["style"], p["explode"] = "form", False  # a,b,c
        if info["type"] == "map":
            p["description"] += f" (sent as {info['name']}[0].key=value&{info['name']}[1].key=value...)"
        ref = spec.facts.refs.get(info["name"])
        if ref is not None:
            p["x-entity"] = ref.entity
        if info.get("related"):
            p["x-related"] = info["related"]
        if info.get("since"):
            p["x-since"] = info["since"]
        params.append(p)
    if spec.is_async:
        inner: dict[str, Any] = JOB_SCHEMA
    elif spec.response is not None and _returns_list(spec):
        key = spec.result_key or "item"
        inner = {"type": "object", "description": "an empty list is {}",
                 "properties": {"count": {"type": "integer"},
                                key: {"type": "array", "items": models.ref(spec.response)}}}
    elif spec.response is not None and spec.result_key:
        inner = {"type": "object", "properties": {spec.result_key: models.ref(spec.response)}}
    elif spec.response is not None:
        inner = models.ref(spec.response)
    else:
        inner = {"type": "object", "properties": {"success": {"type": "boolean"},
                                                  "displaytext": {"type": "string"}}}
    envelope = {"type": "object", "required": [spec.response_name], "properties": {spec.response_name: inner}}
    error = {"type": "object", "required": [spec.response_name], "properties": {spec.response_name: ERROR_SCHEMA}}
    op: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.description.split(". ")[0][:200],
        "description": spec.description,
        "tags": [_family(spec)],
        "parameters": params,
        "responses": {
            "200": {"description": "the command's answer" + (" (a job to poll)" if spec.is_async else ""),
                    "content": {"application/json": {"schema": envelope}}},
            "default": {"description": "an error in CloudStack's envelope",
                        "content": {"application/json": {"schema": error}}},
        },
        "x-isasync": spec.is_async,
        "x-since": spec.since,
        "x-roles": sorted(r.name for r in spec.roles),
    }
    if spec.related:
        op["x-related"] = spec.related.split(",")
    return op


@cache
def document() -> dict[str, Any]:
    models = _Models()
    paths = {f"/client/api#{name}": {"get": _operation(spec, models)}
             for name, spec in sorted(registry.commands().items())}
    return {
        "openapi": "3.1.0",
        "info": {"title": "devcloud: the Apache CloudStack API", "version": registry.VERSION,
                 "description": "Every command this server answers (the same registry as listApis). Requests go "
                                "to /client/api with command=<name>, signed (apiKey + signature) or with a "
                                "session (sessionkey); POST with a form body is accepted as well as GET."},
        "servers": [{"url": "/"}],
        "security": [{"apiKey": [], "signature": []}, {"sessionKey": []}],
        "tags": sorted(({"name": t} for t in {_family(s) for s in registry.commands().values()}),
                       key=lambda t: t["name"]),
        "paths": paths,
        "components": {
            "schemas": models.schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "query", "name": "apiKey",
                           "description": "the user's API key"},
                "signature": {"type": "apiKey", "in": "query", "name": "signature",
                              "description": "base64 HMAC-SHA1, keyed with the secret key, of the sorted, "
                                             "lower-cased, URL-encoded query string"},
                "sessionKey": {"type": "apiKey", "in": "query", "name": "sessionkey",
                               "description": "from login, with the JSESSIONID cookie"},
            },
        },
    }
