"""Operator commands: ``integration``, ``doctor`` and ``ticket``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from syncengine.settings import Settings

__all__ = ["add_ops_commands", "cmd_doctor", "cmd_integration", "cmd_ticket"]

EXIT_OK, EXIT_FAILED = 0, 1


def _echo(line: str) -> None:
    print(line, flush=True)


def cmd_integration(args: argparse.Namespace, settings: Settings) -> int:
    """Show or switch the Active/Passive state of project integrations."""
    from syncengine.bootstrap import bootstrap, prepare_projects

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            await prepare_projects(container, _echo, only_new=True)
            projects = await container.projects.all()
            if args.project:
                projects = [p for p in projects if p.slug == args.project]
                if not projects:
                    known = ", ".join(settings.projects) or "none"
                    print(
                        f"error: no project {args.project!r} (configured: {known})", file=sys.stderr
                    )
                    return EXIT_FAILED
            if args.action in ("activate", "deactivate"):
                active = args.action == "activate"
                actor = f"cli:{os.environ.get('USER', 'unknown')}"
                for project in projects:
                    await container.projects.set_active(
                        project.slug, active, actor=actor, now=container.clock()
                    )
                projects = [
                    p
                    for p in await container.projects.all()
                    if p in projects or p.slug in {q.slug for q in projects}
                ]
            for project in projects:
                pending = await container.outbox.list(project_id=project.id)
                state = "active" if project.integration_active else "passive"
                _echo(f"{project.slug}: {state} ({len(pending)} outbox item(s) waiting)")
            return EXIT_OK
        finally:
            await container.aclose()

    return asyncio.run(run())


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Check each project's Jira set-up; exit 0 only when every check passes."""
    from syncengine.bootstrap import bootstrap, prepare_projects
    from syncengine.sync.doctor import as_json

    slugs = [args.project] if args.project else list(settings.projects)
    unknown = [s for s in slugs if s not in settings.projects]
    if unknown or not slugs:
        known = ", ".join(settings.projects) or "none configured"
        print(
            f"error: no project {unknown[0] if unknown else ''!r} (configured: {known})",
            file=sys.stderr,
        )
        return EXIT_FAILED

    async def run() -> dict[str, Any]:
        container = await bootstrap(settings)
        try:
            await prepare_projects(container, _echo, only_new=True)
            return {slug: await container.doctor.run(slug) for slug in slugs}
        finally:
            await container.aclose()

    results = asyncio.run(run())
    if args.json:
        _echo(json.dumps(as_json(results), indent=2, ensure_ascii=False))
    else:
        for slug, checks in results.items():
            _echo(f"project {slug}")
            for check in checks:
                _echo(f"  {'✓' if check.ok else '✗'} {check.name} — {check.detail}")
                if not check.ok and check.fix:
                    _echo(f"      fix: {check.fix}")
    return EXIT_OK if as_json(results)["ok"] else EXIT_FAILED


def cmd_ticket(args: argparse.Namespace, settings: Settings) -> int:
    """Create a group's ticket now, or link the group to an existing Jira issue."""
    from syncengine.bootstrap import bootstrap, prepare_projects

    actor = f"cli:{os.environ.get('USER', 'unknown')}"

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            await prepare_projects(container, _echo, only_new=True)
            if args.ticket_command == "create":
                _echo(await container.manual.create_now(args.group, actor=actor))
                _echo("a running `syncengine serve` or `worker` sends it to Jira")
            else:
                link = await container.manual.link_existing(args.group, args.key, actor=actor)
                _echo(f"group {args.group} is linked to {link.issue_key}")
                _echo(
                    "a running `syncengine serve` or `worker` adds its back-link "
                    "(a comment and a link to the group page)"
                )
            return EXIT_OK
        finally:
            await container.aclose()

    return asyncio.run(run())


def add_ops_commands(commands: Any) -> None:
    """Register the operator commands on the top-level subparsers."""
    integration = commands.add_parser(
        "integration", help="show or switch a project's Jira integration (Active/Passive)"
    )
    integration.add_argument("action", choices=["status", "activate", "deactivate"])
    integration.add_argument("project", nargs="?", help="project slug (default: all)")
    integration.set_defaults(handler=cmd_integration)

    doctor = commands.add_parser("doctor", help="check the Jira set-up and say what to fix")
    doctor.add_argument("--project", help="project slug (default: every project)")
    doctor.add_argument("--json", action="store_true", help="print the results as JSON")
    doctor.set_defaults(handler=cmd_doctor)

    ticket = commands.add_parser("ticket", help="a group's Jira ticket, by hand").add_subparsers(
        dest="ticket_command", required=True, metavar="ACTION"
    )
    create = ticket.add_parser("create", help="queue the group's ticket now, whatever the rules")
    create.add_argument("group", type=int, help="group id")
    create.set_defaults(handler=cmd_ticket)
    link = ticket.add_parser("link", help="link the group to an existing Jira issue")
    link.add_argument("group", type=int, help="group id")
    link.add_argument("key", help="the issue key, e.g. CRASH-12")
    link.set_defaults(handler=cmd_ticket)
