"""The intake endpoints: native, Backtrace-compatible and Sentry-compatible.

Each request is read within ``ingest.max_request_bytes`` (gzip and deflate
decoded on the fly), authenticated by a project submission token, parsed into
reports, and handed to the :class:`~syncengine.ingest.intake.Intake`; the answer
is sent only after the sink has committed the good reports. Every failure is a
4xx problem document (RFC 9457), or 503 when the store is down. How tokens are
checked is the intake's (:meth:`~syncengine.ingest.intake.Intake.project_for`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncengine.errors import IngestError, StoreError
from syncengine.ingest.assemble import Parsed
from syncengine.ingest.backtrace import parse_backtrace
from syncengine.ingest.bodies import BodyReader, decode_json, too_large
from syncengine.ingest.limits import IngestLimits
from syncengine.ingest.native import parse_native
from syncengine.ingest.problems import RequestProblem
from syncengine.ingest.sentry import parse_sentry_auth, parse_sentry_envelope, parse_sentry_store
from syncengine.ingest.sink import Accepted
from syncengine.ingest.writer import Arrival
from syncengine.logs import bind
from syncengine.store.projects import ProjectRecord
from syncengine.web.ingest_problems import item_errors, problem_response, store_unavailable
from syncengine.web.problem_documents import problem_responses
from syncengine.web.request_bodies import (
    BACKTRACE_BODY,
    NATIVE_REPORTS_BODY,
    SENTRY_ENVELOPE_BODY,
    SENTRY_STORE_BODY,
)
from syncengine.web.services import ServicesDep, WebServices

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"])

_INLINE_PARSE_BYTES = 256 * 1024  # bigger bodies are parsed off the event loop


async def read_body(request: Request, limits: IngestLimits) -> bytes:
    """The decoded body; raises RequestProblem (413/415/400) as soon as it is unacceptable."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise too_large(limits.max_request_bytes)
    reader = BodyReader(request.headers.get("content-encoding"), limits.max_request_bytes)
    async for chunk in request.stream():
        reader.feed(chunk)
    return reader.finish()


_NATIVE_AUTH = (
    "send 'Authorization: Bearer <token>', 'X-Syncengine-Token: <token>' or '?token=<token>'"
)
_BACKTRACE_AUTH = "put it in the URL: /post?format=json&token=<token> or /<universe>/<token>/json"
_SENTRY_AUTH = (
    "send 'X-Sentry-Auth: Sentry sentry_key=<token>' or '?sentry_key=<token>' "
    "(the DSN's public key is the submission token)"
)


async def _parse(body: bytes, parse: Callable[[bytes], Any]) -> Any:
    if len(body) <= _INLINE_PARSE_BYTES:
        return parse(body)
    return await asyncio.to_thread(parse, body)


def _refused(services: WebServices, exc: IngestError) -> JSONResponse:
    """The problem answer to a refused request, counted by reason."""
    reason = str(getattr(exc, "kind", "") or type(exc).__name__)
    services.metrics.reports_rejected.labels(reason).inc()
    return problem_response(exc)


def _nothing_good(parsed: Parsed) -> RequestProblem:
    statuses = {p.status for p in parsed.problems}
    kinds = {p.kind for p in parsed.problems}
    count = len(parsed.problems)
    return RequestProblem(
        f"none of the {count} report(s) could be accepted: see errors for what to fix in each",
        kind=kinds.pop() if len(kinds) == 1 else "invalid-reports",
        title="No report accepted",
        status=statuses.pop() if len(statuses) == 1 else 422,
        items=parsed.problems,
    )


async def _store(
    services: WebServices, project: ProjectRecord, parsed: Parsed, arrival: Arrival
) -> list[Accepted]:
    """Submit the good reports; raises RequestProblem when there is none and some were bad."""
    bind(project=project.slug)
    if not parsed.reports:
        if parsed.problems:
            raise _nothing_good(parsed)
        return []
    accepted = await services.intake.submit(
        project, [p.report for p in parsed.reports], arrival=arrival
    )
    services.metrics.reports_ingested.labels(project.slug).inc(len(accepted))
    for item in parsed.problems:
        services.metrics.reports_rejected.labels(item.kind).inc()
    if parsed.problems:
        log.info(
            "project %s: %d report(s) accepted, %d rejected",
            project.slug,
            len(accepted),
            len(parsed.problems),
        )
    return accepted


class _Answer(JSONResponse):
    """An intake answer, encoded by orjson: a batch's has one entry per report, thousands
    in a batch, and a single event's is paid once per event.

    The bytes are the standard encoder's (compact, UTF-8); what orjson refuses goes to it.
    """

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-syncengine-token") or request.query_params.get("token")


@router.post(
    "/api/v1/projects/{project}/reports",
    status_code=202,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503),
    openapi_extra=NATIVE_REPORTS_BODY,
)
async def post_reports(project: str, request: Request, services: ServicesDep) -> JSONResponse:
    """Native reports: one JSON object, a JSON array, or JSON Lines; 202 per report."""
    intake = services.intake
    arrival = intake.expect()
    try:
        record = await intake.project_for(_bearer(request), project, how=_NATIVE_AUTH)
        ctx = intake.context(record)
        body = await read_body(request, ctx.limits)
        content_type = request.headers.get("content-type")
        parsed: Parsed = await _parse(body, lambda b: parse_native(b, content_type, ctx))
        accepted = await _store(services, record, parsed, arrival)
    except IngestError as exc:
        return _refused(services, exc)
    except StoreError as exc:
        return store_unavailable(exc)
    finally:
        arrival.done()
    return _Answer(
        {
            "accepted": len(accepted),
            "rejected": len(parsed.problems),
            "truncated": parsed.truncated,
            "reports": [
                {
                    "index": p.index,
                    "group_id": a.group_id,
                    "new_group": a.new_group,
                    "truncated": p.truncated,
                }
                for p, a in zip(parsed.reports, accepted, strict=True)
            ],
            "errors": item_errors(parsed.problems),
        },
        status_code=202,
    )


async def _backtrace(request: Request, services: WebServices, token: str | None) -> JSONResponse:
    intake = services.intake
    arrival = intake.expect()
    try:
        record = await intake.project_for(token, how=_BACKTRACE_AUTH)
        fmt = request.query_params.get("format", "json")
        if fmt != "json":
            raise RequestProblem(
                f"format={fmt[:32]!r} is not accepted: only format=json submissions are",
                kind="unsupported-format",
                title="Unsupported submission format",
                status=415,
            )
        ctx = intake.context(record)
        body = await read_body(request, ctx.limits)
        content_type = request.headers.get("content-type")
        parsed: Parsed = await _parse(body, lambda b: parse_backtrace(b, content_type, ctx))
        await _store(services, record, parsed, arrival)
    except IngestError as exc:
        return _refused(services, exc)
    except StoreError as exc:
        return store_unavailable(exc)
    finally:
        arrival.done()
    rxid = parsed.reports[0].event_id or uuid.uuid4().hex
    return _Answer({"response": "ok", "_rxid": rxid})


@router.post(
    "/post",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=BACKTRACE_BODY,
)
async def post_backtrace(request: Request, services: ServicesDep) -> JSONResponse:
    """Backtrace-compatible submission, ``/post?format=json&token=...``."""
    return await _backtrace(request, services, request.query_params.get("token"))


@router.post(
    "/{universe}/{token}/json",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=BACKTRACE_BODY,
)
async def post_backtrace_path(
    universe: str, token: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """Backtrace-compatible submission, ``/{universe}/{token}/json`` (submit.backtrace.io form)."""
    return await _backtrace(request, services, token)


def _sentry_key(request: Request, envelope_headers: dict[str, Any] | None = None) -> str | None:
    for header in (request.headers.get("x-sentry-auth"), request.headers.get("authorization")):
        if header and header.strip()[:6].lower() == "sentry":
            key = parse_sentry_auth(header).get("sentry_key")
            if key:
                return key
    if request.query_params.get("sentry_key"):
        return request.query_params["sentry_key"]
    dsn = (envelope_headers or {}).get("dsn")
    if isinstance(dsn, str):
        return urlsplit(dsn).username or None
    return None


async def _sentry(
    request: Request, services: WebServices, project_id: str, *, envelope: bool
) -> JSONResponse:
    intake = services.intake
    arrival = intake.expect()
    try:
        key = _sentry_key(request)
        limits = intake.limits
        if envelope and key is None:
            # The key may be in the envelope's own "dsn" header: read it first.
            body = await read_body(request, limits)
            try:
                loaded = decode_json(body.split(b"\n", 1)[0])
            except ValueError:
                loaded = None  # the envelope parser says what is wrong, after auth
            key = _sentry_key(request, loaded if isinstance(loaded, dict) else None)
            record = await intake.project_for(key, project_id, how=_SENTRY_AUTH)
        else:
            record = await intake.project_for(key, project_id, how=_SENTRY_AUTH)
            body = await read_body(request, limits)
        ctx = intake.context(record)
        event_id: Any = None
        if envelope:
            parsed, envelope_headers = await _parse(body, lambda b: parse_sentry_envelope(b, ctx))
            event_id = envelope_headers.get("event_id")
        else:
            parsed = await _parse(body, lambda b: parse_sentry_store(b, ctx))
        await _store(services, record, parsed, arrival)
    except IngestError as exc:
        return _refused(services, exc)
    except StoreError as exc:
        return store_unavailable(exc)
    finally:
        arrival.done()
    if parsed.reports and parsed.reports[0].event_id:
        event_id = event_id or parsed.reports[0].event_id
    return _Answer({"id": event_id if isinstance(event_id, str) else uuid.uuid4().hex})


@router.post(
    "/api/{project_id}/envelope/",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503),
    openapi_extra=SENTRY_ENVELOPE_BODY,
)
@router.post("/api/{project_id}/envelope", include_in_schema=False)
async def post_sentry_envelope(
    project_id: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """Sentry-compatible envelope endpoint (``project_id``: the numeric id or the slug)."""
    return await _sentry(request, services, project_id, envelope=True)


@router.post(
    "/api/{project_id}/store/",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503),
    openapi_extra=SENTRY_STORE_BODY,
)
@router.post("/api/{project_id}/store", include_in_schema=False)
async def post_sentry_store(
    project_id: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """Sentry-compatible legacy store endpoint: one event JSON."""
    return await _sentry(request, services, project_id, envelope=False)
