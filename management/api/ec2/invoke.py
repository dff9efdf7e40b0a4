"""Runs CloudStack commands on behalf of an EC2 caller: the same registry entry, parameter validation, reference
resolution (existence + access), role check, handler, events and async jobs as the CloudStack API — only the
envelope differs (plain dicts come back instead of JSON/XML).
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from management.api.cloudstack import registry
from management.api.cloudstack.dispatch import Dispatcher, _instance_uuid, resolve_refs, unpack, validate
from management.api.cloudstack.envelope import body_for
from management.errors import CloudError, InternalError, Unauthorized
from management.models.jobs import AsyncJob
from management.services import events
from management.services.context import CallContext, Caller
from management.services.identity import rbac


class JobFailed(CloudError):
    """An async job ended in failure: carries the job's error code and text."""

    code = 530
    cs_code = None

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def _flatten(params: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            if v and isinstance(v[0], dict):  # map parameter: name[i].field
                for i, item in enumerate(v):
                    for f, fv in item.items():
                        out[f"{k}[{i}].{f}"] = str(fv)
            else:
                out[k] = ",".join(str(x) for x in v)
        else:
            out[k] = str(v)
    return out


class Invoker:
    def __init__(self, dispatcher: Dispatcher, caller: Caller) -> None:
        self.dispatcher = dispatcher
        self.caller = caller
        self.runtime = dispatcher.runtime

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        """Runs a command like the CloudStack API would; async ones are queued: returns {"jobid"[, "id"]}."""
        spec = registry.lookup(command)
        if spec is None:
            raise InternalError(f"command {command} is not registered")
        d = self.dispatcher
        if spec.mutating:
            d.ready_for_writes()
        args = unpack(spec, _flatten(params))
        failed: CloudError | None = None
        try:
            with self.runtime.db.session(write=spec.mutating) as s:
                if not rbac.allowed(s, self.caller, spec.name, spec.roles):
                    raise Unauthorized(f"The given command '{spec.name}' is not available for user.")
                p = validate(spec, args)
                ctx = CallContext(session=s, caller=self.caller, runtime=self.runtime, command=spec.name)
                resolve_refs(ctx, spec, p)
                if spec.is_async:
                    body = d._submit(ctx, spec, p)  # noqa: SLF001 - the same job submission as the API
                else:
                    try:
                        result = spec.handler(ctx, p)
                    except CloudError as err:
                        failed = err if spec.mutating else None
                        raise
                    if spec.mutating and spec.event:
                        events.record(s, self.caller, spec.event, f"Successfully completed {spec.name}",
                                      resource_type=spec.entity, resource_uuid=_instance_uuid(ctx, spec, p))
                    body = body_for(result, spec.result_key)
        except CloudError:
            if failed is not None:
                d._record_failure(self.caller, spec, failed)  # noqa: SLF001
            raise
        return body

    def wait(self, jobid: str, timeout: float = 120.0) -> dict[str, Any]:
        """Waits for an async job; returns its result body, raises JobFailed with its error."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            with self.runtime.db.session(write=False) as s:
                row = s.execute(select(AsyncJob.status, AsyncJob.result_code, AsyncJob.result_json)
                                .where(AsyncJob.uuid == jobid)).first()
            if row is not None and row[0] != 0:
                body = json.loads(row[2]) if row[2] else {}
                if row[0] == 1:
                    return body  # type: ignore[no-any-return]
                raise JobFailed(row[1] or 530, str(body.get("errortext") or "the job failed"))
            if time.monotonic() > deadline:
                raise InternalError(f"job {jobid} did not finish within {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def run(self, command: str, **params: Any) -> dict[str, Any]:
        """call() and, for an async command, wait for its job."""
        body = self.call(command, **params)
        spec = registry.lookup(command)
        if spec is not None and spec.is_async:
            return self.wait(body["jobid"])
        return body

    def list(self, command: str, key: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("pagesize", -1)
        body = self.call(command, **params)
        return body.get(key, []) or []  # type: ignore[no-any-return]
