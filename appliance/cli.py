"""`devcloud`: bring the local cloud up, ask whether it is healthy, tear it down."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from appliance import zonespec
from appliance.build import build_app
from appliance.client import ApiError
from appliance.deploy import Deployer, ensure_first_vm, ensure_templates, ssh_command, wait_ssh
from appliance.farm import farm_app
from appliance.sandbox import DEFAULT_STATE_DIR, Sandbox, StartError

OWNED_STATE = ("devcloud.db", "devcloud.db-wal", "devcloud.db-shm", "admin.json", "sandbox.json", "sandbox.tmp",
               "server-id", "management.pid", "logs", "keys", "network", "snapshots", "junit", "bundles", "primary",
               "secondary", "configdrive", "routers", "s3")


def refusal(exc: ApiError) -> str:
    """A CloudStack refusal in one line: the command, the HTTP code (= errorcode) and the server's text."""
    return f"{exc.command} refused ({exc.status}): {exc.text}"


class _Commands(TyperGroup):
    """The root group: a refusal from the API in any command (sub-apps included: they run inside this invoke)
    ends as one line on stderr and exit 1, like the CLI's other runtime failures, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            typer.echo(f"devcloud: {refusal(exc)}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(help="devcloud: a CloudStack-compatible cloud in a box", no_args_is_help=True,
                  add_completion=False, cls=_Commands)
host_app = typer.Typer(help="hypervisor host preparation", no_args_is_help=True)
image_app = typer.Typer(help="guest images", no_args_is_help=True)
app.add_typer(host_app, name="host")
app.add_typer(image_app, name="image")
scenario_app = typer.Typer(help="scripted checks against the sandbox (JUnit XML)", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(build_app, name="build")  # appliance/build.py: wheelhouse, base, appliance, boxes
app.add_typer(farm_app, name="farm")  # appliance/farm.py: the three-node farm rehearsal
console = Console(soft_wrap=True)  # keys must stay copyable: never wrap them


def _print_access(sb: Sandbox) -> None:
    console.print(f"[bold]CloudStack API[/]  {sb.endpoint}")
    console.print(f"[bold]integration API[/] http://127.0.0.1:{sb.integration_port}/client/api (loopback, no auth)")
    if not sys.stdout.isatty():
        # a log (CI's, a pipe to a file) keeps whatever it is given: the admin's password and keys stay off it
        console.print("[bold]admin[/] credentials are shown on a terminal only; "
                      "elsewhere: eval \"$(devcloud env)\"")
        return
    admin = sb.admin() or {}
    console.print(f"[bold]admin[/] user admin, password {admin.get('password')}")
    console.print(f"[bold]apikey[/]    {admin.get('apikey')}\n[bold]secretkey[/] {admin.get('secretkey')}")
    console.print("\n# cs configuration (~/.cloudstack.ini), or: eval \"$(devcloud env)\"")
    console.print(f"[cloudstack]\nendpoint = {sb.endpoint}\nkey = {admin.get('apikey')}\n"
                  f"secret = {admin.get('secretkey')}", markup=False)


class Steps:
    """Runs `up`'s steps in order with a live spinner; each step checks the live state first, so a second run
    changes nothing and an interrupted one resumes. Timings land in <state dir>/sandbox.json."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.timings: list[dict[str, object]] = []

    def run(self, name: str, fn: Callable[[Callable[[str], None]], str]) -> None:
        t0 = time.monotonic()
        with console.status(f"[bold]{name}[/]") as st:
            def notify(msg: str) -> None:
                st.update(f"[bold]{name}[/]: {msg}")

            try:
                detail = fn(notify)
            except Exception as exc:
                took = time.monotonic() - t0
                what = (str(exc) if isinstance(exc, StartError) else refusal(exc) if isinstance(exc, ApiError)
                        else f"{type(exc).__name__}: {exc}")
                console.print(f"[red]✗[/] {name:<14} {took:6.1f} s  ", end="")
                console.print(what, markup=False, highlight=False)
                self._record(name, took, f"failed: {exc}", ok=False)
                raise typer.Exit(1) from None
        took = time.monotonic() - t0
        console.print(f"[green]✓[/] {name:<14} {took:6.1f} s  {detail}")
        self._record(name, took, detail)

    def _record(self, name: str, took: float, detail: str, ok: bool = True) -> None:
        self.timings.append({"step": name, "seconds": round(took, 3), "detail": detail, "ok": ok})
        self.sb.save_state(last_up=self.timings)


def _local_kvm_hosts(spec: zonespec.CloudSpec) -> list[str]:
    return [h.url for z in spec.zones for p in z.pods for c in p.clusters for h in c.hosts
            if c.hypervisor == "KVM" and h.url.startswith("qemu:///")]


def _dirs_of(spec: zonespec.CloudSpec) -> list[str]:
    urls = [ps.url for z in spec.zones for p in z.pods for c in p.clusters for ps in c.primary_storage]
    urls += [ps.url for z in spec.zones for ps in z.zone_primary_storage]
    urls += [ss.url for z in spec.zones for ss in z.secondary_storage]
    return [u[len("file://"):] for u in urls if u.startswith("file://")]


def _template_url(url: str) -> str:
    if url == "builtin:tiny":
        from appliance.image.builder import build_tiny_image

        return f"file://{build_tiny_image()}"
    return url


def load_spec(sb: Sandbox, scenario: str | None) -> zonespec.CloudSpec:
    name = scenario or str(sb.state().get("scenario") or "local")
    try:
        return zonespec.load(name, sb.state_dir)
    except zonespec.SpecError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _vagrant_up(scenario: str, vagrant_provider: str) -> None:
    """`vagrant up` through python-vagrant: the appliance and the spec's nested hosts, provisioned by playbooks/."""
    import subprocess

    from appliance import vagrant

    try:
        zonespec.load(scenario)  # the Vagrantfile reads the same file: refuse a bad spec before any VM starts
    except zonespec.SpecError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    log = Sandbox.from_env().state_dir / "logs" / "vagrant.log"
    t0 = time.monotonic()
    with console.status(f"[bold]vagrant up --provider={vagrant_provider}[/] ({scenario}; output in {log})"):
        try:
            machines = vagrant.vagrant_up(scenario, vagrant_provider, log=log)
        except FileNotFoundError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
            typer.echo("\n".join([f"vagrant up failed ({exc}); the end of {log}:", *tail]), err=True)
            raise typer.Exit(1) from None
    table = Table("machine", "state", "provider")
    for m in machines:
        table.add_row(m.name, m.state, m.provider)
    console.print(table)
    console.print(f"[bold green]the appliance is up[/] ({scenario}, {time.monotonic() - t0:.0f} s)")
    console.print("[bold]CloudStack API[/]  http://127.0.0.1:18080/client/api (forwarded from the appliance)")
    console.print("admin keys: vagrant ssh appliance -c 'cat /var/lib/devcloud/admin.json'", markup=False)


@app.command()
def up(scenario: str = typer.Option(None, "--scenario", "-s",
                                    help="zone spec: a name in scenarios/ or a path (default: the last one, or local)"),
       timeout: float = typer.Option(None, help="seconds the first VM may take to answer SSH"),
       provider: str = typer.Option("local", help="local: this machine; vagrant: the appliance VM(s) from the "
                                                  "Vagrantfile (scenario default: appliance)"),
       vagrant_provider: str = typer.Option("libvirt", help="Vagrant's provider with --provider vagrant: libvirt "
                                                            "or virtualbox")) -> None:
    """Bring the sandbox up: host, management server, datacenter, template, first VM answering SSH. Idempotent."""
    if provider == "vagrant":
        _vagrant_up(scenario or "appliance", vagrant_provider)
        return
    if provider != "local":
        typer.echo(f"unknown provider {provider!r}: local or vagrant", err=True)
        raise typer.Exit(2)
    sb = Sandbox.from_env()
    spec = load_spec(sb, scenario)  # validation happens before anything is changed
    sb.save_state(scenario=scenario or str(sb.state().get("scenario") or "local"), spec_name=spec.name,
                  local_hosts=_local_kvm_hosts(spec), templates=[t.name for t in spec.templates])
    t_all = time.monotonic()
    steps = Steps(sb)
    kvm = _local_kvm_hosts(spec)

    if kvm:
        def host(notify: Callable[[str], None]) -> str:
            from appliance.host.prepare import STORAGE_DIRS, prepare_host

            notify("packages, qemu.conf, libvirtd, storage directories")
            dirs = [*_dirs_of(spec), *STORAGE_DIRS[2:]]
            results = prepare_host(install=True, dirs=dirs)
            changed = [r.name for r in results if r.changed]
            return f"changed: {', '.join(changed)}" if changed else "already prepared"

        steps.run("host", host)

    def server(notify: Callable[[str], None]) -> str:
        notes: list[str] = []
        started = sb.start(notes=notes)
        for note in notes:
            console.print(f"  {note}", markup=False)
        return f"{'started' if started else 'already running'} (pid {sb.pid()}, log {sb.log_file})"

    steps.run("server", server)
    client = sb.client(timeout=60)

    def datacenter(notify: Callable[[str], None]) -> str:
        report = Deployer(client, notify=notify).deploy(spec)
        return f"created {len(report.created)} objects" if report.changed else "unchanged"

    steps.run("datacenter", datacenter)
    if spec.templates:
        def templates(notify: Callable[[str], None]) -> str:
            tpls = ensure_templates(client, spec, _template_url, notify)
            return ", ".join(f"{t['name']} ready" for t in tpls)

        steps.run("template", templates)
    facts: dict[str, object] = {}
    if spec.first_vm is not None:
        fv = spec.first_vm

        def first_vm(notify: Callable[[str], None]) -> str:
            facts.update(ensure_first_vm(client, spec, sb.state_dir / "keys", notify))
            sb.save_state(first_vm=facts)
            return f"{facts['vm_name']} on {facts['ip']}:{facts['port']}"

        steps.run("first VM", first_vm)

        def ssh(notify: Callable[[str], None]) -> str:
            notify(f"ssh -p {facts['port']} root@{facts['ip']}")
            answer = wait_ssh(facts, timeout or fv.boot_timeout,
                              converge=lambda: facts.update(ensure_first_vm(client, spec, sb.state_dir / "keys",
                                                                            notify)))
            return f"guest answers: {answer}"

        steps.run("ssh", ssh)
    total = time.monotonic() - t_all
    sb.save_state(last_up_total=round(total, 3), up_at=time.time())
    console.print(f"\n[bold green]devcloud is up[/] ({spec.name}, {total:.1f} s)")
    _print_access(sb)
    if facts:
        console.print("\n# the first VM, through the router's port forwarding")
        console.print(" ".join(ssh_command(str(facts["key"]), str(facts["ip"]), int(str(facts["port"])),
                                           str(facts["user"]), "hostname")[:-1]), markup=False)
    table = Table("step", "seconds", "detail")
    for t in steps.timings:
        table.add_row(str(t["step"]), f"{t['seconds']:.1f}", str(t["detail"]))
    table.add_row("[bold]total[/]", f"{total:.1f}", "")
    console.print(table)


@app.command()
def down(stop_all: bool = typer.Option(False, "--all", help="also stop devcloud's guests and routers"),
         purge: bool = typer.Option(False, "--purge", help="remove the state directory and everything devcloud "
                                                          "made in libvirt and the kernel (domains, pools, "
                                                          "bridges, namespaces)")) -> None:
    """Stop what `up` started (by PID). Guests and routers keep running unless --all or --purge."""
    from appliance import snapshots

    sb = Sandbox.from_env()
    if (stop_all or purge) and sb.pid() is not None:
        inv = snapshots.inventory(sb)
        stopped = snapshots.stop_guests(sb, inv, purge=purge)
        console.print(f"stopped {len(stopped)} domains/routers")
    stopped_server = sb.stop()
    console.print("management server stopped" if stopped_server else "management server was not running")
    if purge:
        removed = snapshots.purge(sb)
        for line in removed:
            console.print(f"removed {line}", markup=False)
        if sb.state_dir == DEFAULT_STATE_DIR:
            # the shared default directory also holds the host's probe result and other tools' files: remove
            # only what the sandbox made
            for name in OWNED_STATE:
                p = sb.state_dir / name
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
            console.print(f"removed the sandbox's files from {sb.state_dir}")
        else:
            shutil.rmtree(sb.state_dir, ignore_errors=True)
            console.print(f"removed {sb.state_dir}")


@app.command()
def env() -> None:
    """Print shell exports for cs, the Ansible modules and AWS clients: eval "$(devcloud env)"."""
    sb = Sandbox.from_env()
    admin = sb.admin()
    if admin is None:
        typer.echo(f"no sandbox state in {sb.state_dir}: run `devcloud up` first", err=True)
        raise typer.Exit(1)
    region = "devcloud"
    try:
        spec = zonespec.load(str(sb.state().get("scenario") or "local"), sb.state_dir)
        # the zone's name as a region token: S3 refuses a LocationConstraint that is not [a-z0-9-]
        region = re.sub(r"[^a-z0-9-]+", "-", spec.zones[0].name.lower()).strip("-")[:32] or region
    except zonespec.SpecError:
        pass
    typer.echo(f"export CLOUDSTACK_ENDPOINT={sb.endpoint}")
    typer.echo(f"export CLOUDSTACK_KEY={admin['apikey']}")
    typer.echo(f"export CLOUDSTACK_SECRET={admin['secretkey']}")
    typer.echo(f"export AWS_ACCESS_KEY_ID={admin['apikey']}")
    typer.echo(f"export AWS_SECRET_ACCESS_KEY={admin['secretkey']}")
    typer.echo(f"export AWS_ENDPOINT_URL_S3={sb.s3_endpoint}")
    typer.echo(f"export AWS_ENDPOINT_URL_EC2={sb.ec2_endpoint}")
    typer.echo(f"export AWS_DEFAULT_REGION={region}")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Cloud health; exit code 1 when unhealthy."""
    from appliance.sandbox import run_checks

    sb = Sandbox.from_env()
    checks = run_checks(sb)
    healthy = all(c["ok"] for c in checks)
    if as_json:
        typer.echo(json.dumps({"healthy": healthy, "checks": checks}, indent=2))
    else:
        table = Table("check", "ok", "detail")
        for c in checks:
            mark = "[yellow]skip[/]" if c.get("skipped") else ("[green]yes[/]" if c["ok"] else "[red]no[/]")
            table.add_row(str(c["name"]), mark, str(c["detail"]))
        console.print(table)
        console.print("[bold green]healthy[/]" if healthy else "[bold red]unhealthy[/]")
    raise typer.Exit(0 if healthy else 1)


@app.command()
def snapshot(name: str = typer.Argument(..., help="snapshot name")) -> None:
    """Snapshot the whole sandbox consistently: database, primary and secondary storage, router state."""
    from appliance import snapshots

    sb = Sandbox.from_env()
    with console.status(f"snapshot {name}: quiescing the server, pausing guests, copying"):
        try:
            meta = snapshots.snapshot(sb, name)
        except (FileExistsError, ValueError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    console.print(f"snapshot {name}: {meta['db']}, {len(meta['dirs'])} storage dirs, "
                  f"{len(meta['running'])} running guests, {meta['seconds']} s")


@app.command()
def restore(name: str = typer.Argument(..., help="snapshot name")) -> None:
    """Restore a snapshot: stop, replace database/storage/router state, restart; Running VMs run again."""
    from appliance import snapshots

    sb = Sandbox.from_env()
    with console.status(f"restoring {name}"):
        try:
            out = snapshots.restore(sb, name)
        except FileNotFoundError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    console.print(f"restored {name}: {len(out['started'])} guests started, {out['seconds']} s")


@app.command("snapshots")
def list_snapshots() -> None:
    """List the sandbox snapshots."""
    from appliance import snapshots

    for s in snapshots.list_snapshots(Sandbox.from_env()):
        typer.echo(f"{s['name']}\t{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(s['at']))}\t"
                   f"{s['running']} running")


@app.command()
def logs(output: str = typer.Option(None, "--output", "-o", help="tarball path"),
         request_id: str = typer.Option(None, "--request-id", help="print the server's log lines of one request "
                                        "(the X-Request-Id / 'request id' a client saw) instead of a tarball")) -> None:
    """One tarball with every log (the server's log with its access and JSON lines too) and config (secrets
    redacted) for a bug report; or, with --request-id, one request's lines."""
    from pathlib import Path

    from appliance.bundle import make_bundle, request_lines

    sb = Sandbox.from_env()
    if request_id:
        found = request_lines(sb.state_dir / "logs", request_id)
        for name, line in found:
            typer.echo(f"{name}: {line}")
        if not found:
            typer.echo(f"no log line of request {request_id} in {sb.state_dir / 'logs'}", err=True)
            raise typer.Exit(1)
        return
    path, what = make_bundle(sb, Path(output) if output else None)
    console.print(f"{path} ({', '.join(what)})", markup=False)
    typer.echo(path)


@scenario_app.command("run")
def scenario_run(name: str = typer.Argument(..., help="scenario name in scenarios/ or a path"),
                 junit: str = typer.Option(None, "--junit", help="JUnit XML path (default <state>/junit/NAME.xml)")
                 ) -> None:
    """Run the ordered steps of a scenario file against the sandbox; writes JUnit XML; exit 1 on failure."""
    from pathlib import Path

    from appliance import scenario as sc

    sb = Sandbox.from_env()
    try:
        data = sc.load(name)
    except sc.ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if sb.admin() is None or not sb.answers():
        typer.echo(f"the sandbox in {sb.state_dir} is not running: devcloud up first", err=True)
        raise typer.Exit(2)
    state = sb.state()
    env: dict[str, object] = {"sandbox": {**(state.get("first_vm") or {}), "console_dir": str(sb.console_dir),
                                          "state_dir": str(sb.state_dir)}}
    client = sb.client(timeout=60)
    with console.status(f"scenario {data['name']}") as st:
        report = sc.Runner(client, env, sb.console_dir, notify=lambda m: st.update(f"scenario {data['name']}: {m}")
                           ).run(data)
    client.close()
    table = Table("step", "result", "seconds", "message")
    colour = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for r in report.results:
        table.add_row(r.name, f"[{colour[r.status]}]{r.status}[/]", f"{r.seconds:.1f}", r.message[:200])
    console.print(table)
    out = Path(junit) if junit else sb.state_dir / "junit" / f"{data['name']}.xml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.junit())
    passed = sum(r.status == "passed" for r in report.results)
    console.print(f"{'[green]passed[/]' if report.ok else '[red]FAILED[/]'}: {passed}/{len(report.results)} steps "
                  f"in {report.seconds:.1f} s; JUnit XML: {out}")
    raise typer.Exit(0 if report.ok else 1)


@host_app.command("prepare")
def host_prepare(install: bool = typer.Option(True, help="install missing apt packages"),
                 probe: bool = typer.Option(False, help="boot a probe guest to decide kvm vs qemu")) -> None:
    """Make this machine a KVM/QEMU host: packages, libvirt configuration, daemons, storage directories."""

    from appliance.host import prepare

    argv = [] if install else ["--no-install"]
    if probe:
        argv.append("--probe")
    raise typer.Exit(prepare.main(argv))


@image_app.command("build")
def image_build() -> None:
    """Build (or reuse from the cache) the tiny guest image; prints its path."""
    from appliance.image.builder import build_tiny_image

    typer.echo(build_tiny_image())


if __name__ == "__main__":
    app()
