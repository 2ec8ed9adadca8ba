"""The JQL the engine sends, parsed and evaluated over the simulator's issues.

Supported: ``project``, ``key``/``issuekey``, ``id``, ``labels``, ``status``,
``statusCategory``, ``created``/``updated`` (with Jira's date formats),
``issue.property[name].path``, number custom fields (by name, ``cf[N]`` or
``customfield_N``); ``=``, ``!=``, ``IN``, ``NOT IN``, ``<``, ``<=``,
``>``, ``>=``, ``IS [NOT] EMPTY``; ``AND``/``OR``/``NOT``/parentheses;
``ORDER BY`` updated, created, key, id and number custom fields (issues without a
value last). Anything else is Jira's 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncengine.jira.simulator.errors import JiraHttpError, bad_request
from syncengine.jira.simulator.jql_clauses import build_clause, custom_clause, custom_field
from syncengine.jira.simulator.model import Issue
from syncengine.jira.simulator.state import SimState

__all__ = ["Query", "parse"]

Predicate = Callable[[Issue], bool]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<prop>issue\.property\[[^\]]+\](?:\.[A-Za-z0-9_.]+)?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>!=|>=|<=|!~|[=<>~(),])
    | (?P<word>[^\s"'=!<>~(),]+)
    )""",
    re.VERBOSE,
)
_OPERATORS = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', "
    "'IS' and 'IS NOT'."
)
_FIELDS = {
    "project",
    "key",
    "issuekey",
    "id",
    "labels",
    "status",
    "statuscategory",
    "updated",
    "created",
    "updateddate",
    "createddate",
}
_KNOWN_UNSUPPORTED = {
    "summary",
    "text",
    "description",
    "assignee",
    "reporter",
    "priority",
    "issuetype",
    "type",
    "resolution",
    "fixversion",
    "comment",
    "sprint",
}
_SORTABLE = {
    "updated": "updated",
    "created": "created",
    "key": "key",
    "issuekey": "key",
    "id": "id",
    "updateddate": "updated",
    "createddate": "created",
}


@dataclass(frozen=True, kw_only=True)
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True, kw_only=True)
class Query:
    """A parsed JQL query: which issues match and in what order."""

    predicate: Predicate
    order: tuple[tuple[str, bool], ...]
    bounded: bool = True

    def run(self, issues: list[Issue]) -> list[Issue]:
        found = [i for i in issues if self.predicate(i)]
        order = self.order or (("key_desc_default", True),)
        for name, descending in reversed(order):
            found.sort(key=_sort_key(name, descending), reverse=descending)
        return found


def _sort_key(name: str, descending: bool) -> Callable[[Issue], Any]:
    if name.startswith("customfield_"):
        # Issues without a value sort last whichever the direction.
        if descending:
            return lambda i: (i.fields.get(name) is not None, i.fields.get(name) or 0)
        return lambda i: (i.fields.get(name) is None, i.fields.get(name) or 0)
    if name in ("updated", "created"):
        return lambda i: getattr(i, name)
    if name == "id":
        return lambda i: int(i.id)
    return lambda i: (i.key.split("-")[0], int(i.key.split("-")[1]))


def _error(message: str) -> JiraHttpError:
    return bad_request(message)


def _syntax(message: str, tok: _Tok | None, text: str) -> JiraHttpError:
    pos = tok.pos + 1 if tok else len(text) + 1
    return _error(f"Error in the JQL Query: {message} (line 1, character {pos})")


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise _syntax(
                f"The character '{text[start]}' is a reserved JQL character.",
                _Tok(kind="op", text=text[start], pos=start),
                text,
            )
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append(_Tok(kind=kind, text=value, pos=match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, state: SimState, text: str) -> None:
        self.state, self.text = state, text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.upper() in words

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _syntax(
                "Expecting either a value, list or function but got end of query.", None, self.text
            )
        self.i += 1
        return tok

    def query(self) -> Query:
        predicate: Predicate = lambda _i: True  # noqa: E731 - the empty query matches all
        bounded = False
        if self.peek() is not None and not self.word("ORDER"):
            predicate = self.or_expr()
            bounded = True
        order: list[tuple[str, bool]] = []
        if self.word("ORDER"):
            self.take()
            if not self.word("BY"):
                raise _syntax("Expecting 'BY' after 'ORDER'.", self.peek(), self.text)
            self.take()
            while True:
                tok = self.take()
                name = _SORTABLE.get(tok.text.lower())
                custom = custom_field(self.state, tok.text) if name is None else None
                if custom is not None and custom.kind == "number":
                    name = custom.id
                if name is None:
                    raise _error(f"Not able to sort using field '{tok.text}'.")
                descending = False
                if self.word("ASC", "DESC"):
                    descending = self.take().text.upper() == "DESC"
                order.append((name, descending))
                comma = self.peek()
                if comma is None or comma.text != ",":
                    break
                self.take()
        extra = self.peek()
        if extra is not None:
            raise _syntax(
                f"Expecting either 'OR' or 'AND' but got '{extra.text}'.", extra, self.text
            )
        return Query(predicate=predicate, order=tuple(order), bounded=bounded)

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.word("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.word("AND"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def not_expr(self) -> Predicate:
        if self.word("NOT"):
            self.take()
            inner = self.not_expr()
            return lambda i: not inner(i)
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.take()
            inner = self.or_expr()
            close = self.peek()
            if close is None or close.text != ")":
                raise _syntax("Expecting ')' to close the group.", close, self.text)
            self.take()
            return inner
        return self.clause()

    def operator(self) -> str:
        tok = self.take()
        if tok.kind == "op" and tok.text in ("=", "!=", "<", ">", "<=", ">=", "~", "!~"):
            return tok.text
        upper = tok.text.upper()
        if upper == "IN":
            return "IN"
        if (
            upper in ("NOT", "IS")
            and self.word("IN", "NOT")
            and not (upper == "IS" and self.word("IN"))
        ):
            return f"{upper} {self.take().text.upper()}"
        if upper == "IS":
            return "IS"
        raise _syntax(f"Expecting operator but got '{tok.text}'. {_OPERATORS}", tok, self.text)

    def values(self, op: str) -> list[str | None]:
        if op in ("IN", "NOT IN"):
            tok = self.take()
            if tok.text != "(":
                raise _syntax(f"Expecting '(' but got '{tok.text}'.", tok, self.text)
            found: list[str | None] = []
            while True:
                found.append(self.value())
                sep = self.take()
                if sep.text == ")":
                    return found
                if sep.text != ",":
                    raise _syntax(f"Expecting ',' or ')' but got '{sep.text}'.", sep, self.text)
        return [self.value()]

    def value(self) -> str | None:
        tok = self.take()
        if tok.kind == "op":
            raise _syntax(
                f"Expecting either a value, list or function but got '{tok.text}'.", tok, self.text
            )
        if tok.kind == "word" and tok.text.upper() in ("EMPTY", "NULL"):
            return None
        following = self.peek()
        if tok.kind == "word" and following is not None and following.text == "(":
            raise _error(
                f"Error in the JQL Query: the Jira simulator does not support JQL functions "
                f"such as '{tok.text}()'; use literal values."
            )
        return tok.text

    def clause(self) -> Predicate:
        tok = self.take()
        field = tok.text
        lowered = field.lower()
        custom = None
        if tok.kind != "prop" and lowered not in _FIELDS:
            custom = custom_field(self.state, field)
        if custom is not None:
            op = self.operator()
            values = self.values(op) if op not in ("IS", "IS NOT") else [self.value()]
            return custom_clause(custom, op, values)
        if tok.kind != "prop" and lowered not in _FIELDS:
            if lowered in _KNOWN_UNSUPPORTED or lowered.startswith(("cf[", "customfield_")):
                raise _error(
                    f"Error in the JQL Query: the Jira simulator does not support searching on "
                    f"'{field}'. Supported fields: project, key, id, labels, status, "
                    "statusCategory, created, updated, issue.property[...], number custom "
                    "fields."
                )
            raise _error(
                f"Field '{field}' does not exist or you do not have permission to view it."
            )
        op = self.operator()
        values = self.values(op) if op not in ("IS", "IS NOT") else [self.value()]
        return build_clause(self.state, field, op, values)


def parse(state: SimState, text: str) -> Query:
    """Parse ``text``; raises JiraHttpError 400 with Jira's errorMessages."""
    return _Parser(state, text or "").query()
