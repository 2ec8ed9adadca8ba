"""What can be wrong with a submission, as values and as errors of the tree.

A problem with the whole request raises a :class:`RequestProblem` (a
:class:`~syncengine.errors.BadReport`), an :class:`~syncengine.errors.AuthError` or a
:class:`ProjectNotFound`; the web layer renders each as an RFC 9457 problem
document. A problem with one report of a batch is a :class:`ItemProblem` value:
the other reports are still stored.

Every problem has a short ``kind`` (the last part of its ``type`` URI), an HTTP
status and a detail sentence that says what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncengine.errors import AuthError, BadReport, IngestError

__all__ = [
    "PROBLEM_TYPE_PREFIX",
    "FieldError",
    "ItemProblem",
    "ProjectNotFound",
    "ReportInvalid",
    "RequestProblem",
    "TokenMissing",
    "TokenRejected",
]

PROBLEM_TYPE_PREFIX = "urn:syncengine:problem:"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldError:
    """One thing wrong in one report: where (a dotted path, empty for the whole) and what."""

    field: str
    problem: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemProblem:
    """A report of a batch that was not accepted, by its index in the request."""

    index: int
    kind: str
    status: int
    errors: tuple[FieldError, ...]


class ReportInvalid(BadReport):
    """One report is malformed; raised by the per-report parsers, caught per item."""

    def __init__(
        self, errors: Sequence[FieldError], *, kind: str = "invalid-report", status: int = 422
    ) -> None:
        self.errors = tuple(errors)
        self.kind = kind
        self.status_code = status
        super().__init__("; ".join(f"{e.field or 'report'}: {e.problem}" for e in self.errors))

    @classmethod
    def one(cls, field: str, problem: str, *, kind: str = "invalid-report") -> ReportInvalid:
        """A report with a single error."""
        return cls([FieldError(field=field, problem=problem)], kind=kind)

    def at(self, index: int) -> ItemProblem:
        """This error as the problem of item ``index`` of a batch."""
        return ItemProblem(index=index, kind=self.kind, status=self.status_code, errors=self.errors)


class RequestProblem(BadReport):
    """The request as a whole cannot be accepted (body, encoding, type, size, nothing good)."""

    def __init__(
        self,
        detail: str,
        *,
        kind: str,
        title: str,
        status: int = 400,
        items: Sequence[ItemProblem] = (),
    ) -> None:
        self.detail = detail
        self.kind = kind
        self.title = title
        self.status_code = status
        self.items = tuple(items)
        super().__init__(detail)


class TokenMissing(AuthError):
    """No submission token came with the request."""

    status_code = 401
    kind = "token-missing"
    title = "Submission token missing"


class TokenRejected(AuthError):
    """The submission token is not one this engine knows (or not of this project)."""

    status_code = 403
    kind = "token-rejected"
    title = "Submission token rejected"


class ProjectNotFound(IngestError):
    """The project named in the URL does not exist for the given token."""

    status_code = 404
    kind = "project-not-found"
    title = "Project not found"
