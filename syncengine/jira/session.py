"""The one place the client meets HTTP: auth, limits, retries and error translation.

httpx errors and Jira's error answers are translated here, once, into the tree of
:mod:`syncengine.jira.errors`. The token is sent as a header and never appears in
a log line or an error: any text quoted from Jira has it removed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random as random_module
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from syncengine.errors import ConfigError
from syncengine.jira.answers import BoundedBody, read_bounded
from syncengine.jira.budget import Priority, current_priority, spend
from syncengine.jira.config import JiraConfig
from syncengine.jira.errors import (
    JiraError,
    JiraOutcomeUnknown,
    JiraPermanentError,
    JiraResponseTooLarge,
    JiraUnavailable,
    JiraUnexpectedResponse,
    RequestContext,
    error_from_response,
)
from syncengine.jira.gateway import find_cloud_id
from syncengine.jira.limit_headers import read_limit_headers
from syncengine.jira.oauth import OAuth2Bearer
from syncengine.jira.retry import (
    Clock,
    RetryDecision,
    RetryPolicy,
    SiteLimiter,
    Sleep,
    rate_limit_backoff,
    retry_after_seconds,
)
from syncengine.jira.send_by import arm

__all__ = ["JiraSession", "Root"]

logger = logging.getLogger("syncengine.jira")

Root = Literal["api", "site"]
_IDEMPOTENT_METHODS = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
# Raised before a byte of the request left: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# How often one call answers a 401 by renewing its OAuth 2.0 token (then sends again).
_RENEWALS = 2


def _unreached(exc: Exception) -> Literal["refused", "silent", "cut"]:
    """How a call failed to get an answer: no connection, no answer in time, or a cut one."""
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "silent"
    return "cut"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Told of every answer (or transport failure): method, path template, status or None,
# seconds taken, and the attempt number (above 1 for a retry).
CallObserver = Callable[[str, str, int | None, float, int], None]
_ID_SEGMENT = re.compile(r"/(?:[A-Z][A-Z0-9_]*-\d+|\d+)(?=/|$)")


class JiraSession:
    """Sends requests to one Jira site and returns successful answers.

    ``transport`` is the seam for tests (``httpx.ASGITransport`` to the simulator,
    ``respx``); ``sleep``, ``clock``, ``now`` and ``random`` make waiting testable.
    """

    def __init__(
        self,
        config: JiraConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: SiteLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        random: Callable[[], float] = random_module.random,
        observer: CallObserver | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.config = config
        self._observer = observer
        self.policy = RetryPolicy(
            max_retries=config.max_retries,
            base_delay=config.backoff_base_seconds,
            max_delay=config.max_retry_delay_seconds,
        )
        self.limiter = limiter or SiteLimiter.build(
            max_concurrency=config.max_concurrency,
            requests_per_second=config.requests_per_second,
            clock=clock,
            sleep=sleep,
        )
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._random = random
        self._secret = config.token.get_secret_value()
        basic = base64.b64encode(f"{config.user}:{self._secret}".encode()).decode()
        # The token, and the Basic credential that carries it, are never quoted.
        self._secrets = [s for s in (basic, self._secret) if len(s) >= 4]
        self.requests_sent = 0
        self._rest_base: str | None = None if config.find_gateway else config.rest_base
        headers = {
            "Accept": "application/json",
            "User-Agent": config.user_agent,
            # The engine reads Jira's words (errors, status and resolution names): in English,
            # whatever language the integration user's profile is set to.
            "Accept-Language": "en",
            "X-Force-Accept-Language": "true",
        }
        if config.auth in ("oauth1", "oauth2"):
            if auth is None:
                raise ConfigError(
                    [f"jira.auth = {config.auth!r} needs the project's OAuth credential"]
                )
        elif config.auth == "basic":
            auth = httpx.BasicAuth(config.user, self._secret)
        else:
            headers["Authorization"] = f"Bearer {self._secret}"
        self._auth = auth
        self._http = httpx.AsyncClient(
            auth=auth,
            headers=headers,
            timeout=config.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    def redact(self, text: str) -> str:
        """``text`` with the token removed."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def context(self, operation: str, **kwargs: Any) -> RequestContext:
        """A :class:`RequestContext` naming this session's user."""
        return RequestContext(
            operation=operation,
            user=self.config.user,
            bearer=self.config.auth == "bearer",
            oauth=self.config.auth in ("oauth1", "oauth2"),
            **kwargs,
        )

    def url(self, path: str, root: Root = "api") -> str:
        """The absolute URL of ``path`` under the API root or the REST base (the site, or
        the gateway when it is used; see :meth:`rest_base`)."""
        base = self._rest_base or self.config.rest_base
        return (f"{base}/rest/api/{self.config.api_version}" if root == "api" else base) + path

    async def rest_base(self) -> str:
        """Where calls go; with ``find_gateway``, the gateway once the site named its cloudId.

        Raises:
            JiraError: the cloudId could not be found (see :func:`find_cloud_id`).
        """
        if self._rest_base is None:
            cloud_id = await find_cloud_id(
                self._http, self.config.site, deadline_seconds=self.config.timeout_seconds
            )
            self._rest_base = self.config.gateway_for(cloud_id)
        return self._rest_base

    def _observe(
        self, method: str, path: str, status: int | None, started: float, attempt: int
    ) -> None:
        if self._observer is not None:
            # Keys and ids become {id}: metrics labels stay few whatever the issues.
            template = _ID_SEGMENT.sub("/{id}", path)
            self._observer(method, template, status, self._clock() - started, attempt)

    async def request(
        self,
        method: str,
        path: str,
        *,
        context: RequestContext,
        root: Root = "api",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send a request, retrying what may be retried; return the successful answer.

        ``idempotent`` defaults from the method; a POST that Jira treats as an upsert
        may pass True. Statuses in ``ok_statuses`` are returned, not raised.

        Raises:
            JiraError: a subclass from :mod:`syncengine.jira.errors`;
                :class:`JiraOutcomeUnknown` when a non-idempotent request was sent
                and its answer lost.
        """
        safe = idempotent if idempotent is not None else method.upper() in _IDEMPOTENT_METHODS
        await self.rest_base()
        url = self.url(path, root)
        deadline = self._clock() + self.config.deadline_seconds
        priority = current_priority()
        attempt = 0
        while True:
            attempt += 1
            started = self._clock()
            sent = False
            try:
                async with asyncio.timeout(max(deadline - started, 0.0)):
                    async with self.limiter.semaphore:
                        await spend(
                            self.limiter.budget, priority, sleep=self.limiter.sleep or self._sleep
                        )
                        request = self._http.build_request(
                            method, url, params=params, json=json, files=files, headers=headers
                        )
                        sent = True
                        answer = await self._send(request)
                        answer = await self._renewing(
                            answer,
                            request,
                            priority,
                            method,
                            url,
                            params=params,
                            json=json,
                            files=files,
                            headers=headers,
                        )
            except httpx.UnsupportedProtocol as exc:
                raise JiraPermanentError(
                    f"cannot reach Jira at {self.config.site}: {exc}",
                    fix="jira.url must start with https:// (or http://)",
                ) from exc
            except (httpx.TransportError, TimeoutError) as exc:
                self._observe(method, path, None, started, attempt)
                error, decision = self._transport_failure(
                    exc,
                    method=method,
                    path=path,
                    attempt=attempt,
                    idempotent=safe,
                    context=context,
                    sent=sent,
                )
            else:
                response = answer.response
                self._observe(method, path, response.status_code, started, attempt)
                elapsed_ms = (self._clock() - started) * 1000
                logger.debug(
                    "jira %s %s -> %s in %.0f ms (attempt %d)",
                    method, path, response.status_code, elapsed_ms, attempt,
                )  # fmt: skip
                if response.is_success or response.status_code in ok_statuses:
                    await self._heed_limits(response, None, None, attempt)
                    if not answer.complete:
                        raise self._too_large(response, context=context, idempotent=safe)
                    return response
                error, decision = self._status_failure(
                    response, path=path, attempt=attempt, idempotent=safe, context=context
                )
                await self._heed_limits(response, error, decision, attempt)
            if decision.action == "outcome_unknown":
                raise JiraOutcomeUnknown(
                    f"the outcome of the request to {context.operation} is unknown: {error}",
                    status=error.status,
                    fix="look the object up (identity label or property) before sending it again",
                ) from error
            if decision.retry and decision.delay >= deadline - self._clock():
                decision = RetryDecision(action="give_up", reason="past jira.deadline_seconds")
            if not decision.retry:
                raise error
            logger.warning(
                "jira %s %s: %s; retrying in %.2fs (retry %d of %d)",
                method, path, error, decision.delay, attempt, self.policy.max_retries,
            )  # fmt: skip
            await self._sleep(decision.delay)

    async def _heed_limits(
        self,
        response: httpx.Response,
        error: JiraError | None,
        decision: RetryDecision | None,
        attempt: int,
    ) -> None:
        """Tell the site's budget what Jira said: a 429 pauses every process sending to the
        site (unless it is about one issue); a near-limit quota sheds their refreshes."""
        signal = read_limit_headers(response.headers)
        if signal.near_limit:
            await self.limiter.budget.near_limit(signal.hold_seconds)
        if response.status_code != 429 or signal.per_issue:
            return
        # The wait this session takes itself (Retry-After, else 5 s growing to 30 s).
        if decision is not None and decision.retry:
            wait = decision.delay
        elif error is not None and error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = rate_limit_backoff(attempt, self._random)
        # A longer wait is kept by the work itself (the outbox reschedules it): the site then
        # sends one probe a minute at most, rather than stopping every process for an hour.
        wait = min(wait, self.policy.max_delay)
        logger.info("jira 429 (%s): the site's requests pause %.1fs", signal.reason or "-", wait)
        await self.limiter.budget.pause(wait)

    async def _renewing(
        self,
        answer: BoundedBody,
        request: httpx.Request,
        priority: Priority,
        method: str,
        url: str,
        **parts: Any,
    ) -> BoundedBody:
        """The answer once a refused OAuth 2.0 token has been renewed and the call sent again
        (at most ``_RENEWALS`` times). The first renewal may adopt a token another process
        stored, which Jira may refuse as well; the second then refreshes the grant."""
        renewals = 0
        while (
            answer.response.status_code == 401
            and renewals < _RENEWALS
            and await self._renewed(request)
        ):
            renewals += 1
            await spend(self.limiter.budget, priority, sleep=self.limiter.sleep or self._sleep)
            request = self._http.build_request(method, url, **parts)
            answer = await self._send(request)
        return answer

    async def _send(self, request: httpx.Request) -> BoundedBody:
        """Send one built request and read its answer through the size cap.

        Raises:
            JiraNotSent: a :func:`send_before` deadline had passed (nothing was sent).
        """
        arm(request)
        self.requests_sent += 1
        return await read_bounded(
            await self._http.send(request, stream=True),
            max_bytes=self.config.max_response_bytes,
        )

    async def _renewed(self, refused: httpx.Request) -> bool:
        """Whether the auth has a fresh credential for a request Jira answered with 401."""
        return isinstance(self._auth, OAuth2Bearer) and await self._auth.renew(refused)

    def _too_large(
        self, response: httpx.Response, *, context: RequestContext, idempotent: bool
    ) -> JiraError:
        limit = self.config.max_response_bytes
        error = JiraResponseTooLarge(
            f"Jira's answer to {context.operation} was larger than {limit} bytes; "
            "reading stopped there",
            status=response.status_code,
            fix="raise jira.max_response_bytes if Jira really answers this much; otherwise a "
            "proxy in front of Jira is answering",
        )
        if idempotent:
            return error
        # A 2xx to a create: it was very likely done. Look it up before sending it again.
        unknown = JiraOutcomeUnknown(
            f"the outcome of the request to {context.operation} is unknown: {error}",
            status=response.status_code,
            fix="look the object up (identity label or property) before sending it again",
        )
        unknown.__cause__ = error
        return unknown

    def _status_failure(
        self,
        response: httpx.Response,
        *,
        path: str,
        attempt: int,
        idempotent: bool,
        context: RequestContext,
    ) -> tuple[JiraError, RetryDecision]:
        retry_after = retry_after_seconds(
            response.headers, self._now(), cap=self.config.max_retry_after_seconds
        )
        error = error_from_response(
            response.status_code,
            response.headers,
            self.redact(response.text),
            context=context,
            path=path,
            retry_after=retry_after,
            content_type=response.headers.get("content-type", ""),
        )
        decision = self.policy.for_status(
            response.status_code,
            attempt=attempt,
            idempotent=idempotent,
            retry_after=retry_after,
            random=self._random,
        )
        return error, decision

    def _transport_failure(
        self,
        exc: httpx.TransportError | TimeoutError,
        *,
        method: str,
        path: str,
        attempt: int,
        idempotent: bool,
        context: RequestContext,
        sent: bool,
    ) -> tuple[JiraError, RetryDecision]:
        sent = sent and not isinstance(exc, _NOT_SENT)
        site = self.config.site
        if isinstance(exc, TimeoutError):
            kind = "timed out"
            limit = self.config.deadline_seconds
            detail = f"no whole answer from {site} within jira.deadline_seconds ({limit:g} s)"
        elif isinstance(exc, httpx.TimeoutException):
            kind = "timed out"
            detail = (
                f"no answer from {site} within {self.config.timeout_seconds:g} s "
                f"({type(exc).__name__})"
            )
        else:
            kind = "failed"
            said = self.redact(str(exc)) or "no detail"
            detail = f"cannot connect to {site}: {type(exc).__name__}: {said}"
            if not isinstance(exc, httpx.ConnectError):
                detail = f"{type(exc).__name__} from {site}: {said}"
        logger.info("jira %s %s %s: %s", method, path, kind, type(exc).__name__)
        error = JiraUnavailable(
            f"the request to {context.operation} {kind} ({detail})",
            fix="check that Jira is reachable from this host; the work is kept and retried",
            unreached=_unreached(exc),
        )
        error.__cause__ = exc
        decision = self.policy.for_transport_error(
            attempt=attempt, idempotent=idempotent, request_sent=sent, random=self._random
        )
        return error, decision

    async def json(
        self,
        method: str,
        path: str,
        *,
        context: RequestContext,
        **kwargs: Any,
    ) -> Any:
        """:meth:`request`, then the answer's JSON (None for an empty answer).

        Raises:
            JiraUnexpectedResponse: the answer is not JSON (an SSO page, a proxy).
            JiraOutcomeUnknown: the same, for a request that is not safe to repeat:
                it was answered 2xx, so it was probably done (look it up first).
        """
        response = await self.request(method, path, context=context, **kwargs)
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "unknown content")
            error = JiraUnexpectedResponse(
                f"Jira answered {context.operation} with {kind}, not JSON",
                status=response.status_code,
                fix="check jira.url points at Jira itself, not a login or proxy page",
            )
            idempotent = kwargs.get("idempotent")
            safe = idempotent if idempotent is not None else method.upper() in _IDEMPOTENT_METHODS
            if safe or not response.is_success:
                raise error from exc
            raise JiraOutcomeUnknown(
                f"the outcome of the request to {context.operation} is unknown: {error}",
                status=response.status_code,
                fix="look the object up (identity label or property) before sending it again",
            ) from error
