"""``syncengine jira connect|disconnect`` (OAuth) and ``syncengine secrets new-key|rotate``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from syncengine.settings import Settings

__all__ = ["add_jira_commands"]

EXIT_OK, EXIT_FAILED = 0, 1


def _echo(line: str = "") -> None:
    print(line, flush=True)


def _print_start(start: Any) -> None:
    if start.kind == "oauth1":
        _echo("In Jira: Administration → Applications → Application links → Create link")
        _echo("  (Atlassian product or 'direct application link'), then Incoming")
        _echo("  Authentication (OAuth) with:")
        _echo(f"    Consumer key:  {start.consumer_key}")
        _echo("    Consumer name: syncengine")
        _echo("    Public key:")
        for line in start.public_key.strip().splitlines():
            _echo(f"      {line}")
        if start.link_missing:
            _echo()
            _echo(f"Jira does not know this key yet ({start.problem}).")
            _echo("Create the link as above, then run this command again.")
            return
    _echo()
    _echo("Open this URL, sign in to Jira as the integration user and allow access:")
    _echo(f"  {start.authorize_url}")


def cmd_jira_connect(args: argparse.Namespace, settings: Settings) -> int:
    """Connect a project to Jira with OAuth (start, or finish with --code/--verifier)."""
    from syncengine.bootstrap import bootstrap

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            connector = container.connector
            if connector is None or args.project not in connector.credentials.setups:
                print(
                    f"error: projects.{args.project}.jira.auth is not oauth1 or oauth2 (or its "
                    "Jira section is unusable: see `syncengine config check`)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            answer = args.code or args.verifier
            if not answer:
                start = await connector.start(args.project)
                _print_start(start)
                if start.link_missing:
                    return EXIT_FAILED
                if not sys.stdin.isatty():
                    kind = "--verifier" if start.kind == "oauth1" else "--code"
                    _echo()
                    _echo(
                        f"Then run: syncengine jira connect {args.project} {kind} "
                        "'<the code, or the whole URL Jira sent the browser to>'"
                    )
                    _echo("(or let Jira send the browser back to this service's callback)")
                    return EXIT_OK
                answer = await asyncio.to_thread(
                    input, "\nPaste the code Jira shows, or the URL it sent you to: "
                )
            state = await connector.complete(
                args.project,
                code=answer if connector.setup(args.project).kind == "oauth2" else "",
                verifier=answer if connector.setup(args.project).kind == "oauth1" else "",
                operator=True,
            )
            me = await container.jira.for_project(args.project).myself()
            until = state.expires_at.date().isoformat() if state.expires_at else "no expiry"
            _echo(f"{args.project}: connected to Jira as {me.display_name} (renew by {until})")
            return await _offer_webhook(container, args.project, register=args.register_webhook)
        finally:
            await container.aclose()

    return asyncio.run(run())


async def _offer_webhook(container: Any, project: str, *, register: bool) -> int:
    """Register the project's webhook when asked (or say how, when the auth allows it)."""
    registrar = container.webhook_registrar
    plan = registrar.plan(project) if registrar is not None else None
    if plan is None:
        return EXIT_OK
    if plan.api is None:
        _echo(f"Webhook: {plan.why_not} (polling picks Jira's changes up meanwhile)")
        return EXIT_OK
    if not register:
        _echo(f"Register Jira's webhook now: syncengine jira webhook {project}")
        return EXIT_OK
    from syncengine.errors import SyncEngineError

    try:
        hooks = await registrar.register(project)
    except SyncEngineError as exc:
        print(f"error: the webhook was not registered: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for hook in hooks:
        until = hook.expires_at.date().isoformat() if hook.expires_at else "no expiry"
        _echo(f"{project}: webhook {hook.webhook_id} registered in Jira ({until})")
    return EXIT_OK


def cmd_jira_webhook(args: argparse.Namespace, settings: Settings) -> int:
    """Register (again) the project's webhook in Jira by API, where its auth allows it."""
    from syncengine.bootstrap import bootstrap

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            registrar = container.webhook_registrar
            plan = registrar.plan(args.project) if registrar is not None else None
            if plan is None:
                print(f"error: {args.project} does not sync with a set Jira", file=sys.stderr)
                return EXIT_FAILED
            if plan.api is None:
                print(f"error: {plan.why_not}", file=sys.stderr)
                return EXIT_FAILED
            return await _offer_webhook(container, args.project, register=True)
        finally:
            await container.aclose()

    return asyncio.run(run())


def cmd_jira_disconnect(args: argparse.Namespace, settings: Settings) -> int:
    """Forget a project's OAuth credential (revoke the link in Jira too)."""
    from syncengine.bootstrap import bootstrap

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            if container.connector is None:
                print("error: no project uses OAuth", file=sys.stderr)
                return EXIT_FAILED
            gone = await container.connector.disconnect(args.project)
            _echo(f"{args.project}: {'disconnected' if gone else 'was not connected'}")
            return EXIT_OK
        finally:
            await container.aclose()

    return asyncio.run(run())


def cmd_secrets_new_key(args: argparse.Namespace) -> int:
    """Print a new encryption key for SYNCENGINE_SECRET_KEY."""
    from syncengine.store.secret_box import generate_key

    _echo(generate_key())
    return EXIT_OK


def cmd_secrets_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every stored secret with the first configured key."""
    from syncengine.store.credentials import CredentialRepository
    from syncengine.store.database import Database
    from syncengine.store.secret_box import load_secret_box

    async def run() -> int:
        box = load_secret_box(
            key_env=settings.secret_key_env,
            key_file=settings.secret_key_file,
            data_dir=settings.data_dir,
        )
        db = Database(settings.effective_database_url)
        try:
            count = await CredentialRepository(db, box).reseal_all()
        finally:
            await db.aclose()
        _echo(f"{count} stored credential(s) re-encrypted with the first key")
        if box.key_count > 1:
            _echo("the older keys can now be removed from the key list")
        return EXIT_OK

    return asyncio.run(run())


def add_jira_commands(commands: Any) -> None:
    """Add ``jira`` and ``secrets`` to the CLI."""
    jira = commands.add_parser("jira", help="the Jira connection (OAuth)").add_subparsers(
        dest="jira_command", required=True, metavar="ACTION"
    )
    connect = jira.add_parser(
        "connect", help="connect a project with OAuth: prints the key and the URL to allow"
    )
    connect.add_argument("project", help="project slug")
    connect.add_argument("--code", help="OAuth 2.0: the code (or the URL Jira sent you to)")
    connect.add_argument("--verifier", help="OAuth 1.0a: the verification code Jira showed")
    connect.add_argument(
        "--register-webhook",
        action="store_true",
        help="then register Jira's webhook by API (Cloud OAuth 2.0 apps, Data Center admins)",
    )
    connect.set_defaults(handler=cmd_jira_connect)
    webhook = jira.add_parser(
        "webhook", help="register the project's webhook in Jira by API, where the auth allows"
    )
    webhook.add_argument("project", help="project slug")
    webhook.set_defaults(handler=cmd_jira_webhook)
    disconnect = jira.add_parser("disconnect", help="forget a project's OAuth credential")
    disconnect.add_argument("project", help="project slug")
    disconnect.set_defaults(handler=cmd_jira_disconnect)
    secrets = commands.add_parser(
        "secrets", help="the key that encrypts stored OAuth secrets"
    ).add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    secrets.add_parser("new-key", help="print a new key").set_defaults(
        standalone=cmd_secrets_new_key
    )
    secrets.add_parser(
        "rotate", help="re-encrypt stored secrets with the first key of SYNCENGINE_SECRET_KEY"
    ).set_defaults(handler=cmd_secrets_rotate)
