"""What Jira checks in a rich-text value before it stores it.

- Every text field and comment holds at most 32,767 characters (Jira's
  ``jira.text.field.character.limit``); a single-line text custom field 255. An ADF
  document counts by its stored (compact JSON) form, as Cloud stores it.
- Cloud validates each REST v3 document against the ADF JSON schema (Atlassian's
  ``@atlaskit/adf-schema``, vendored in ``adf_schema/``) and answers
  ``400 {"errorMessages": ["INVALID_INPUT"]}`` for one it rejects: an empty text
  node, an unknown node or mark, a heading without its level, a task item without
  its ``localId``...
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import fastjsonschema

from syncengine.jira.simulator.errors import JiraHttpError

__all__ = [
    "LINE_LIMIT",
    "TEXT_LIMIT",
    "adf_rejected",
    "check_adf",
    "stored_length",
    "too_long",
    "too_long_message",
]

TEXT_LIMIT = 32767
LINE_LIMIT = 255


def too_long_message(limit: int) -> str:
    """Jira's words for a value over ``limit`` characters."""
    return f"The entered text is too long. It exceeds the allowed limit of {limit:,} characters."


def stored_length(value: Any) -> int:
    """The characters ``value`` takes in Jira's store (an ADF document as compact JSON)."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def too_long(value: Any, limit: int = TEXT_LIMIT) -> bool:
    return value is not None and stored_length(value) > limit


@functools.cache
def _validator() -> Callable[[Any], Any]:
    # Compiled once per process (about two seconds): the schema's deep anyOf trees take
    # seconds per document with an interpreting validator, milliseconds compiled.
    schema = json.loads(
        files("syncengine.jira.simulator").joinpath("adf_schema/full.json").read_text("utf-8")
    )
    return fastjsonschema.compile(schema)


def adf_rejected(document: Any) -> bool:
    """Whether Cloud's ADF validation refuses ``document``."""
    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaException:
        return True
    return False


def check_adf(document: Any) -> None:
    """Raise Cloud's 400 INVALID_INPUT when ``document`` is not valid ADF."""
    if adf_rejected(document):
        raise JiraHttpError(400, {"errorMessages": ["INVALID_INPUT"], "errors": {}})
