"""The ``syncengine`` command line.

Every command loads the configuration first: a config error prints one line per
problem and exits 2 before anything binds a port or touches the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from syncengine.errors import ConfigError, SyncEngineError
from syncengine.settings import Settings, display_settings, load_settings

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

Handler = Callable[[argparse.Namespace, Settings], int]


def _echo(line: str) -> None:
    print(line, flush=True)


def _secrets_of(settings: Settings) -> list[str]:
    found: list[str] = []
    if settings.admin_token:
        found.append(settings.admin_token.get_secret_value())
    for project in settings.projects.values():
        found += [t.get_secret_value() for t in project.submission_tokens]
        for secret in (project.jira.api_token, project.jira.webhook_secret):
            if secret is not None:
                found.append(secret.get_secret_value())
    return found


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API (and, once it exists, the scheduler) in this process."""
    from syncengine.bootstrap import bootstrap, prepare_projects
    from syncengine.logs import configure_logging
    from syncengine.web import create_app
    from syncengine.web.server import serve_app

    configure_logging(
        settings.log_level, json_lines=settings.log_json, secrets=_secrets_of(settings)
    )
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port

    async def run() -> None:
        container = await bootstrap(settings)
        try:
            await prepare_projects(container, _echo)
            for record in await container.projects.all():
                _echo(f"project {record.slug}: id {record.id} (the project number in a Sentry DSN)")
            app = create_app(settings, container=container)
            _echo(f"syncengine listening on http://{host}:{port}")
            await serve_app(app, host=host, port=port)
        finally:
            await container.aclose()

    asyncio.run(run())
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the database schema up to date."""
    from syncengine.store.migrate import current_revision, upgrade

    url = settings.effective_database_url
    upgrade(url, args.revision)
    _echo(f"database at revision {current_revision(url)}")
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the configuration and print the effective settings, secrets masked."""
    shown: Any = display_settings(settings)
    _echo(json.dumps(shown, indent=2, default=str, ensure_ascii=False))
    _echo("configuration OK")
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Import native reports from JSON Lines files (``-`` for stdin) into the store."""
    from syncengine.bootstrap import bootstrap
    from syncengine.ingest.importer import Progress, import_files
    from syncengine.ingest.limits import ReportContext

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
                context=lambda: ReportContext.for_project(settings, slug, container.clock()),
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

    serve = commands.add_parser("serve", help="run the API and the scheduler")
    serve.add_argument("--host", help="listen address (overrides the config)")
    serve.add_argument("--port", type=int, help="listen port (overrides the config)")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=cmd_db_upgrade)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``syncengine`` console script."""
    args = build_parser().parse_args(argv)
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
