"""The `beatbook` command: serve, worker, db, demo, user, token, backup."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts, migrate
from crm.beats import ensure_default_beats
from crm.database import make_engine, make_sessionmaker
from crm.errors import DomainError, InvalidInput
from crm.settings import Settings

app = typer.Typer(help="Beatbook, a media-relations CRM for civil-society organisations.")
db_app = typer.Typer(help="Database schema.")
user_app = typer.Typer(help="Users and organisations.")
token_app = typer.Typer(help="Personal API tokens.")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
T = TypeVar("T")


def _run(fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = Settings()

    async def go() -> T:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except InvalidInput as exc:  # bad input to a command: say which and what
        for name, message in exc.errors.items():
            typer.echo(f"error: {name}: {message}", err=True)
        raise typer.Exit(2) from exc
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations, and make sure the default beats exist."""
    migrate.upgrade(Settings().database_url)
    _run(ensure_default_beats)
    typer.echo("database is up to date")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(Settings().database_url)
    typer.echo("models and migrations agree")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    no_jobs: Annotated[
        bool, typer.Option("--no-jobs", help="Leave jobs to `beatbook worker`.")
    ] = False,
) -> None:
    """Serve the web app (and run background jobs in-process unless --no-jobs)."""
    import uvicorn

    from web.app import create_app

    settings = Settings()
    application = create_app(settings, run_jobs=False if no_jobs else None)
    uvicorn.run(application, host=host, port=port, proxy_headers=True, log_level="info")


@app.command()
def worker() -> None:
    """Run background jobs until stopped."""
    from outreach.worker import run_background

    settings = Settings()

    async def go() -> None:
        engine = make_engine(settings.database_url)
        try:
            await run_background(make_sessionmaker(engine), settings, stop=asyncio.Event())
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass


@app.command()
def demo() -> None:
    """Load the fictional demo landscape into an empty database and print its logins."""
    from crm.demo import DEMO_PASSWORD, load_demo

    logins = _run(load_demo)
    migrate.analyze(Settings().database_url)
    if not logins:
        typer.echo("the database already has data; demo not loaded")
        return
    typer.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for org, email, role in logins:
        typer.echo(f"  {email:<24} {role:<7} {org}")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV, Excel (.xlsx) or vCard file.")],
    org: Annotated[str, typer.Option(help="Name of the organisation to import into.")],
    on_duplicate: Annotated[
        str, typer.Option(help="A row with an email already known: update, skip or create.")
    ] = "skip",
    encoding: Annotated[str, typer.Option(help="Override the detected encoding.")] = "",
) -> None:
    """Import contacts with the guessed column mapping, without questions, and print the
    report's totals. Exits 2 when the file cannot be read."""
    from sqlalchemy import select

    from crm import imports
    from crm.accounts import Actor
    from crm.models import Organisation

    settings = Settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc

    async def go(session: AsyncSession) -> dict[str, object]:
        found = await session.execute(select(Organisation.id).where(Organisation.name == org))
        org_id = found.scalar_one_or_none()
        if org_id is None:
            typer.echo(f"error: no organisation named {org!r}", err=True)
            raise typer.Exit(2)
        actor = Actor(None, org_id, "editor")
        batch = await imports.upload(
            session, actor, settings, filename=file.name, data=data, encoding=encoding or None
        )
        assert batch.id is not None
        typer.echo(
            f"{batch.total_rows} rows; columns: "
            + ", ".join(
                f"{k}={v}" for k, v in sorted(batch.mapping.items(), key=lambda x: int(x[0]))
            )
        )
        await imports.save_settings(
            session, actor, settings, batch.id, mapping=imports.mapping_of(batch),
            on_duplicate=on_duplicate,
        )  # fmt: skip
        done = await imports.run_import(session, settings, batch.id)
        return dict(done.counts)

    counts = _run(go)
    typer.echo(
        "imported {imported}, updated {updated}, skipped {skipped}, rejected {rejected},"
        " flagged {flagged}".format(
            **{
                k: counts.get(k, 0)
                for k in ("imported", "updated", "skipped", "rejected", "flagged")
            }
        )
    )


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    password: Annotated[str, typer.Option(help="At least 10 characters.")],
    org: Annotated[str, typer.Option(help="Organisation name; created when missing.")],
    role: Annotated[str, typer.Option(help="owner, editor or viewer.")] = "owner",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a user (and the organisation when missing) with a role."""

    async def go(session: AsyncSession) -> None:
        organisation = await accounts.get_or_create_org(session, org)
        await accounts.create_user(
            session, email=email, password=password, org=organisation, role=role, name=name
        )
        await session.commit()

    _run(go)
    typer.echo(f"{email} is {role} of {org}")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The user the token acts as.")],
    org: Annotated[str, typer.Option(help="Organisation (default: the user's first).")] = "",
    name: Annotated[str, typer.Option(help="A name to recognise it by.")] = "cli",
) -> None:
    """Print a new API token (and nothing else)."""

    async def go(session: AsyncSession) -> str:
        user = await accounts.user_by_email(session, email)
        if user is None or user.id is None:
            raise accounts.NotFound("user")
        rows = await accounts.memberships(session, user.id)
        chosen = [(m, o) for m, o in rows if not org or o.name == org]
        if not chosen:
            raise accounts.NotFound("membership")
        membership, _ = chosen[0]
        actor = accounts.Actor(user.id, membership.org_id, membership.role)
        return await accounts.create_api_token(session, actor=actor, name=name)

    typer.echo(_run(go))


@app.command()
def backup(target: Annotated[Path, typer.Argument(help="File to write the copy to.")]) -> None:
    """Write a consistent copy of the SQLite database, safe while the server runs."""
    settings = Settings()
    if not settings.is_sqlite:
        typer.echo("backup works on SQLite; for PostgreSQL use pg_dump (see the README)", err=True)
        raise typer.Exit(2)
    source_path = settings.database_url.split("///", 1)[-1]
    if not Path(source_path).exists():
        typer.echo(f"no database at {source_path}", err=True)
        raise typer.Exit(2)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    with dest:
        source.backup(dest)
    dest.close()
    source.close()
    typer.echo(f"backed up {source_path} to {target}")


def main() -> None:
    app(prog_name="beatbook")


if __name__ == "__main__":
    main()
