"""The ``syncengine`` command line.

Every command loads the configuration first: a config error prints one line per
problem and exits 2 before anything binds a port or touches the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncengine.entrypoints.cli_groups import add_group_commands
from syncengine.entrypoints.cli_jira import add_jira_commands
from syncengine.entrypoints.cli_ops import add_ops_commands
from syncengine.entrypoints.config_display import display_settings
from syncengine.errors import CannotListen, ConfigError, SyncEngineError
from syncengine.settings import Settings, load_settings

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

Handler = Callable[[argparse.Namespace, Settings], int]


def _echo(line: str) -> None:
    print(line, flush=True)


# How long ``serve`` or ``worker`` waits for the bundled simulator's file, which a
# CLI command (doctor, ticket) may hold for a moment.
SIMULATOR_LOCK_WAIT = 10.0


def _run(settings: Settings, *, api: bool, background: bool) -> int:
    from syncengine.entrypoints.server import bind_listener

    if not api:
        return _run_bound(settings, None, background=background)
    if settings.workers > 1:
        _check_workers(settings)
    # Bound before anything is generated or printed: a taken port costs nothing else.
    listener = bind_listener(settings.host, settings.port, reuse_port=settings.workers > 1)
    try:
        if settings.port == 0:  # the system chose: links and messages name its choice
            settings = settings.model_copy(update={"port": listener.getsockname()[1]})
        if settings.workers > 1:
            return _run_workers(settings, listener, background=background)
        return _run_bound(settings, listener, background=background)
    finally:
        listener.close()


def _check_workers(settings: Settings) -> None:
    """Raise SyncEngineError when ``settings.workers`` processes cannot serve here."""
    from syncengine.entrypoints.workers import can_fork

    if not can_fork():
        raise SyncEngineError("workers above 1 run on Linux only; set workers = 1 here")
    simulated = sorted(s for s, p in settings.projects.items() if p.jira.simulated)
    if simulated:
        raise SyncEngineError(
            f"workers = {settings.workers}, but project(s) {', '.join(simulated)} use the "
            "bundled Jira simulator, which lives in one process: set their jira.url to a real "
            "Jira or a `syncengine jira-sim` server, or run one worker"
        )


def _run_workers(settings: Settings, listener: socket.socket, *, background: bool) -> int:
    """Serve ``listener`` from ``settings.workers`` forked processes (entrypoints.workers):
    worker 0 runs the background work when ``background``, the others the API only."""
    from syncengine.bootstrap import with_generated_admin
    from syncengine.bootstrap.startup import with_session_secret
    from syncengine.entrypoints.server import bind_listener
    from syncengine.entrypoints.workers import Supervisor
    from syncengine.metrics import count_across_processes

    # Once, here: every worker signs cookies with the same key and knows the same admin.
    settings, sign_in = with_generated_admin(settings)
    settings = with_session_secret(settings, _echo)
    count = settings.workers
    counted = Path(tempfile.mkdtemp(prefix="syncengine-metrics-"))  # all count; /metrics sums

    def main(index: int, ready: Callable[[], None]) -> int:
        # Each worker listens on a socket of its own (SO_REUSEPORT): the kernel spreads the
        # connections over them. On one shared socket, the worker that woke first took every
        # connection waiting (uvloop accepts all it can), so a few keep-alive clients mostly
        # landed on one worker. The supervisor's socket stays bound, holding the port.
        listener.close()
        own = bind_listener(settings.host, settings.port, reuse_port=True)
        count_across_processes(counted)
        role = _Role(index=index, ready=ready, metrics=counted)
        return _run_bound(settings, own, background=background and index == 0, role=role)

    def all_ready() -> None:
        _echo(f"syncengine listening on http://{settings.host}:{settings.port} ({count} workers)")
        if sign_in is not None:
            sign_in.announce(_echo)

    try:
        code = Supervisor(
            count, main, echo=_echo, on_ready=all_ready, grace_seconds=settings.stop_grace_seconds
        ).run()
    finally:
        shutil.rmtree(counted, ignore_errors=True)
    _echo("syncengine stopped")
    return code


@dataclass(frozen=True)
class _Role:
    """One of several workers: its number (0 runs the background work and says what it
    prepared) and what to call once it listens."""

    index: int
    ready: Callable[[], None]
    metrics: Path  # the folder all the workers count into


def _quiet(_line: str) -> None:
    """A worker after the first keeps still: worker 0 says what they all would."""


def _run_bound(
    settings: Settings,
    listener: socket.socket | None,
    *,
    background: bool,
    role: _Role | None = None,
) -> int:
    """Run with the API on ``listener`` (bound, not yet listening), or without an API.

    ``role``: this process is one of several workers (``settings`` already hold the
    generated admin and session key, and the supervisor says "listening").
    """
    from syncengine.bootstrap import bootstrap, prepare_projects, with_generated_admin
    from syncengine.bootstrap.startup import with_session_secret
    from syncengine.bootstrap.values import server_limits
    from syncengine.entrypoints.server import run_served, serve_app
    from syncengine.logs import configure_logging
    from syncengine.web import create_app

    api = listener is not None
    sign_in = None
    say = _echo if role is None or role.index == 0 else _quiet
    if api and role is None:
        settings, sign_in = with_generated_admin(settings)
        settings = with_session_secret(settings, _echo)
    configure_logging(
        settings.log_level, json_lines=settings.log_json, secrets=settings.secret_values()
    )

    async def run() -> int:
        container = await bootstrap(
            settings,
            simulator_lock_wait=SIMULATOR_LOCK_WAIT if background else 0.0,
            metrics_shared=role.metrics if role is not None else None,
        )
        try:
            sim = container.simulator
            if background and sim is not None and not (sim.state_file and sim.state_file.writable):
                where = sim.state_file.path if sim.state_file else settings.data_dir
                print(
                    f"error: another syncengine process runs the bundled Jira simulator in "
                    f"{where}; stop it first (with several processes, set jira.url to a real "
                    "Jira or a `syncengine jira-sim` server)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            await prepare_projects(container, say)
            ended = await container.web.sessions.end_stale()
            if ended:
                say(
                    f"{ended} dashboard session(s) ended: expired, or their user or password "
                    "changed"
                )
            for record in await container.projects.all():
                say(f"project {record.slug}: id {record.id} (the project number in a Sentry DSN)")
            if sim is not None:
                say(
                    f"Jira: the bundled simulator (kept in {settings.data_dir}); its issues "
                    f"are at {settings.effective_public_url}/jira/browse/<KEY>"
                )
            if api:
                app = create_app(
                    container.web, background=container.background if background else None
                )
                url = f"http://{settings.host}:{settings.port}"

                def started() -> None:
                    if role is not None:
                        role.ready()
                        return
                    _echo(f"syncengine listening on {url}")
                    if sign_in is not None:
                        sign_in.announce(_echo)

                await serve_app(
                    app,
                    host=settings.host,
                    port=settings.port,
                    limits=server_limits(settings),
                    on_started=started,
                    listener=listener,
                )
                if role is None:
                    _echo("syncengine stopped")
            else:
                await _run_background_only(container)
        finally:
            await container.aclose()
        return EXIT_OK

    return run_served(run())


def _listening(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with ``--host`` and ``--port`` applied (links follow them too)."""
    changed: dict[str, Any] = {}
    if args.host:
        changed["host"] = args.host
    if args.port is not None:
        changed["port"] = args.port
    if args.workers is not None:
        from syncengine.entrypoints.workers import MAX_WORKERS

        if not 1 <= args.workers <= MAX_WORKERS:
            raise SyncEngineError(f"--workers must be 1 to {MAX_WORKERS}, not {args.workers}")
        changed["workers"] = args.workers
    return settings.model_copy(update=changed) if changed else settings


async def _run_background_only(container: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    container.start_background()
    _echo("syncengine worker running (outbox and periodic jobs); stop with SIGTERM")
    await stop.wait()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API, the outbox worker and the periodic jobs in this process."""
    return _run(_listening(settings, args), api=True, background=True)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API only (no outbox worker, no periodic jobs)."""
    return _run(_listening(settings, args), api=True, background=False)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the outbox worker and the periodic jobs without the API."""
    return _run(settings, api=False, background=True)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the database schema up to date."""
    from syncengine.store.migrate import current_revision, upgrade

    url = settings.effective_database_url
    upgrade(url, args.revision)
    _echo(f"database at revision {current_revision(url)}")
    return EXIT_OK


def cmd_db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Take the database schema back to a revision."""
    from syncengine.store.migrate import current_revision, downgrade

    url = settings.effective_database_url
    downgrade(url, args.revision)
    _echo(f"database at revision {current_revision(url) or 'base (no tables)'}")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    """Say which revision the database is at, and whether that is the code's newest."""
    from syncengine.store.migrate import current_revision, head_revision

    current, head = current_revision(settings.effective_database_url), head_revision()
    if current == head:
        _echo(f"database at revision {current} (head)")
    else:
        _echo(f"database at revision {current or 'base'}; the code's head is {head}")
    return EXIT_OK


def cmd_db_revision(args: argparse.Namespace, settings: Settings) -> int:
    """Write the next migration, autogenerated from store/tables.py (contributors)."""
    from syncengine.store.migrate import new_revision

    path = new_revision(args.message, autogenerate=not args.empty)
    _echo(f"wrote {path}: read it, complete it, and test upgrade and downgrade")
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the configuration and print the effective settings, secrets masked."""
    shown: Any = display_settings(settings)
    _echo(json.dumps(shown, indent=2, default=str, ensure_ascii=False))
    _echo("configuration OK")
    return EXIT_OK


def cmd_user_hash_password(args: argparse.Namespace) -> int:
    """Print the argon2 hash of a password read from stdin (piped) or typed twice (getpass)."""
    import getpass

    from syncengine.web.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ; nothing was hashed", file=sys.stderr)
            return EXIT_FAILED
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("error: empty password; type one, or pipe it on stdin", file=sys.stderr)
        return EXIT_FAILED
    if len(password) < 12:
        print("warning: passwords under 12 characters are easy to guess", file=sys.stderr)
    _echo(hash_password(password))
    return EXIT_OK


def cmd_user_sign_out(args: argparse.Namespace, settings: Settings) -> int:
    """End every session of one dashboard user (after a password change, a lost laptop)."""
    from syncengine.bootstrap import bootstrap

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            ended = await container.web.sessions.end_all(args.name)
        finally:
            await container.aclose()
        _echo(f"{args.name}: {ended} session(s) ended")
        return EXIT_OK

    return asyncio.run(run())


def cmd_jira_sim(args: argparse.Namespace) -> int:
    """Serve a simulated Jira site (seeded with CRASH and SUP unless --no-seed).

    Needs no syncengine configuration: it stands in for Jira, not for syncengine.
    """
    from syncengine.entrypoints.server import bind_listener
    from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN

    if bool(args.user) != bool(args.token):
        print("config error: jira-sim: give --user and --token together", file=sys.stderr)
        return EXIT_CONFIG
    login, token = args.user or DEFAULT_LOGIN, args.token or DEFAULT_TOKEN
    base_url = f"http://{args.host}:{args.port}"
    if args.search_lag < 0:
        print("config error: jira-sim: --search-lag cannot be negative", file=sys.stderr)
        return EXIT_CONFIG
    try:
        listener = bind_listener(args.host, args.port, configured=False)
    except CannotListen as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    with listener:
        return _serve_simulator(args, listener, login=login, token=token, base_url=base_url)


def _serve_simulator(
    args: argparse.Namespace, listener: socket.socket, *, login: str, token: str, base_url: str
) -> int:
    from typing import cast

    from fastapi import FastAPI

    from syncengine.entrypoints.server import serve_app
    from syncengine.jira.simulator import create_simulator

    sim = create_simulator(
        args.flavour,
        seed=not args.no_seed,
        login=login,
        token=token,
        base_url=base_url,
        state_path=args.state_dir,
        search_lag=args.search_lag,
    )
    if sim.state_file is not None and not sim.state_file.writable:
        print(f"error: another process serves {args.state_dir}; stop it first", file=sys.stderr)
        sim.close()
        return EXIT_FAILED
    if args.no_seed and args.user:
        sim.add_user(name=login.split("@", maxsplit=1)[0], email=login, token=token, admin=True)
    shown = f"{token[:4]}…{token[-2:]}" if len(token) > 8 else "…"
    if args.search_lag:
        _echo(f"JQL search shows writes {args.search_lag:g}s late (reconcileIssues: at once)")
    if args.no_seed and not args.user:
        _echo("empty site: no projects and no users (add users with POST /_sim/users)")
    else:
        who = sim.user(login)
        shown_login = who.email if args.flavour == "cloud" else who.name
        seeded = "" if args.no_seed else "; projects CRASH, SUP"
        _echo(f"user {shown_login}, token {shown}{seeded}")
    if sim.state_file is not None:
        _echo(f"issues kept in {sim.state_file.path} (a restart keeps them)")
    try:
        # serve_app only hands the app to uvicorn: any ASGI app is served the same way.
        asyncio.run(
            serve_app(
                cast(FastAPI, sim.app),
                host=args.host,
                port=args.port,
                on_started=lambda: _echo(
                    f"Jira simulator ({args.flavour}) listening on {base_url}"
                ),
                listener=listener,
            )
        )
    finally:
        sim.close()
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Import native reports from JSON Lines files (``-`` for stdin) into the store."""
    from syncengine.bootstrap import bootstrap
    from syncengine.ingest.importer import Progress, import_files

    slug = args.project or (next(iter(settings.projects)) if len(settings.projects) == 1 else None)
    if slug is None:
        names = ", ".join(settings.projects) or "none configured"
        print(f"error: name the project with --project ({names})", file=sys.stderr)
        return EXIT_FAILED

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            project = await container.projects.get(slug)
            if project is None and slug in settings.projects:
                configured = settings.projects[slug]
                project = await container.projects.ensure(
                    slug,
                    name=configured.name,
                    integration_active=configured.integration_active,
                    now=container.clock(),
                )
            if project is None:
                print(f"error: no project {slug!r}: configure it first", file=sys.stderr)
                return EXIT_FAILED
            summary = await import_files(
                args.files,
                sink=container.ingest,
                project_id=project.id,
                context=lambda: container.intake.contexts.for_project(slug, container.clock()),
                progress=Progress(),
            )
        finally:
            await container.aclose()
        for line in summary.lines():
            _echo(line)
        return EXIT_OK if not summary.rejected else EXIT_FAILED

    try:
        return asyncio.run(run())
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="syncengine", description="Crash reports in, Jira tickets out, kept in sync."
    )
    parser.add_argument(
        "--config", help="config file (default: $SYNCENGINE_CONFIG or config/syncengine.toml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, handler, text in (
        ("serve", cmd_serve, "run the API, the outbox worker and the periodic jobs"),
        ("api", cmd_api, "run the API only"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", help="listen address (overrides the config)")
        sub.add_argument("--port", type=int, help="listen port (overrides the config)")
        sub.add_argument(
            "--workers",
            type=int,
            help="processes serving the port (overrides the config's `workers`, default 1)",
        )
        sub.set_defaults(handler=handler)
    commands.add_parser(
        "worker", help="run the outbox worker and periodic jobs, no API"
    ).set_defaults(handler=cmd_worker)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="revert migrations down to a revision")
    down.add_argument("revision", help="where to stop: -1 (one step), a revision id, or base")
    down.set_defaults(handler=cmd_db_downgrade)
    db.add_parser("current", help="show the database's revision").set_defaults(
        handler=cmd_db_current
    )
    rev = db.add_parser("revision", help="write the next migration (autogenerated)")
    rev.add_argument("-m", "--message", required=True, help="what the migration changes")
    rev.add_argument("--empty", action="store_true", help="no autogenerate: an empty migration")
    rev.set_defaults(handler=cmd_db_revision)

    sim = commands.add_parser("jira-sim", help="serve a simulated Jira for tests and demos")
    sim.add_argument("--port", type=int, required=True, help="listen port")
    sim.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    sim.add_argument("--flavour", choices=["cloud", "datacenter"], default="cloud")
    sim.add_argument("--no-seed", action="store_true", help="start empty: no projects, no users")
    sim.add_argument("--user", help="e-mail/username of the seeded API user")
    sim.add_argument("--token", help="API token (or PAT) of that user")
    sim.add_argument(
        "--state-dir",
        type=Path,
        help="keep the site in this folder, so that a restart keeps its issues",
    )
    sim.add_argument(
        "--search-lag",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds a write takes to show in JQL search, as on Jira Cloud (default 0)",
    )
    sim.set_defaults(standalone=cmd_jira_sim)

    config = commands.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, metavar="ACTION"
    )
    config.add_parser("check", help="validate and print the effective settings").set_defaults(
        handler=cmd_config_check
    )

    ingest = commands.add_parser(
        "ingest", help="import crash reports from JSON Lines files (exit 1 if any is rejected)"
    )
    ingest.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines file, .gz, or -")
    ingest.add_argument("--project", help="project slug (default: the only configured one)")
    ingest.set_defaults(handler=cmd_ingest)
    user = commands.add_parser("user", help="dashboard users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user.add_parser(
        "hash-password",
        help="hash a password for [web.users.<name>] password_hash (reads stdin or asks)",
    ).set_defaults(standalone=cmd_user_hash_password)
    sign_out = user.add_parser(
        "sign-out", help="end every dashboard session of a user, in every process, now"
    )
    sign_out.add_argument("name", help="the login name ([web.users.<name>])")
    sign_out.set_defaults(handler=cmd_user_sign_out)

    add_group_commands(commands)
    add_ops_commands(commands)
    add_jira_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``syncengine`` console script."""
    args = build_parser().parse_args(argv)
    standalone: Callable[[argparse.Namespace], int] | None = getattr(args, "standalone", None)
    if standalone is not None:  # a command that needs no configuration (jira-sim, user)
        try:
            return standalone(args)
        except KeyboardInterrupt:
            return EXIT_OK
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except SyncEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
