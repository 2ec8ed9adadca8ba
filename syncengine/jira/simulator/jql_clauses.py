"""One JQL clause (``field op value``) turned into a predicate over issues."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from syncengine.jira.simulator.errors import bad_request
from syncengine.jira.simulator.model import FieldDef, Issue
from syncengine.jira.simulator.state import SimState

__all__ = ["build_clause", "custom_clause", "custom_field", "parse_date"]

Predicate = Callable[[Issue], bool]
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_PERIOD = re.compile(r"^([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)$")
_CF = re.compile(r"^(?:cf\[(\d+)\]|customfield_(\d+))$", re.IGNORECASE)


def _unsupported(field: str, op: str) -> Exception:
    return bad_request(
        f"Error in the JQL Query: the operator '{op}' is not supported by the field '{field}'."
    )


def _membership(
    op: str, test: Callable[[Issue, str | None], bool], values: list[str | None]
) -> Predicate:
    if op in ("=", "IN", "IS"):
        return lambda i: any(test(i, v) for v in values)
    if op in ("!=", "NOT IN", "IS NOT"):
        return lambda i: not any(test(i, v) for v in values)
    raise ValueError(op)


def _project_ids(state: SimState, values: list[str | None]) -> None:
    for value in values:
        if value is None:
            continue
        if not any(
            value.upper() in (p.key, p.id) or value == p.name for p in state.projects.values()
        ):
            raise bad_request(f"The value '{value}' does not exist for the field 'project'.")


def _property_value(issue: Issue, name: str, path: list[str]) -> Any:
    value: Any = issue.properties.get(name)
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def build_clause(  # noqa: PLR0911, PLR0912 - one branch per supported JQL field
    state: SimState, field: str, op: str, values: list[str | None]
) -> Predicate:
    """The predicate for one clause; Jira's 400 for unknown values or unsupported operators."""
    lowered = field.lower()
    equality = ("=", "!=", "IN", "NOT IN", "IS", "IS NOT")
    if lowered.startswith("issue.property["):
        name, _, rest = field[len("issue.property[") :].partition("]")
        path = [p for p in rest.split(".") if p]
        if op not in equality:
            raise _unsupported(field, op)
        return _membership(
            op,
            lambda i, v: (
                _property_value(i, name, path) is None
                if v is None
                else str(_property_value(i, name, path)) == v
                or (
                    isinstance(_property_value(i, name, path), list)
                    and v in map(str, _property_value(i, name, path))
                )
            ),
            values,
        )
    if lowered in ("updated", "created", "updateddate", "createddate"):
        attr = "updated" if lowered.startswith("updated") else "created"
        if op not in _ORDERING and op not in ("=", "!="):
            raise _unsupported(field, op)
        if values[0] is None:
            raise _unsupported(field, op)
        moment = parse_date(field, values[0], state.clock.now())
        compare = _ORDERING.get(op) or (operator.eq if op == "=" else operator.ne)
        return lambda i: bool(compare(getattr(i, attr), moment))
    if op not in equality:
        raise _unsupported(field, op)
    if lowered == "project":
        _project_ids(state, values)
        wanted_ids = {
            p.id
            for p in state.projects.values()
            for v in values
            if v is not None and (v.upper() in (p.key, p.id) or v == p.name)
        }
        return _membership(op, lambda i, _v: i.project_id in wanted_ids, [None])
    if lowered in ("key", "issuekey"):
        for v in values:
            if v is not None and state.find_issue(v) is None:
                raise bad_request(f"An issue with key '{v}' does not exist for field 'key'.")

        def has_key(i: Issue, v: str | None) -> bool:
            return v is not None and (
                v.upper() == i.key or v.upper() in i.previous_keys or v == i.id
            )

        return _membership(op, has_key, values)
    if lowered == "id":
        return _membership(op, lambda i, v: v == i.id, values)
    if lowered == "labels":
        return _membership(
            op,
            lambda i, v: (
                (not i.fields.get("labels")) if v is None else v in (i.fields.get("labels") or [])
            ),
            values,
        )
    if lowered == "status":
        for v in values:
            if v is not None and state.status_by_ref(v) is None:
                raise bad_request(f"The value '{v}' does not exist for the field 'status'.")
        wanted = {state.status_by_ref(v).id for v in values if v is not None}  # type: ignore[union-attr]
        return _membership(op, lambda i, _v: i.status_id in wanted, [None])

    # statusCategory: by key, name or id
    def category_of(i: Issue, v: str | None) -> bool:
        cat = state.statuses[i.status_id].category
        return v is not None and v.lower() in (cat.key, cat.name.lower(), str(cat.id))

    known = (
        {s.category.key for s in state.statuses.values()}
        | {s.category.name.lower() for s in state.statuses.values()}
        | {str(s.category.id) for s in state.statuses.values()}
    )
    for v in values:
        if v is not None and v.lower() not in known:
            raise bad_request(f"The value '{v}' does not exist for the field 'statusCategory'.")
    return _membership(op, category_of, values)


def parse_date(field: str, raw: str, now: datetime) -> datetime:
    """A JQL date: absolute in Jira's formats (UTC) or a period like ``-5m``, ``-1d 2h``."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=now.tzinfo)
        except ValueError:
            continue
    match = _PERIOD.match(raw.strip())
    if match:
        total = timedelta()
        units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
        for amount, unit in re.findall(r"(\d+)\s*([wdhm])", match.group(2)):
            total += timedelta(**{units[unit]: int(amount)})
        return now - total if match.group(1) == "-" else now + total
    raise bad_request(
        f"Date value '{raw}' for field '{field}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
        "or a period format e.g. '-5d', '4w 2d'."
    )


def custom_field(state: SimState, ref: str) -> FieldDef | None:
    """The custom field a JQL reference names: ``cf[N]``, ``customfield_N`` or its name."""
    match = _CF.match(ref)
    if match:
        return state.fields.get(f"customfield_{match.group(1) or match.group(2)}")
    wanted = ref.casefold()
    return next(
        (f for f in state.fields.values() if f.custom and f.name.casefold() == wanted), None
    )


def _number(field: FieldDef, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise bad_request(f"The value '{raw}' is invalid for the field '{field.name}'.") from None


def custom_clause(field: FieldDef, op: str, values: list[str | None]) -> Predicate:
    """A clause on a number custom field: ``=``, ``!=``, ``<``…``>=``, ``IN``, ``IS [NOT] EMPTY``.

    As in Jira, an issue without a value matches only ``IS EMPTY`` (and ``!=``/``NOT IN``
    never match it either). Other custom field kinds are a clear 400.
    """
    if field.kind != "number":
        raise bad_request(
            f"Error in the JQL Query: the Jira simulator does not support searching on "
            f"'{field.name}' (a {field.kind} field); only number custom fields are searchable."
        )
    fid = field.id
    if op in ("IS", "IS NOT"):
        if values[0] is not None:
            raise _unsupported(field.name, op)
        empty = op == "IS"
        return lambda i: (i.fields.get(fid) is None) == empty
    numbers = [_number(field, v) for v in values if v is not None]
    if op in _ORDERING:
        if not numbers:
            raise _unsupported(field.name, op)
        compare, bound = _ORDERING[op], numbers[0]
        return lambda i: i.fields.get(fid) is not None and bool(compare(i.fields[fid], bound))
    if op in ("=", "IN"):
        return lambda i: i.fields.get(fid) is not None and i.fields[fid] in numbers
    if op in ("!=", "NOT IN"):
        return lambda i: i.fields.get(fid) is not None and i.fields[fid] not in numbers
    raise _unsupported(field.name, op)
