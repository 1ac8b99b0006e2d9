"""`wingman serve | migrate | demo | agents | kb ...`"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wingman.settings import DATA_DIR, Settings

app = typer.Typer(help="Wingman: a real-time assistant for sales reps on live calls.", no_args_is_help=True)
kb_app = typer.Typer(help="Manage the knowledge base the agents answer from.")
app.add_typer(kb_app, name="kb")
shards_app = typer.Typer(help="Tenant shards: list them, move a tenant to another one.")
app.add_typer(shards_app, name="shards")
console = Console()
DEMO_AUDIO = DATA_DIR / "demo" / "sample_call.wav"


def _logging(settings: Settings | None = None, role: str = "") -> None:
    from wingman.logs import setup

    s = settings or Settings()
    setup(level=s.log_level, fmt=s.log_format, node_id=s.node_id, role=role)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (default WINGMAN_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default WINGMAN_PORT)")] = None,
) -> None:
    """Serve the web app, REST API and Socket.IO gateway."""
    import uvicorn

    from wingman.app import create_app

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    _logging(settings, "gateway")
    console.print(
        f"[bold green]Wingman[/] on http://{settings.host}:{settings.port} "
        f"(auth={settings.auth}, stt={settings.stt}, llm={settings.llm}, bus={settings.bus})"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        log_config=None,  # our handlers (wingman/logs.py), JSON lines included
        # forwarded headers are read by the app from WINGMAN_TRUSTED_PROXIES only (api/peers.py)
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (every shard)."""
    from wingman.store.repos import Store

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        store = Store.from_settings(settings)
        try:
            await store.migrate()
        finally:
            await store.aclose()

    asyncio.run(run())
    console.print("[green]database is up to date[/]")


@app.command()
def retention(
    days: Annotated[
        int | None, typer.Option(help="delete calls older than this (default WINGMAN_RETENTION_DAYS)")
    ] = None,
) -> None:
    """Delete calls (every user's) older than the retention period, with their transcripts."""
    from wingman.privacy import purge_expired_calls
    from wingman.store.repos import Store

    settings = Settings()
    keep = days if days is not None else settings.retention_days
    if keep is None:
        console.print("[yellow]no retention period: set WINGMAN_RETENTION_DAYS or pass --days[/]")
        raise typer.Exit(code=2)
    if keep < 1:
        console.print("[red]--days must be at least 1[/]")
        raise typer.Exit(code=2)

    async def run() -> int:
        store = Store.from_settings(settings)
        try:
            await store.migrate()
            return await purge_expired_calls(store, retention_days=keep)
        finally:
            await store.aclose()

    deleted = asyncio.run(run())
    console.print(f"[green]{deleted} call(s) older than {keep} day(s) deleted[/]")


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="the Wingman server")] = "http://127.0.0.1:8000",
    audio: Annotated[Path, typer.Option(help="a 16-bit PCM WAV; stereo = rep, customer")] = DEMO_AUDIO,
    speed: Annotated[float, typer.Option(help="1.0 streams at real-time pace")] = 1.0,
    title: Annotated[str, typer.Option(help="call title")] = "Demo call with the sample company",
    token: Annotated[str | None, typer.Option(help="API token (not needed in local mode)")] = None,
    sample: Annotated[
        bool, typer.Option(help="load the sample company's profile and documents first")
    ] = True,
) -> None:
    """Stream a recorded call into a running server and print the live transcript and tips.
    The sample call is about the sample company, so its profile and documents are loaded first
    (DELETE /api/sample or the Settings page removes them)."""
    from wingman.demo import run_demo

    result = asyncio.run(
        run_demo(
            url=url, audio=audio, speed=speed, title=title, token=token, console=console, sample_data=sample
        )
    )
    raise typer.Exit(code=0 if result.finals else 1)


@app.command()
def agents(
    workers: Annotated[int, typer.Option(help="agent workers in this process")] = 1,
    metrics_port: Annotated[
        int | None, typer.Option(help="/metrics and /api/health port (default WINGMAN_METRICS_PORT)")
    ] = None,
) -> None:
    """Run the agents as a separate worker process (team and org sizes)."""
    from wingman import metrics, tracing
    from wingman.container import Container
    from wingman.metrics_http import MetricsServer
    from wingman.realtime.lag import LoopLagMonitor

    settings = Settings(agents_in_process=False)
    _logging(settings, "agents")
    metrics.configure(enabled=settings.metrics)
    tracing.configure(enabled=settings.tracing, endpoint=settings.otlp_endpoint, service="wingman-agents")
    lag = LoopLagMonitor()

    def health() -> dict[str, object]:
        return {"status": "ok", "role": "agents", "node": settings.node_id, "workers": workers,
                "bus": settings.bus, "loop_lag": lag.snapshot()}

    async def run() -> None:
        container = Container(settings)
        await container.store.migrate()
        await container.bus.start()
        await container.writer.replay()  # agent runs a killed worker left in its journal
        port = settings.metrics_port if metrics_port is None else metrics_port
        server = MetricsServer(host=settings.metrics_host, port=port, health=health)
        await server.start()
        console.print(f"metrics on http://{settings.metrics_host}:{server.port}/metrics")
        lag_task = asyncio.create_task(lag.run())  # wingman_event_loop_lag_seconds of this process
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(workers):
                    tg.create_task(container.run_agents())
        finally:
            lag_task.cancel()
            await server.aclose()
            await container.aclose()
            tracing.shutdown()

    console.print(f"[bold]wingman agents[/] x{workers} on bus={settings.bus}")
    asyncio.run(run())


@kb_app.command("add")
def kb_add(
    paths: Annotated[list[Path], typer.Argument(help="Markdown, text or PDF files")],
    email: Annotated[str | None, typer.Option(help="owner (default: the local user)")] = None,
) -> None:
    """Add documents to a user's knowledge base."""
    from rich.progress import Progress

    from wingman.container import Container
    from wingman.errors import WingmanError

    settings = Settings()

    async def run() -> int:
        container = Container(settings)
        await container.store.migrate()
        try:
            if email:
                record = await container.store.get_user_by_email(email)
                if record is None:
                    console.print(f"[red]no user {email}[/]")
                    return 1
            else:
                record = await container.store.ensure_local_user()
            failed = 0
            with Progress(console=console) as progress:
                task = progress.add_task("indexing", total=len(paths))
                for path in paths:
                    try:
                        doc = await container.knowledge.add_document(
                            tenant=record.workspace_id,
                            filename=path.name,
                            data=path.read_bytes(),
                            content_type=None,
                            added_by=record.id,
                        )
                        progress.console.print(f"[green]added[/] {path.name} ({doc.id})")
                    except (OSError, WingmanError) as exc:
                        failed += 1
                        progress.console.print(f"[red]skipped[/] {path}: {exc}")
                    progress.advance(task)
            return 1 if failed else 0
        finally:
            await container.aclose()

    raise typer.Exit(code=asyncio.run(run()))


@kb_app.command("list")
def kb_list(email: Annotated[str | None, typer.Option()] = None) -> None:
    """List a user's knowledge-base documents."""
    from wingman.container import Container

    settings = Settings()

    async def run() -> None:
        container = Container(settings)
        await container.store.migrate()
        try:
            user = (
                await container.store.get_user_by_email(email)
                if email
                else await container.store.ensure_local_user()
            )
            if user is None:
                console.print(f"[red]no user {email}[/]")
                return
            for doc in await container.store.list_documents(workspace_id=user.workspace_id):
                console.print(f"{doc.id}  {doc.filename}")
        finally:
            await container.aclose()

    asyncio.run(run())


@shards_app.command("list")
def shards_list() -> None:
    """Each shard with its replicas and tenant count (read from replicas: may lag a little)."""
    from wingman.store.moves import shard_overview
    from wingman.store.repos import Store

    async def run() -> None:
        store = Store.from_settings(Settings())
        try:
            await store.migrate()
            for info in await shard_overview(store):
                moving = f", {info.moving_in} moving in" if info.moving_in else ""
                console.print(f"{info.name}  replicas={info.replicas}  tenants={info.tenants}{moving}")
        finally:
            await store.aclose()

    asyncio.run(run())


@shards_app.command("pin")
def shards_pin() -> None:
    """Write every tenant's current shard down; run before adding a shard, so no tenant's
    history seems to vanish when the hash changes (new tenants are pinned as they sign up)."""
    from wingman.store.placement import pin_all
    from wingman.store.repos import Store

    async def run() -> None:
        store = Store.from_settings(Settings())
        try:
            await store.migrate()
            console.print(f"[green]{await pin_all(store.router)} tenants pinned[/]")
        finally:
            await store.aclose()

    asyncio.run(run())


@shards_app.command("move-tenant")
def shards_move_tenant(
    tenant: Annotated[str, typer.Argument(help="the tenant: a workspace id, or a member's email")],
    target: Annotated[str, typer.Argument(help="the shard to move it to (a WINGMAN_DATABASE_SHARDS name)")],
) -> None:
    """Copy every row of a tenant to another shard, switch its placement, delete the old copy.
    Refused while the tenant has a live call; safe to run again after an interruption."""
    from wingman.errors import WingmanError
    from wingman.store.moves import move_tenant
    from wingman.store.repos import Store

    async def run() -> int:
        store = Store.from_settings(Settings())
        try:
            await store.migrate()
            user = await store.get_user_by_email(tenant) if "@" in tenant else None
            workspace_id = user.workspace_id if user else tenant
            report = await move_tenant(store, tenant=workspace_id, target=target, progress=console.print)
        except WingmanError as exc:
            console.print(f"[red]move refused ({exc.code}):[/] {exc}")
            return 1
        finally:
            await store.aclose()
        if report.copied:
            moved = f"{sum(report.copied.values())} rows moved from {report.source}"
        else:
            moved = f"already there; {sum(report.leftovers.values())} leftover rows removed"
        console.print(f"[green]{workspace_id} lives on {target}[/] ({moved})")
        return 0

    raise typer.Exit(code=asyncio.run(run()))


def main() -> None:
    app()
