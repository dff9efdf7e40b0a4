"""`devcloud`: bring the local cloud up, ask whether it is healthy, tear it down."""

from __future__ import annotations

import json
import shutil
import time

import typer
from rich.console import Console
from rich.table import Table

from appliance.sandbox import Sandbox

app = typer.Typer(help="devcloud: a CloudStack-compatible cloud in a box", no_args_is_help=True,
                  add_completion=False)
host_app = typer.Typer(help="hypervisor host preparation", no_args_is_help=True)
image_app = typer.Typer(help="guest images", no_args_is_help=True)
app.add_typer(host_app, name="host")
app.add_typer(image_app, name="image")
console = Console(soft_wrap=True)  # keys must stay copyable: never wrap them


def _print_access(sb: Sandbox) -> None:
    admin = sb.admin() or {}
    console.print(f"[bold]CloudStack API[/]  {sb.endpoint}")
    console.print(f"[bold]integration API[/] http://127.0.0.1:{sb.integration_port}/client/api (loopback, no auth)")
    console.print(f"[bold]admin[/] user admin, password {admin.get('password')}")
    console.print(f"[bold]apikey[/]    {admin.get('apikey')}\n[bold]secretkey[/] {admin.get('secretkey')}")
    console.print("\n# cs configuration (~/.cloudstack.ini), or: eval \"$(devcloud env)\"")
    console.print(f"[cloudstack]\nendpoint = {sb.endpoint}\nkey = {admin.get('apikey')}\n"
                  f"secret = {admin.get('secretkey')}", markup=False)


@app.command()
def up() -> None:
    """Start the management server (embedded default: SQLite in the state directory) and print how to reach it."""
    sb = Sandbox.from_env()
    t0 = time.monotonic()
    with console.status("starting the management server"):
        try:
            started = sb.start()
        except (RuntimeError, TimeoutError) as exc:
            console.print(f"[red]management server failed to start:[/] {exc}")
            raise typer.Exit(1) from None
    took = time.monotonic() - t0
    console.print(("started" if started else "already running") + f" (pid {sb.pid()}, {took:.1f} s); "
                  f"log: {sb.log_file}")
    _print_access(sb)


@app.command()
def down(purge: bool = typer.Option(False, "--purge", help="also remove the state directory")) -> None:
    """Stop what `up` started (by PID)."""
    sb = Sandbox.from_env()
    stopped = sb.stop()
    console.print("management server stopped" if stopped else "management server was not running")
    if purge:
        shutil.rmtree(sb.state_dir, ignore_errors=True)
        console.print(f"removed {sb.state_dir}")


@app.command()
def env() -> None:
    """Print shell exports for cs and the Ansible modules: eval "$(devcloud env)"."""
    sb = Sandbox.from_env()
    admin = sb.admin()
    if admin is None:
        typer.echo(f"no sandbox state in {sb.state_dir}: run `devcloud up` first", err=True)
        raise typer.Exit(1)
    typer.echo(f"export CLOUDSTACK_ENDPOINT={sb.endpoint}")
    typer.echo(f"export CLOUDSTACK_KEY={admin['apikey']}")
    typer.echo(f"export CLOUDSTACK_SECRET={admin['secretkey']}")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Cloud health; exit code 1 when unhealthy."""
    sb = Sandbox.from_env()
    checks: list[dict[str, object]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": ok, "detail": detail})

    pid = sb.pid()
    check("server process", pid is not None, f"pid {pid}" if pid else f"not running (pid file {sb.pid_file})")
    answers = pid is not None and sb.answers()
    check("API answers", answers, sb.endpoint)
    if answers:
        jobs = sb.call("listAsyncJobs", listall="true").get("asyncjobs", [])
        stuck = [j["jobid"] for j in jobs if j.get("jobstatus") == 0 and not j.get("managementserverid")]
        check("jobs", True, f"{len(jobs)} jobs, {len(stuck)} queued")
    healthy = all(c["ok"] for c in checks)
    if as_json:
        typer.echo(json.dumps({"healthy": healthy, "checks": checks}, indent=2))
    else:
        table = Table("check", "ok", "detail")
        for c in checks:
            table.add_row(str(c["name"]), "[green]yes[/]" if c["ok"] else "[red]no[/]", str(c["detail"]))
        console.print(table)
    raise typer.Exit(0 if healthy else 1)


@host_app.command("prepare")
def host_prepare(install: bool = typer.Option(True, help="install missing apt packages"),
                 probe: bool = typer.Option(False, help="boot a probe guest to decide kvm vs qemu")) -> None:
    """Make this machine a KVM/QEMU host: packages, libvirt configuration, daemons, storage directories."""
    from appliance.host.prepare import main as prepare_main

    argv = [] if install else ["--no-install"]
    if probe:
        argv.append("--probe")
    raise typer.Exit(prepare_main(argv))


@image_app.command("build")
def image_build() -> None:
    """Build (or reuse from the cache) the tiny guest image; prints its path."""
    from appliance.image.builder import build_tiny_image

    typer.echo(build_tiny_image())


if __name__ == "__main__":
    app()
