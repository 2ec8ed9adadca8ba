"""The one exception tree of syncengine.

Every error the package raises on purpose derives from :class:`SyncEngineError`.
Foreign errors (httpx, SQLAlchemy, pydantic) are translated once, at the adapter
edge, with ``raise ... from exc``::

    SyncEngineError
    ├── ConfigError                 the configuration cannot be used (names file and key)
    │   └── InvalidTicketRules      a ticket rule filter cannot be used (domain.rules)
    ├── StoreError                  the database failed or is not in the expected shape
    │   ├── MigrationRequired       the schema is behind the code: run `syncengine db upgrade`
    │   ├── NotFound                a row that was asked for by id or key does not exist
    │   ├── StoreBusy               a passing failure (deadlock, lock timeout, lost connection)
    │   ├── StoreRejected           the data broke a constraint; retrying it will not help
    │   │   └── StoreConflict       a row with the same key exists (a unique constraint)
    │   └── SecretUnreadable        no configured key opens a stored secret (store.secret_box)
    ├── IngestError                 a crash report or request body cannot be accepted
    │   ├── AuthError               missing or wrong submission token
    │   │   └── TokenMissing, TokenRejected               (ingest.problems)
    │   ├── BadReport               the body or one report is malformed (says what to fix)
    │   │   └── ReportInvalid, RequestProblem             (ingest.problems)
    │   └── ProjectNotFound         the token is good but the project in the URL is not its own
    ├── TemplateError               a configured template or placeholder is unusable
    │   └── CreateMetaError         createmeta lacks the project or issue type (domain.createmeta)
    ├── InvalidInput                a form or API request cannot be accepted (``problems``
    │                               maps each field to what to fix)
    ├── UnparseableVersion          a version does not fit the configured scheme (domain.versions)
    ├── InvalidRule                 a resolved-until rule is malformed (domain.resolve)
    ├── WorkTimedOut                an outbox item passed its deadline; retried (transient)
    ├── CannotListen                the server cannot bind its address (taken, not allowed)
    └── JiraError                   anything that went wrong talking to Jira
        ├── JiraTransientError      worth retrying later (429, 502-504, timeouts, connection)
        │   ├── JiraRateLimited, JiraUnavailable          (jira.errors)
        │   └── JiraOutcomeUnknown  a create was sent and its answer lost: look it up first
        └── JiraPermanentError      retrying will not help until someone fixes something
            │                       (401, 403, 404, 400, 410); ``fix`` says what to do
            ├── JiraAuthError, JiraPermissionError, JiraNotFound, JiraGone,
            │   JiraRequestRejected, JiraUnexpectedResponse,
            │   JiraResponseTooLarge                       (jira.errors)
            ├── JiraBadRequest      field errors by field └── JiraInvalidIssueType
            └── NoTransitionError, UnmappedUser           (sync.push_plan, sync.users)

Jira and store errors carry ``transient`` so the outbox can decide between a retry
and a dead item without knowing the subclasses (see ``syncengine.jira.errors``);
database errors are translated once, in ``syncengine.store.db_errors``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BadReport",
    "CannotListen",
    "ConfigError",
    "IngestError",
    "InvalidInput",
    "JiraError",
    "JiraPermanentError",
    "JiraTransientError",
    "MigrationRequired",
    "NotFound",
    "StoreBusy",
    "StoreConflict",
    "StoreError",
    "StoreRejected",
    "SyncEngineError",
    "TemplateError",
    "WorkTimedOut",
]


class SyncEngineError(Exception):
    """Root of every error syncengine raises on purpose."""


class ConfigError(SyncEngineError):
    """The configuration cannot be used.

    ``problems`` holds one line per problem, each naming the file (or environment
    variable) and the key, and what to change.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CannotListen(SyncEngineError):
    """The HTTP server cannot bind its address; the message names it and what to change."""


class StoreError(SyncEngineError):
    """The database failed or is not in the shape the code expects.

    ``transient``: whether the same work may succeed later (an unknown database
    failure is taken to be passing; the subclasses that are not say so).
    """

    transient: bool = True


class MigrationRequired(StoreError):
    """The database schema is older than the code."""

    transient = False


class NotFound(StoreError):
    """A row asked for by id or key does not exist."""

    transient = False


class StoreBusy(StoreError):
    """The database failed for a passing reason; the same work may succeed when retried."""

    transient = True


class StoreRejected(StoreError):
    """The database refused the data itself (a constraint, a value out of range)."""

    transient = False


class StoreConflict(StoreRejected):
    """A row with the same key exists already (a unique or other integrity constraint)."""


class IngestError(SyncEngineError):
    """A crash report or a request body cannot be accepted."""

    status_code = 400


class AuthError(IngestError):
    """The submission token is missing or wrong."""

    status_code = 401


class BadReport(IngestError):
    """The body, or one report in it, is malformed; the message says what to fix."""


class TemplateError(SyncEngineError):
    """A configured template or placeholder cannot be used."""


class InvalidInput(SyncEngineError):
    """A form or API request cannot be accepted.

    ``problems`` maps each field (or ``""`` for the whole request) to a sentence
    saying what to fix, so a form can show it beside the field.
    """

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.problems.items()))


class WorkTimedOut(SyncEngineError):
    """An outbox item (or bulk batch) did not finish within its deadline; it is retried.

    Whatever it was doing may have reached Jira: the retry looks a create up first.
    """

    transient = True


class JiraError(SyncEngineError):
    """Something went wrong talking to Jira.

    ``status`` is the HTTP status when Jira answered, ``fix`` a sentence telling
    the operator what to do, ``transient`` whether a later retry may succeed and
    ``retry_after`` the seconds Jira asked us to wait, when it said.
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        fix: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.fix = fix
        self.retry_after = retry_after
        super().__init__(message)

    def user_message(self) -> str:
        """The message and the fix, as shown on a group or by ``doctor``."""
        return f"{self} — {self.fix}" if self.fix else str(self)


class JiraTransientError(JiraError):
    """Jira is slow, overloaded or unreachable; retrying later may succeed."""

    transient = True


class JiraPermanentError(JiraError):
    """Jira refused the request; it will keep refusing until someone fixes something."""
