"""Fault injection: latency, error answers, hangs and "commit then fail".

Rules are matched per request (operation glob, path glob, method) and fire with
their ``rate`` drawn from one seeded random generator, so a run is repeatable.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

__all__ = ["FaultKind", "FaultRule", "Faults"]

FaultKind = Literal["latency", "error", "timeout", "commit_then_fail", "late"]
_KINDS = ("latency", "error", "timeout", "commit_then_fail", "late")


@dataclass(frozen=True, kw_only=True)
class FaultRule:
    """One fault.

    - ``latency``: wait ``seconds`` before answering.
    - ``error``: answer ``status`` without doing anything (429 carries ``Retry-After``).
    - ``timeout``: hang ``seconds`` (past any sane client timeout) before answering 504.
    - ``commit_then_fail``: do the write, then answer ``status`` or, with ``drop``,
      cut the connection: the change is made but the caller never learns it.
    - ``late``: do the request ``seconds`` later, even when the caller has given up by
      then (Jira does not cancel a request whose client timed out): a create answered
      after the client's timeout still creates the issue.

    ``route`` is a glob on the operation (``"POST /issue"``) or on the path;
    ``remaining`` bounds how many times the rule fires (None: forever).
    """

    kind: FaultKind
    status: int = 500
    rate: float = 1.0
    route: str | None = None
    method: str | None = None
    seconds: float = 0.0
    retry_after: int = 1
    drop: bool = False
    remaining: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """A rule from an admin request body; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")  # noqa: TRY004 - callers catch ValueError
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        if data.get("kind") not in _KINDS:
            raise ValueError(f"'kind' must be one of {list(_KINDS)}")
        rule = cls(**data)
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError("'rate' must be between 0 and 1")
        if not 400 <= rule.status <= 599:
            raise ValueError("'status' must be an HTTP error status (400-599)")
        return rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The active fault rules and the seeded generator deciding when they fire."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - repeatable test faults, not security
        self._ids = itertools.count(1)
        self.rules: dict[int, FaultRule] = {}

    def add(self, rule: FaultRule) -> int:
        """Activate ``rule``; returns its id (for :meth:`remove`)."""
        rule_id = next(self._ids)
        self.rules[rule_id] = rule
        return rule_id

    def remove(self, rule_id: int) -> None:
        self.rules.pop(rule_id, None)

    def clear(self) -> None:
        self.rules.clear()

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def chance(self, ratio: float) -> bool:
        """A seeded coin flip (also used for HTML 429 bodies)."""
        return ratio > 0 and self._rng.random() < ratio

    def pick(
        self, kinds: tuple[str, ...], operation: str, method: str, path: str
    ) -> list[FaultRule]:
        """The rules of ``kinds`` that fire for this request (consuming ``remaining``)."""
        fired: list[FaultRule] = []
        for rule_id, rule in list(self.rules.items()):
            if rule.kind not in kinds:
                continue
            if rule.method and rule.method.upper() != method.upper():
                continue
            if rule.route and not (
                fnmatch.fnmatchcase(operation, rule.route) or fnmatch.fnmatchcase(path, rule.route)
            ):
                continue
            if rule.rate < 1.0 and not self.chance(rule.rate):
                continue
            if rule.remaining is not None:
                if rule.remaining <= 1:
                    del self.rules[rule_id]
                else:
                    self.rules[rule_id] = replace(rule, remaining=rule.remaining - 1)
            fired.append(rule)
        return fired
