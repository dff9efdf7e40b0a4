"""From decoded request parameters to a CloudStack response: authenticate, find the command, check the role,
validate and resolve parameters, run it (or queue it as a job), wrap the result.

HTTP-agnostic: `api/app.py` feeds it parameters and cookies and writes back what it returns.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, undefer

from management import logcontext
from management.api.cloudstack import registry
from management.api.cloudstack.envelope import Flat, body_for, error_body, render
from management.api.cloudstack.registry import CommandSpec
from management.api.cloudstack.signing import check_expiry, signature_matches
from management.api.guard import header_value
from management.db.base import utcnow
from management.db.limits import ColumnValueError
from management.errors import (
    BadRequest,
    CloudError,
    InternalError,
    ParamError,
    ServerApiParamError,
    Unauthorized,
    UnexpectedError,
    UnsupportedAction,
    invalid_value,
    too_long,
)
from management.jobs import journal
from management.jobs.queue import FAILED, SUCCEEDED, Fenced, Finish, JobQueue, Outcome, lost_to_contention
from management.logcontext import request_id
from management.models.events import Configuration
from management.models.identity import Account, Domain, Role, User, UserSession
from management.models.jobs import AsyncJob
from management.services import access, events, resource_details
from management.services.cache import TTLCache
from management.services.context import CallContext, Caller
from management.services.ha import takeover
from management.services.identity import identity, projects, rbac, two_factor
from management.services.platform import alerts
from management.services.plugins import maintenance, rate_limit
from management.services.runtime import Runtime
from management.services.telemetry import StatementCount, telemetry

log = logging.getLogger(__name__)

# Parameters that steer the transport, never the command.
CONTROL_PARAMS = {"command", "response", "apikey", "signature", "signatureversion", "expires", "sessionkey", "_",
                  "ctxstarttime", "ctxaccountid", "ctxuserid", "ctxdetails"}
_MAP_PARAM = re.compile(r"^([a-z0-9_]+)\[(\d+)\]\.([a-z0-9_]+)$", re.IGNORECASE)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
UNAUTHORIZED_TEXT = "unable to verify user credentials and/or request signature"
# API authenticators answered without a login (CloudStack's forgot/reset password authenticators).
PASSWORD_RESET_COMMANDS = frozenset({"forgotPassword", "resetPassword"})
# Who owns an API key is read on every signed request. Changes made by this server (disable, new keys, role)
# clear it at commit; another server's changes apply within the TTL.
KEY_OWNERS: TTLCache[tuple[str, Caller] | None] = TTLCache(5.0, watch=(User, Account, Domain, Role))


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    cookies: dict[str, str] = field(default_factory=dict)
    clear_cookies: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)  # CloudStack uses the first value of a repeated parameter
    return out


def _ci_get(params: Mapping[str, str], name: str) -> str | None:
    for k, v in params.items():
        if k.lower() == name:
            return v
    return None


class Dispatcher:
    def __init__(self, runtime: Runtime, queue: JobQueue | None = None) -> None:
        self.runtime = runtime
        self.queue = queue
        self._system_caller: Caller | None = None

    # ---- entry point ------------------------------------------------------------------------------------------
    def handle(self, pairs: list[tuple[str, str]], *, integration: bool, cookies: Mapping[str, str] | None = None,
               method: str = "GET") -> Reply:
        t0 = time.perf_counter()
        with StatementCount() as statements:
            reply = self._handle(pairs, integration=integration, cookies=cookies, method=method)
        command = _ci_get(_first_values(pairs), "command")
        spec = registry.lookup(command) if command else None
        # unknown names are one label: a scanner must not grow the series without bound
        telemetry(self.runtime).observe_request(spec.name if spec else "unknown",
                                                "success" if reply.status == 200 else str(reply.status),
                                                "integration" if integration else "api",
                                                time.perf_counter() - t0, statements.count)
        return reply

    def _handle(self, pairs: list[tuple[str, str]], *, integration: bool, cookies: Mapping[str, str] | None,
                method: str) -> Reply:
        params = _first_values(pairs)
        fmt = "json" if (_ci_get(params, "response") or "").lower() == "json" else "xml"
        command = _ci_get(params, "command")
        spec = registry.lookup(command) if command else None
        response_name = spec.response_name if spec else "errorresponse"
        logcontext.annotate(command=spec.name if spec else None)  # the log lines' and the access line's command
        try:
            if integration:
                if not command:
                    raise BadRequest("no command specified")
                if spec is None:
                    raise UnsupportedAction(f"Unknown API command: {command}")
                caller = self.system_caller()
                session_key = None
            else:
                if spec is not None and spec.name in ("login",):
                    return self._login(params, fmt)
                if spec is not None and spec.name in PASSWORD_RESET_COMMANDS:  # API authenticators: no login
                    return self._run(spec, params, self.system_caller(), fmt, integration)
                caller, session_key = self._authenticate(params, cookies or {})
                if not command:
                    raise (BadRequest("no command specified") if session_key else Unauthorized(UNAUTHORIZED_TEXT))
                if spec is None:
                    raise Unauthorized(UNAUTHORIZED_TEXT)
                if spec.name == "logout":
                    return self._logout(session_key, fmt)
                if session_key is not None and (reply := self._second_factor(spec, params, caller, session_key,
                                                                             fmt)) is not None:
                    return reply
            return self._run(spec, params, caller, fmt, integration)
        except ColumnValueError as err:  # a value its column cannot hold, found at flush: the caller's mistake
            cmd = spec.name.lower() if spec else command
            return self.error(response_name, ServerApiParamError(
                f"Unable to execute API command {cmd} due to invalid value. {err.text}"), fmt)
        except CloudError as err:
            return self.error(response_name, err, fmt)
        except Exception:  # never a bare 500 nor internals: the client gets the request id, the log the trace
            rid = request_id()
            log.exception("request %s: command %s failed", rid, spec.name if spec else "(none)")
            return self.error(response_name, UnexpectedError(rid), fmt)

    @staticmethod
    def error(response_name: str, err: CloudError, fmt: str) -> Reply:
        body, ctype = render(response_name, error_body(err), fmt)
        # errortext can hold anything a user typed: the header gets an ASCII copy without control characters.
        desc = header_value(err.text).decode("ascii")
        return Reply(err.code, body, ctype, headers={"X-Description": desc})

    # ---- authentication ---------------------------------------------------------------------------------------
    def _second_factor(self, spec: CommandSpec, params: dict[str, str], caller: Caller, session_key: str,
                       fmt: str) -> Reply | None:
        """Login sessions of users with two-factor authentication: validateUserTwoFactorAuthenticationCode checks
        the code; any other command before that is refused (511) and the session dropped, as CloudStack does."""
        if spec.name == "validateUserTwoFactorAuthenticationCode":
            failed: CloudError | None = None
            with self.runtime.db.session() as s:
                user = s.get_one(User, caller.user_id)
                try:
                    two_factor.validate_session(s, user, session_key, _ci_get(params, "codefor2fa") or "")
                except CloudError as err:
                    failed = err  # raised after the commit: a failed check drops the session for good
            if failed is not None:
                raise failed
            out, ctype = render(spec.response_name, {"success": True}, fmt)
            return Reply(200, out, ctype)
        if spec.name in two_factor.ALLOWED_BEFORE_CHECK:
            return None
        with self.runtime.db.session(write=False) as s:
            user = s.get_one(User, caller.user_id)
            if not two_factor.required(s, user) or two_factor.session_verified(s, session_key):
                return None
            refusal = two_factor.refusal(s, user)
        with self.runtime.db.session() as s:
            two_factor.drop_session(s, session_key)
        raise refusal

    def system_caller(self) -> Caller:
        if self._system_caller is None:
            with self.runtime.db.session(write=False) as s:
                self._system_caller = Caller.from_user(identity.system_user(s))
        return self._system_caller

    def _authenticate(self, params: dict[str, str], cookies: Mapping[str, str]) -> tuple[Caller, str | None]:
        api_key = _ci_get(params, "apikey")
        signature = _ci_get(params, "signature")
        if api_key is not None or signature is not None:
            if not api_key or not signature:
                raise Unauthorized(UNAUTHORIZED_TEXT)
            found = self._key_owner(api_key)
            if found is None or not signature_matches(params, found[0], signature):
                raise Unauthorized(UNAUTHORIZED_TEXT)
            check_expiry(params)
            return found[1], None
        with self.runtime.db.session(write=False) as s:
            key = self._session_key(s, params, cookies)
            if key is None:
                raise Unauthorized(UNAUTHORIZED_TEXT)
            sess = s.get(UserSession, identity.session_digest(key))
            now = utcnow()
            if sess is None or sess.last_access + timedelta(seconds=sess.timeout) < now:
                raise Unauthorized("session expired or invalid; log in again")
            user = s.get(User, sess.user_id)
            if user is None or user.removed is not None or not _enabled(user):
                raise Unauthorized(UNAUTHORIZED_TEXT)
            caller = Caller.from_user(user)
        if (now - sess.last_access).total_seconds() > 30:  # sliding expiry without a write per request
            with self.runtime.db.session() as s:
                live = s.get(UserSession, identity.session_digest(key))
                if live is not None:
                    live.last_access = now
        return caller, key

    def _key_owner(self, api_key: str) -> tuple[str, Caller] | None:
        """(secret, caller) of the enabled user owning this API key, read through a short-lived cache."""

        def load() -> tuple[str, Caller] | None:
            with self.runtime.db.session(write=False) as s:
                # api_key is not secret and indexed; only the matching row's secret is opened.
                user = s.scalar(select(User).options(undefer(User.secret_key))
                                .where(User.api_key == api_key, User.removed.is_(None)))
                if user is None or not _enabled(user):
                    return None
                return user.secret_key or "", Caller.from_user(user)

        return KEY_OWNERS.get((self.runtime.db.url, api_key), load)

    def _session_key(self, s: Session, params: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        param = _ci_get(params, "sessionkey")
        cookie = cookies.get("sessionkey")
        where = s.scalar(select(Configuration.value).where(Configuration.name == "api.sessionkey.check.locations"))
        where = (where or "CookieAndParameter").lower()
        if where == "parameteronly":
            return param
        if where == "cookieorparameter":
            return param or cookie
        if param and cookie and param == cookie:
            return param
        return None

    def _login(self, params: dict[str, str], fmt: str) -> Reply:
        username = _ci_get(params, "username")
        password = _ci_get(params, "password")
        domain_path = _ci_get(params, "domain") or "/"
        domain_id = _ci_get(params, "domainid")
        if not username or password is None:
            return self.error("loginresponse", ParamError("Unable to execute API command login due to missing "
                                                          "parameter username/password"), fmt)
        failure = Unauthorized("Failed to authenticate user " + username + " in domain " + domain_path +
                               "; please provide valid credentials")
        with self.runtime.db.session() as s:
            q = select(User).join(Account, User.account_id == Account.id).where(
                User.username == username, User.removed.is_(None), Account.removed.is_(None))
            candidates = [u for u in s.scalars(q)
                          if (domain_id and u.account.domain.uuid == domain_id)
                          or (not domain_id and _same_domain(u.account.domain.path, domain_path))]
            user = candidates[0] if len(candidates) == 1 else None
            if user is None or not _enabled(user) or not identity.verify_password(password, user.password_hash):
                return self.error("loginresponse", failure, fmt)
            key = secrets.token_urlsafe(24)
            timeout = self.runtime.settings.session_timeout
            s.add(UserSession(key=identity.session_digest(key), user_id=user.id, timeout=timeout))
            acct = user.account
            body = {
                "username": user.username, "userid": user.uuid, "domainid": acct.domain.uuid,
                "timeout": str(timeout), "account": acct.name, "firstname": user.firstname or "",
                "lastname": user.lastname or "", "type": str(acct.account_type),
                "timezone": user.timezone, "registered": "false", "sessionkey": key,
            }
            two_factor.clear_unfinished_setup(s, user)  # a 2FA setup never confirmed is dropped at login
            body.update(two_factor.login_fields(s, user))
        out, ctype = render("loginresponse", body_for(Flat(body), None), fmt)
        return Reply(200, out, ctype, cookies={"sessionkey": key, "JSESSIONID": key})

    def _logout(self, key: str | None, fmt: str) -> Reply:
        if key:
            with self.runtime.db.session() as s:
                sess = s.get(UserSession, identity.session_digest(key))
                if sess is not None:
                    s.delete(sess)
        out, ctype = render("logoutresponse", {"description": "success"}, fmt)
        return Reply(200, out, ctype, clear_cookies=True)

    # ---- running a command ------------------------------------------------------------------------------------
    def _run(self, spec: CommandSpec, params: dict[str, str], caller: Caller, fmt: str, integration: bool) -> Reply:
        logcontext.annotate(account=caller.account_name)
        if spec.mutating:
            self.ready_for_writes()
        args = unpack(spec, params)
        failed: CloudError | None = None
        try:
            with self.runtime.db.session(write=spec.mutating) as s:
                if not rbac.allowed(s, caller, spec.name, spec.roles):
                    raise Unauthorized(f"The given command '{spec.name}' either does not exist, is not available "
                                       "for user.")
                rate_limit.check(self.runtime, s, caller)  # api.throttling.*: 429 once over the limit
                p = validate(spec, args)
                ctx = CallContext(session=s, caller=caller, runtime=self.runtime, command=spec.name,
                                  integration=integration)
                found = resolve_refs(ctx, spec, p)
                projects.check_call(s, caller, spec.name, getattr(p, "projectid", None))
                if not found:
                    body = {}  # a list by the id of a deleted entity lists nothing (CloudStack: `{}`)
                elif spec.is_async:
                    body = self._submit(ctx, spec, p)
                else:
                    try:
                        result = spec.handler(ctx, p)
                    except CloudError as err:
                        failed = err if spec.mutating else None
                        raise
                    if spec.mutating and spec.event:
                        self.runtime.db.hold_write_lock(s)
                        events.record(s, caller, spec.event, f"Successfully completed {spec.name}",
                                      resource_type=spec.entity, resource_uuid=_instance_uuid(ctx, spec, p))
                    body = projects.decorate(s, body_for(result, spec.result_key))
                    if getattr(p, "showicon", False):
                        resource_details.decorate(s, body, spec.result_key)
        except CloudError:
            # Recorded after the request's transaction ended: a second writer inside it would wait for the
            # first one's lock on SQLite (busy_timeout, 30 s) and the failure event would be lost anyway.
            if failed is not None:
                self._record_failure(caller, spec, failed)
            raise
        out, ctype = render(spec.response_name, body, fmt)
        return Reply(200, out, ctype)

    def _record_failure(self, caller: Caller, spec: CommandSpec, err: CloudError) -> None:
        try:
            with self.runtime.db.session() as s:
                events.record(s, caller, spec.event or spec.name.upper(), f"Error while running {spec.name}: "
                              f"{err.text}", level="ERROR")
        except Exception:
            log.exception("could not record the failure event of %s", spec.name)

    def _alert_if_system(self, caller: Caller, spec: CommandSpec, job: AsyncJob, text: str) -> None:
        """System work (jobs of the SYSTEM account) that fails raises an alert, as CloudStack's managers do."""
        if caller.account_name != identity.SYSTEM_ACCOUNT:
            return
        try:
            with self.runtime.db.session() as s:
                alerts.job_failed(s, spec.name, job.uuid, text)
        except Exception:
            log.exception("could not raise the alert for job %s", job.uuid)

    def _submit(self, ctx: CallContext, spec: CommandSpec, p: registry.Params) -> dict[str, Any]:
        maintenance.refuse_new_jobs(ctx.session, self.runtime.msid)  # prepareForShutdown/Maintenance
        created = spec.create(ctx, p) if spec.create is not None else None
        ctx.created_uuid = created
        instance = created or _instance_uuid(ctx, spec, p)
        payload = p.model_dump(mode="json", exclude_none=True)
        if created:
            payload["_created_uuid"] = created
        job = AsyncJob(command=spec.name, cmd_class=spec.cmd_class, params_json=json.dumps(payload),
                       account_id=ctx.caller.account_id, user_id=ctx.caller.user_id,
                       domain_id=ctx.caller.domain_id, instance_type=spec.entity, instance_uuid=instance,
                       init_msid=self.runtime.msid, request_id=request_id())
        ctx.session.add(job)
        ctx.session.flush()
        if spec.event:
            events.record(ctx.session, ctx.caller, spec.event, f"Scheduled {spec.name} (job {job.uuid})",
                          state="Scheduled", resource_type=spec.entity, resource_uuid=instance)
        body: dict[str, Any] = {"jobid": job.uuid}
        if created:
            body = {"id": created, "jobid": job.uuid}
        return body

    def ready_for_writes(self) -> None:
        """A write runs after the server's background start (runtime.started) and with every command module
        imported: it may fire hooks and use entities that modules not imported yet would register."""
        self.runtime.started.wait()
        registry.load_all()

    # ---- job execution (called by the queue's workers) --------------------------------------------------------
    def execute_job(self, job: AsyncJob, finish: Finish) -> Outcome:
        """Runs a claimed job. On success the job completes inside the transaction of its last unit of work
        (`finish`), so a database-only job's effect and its completion commit together: a crash leaves neither.
        A job that a takeover put back in the queue after its server died is reconciled first (its journal says
        whether anything of it was committed)."""
        registry.load_all()
        spec = registry.lookup(job.command)
        if spec is None:
            err = InternalError(f"command {job.command} is no longer registered")
            return Outcome(FAILED, err.code, error_body(err))
        delay = self.runtime.settings.job_delay.get(spec.name)
        if delay:
            time.sleep(delay)
        payload = json.loads(job.params_json)
        created = payload.pop("_created_uuid", None)
        caller = Caller.from_user(job.user)  # the claim loaded both (jobs/queue.py)
        steps = journal.decoded(job.journal)
        logcontext.annotate(account=caller.account_name)
        if any(step != journal.REQUEUED for step, _ in steps):
            refused = takeover.reconcile(self.runtime, job, steps)
            if refused is not None:
                self._record_failure(caller, spec, refused)
                return Outcome(FAILED, refused.code, error_body(refused))
        for attempt in range(3):
            try:
                with self.runtime.db.session() as s:
                    p = spec.params.model_validate(payload)
                    ctx = CallContext(session=s, caller=caller, runtime=self.runtime, command=spec.name,
                                      job_id=job.id, job_uuid=job.uuid, created_uuid=created)
                    resolve_refs(ctx, spec, p)
                    result = spec.handler(ctx, p)
                    body = body_for(result, spec.result_key)
                    self.runtime.db.hold_write_lock(s)
                    if spec.event:
                        events.record(s, caller, spec.event, f"Successfully completed {spec.name} (job {job.uuid})",
                                      resource_type=spec.entity, resource_uuid=job.instance_uuid)
                    # after the write above: its lookups must not open a read snapshot SQLite could not upgrade
                    body = projects.decorate(s, body)
                    outcome = Outcome(SUCCEEDED, 0, body)
                    finish(s, outcome)
                return outcome
            except CloudError as err:
                self._record_failure(caller, spec, err)
                self._alert_if_system(caller, spec, job, err.text)
                return Outcome(FAILED, err.code, error_body(err))
            except OperationalError as exc:
                # A deadlock victim (MariaDB 1213) or a lock wait that timed out: the database rolled the
                # transaction back whole. Run it again if nothing of the job was committed before it.
                if not lost_to_contention(exc) or journal.committed_before() or attempt == 2:
                    return self._internal_failure(job, spec, caller, exc)
                log.info("job %s (%s) lost a deadlock; running it again", job.uuid, spec.name)
            except Fenced:
                raise
            except Exception as exc:
                return self._internal_failure(job, spec, caller, exc)
        raise AssertionError("unreachable")

    def _internal_failure(self, job: AsyncJob, spec: CommandSpec, caller: Caller, exc: Exception) -> Outcome:
        rid = request_id()  # the client gets the id, the log the trace
        log.error("request %s: job %s (%s) failed", rid, job.uuid, spec.name, exc_info=exc)
        internal = UnexpectedError(rid)
        self._record_failure(caller, spec, internal)
        self._alert_if_system(caller, spec, job, internal.text)
        return Outcome(FAILED, internal.code, error_body(internal))


def _enabled(user: User) -> bool:
    return user.state == "enabled" and user.account.state == "enabled"


def _same_domain(path: str, requested: str) -> bool:
    """login's `domain` is a path such as "/", "/child" or "ROOT/child"; compare it with our "/child/" form."""
    req = requested.strip()
    if req.upper().startswith("ROOT"):
        req = req[4:]
    req = "/" + req.strip("/") + "/" if req.strip("/") else "/"
    return path.lower() == req.lower()


def _instance_uuid(ctx: CallContext, spec: CommandSpec, p: registry.Params) -> str | None:
    """The entity a command acts on: the one it created, else its `id` (or the Ref of the command's entity)."""
    if ctx.created_uuid:
        return ctx.created_uuid
    for name, ref in spec.facts.refs.items():
        if spec.entity and ref.entity == spec.entity:
            value = getattr(p, name, None)
            if isinstance(value, str):
                return value
    value = getattr(p, "id", None)
    return value if isinstance(value, str) else None


# ---- parameter decoding --------------------------------------------------------------------------------------

def unpack(spec: CommandSpec, params: Mapping[str, str]) -> dict[str, Any]:
    """CloudStack's ParamUnpackWorker: names lower-cased, `name[N].field` into maps, csv into lists."""
    out: dict[str, Any] = {}
    maps: dict[str, dict[int, dict[str, str]]] = {}
    for raw, value in params.items():
        name = raw.lower()
        if name in CONTROL_PARAMS:
            continue
        if _CONTROL_CHARS.search(value):
            raise ServerApiParamError(f"Received value {value!r} for parameter {name} with control characters")
        m = _MAP_PARAM.match(name)
        if m:
            maps.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = value
            continue
        if value == "" and name not in spec.facts.keep_empty:
            continue  # an empty value is an absent value (cs sends name= for unset fields)
        if name in spec.facts.list_params:
            out[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out.setdefault(name, value)
    for name, groups in maps.items():
        out[name] = [groups[i] for i in sorted(groups)]
    return out


def check_limits(spec: CommandSpec, args: Mapping[str, Any]) -> None:
    """Lengths and ranges from the registry (ParamInfo.length, the integer's width), checked on the raw values
    before they reach the model, the database or a LIKE pattern; CloudStack's wording."""
    cmd = spec.name.lower()
    for name, value in args.items():
        limit = spec.facts.limits.get(name)
        if limit is None or not isinstance(value, str):
            continue
        if limit.kind == "string":
            if len(value) > limit.length:
                raise too_long(cmd, name, limit.length)
        elif limit.kind == "integer":
            try:
                number = int(value.strip())
            except ValueError:
                continue  # not a number at all: the model says so
            if not limit.low <= number <= limit.high:
                raise invalid_value(cmd, name, value)
        elif limit.kind == "float":
            try:
                real = float(value)
            except ValueError:
                continue
            if not math.isfinite(real):
                raise invalid_value(cmd, name, value)


def validate(spec: CommandSpec, args: dict[str, Any]) -> registry.Params:
    check_limits(spec, args)
    try:
        return spec.params.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        cmd = spec.name.lower()
        if first["type"] == "missing":
            raise ServerApiParamError(f"Unable to execute API command {cmd} due to missing parameter {name}") from None
        raise invalid_value(cmd, name, args.get(name)) from None


def resolve_refs(ctx: CallContext, spec: CommandSpec, p: registry.Params) -> bool:
    """Resolves every Ref parameter (431 unknown, 531 not the caller's). Returns False when a list command's filter
    (`id`, `virtualmachineid`, ...) names an entity that was deleted: CloudStack resolves ids including removed rows
    and then lists nothing."""
    for name, ref in spec.facts.refs.items():
        value = getattr(p, name, None)
        if value is None:
            continue
        if (isinstance(value, str) and spec.name.startswith("list") and not spec.mutating
                and access.was_removed(ctx.session, ref.entity, value)):
            return False
        if isinstance(value, list):
            ctx.refs[name] = [access.resolve(ctx.session, ctx.caller, ref.entity, v, ref.access) for v in value]
        else:
            ctx.refs[name] = access.resolve(ctx.session, ctx.caller, ref.entity, value, ref.access)
    return True


__all__ = ["Dispatcher", "Reply"]
