"""The intake service the HTTP endpoints call: whose token, which limits, where reports go.

A missing token is 401 and an unknown one 403, before any project lookup, so
neither says whether a project exists; only the holder of a valid token learns
that the project in the URL is not the token's (404).

An accepted token is remembered (by its digest, never in clear) for
``token_cache_seconds``: real SDKs send one event per request, and a database
round trip per request was a tenth of that path's cost. A token removed from the
store is therefore still accepted for up to that long by a running process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from syncengine.domain.reports import CrashReport
from syncengine.ingest.limits import IngestLimits, ReportContext, ReportContexts
from syncengine.ingest.problems import ProjectNotFound, TokenMissing, TokenRejected
from syncengine.ingest.sink import Accepted, ReportSink
from syncengine.ingest.writer import Arrival, Arrivals
from syncengine.store.projects import ProjectRecord, ProjectRepository, token_digest

__all__ = ["Intake"]


class Intake:
    """Authenticates submissions and hands their reports to the sink."""

    def __init__(
        self,
        *,
        projects: ProjectRepository,
        sink: ReportSink,
        contexts: ReportContexts,
        clock: Callable[[], datetime],
        token_cache_seconds: float = 0.0,
        token_cache_size: int = 1024,
        arrivals: Arrivals | None = None,
    ) -> None:
        self._projects = projects
        self._sink = sink
        self._arrivals = arrivals or Arrivals()
        self.contexts = contexts
        self._clock = clock
        self._token_ttl = timedelta(seconds=token_cache_seconds)
        self._token_cache_size = token_cache_size
        # digest -> (project, when it stops being trusted); only accepted tokens enter.
        self._tokens: dict[str, tuple[ProjectRecord, datetime]] = {}

    def expect(self) -> Arrival:
        """Say a request has started; ``done()`` it when it has submitted or failed.

        The batching writer writes at once when no request is on its way.
        """
        return self._arrivals.expect()

    @property
    def limits(self) -> IngestLimits:
        """The size limits every request is read within."""
        return self.contexts.limits

    async def project_for(
        self, token: str | None, named: str | None = None, *, how: str
    ) -> ProjectRecord:
        """The project ``token`` belongs to; ``named`` (slug or numeric id) must be that project.

        Raises TokenMissing (401, ``how`` says how to send one), TokenRejected (403)
        or ProjectNotFound (404).
        """
        if not token:
            raise TokenMissing(f"no submission token: {how}")
        project = await self._project_of(token)
        if project is None:
            raise TokenRejected(
                "the submission token is not accepted: check it against the project"
            )
        if named is not None and named not in {project.slug, str(project.id)}:
            raise ProjectNotFound(
                f"no project {named[:64]!r} for this token: the token belongs to another "
                "project; check the project in the URL"
            )
        return project

    async def _project_of(self, token: str) -> ProjectRecord | None:
        if not self._token_ttl:
            return await self._projects.by_token(token)
        digest = token_digest(token)
        now = self._clock()
        cached = self._tokens.get(digest)
        if cached is not None and now < cached[1]:
            return cached[0]
        project = await self._projects.by_token(token)
        if project is None:
            self._tokens.pop(digest, None)
            return None
        if len(self._tokens) >= self._token_cache_size:
            self._tokens.clear()  # bounded: a process rarely sees more tokens than this
        self._tokens[digest] = (project, now + self._token_ttl)
        return project

    def context(self, project: ProjectRecord) -> ReportContext:
        """What the parsers need for ``project``'s reports received now."""
        return self.contexts.for_project(project.slug, self._clock())

    async def submit(
        self,
        project: ProjectRecord,
        reports: Sequence[CrashReport],
        *,
        arrival: Arrival | None = None,
    ) -> list[Accepted]:
        """Store ``reports``; resolves once committed. Raises StoreError (nothing stored).

        ``arrival`` (from :meth:`expect`) is done as the reports reach the sink.
        """
        if arrival is not None:
            arrival.done()
        return await self._sink.submit(project.id, reports)
