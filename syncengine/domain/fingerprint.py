"""Grouping: the fingerprint that decides which error group a crash report joins.

Every fingerprint is the SHA-256 hex digest (64 characters) of a list of
*components*, joined with a unit separator. Reports with equal components land
in the same group; nothing time-, build- or machine-specific is a component, so
the same crash from the next release lands in the same group.

Default components (when the client sent no fingerprint):

1. ``type:<classifier>`` when the report has a classifier (exception type).
2. The top :data:`TOP_FRAMES` *in-app* frames, innermost first, each as
   ``frame:<where>:<function>`` where ``<where>`` is the frame's module or, when it
   has none, the BASE name of its file (directories, URL schemes and queries
   dropped). Line numbers, columns and addresses are never used. Generated-name
   noise is removed from both parts: hex addresses (``0x7f3a…``), numbered
   lambdas and anonymous classes (``lambda$main$0``, ``Foo$1``,
   ``Foo$$Lambda$14/0x…``, Go's ``func1``) and anonymous markers
   (``<anonymous>``, ``?``). In-app means ``in_app`` is true; a frame with
   ``in_app`` unknown counts as in-app unless its file lies in a third-party or
   runtime location (``site-packages``, ``node_modules``, ``<frozen …>``…). When no
   frame is in-app, the top frames of the whole stack are used instead.
3. ``message:<normalised message>`` when no frame gave a component, or when
   the report has no classifier (a logged message, not an exception: two
   messages sent from one place are two problems). The message is normalised:
   numbers, hex strings, UUIDs, e-mail and IP addresses replaced by
   placeholders, whitespace collapsed, cut at 512 characters.
4. A report with none of these gets the single component ``empty``.

A client-given fingerprint is honoured. It is a list of strings (Sentry's
``fingerprint``; a native string counts as a one-element list); each entry
becomes ``custom:<entry>``, except ``{{ default }}`` (spaces optional), which
stands for the default components above. So ``["{{ default }}"]`` groups exactly
like no fingerprint, and ``["{{ default }}", "db"]`` splits the default group by
``db``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

from syncengine.domain.reports import CrashReport, Frame

__all__ = [
    "TOP_FRAMES",
    "assign_fingerprint",
    "custom_fingerprint",
    "default_components",
    "default_fingerprint",
    "digest",
    "fingerprint_of",
    "normalise_message",
]

TOP_FRAMES = 5
MESSAGE_LIMIT = 512
_SEPARATOR = "\x1f"
_DEFAULT_MARKER = re.compile(r"^\{\{\s*default\s*\}\}$")

_THIRD_PARTY = re.compile(
    r"(site-packages|dist-packages|node_modules|/lib/python\d|\\lib\\python\d|"
    r"^<frozen |^<string>$|/usr/lib/|/System/Library/|\.cargo/registry|/go/pkg/mod/)"
)
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_NUMBERED_LAMBDA = re.compile(r"(lambda)\$(\w+?)\$\d+")  # Java: lambda$main$0
_JAVA_LAMBDA = re.compile(r"\$\$Lambda\$?[\w/]*")  # Foo$$Lambda$14/0x...
_ANONYMOUS_CLASS = re.compile(r"\$\d+")  # Foo$1
_GO_FUNC_LITERAL = re.compile(r"\.func\d+(\.\d+)*")  # main.run.func1.2
_ANONYMOUS = {"<anonymous>", "?", "anonymous", "<unknown>", "Object.<anonymous>", "(anonymous)"}

_UUID = re.compile(r"\b[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_SPACE = re.compile(r"\s+")


def digest(components: Iterable[str]) -> str:
    """The SHA-256 hex digest (64 characters) of ``components``, in order."""
    return hashlib.sha256(_SEPARATOR.join(components).encode("utf-8")).hexdigest()


def normalise_message(message: str) -> str:
    """``message`` with variable parts replaced by placeholders, for grouping."""
    text = _UUID.sub("<uuid>", message)
    text = _EMAIL.sub("<email>", text)
    text = _IPV4.sub("<ip>", text)
    text = _HEX_ADDRESS.sub("<hex>", text)
    text = _LONG_HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()[:MESSAGE_LIMIT]


# Names repeat across reports (the same functions crash again and again): cache them.
@lru_cache(maxsize=65536)
def _base_name(path: str) -> str:
    path = path.split("?", 1)[0].split("#", 1)[0]
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1]


@lru_cache(maxsize=65536)
def _clean_name(name: str) -> str:
    name = name.strip()
    if name in _ANONYMOUS:
        return ""
    name = _NUMBERED_LAMBDA.sub(r"\1$\2", name)
    name = _JAVA_LAMBDA.sub("$$Lambda", name)
    name = _ANONYMOUS_CLASS.sub("$", name)
    name = _GO_FUNC_LITERAL.sub(".func", name)
    return _HEX_ADDRESS.sub("", name).strip()


@lru_cache(maxsize=65536)
def _third_party(where: str) -> bool:
    return _THIRD_PARTY.search(where) is not None


def _is_in_app(frame: Frame) -> bool:
    if frame.in_app is not None:
        return frame.in_app
    return not _third_party(frame.filename or frame.module)


def _frame_component(frame: Frame) -> str | None:
    where = _clean_name(frame.module) or _clean_name(_base_name(frame.filename))
    function = _clean_name(frame.function)
    if not where and not function:
        return None
    return f"frame:{where}:{function}"


def _frame_components(frames: Sequence[Frame]) -> list[str]:
    in_app = [f for f in frames if _is_in_app(f)] or list(frames)
    found: list[str] = []
    for frame in in_app:
        component = _frame_component(frame)
        if component is not None:
            found.append(component)
            if len(found) == TOP_FRAMES:
                break
    return found


def _components(classifier: str, frames: Sequence[Frame], message: str) -> list[str]:
    components: list[str] = []
    classifier = classifier.strip()
    if classifier:
        components.append(f"type:{classifier}")
    found = _frame_components(frames)
    components += found
    if not found or not classifier:
        message = normalise_message(message)
        if message:
            components.append(f"message:{message}")
    return components or ["empty"]


def default_components(report: CrashReport) -> list[str]:
    """The grouping components of ``report`` when the client gave no fingerprint."""
    return _components(report.classifier, report.frames, report.message)


def default_fingerprint(report: CrashReport) -> str:
    """The fingerprint of ``report`` by the default algorithm (its own one ignored)."""
    return digest(default_components(report))


def _custom(entries: Sequence[str], classifier: str, frames: Sequence[Frame], message: str) -> str:
    if not entries:
        raise ValueError("an empty fingerprint list names no grouping")
    components: list[str] = []
    for entry in entries:
        if _DEFAULT_MARKER.match(entry.strip()):
            components += _components(classifier, frames, message)
        else:
            components.append(f"custom:{entry}")
    return digest(components)


def custom_fingerprint(entries: Sequence[str], report: CrashReport) -> str:
    """The fingerprint for a client-given list; ``{{ default }}`` entries expand to the default.

    Raises ValueError when ``entries`` is empty (an empty list means "no fingerprint").
    """
    return _custom(entries, report.classifier, report.frames, report.message)


def fingerprint_of(
    entries: Sequence[str] | None, *, classifier: str, frames: Sequence[Frame], message: str
) -> str:
    """The fingerprint of a report with these parts, before the report is built.

    What :func:`assign_fingerprint` sets (the ingest path builds each report once,
    its fingerprint in it, instead of building it again to add that).
    """
    if entries:
        return _custom(entries, classifier, frames, message)
    return digest(_components(classifier, frames, message))


def assign_fingerprint(report: CrashReport, entries: Sequence[str] | None = None) -> CrashReport:
    """``report`` with its fingerprint set: from ``entries`` when given, else the default."""
    fingerprint = fingerprint_of(
        entries, classifier=report.classifier, frames=report.frames, message=report.message
    )
    return replace(report, fingerprint=fingerprint)
