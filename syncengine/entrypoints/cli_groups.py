"""``syncengine group resolve|reopen``: resolved-until rules set by hand.

``group resolve GROUP_ID [--until-version V | --rule-json JSON]`` resolves a group
until version V (the project's configured rule type), until a rule in
Backtrace's JSON form, or — with neither — until it is seen again.
``group reopen GROUP_ID`` reopens it. Both are audited and reach a linked issue
like any engine-side change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from syncengine.domain.resolve import InvalidRule
from syncengine.settings import Settings

__all__ = ["add_group_commands", "cmd_group"]


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"


def cmd_group(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``group resolve`` or ``group reopen``.

    Raises SyncEngineError (NotFound, InvalidRule, ...) for the CLI to print.
    """
    from syncengine.bootstrap import bootstrap

    rule_json: Any = None
    if getattr(args, "rule_json", None) is not None:
        try:
            rule_json = json.loads(args.rule_json)
        except ValueError as exc:
            raise InvalidRule([f"--rule-json is not valid JSON: {exc}"]) from exc

    async def run() -> int:
        container = await bootstrap(settings)
        try:
            manual = container.sync.manual
            if args.group_command == "reopen":
                result = await manual.reopen(args.group_id, actor=_actor())
                if result.before == result.after:
                    print(f"group {result.group_id} is already open: nothing changed", flush=True)
                    return 0
                print(f"group {result.group_id}: {result.before} → {result.after}", flush=True)
            else:
                result, rule = await manual.resolve(
                    args.group_id,
                    actor=_actor(),
                    until_version=args.until_version,
                    rule_json=rule_json,
                )
                print(
                    f"group {result.group_id}: {result.before} → {result.after}, "
                    f"resolved until {rule.describe()}",
                    flush=True,
                )
            if result.pushed:
                print("the linked Jira issue will follow (outbox)", flush=True)
            return 0
        finally:
            await container.aclose()

    return asyncio.run(run())


_EPILOG = """examples:
  syncengine group resolve 12 --until-version 2.3.0
  syncengine group resolve 12 --rule-json \\
    '[{"type": "version_ge", "field": "version", "version": "2.3.0"}]'
  syncengine group reopen 12

A rule is a JSON list of invariants; a report for which ANY holds reopens the group:
version_ge / version_gt (field, version[, scheme]), timestamp_gt (timestamp, Unix
seconds), regular_expression (field, regex), and (invariants: all must hold)."""


def add_group_commands(commands: Any) -> None:
    """Add ``group resolve|reopen`` to the CLI's subcommands."""
    group = commands.add_parser(
        "group",
        help="resolve or reopen an error group by hand",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = group.add_subparsers(dest="group_command", required=True, metavar="ACTION")
    resolve = actions.add_parser(
        "resolve",
        help="resolve a group until a version or rule",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    resolve.add_argument("group_id", type=int, metavar="GROUP_ID")
    how = resolve.add_mutually_exclusive_group()
    how.add_argument("--until-version", help="a crash in this version or later reopens it")
    how.add_argument(
        "--rule-json",
        metavar="JSON",
        help="a resolve rule: a JSON list of Backtrace invariants, any of which reopens the "
        'group, e.g. \'[{"type": "version_ge", "field": "version", "version": "2.3.0"}]\' '
        "or, to reopen on production crashes only, "
        '\'[{"type": "and", "invariants": [{"type": "version_ge", "field": "version", '
        '"version": "2.3.0"}, {"type": "regular_expression", "field": "environment", '
        '"regex": "^prod"}]}]\'',
    )
    resolve.set_defaults(handler=cmd_group)
    reopen = actions.add_parser("reopen", help="reopen a group")
    reopen.add_argument("group_id", type=int, metavar="GROUP_ID")
    reopen.set_defaults(handler=cmd_group)
