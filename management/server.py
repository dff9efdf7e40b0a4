"""The management server process: database, bootstrap, job workers and the two HTTP listeners."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
import uvloop

from management import logformat, memory, statedir
from management.api.app import api_app, integration_app
from management.api.cloudstack import registry
from management.api.cloudstack.dispatch import Dispatcher
from management.api.guard import Guard
from management.api.http11 import protocol_for
from management.api.http_metrics import counted
from management.db import crypto, migrate
from management.db.session import Database
from management.jobs.queue import JobQueue
from management.services import scheduling
from management.services.cluster import membership as cluster
from management.services.cluster import ownership  # noqa: F401  (registers the peer hooks)
from management.services.cluster.membership import Membership
from management.services.compute import autoscale, vmsync
from management.services.ha import (  # noqa: F401  (host HA investigates silent hosts; VM HA restarts
    hostha,
    takeover,  # noqa: F401  (registers the peer hooks)
    vmha,
)

# what VM sync finds crashed)
from management.services.identity import identity
from management.services.infra import hostmonitor, infra
from management.services.network import vpc_router
from management.services.platform import alerts
from management.services.plugins import background as plugins_background
from management.services.runtime import Runtime
from management.services.storage import snapshot_policies
from management.services.telemetry import telemetry
from management.settings import Settings

log = logging.getLogger("devcloud.management")
FENCED_HOOK = "on_fenced"  # runtime.extras: what `serve` does when the peers declared this server Down


@dataclass(slots=True)
class Server:
    runtime: Runtime
    dispatcher: Dispatcher
    queue: JobQueue
    created_admin: identity.AdminCredentials | None
    membership: Membership | None = None

    def stop(self) -> None:
        """Stops the job workers and the background threads; a clean stop sets this server Down at once."""
        self.queue.stop()
        if self.membership is not None:
            self.membership.join()
            with contextlib.suppress(Exception):
                cluster.mark_stopped(self.runtime)


def build(settings: Settings, *, start_workers: bool = True) -> Server:
    """Migrates the database, bootstraps it on first start, and wires the runtime (no sockets yet)."""
    statedir.secure(settings.state_dir, settings.database_url)  # 0700, 0600, old modes tightened
    crypto.install(crypto.load_or_create_key(settings.database_key_file))  # before migrating: it seals old rows
    migrate.upgrade(settings.database_url)
    db = Database(settings.database_url)
    with db.session() as s:
        created = identity.bootstrap(s, settings.state_dir)
    try:
        with db.session(write=False) as s:
            identity.sample_secret(s)  # a database sealed under another key: say so now, not at every request
    except crypto.SecretsUnavailable as exc:
        db.dispose()
        raise SystemExit(f"cannot read the database's secrets: {exc}") from None
    runtime = Runtime(settings=settings, db=db, msid=settings.msid)
    vpc_router.install(runtime)  # guest network and VPC routers: the implementer seam + restore the running ones
    infra.mount_image_stores(runtime)  # NFS secondary storage, after a reboot
    queue = JobQueue(db, runtime.msid, workers=settings.job_workers, poll_interval=settings.job_poll_interval)
    dispatcher = Dispatcher(runtime, queue)
    queue.executor = dispatcher.execute_job
    server = Server(runtime, dispatcher, queue, created)
    runtime.extras["job_queue"] = queue  # background schedulers queue jobs and wake the workers
    if start_workers:
        start_background(server)
    return server


def start_background(server: Server) -> None:
    """Every command module, membership, the job workers and the periodic tasks. `serve` runs this after its
    first answer: reads need none of it, a write waits for it (runtime.started), and a job waits in the table."""
    try:
        _start_background(server)
    finally:
        server.runtime.started.set()  # writes wait for this (a failed start stops the server)


def register(server: Server) -> None:
    """This server Up in the cluster table, with a new run id: our previous run's claims are stale now."""
    if not server.queue.runid:
        server.queue.runid = cluster.register(server.runtime)


def _start_background(server: Server) -> None:
    runtime, queue = server.runtime, server.queue
    # Jobs and background tasks fire hooks that command modules register (with the services they import).
    registry.load_all()
    register(server)

    def fenced() -> None:
        queue.pause()
        hook = runtime.extras.get(FENCED_HOOK)
        if hook is not None:
            hook()

    runtime.extras[takeover.WAKE] = queue.notify
    server.membership = Membership(runtime, queue._stop, fenced)
    server.membership.start()  # takes over what a stopped run left (jobs, hosts), then heartbeats
    queue.start()
    hostmonitor.start(runtime, stop_event=queue._stop)  # pings our hosts (and HA); stops with the job queue
    vmsync.start(runtime, stop_event=queue._stop)  # VM power sync + expunger; stop with the job queue
    scheduling.start(runtime, stop_event=queue._stop)  # VM and backup schedules (one owner via a DB lease)
    autoscale.start(runtime, stop_event=queue._stop)  # autoscale VM groups' rounds; stop with the job queue
    snapshot_policies.start(runtime, stop_event=queue._stop)  # recurring volume snapshots
    plugins_background.start(runtime, queue._stop)  # usage stats samples, management server maintenance
    alerts.start_checker(runtime.db, stop_event=queue._stop)  # capacity notification thresholds
    memory.start_trimming(queue._stop)  # freed memory back to the kernel every minute


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us: two listeners share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _uvicorn(app: Guard, host: str, port: int, outer: Any = None) -> _Listener:
    # The listener's guard renders what the HTTP parser refuses too (http11): one error shape per port. `outer` is
    # the guard wrapped once more (request counts, the first answer noted), when it is.
    cfg = uvicorn.Config(outer or app, host=host, port=port, log_level="warning", access_log=False, log_config=None,
                         lifespan="off", http=protocol_for(app.renderer, app.name), loop="uvloop",
                         timeout_keep_alive=30)
    return _Listener(cfg)


def endpoints(settings: Settings) -> list[str]:
    out = [f"CloudStack API  http://{settings.api_bind}:{settings.api_port}/client/api"]
    if settings.integration_port:
        out.append(f"integration API http://{settings.integration_bind}:{settings.integration_port}/client/api "
                   "(unauthenticated, SYSTEM)")
    if settings.s3_port:
        out.append(f"S3 endpoint     http://{settings.s3_bind}:{settings.s3_port}")
    if settings.ec2_port:
        out.append(f"EC2 endpoint    http://{settings.ec2_bind}:{settings.ec2_port}")
    return out


# The background start (command modules, workers, loops) waits for the first answer, or this long after the
# listeners are up: a start with no caller yet has nothing to answer first.
FIRST_ANSWER_WAIT = 0.5


def _noting_answers(app: Guard, answered: asyncio.Event) -> Any:
    async def noted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        finally:
            answered.set()

    return noted


async def serve_async(server: Server) -> None:
    settings = server.runtime.settings
    answered = asyncio.Event()
    api = api_app(server.dispatcher)
    listeners = [_uvicorn(api, settings.api_bind, settings.api_port, _noting_answers(api, answered))]
    if settings.integration_port:
        integration = integration_app(server.dispatcher)
        listeners.append(_uvicorn(integration, settings.integration_bind, settings.integration_port,
                                  _noting_answers(integration, answered)))
    optional: list[_Listener] = []
    if settings.s3_port:
        from management.api.s3 import s3_app

        s3 = s3_app(server.runtime)
        optional.append(_uvicorn(s3, settings.s3_bind, settings.s3_port, counted(s3, "s3", telemetry(server.runtime))))
    if settings.ec2_port:
        from management.api.ec2 import ec2_app

        ec2 = ec2_app(server.dispatcher)
        optional.append(_uvicorn(ec2, settings.ec2_bind, settings.ec2_port,
                                 counted(ec2, "ec2", telemetry(server.runtime))))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for lst in listeners + optional:
            lst.should_exit = True

    async def serve_optional(lst: _Listener) -> None:
        # The S3 port is an extra: if it cannot bind, the CloudStack API keeps serving (and says so).
        try:
            await lst.serve()
        except SystemExit:
            log.error("optional listener on %s:%s (S3/EC2) failed to start (is the port in use?); serving without it",
                      lst.config.host, lst.config.port)

    failed: list[BaseException] = []

    async def background_once_listening() -> None:
        # The first answer needs the listeners and the database only; the rest starts after it (on one core the
        # two would share the interpreter's lock).
        while not all(lst.started for lst in listeners) and not any(lst.should_exit for lst in listeners):
            await asyncio.sleep(0.005)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), FIRST_ANSWER_WAIT)
        try:
            if any(lst.should_exit for lst in listeners):  # stopped first: nothing to start; a waiting write goes on
                server.runtime.started.set()
                return
            try:
                await asyncio.to_thread(start_background, server)
            except Exception as exc:  # the server cannot run jobs: stop rather than answer without them
                log.exception("background start failed")
                failed.append(exc)
                stop()
        finally:
            # `devcloud-management serve` starts without the cyclic collector (management/cli.py). What start-up
            # made (~390,000 objects: modules, mappers, every command's models, prepared statements) lives as long
            # as the process: frozen, the collector never walks it again, and a job's collections stay small. One
            # collection first (~200 ms, once) frees start-up's garbage: frozen, it would stay (~12 MB).
            gc.collect()
            gc.freeze()
            gc.enable()
            log.info("start-up done: %d objects frozen, cyclic collector on", gc.get_freeze_count())

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    server.runtime.extras["shutdown"] = lambda: loop.call_soon_threadsafe(stop)  # triggerShutdown
    await asyncio.gather(*(lst.serve() for lst in listeners), *(serve_optional(lst) for lst in optional),
                         background_once_listening())
    if not all(lst.started for lst in listeners):
        raise SystemExit("a listener failed to start (is the port in use?)")
    if failed:
        raise SystemExit(f"the job workers and background tasks failed to start: {failed[0]}")


def serve(settings: Settings) -> None:
    statedir.private_umask()  # what this process and its children create is theirs alone
    memory.limit_arenas()  # before any thread starts (memory.py says why)
    logformat.configure(settings.log_format)
    server = build(settings, start_workers=False)  # serve_async starts them once the listeners answer
    server.runtime.started.clear()  # writes wait for that start
    register(server)  # listManagementServers shows this run from the first answer

    def say(line: str) -> None:  # the start-up lines: plain on standard output, or log lines in a JSON log
        if settings.log_format == "json":
            log.info("%s", line)
        else:
            print(line, flush=True)

    for line in endpoints(settings):
        say(line)
    if server.created_admin is not None:
        c = server.created_admin
        say("First start: generated admin credentials (kept in "
            f"{identity.admin_keys_path(settings.state_dir)}; `devcloud-management admin-keys` prints them)")
        if sys.stdout.isatty():  # shown once on a terminal; never into a log file (devcloud up, systemd)
            print(f"  username: {c.username}\n  password: {c.password}\n  apikey:   {c.apikey}\n"
                  f"  secretkey: {c.secretkey}", flush=True)
    say(f"management server {server.runtime.msid} ready")

    def exit_fenced() -> None:
        # The peers own our jobs and hosts now: a process that kept serving would act on them twice.
        log.critical("declared Down by the other management servers: exiting")
        sys.stdout.flush()
        os._exit(75)

    server.runtime.extras[FENCED_HOOK] = exit_fenced
    try:
        # uvicorn's loop="uvloop" only applies to uvicorn.run(); the listeners here share a loop made here, so
        # uvloop is chosen here (a large S3 PUT spends half its server CPU reading the socket on asyncio's loop).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve_async(server))
    finally:
        server.stop()
        server.runtime.db.dispose()
    sys.stdout.flush()
