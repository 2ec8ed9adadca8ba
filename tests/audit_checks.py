"""What a convergence test asks of the audit log, whichever way it read the rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["AuditRow", "lost_without_audit"]


class AuditRow(Protocol):
    """An ``audit_log`` row: an ORM object or a row of a raw query."""

    id: int
    group_id: int | None
    actor: str
    action: str
    detail: Any


def lost_without_audit(
    rows: Sequence[AuditRow], final: Mapping[int, Mapping[str, object]], actor: str
) -> list[str]:
    """Changes ``actor`` made to a group's state or assignee that its ``final`` values lost
    with no later ``sync.conflict`` or ``sync.apply`` line for that field saying why.

    ``final``: group id → {"state": ..., "assignee": ...} as the test ended.
    """
    lost = []
    for gid, values in final.items():
        for name, value in values.items():
            mine = [
                r
                for r in rows
                if r.group_id == gid and r.action == f"group.{name}" and r.actor == actor
            ]
            if not mine or mine[-1].detail["after"] == value:
                continue
            said = [
                r
                for r in rows
                if r.group_id == gid
                and r.id > mine[-1].id
                and r.action in ("sync.conflict", "sync.apply")
                and r.detail.get("field") == name
            ]
            if not said:
                lost.append(f"group {gid} {name}: set to {mine[-1].detail['after']}, is {value}")
    return lost
