"""`devcloud-management`: run the server and look after its state."""

from __future__ import annotations

import gc
import json
import sys

import typer

from management.settings import Settings

app = typer.Typer(help="devcloud management server", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="database schema", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(log_format: str = typer.Option(None, "--log-format", help="text or json (one JSON object per line); "
                                        "default: the log_format setting (DEVCLOUD_LOG_FORMAT), else text")) -> None:
    """Run the API listeners (8080 signed, 8096 integration) and the job workers."""
    if log_format not in (None, "text", "json"):
        typer.echo(f"--log-format must be text or json, not {log_format!r}", err=True)
        raise typer.Exit(2)
    # Start-up makes ~390,000 objects that live as long as the process and frees almost none: the cyclic
    # collector's passes over them were a fifth of the CPU to the first answer. The server turns it back on once
    # its background start is done (management/server.py, serve_async).
    gc.disable()
    from management.server import serve as run

    run(Settings(log_format="json" if log_format == "json" else "text") if log_format else Settings())


@app.command("admin-keys")
def admin_keys(as_json: bool = typer.Option(False, "--json", help="print the JSON file as is")) -> None:
    """Print the admin credentials generated at first start."""
    from management.services.identity.identity import admin_keys_path

    settings = Settings()
    path = admin_keys_path(settings.state_dir)
    if not path.is_file():
        typer.echo(f"no admin credentials at {path}: start the server once (devcloud-management serve)", err=True)
        raise typer.Exit(1)
    data = json.loads(path.read_text())
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key in ("username", "password", "domain", "apikey", "secretkey"):
        typer.echo(f"{key}: {data[key]}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION."""
    from management import statedir
    from management.db import crypto, migrate

    settings = Settings()
    statedir.private_umask()
    statedir.secure(settings.state_dir, settings.database_url)
    crypto.install(crypto.load_or_create_key(settings.database_key_file))  # migrations seal stored secrets
    migrate.upgrade(settings.database_url, revision)


@db_app.command("check")
def db_check() -> None:
    """Fail when the models have changes no migration covers."""
    from management.db import migrate

    try:
        migrate.check(Settings().database_url)
    except Exception as exc:
        typer.echo(f"schema drift: {exc}", err=True)
        sys.exit(1)
    typer.echo("schema matches migrations")


if __name__ == "__main__":
    app()
