"""Admin webhooks: Jira's payloads, signatures, identifiers and retries.

Each issue event becomes one delivery per matching webhook, rendered at once
(the payload is the issue as it was when the event happened). Deliveries go out
through an injectable httpx transport, either by themselves (``mode="auto"``) or
when a test calls :meth:`WebhookDispatcher.deliver_pending`.

Jira promises neither order nor a single delivery: deliveries of one site go out
concurrently, a delivery whose answer Jira did not see is sent again with the same
``X-Atlassian-Webhook-Identifier``, and one that fails through every retry is given
up on. :class:`DeliveryFaults` makes auto mode behave so on purpose (seeded): each
delivery is held a random delay (later events overtake earlier ones), some are sent
twice, some never.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import random
import ssl
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey

from syncengine.jira.simulator import render
from syncengine.jira.simulator.clock import Clock
from syncengine.jira.simulator.errors import JiraHttpError
from syncengine.jira.simulator.jql import parse as parse_jql
from syncengine.jira.simulator.model import Issue
from syncengine.jira.simulator.state import IssueEvent, SimState

__all__ = ["Delivery", "DeliveryFaults", "Webhook", "WebhookDispatcher", "sign"]

EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created")
RETRYABLE = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once: making it (loading the CA certificates) costs
    more than a delivery itself."""
    return httpx.create_ssl_context()


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``, the ``X-Hub-Signature`` value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(kw_only=True)
class Webhook:
    id: int
    name: str
    url: str
    events: tuple[str, ...] = EVENTS
    secret: str | None = field(default=None, repr=False)
    enabled: bool = True
    jql: str | None = None
    matches: Callable[[Issue], bool] = lambda _issue: True
    owner: str | None = None
    """A dynamic webhook's OAuth 2.0 app (its client id); None for an admin webhook."""
    signing_secret: str | None = field(default=None, repr=False)
    """A dynamic webhook's deliveries carry a JWT signed (HS256) with the app's secret."""
    expires_at: datetime | None = None
    """Dynamic webhooks lapse 30 days after registration or their last refresh."""

    def wants(self, event: IssueEvent, now: datetime) -> bool:
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return self.enabled and event.webhook_event in self.events and self.matches(event.issue)

    def to_json(self, base_url: str) -> dict[str, Any]:
        """As Jira lists it (the secret is never shown)."""
        return {
            "self": f"{base_url}/rest/webhooks/1.0/webhook/{self.id}",
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "filters": {"issue-related-events-section": self.jql or ""},
            "enabled": self.enabled,
        }


@dataclass(kw_only=True)
class Delivery:
    """One payload for one webhook, with its attempts so far."""

    identifier: str
    webhook_id: int
    url: str
    event: str
    body: bytes
    due: float
    attempts: int = 0
    outcomes: list[str] = field(default_factory=list)
    done: bool = False
    failed: bool = False

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, kw_only=True)
class DeliveryFaults:
    """How auto-mode deliveries misbehave, as Jira's may.

    ``delay_seconds``: each delivery waits a random time up to this before its first
    attempt, so deliveries overtake each other. ``duplicate``: the share of delivered
    ones sent once more (the same identifier), as when Jira lost the answer.
    ``drop``: the share given up on without an attempt, as after every retry failed.
    """

    delay_seconds: float = 0.0
    duplicate: float = 0.0
    drop: float = 0.0

    @classmethod
    def from_json(cls, data: Any) -> DeliveryFaults:
        """From an admin request body; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("delivery faults are a JSON object")  # noqa: TRY004 - callers catch ValueError
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown delivery fault keys: {sorted(unknown)}")
        try:
            faults = cls(**{k: float(v) for k, v in data.items()})
        except (TypeError, ValueError):
            raise ValueError("delivery fault values are numbers") from None
        if not (0 <= faults.duplicate <= 1 and 0 <= faults.drop <= 1):
            raise ValueError("'duplicate' and 'drop' are shares between 0 and 1")
        if not 0 <= faults.delay_seconds <= 600:
            raise ValueError("'delay_seconds' is between 0 and 600")
        return faults

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class WebhookDispatcher:
    """Registered webhooks and their delivery queue."""

    def __init__(
        self,
        state: SimState,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        mode: Literal["auto", "manual"] = "auto",
        retry_delays: tuple[float, ...] = (10.0, 60.0, 300.0, 600.0, 900.0),
        timeout: float = 10.0,
    ) -> None:
        self._state = state
        self._clock = clock
        self.transport = transport
        self.mode = mode
        self.retry_delays = retry_delays
        self.timeout = timeout
        self._ids = itertools.count(1)
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.faults = DeliveryFaults()
        self._rng = random.Random(0)  # noqa: S311 - repeatable test faults, not security
        state.listeners.append(self._on_event)

    # ---- registration -----------------------------------------------------
    def register(
        self,
        url: str,
        *,
        name: str = "webhook",
        events: tuple[str, ...] = EVENTS,
        secret: str | None = None,
        jql: str | None = None,
    ) -> Webhook:
        """Register ``url`` for ``events`` on issues matching ``jql`` (all when None).

        Raises ValueError for an unknown event, a bad URL or JQL Jira would reject.
        """
        if not url.startswith(("http://", "https://")):
            raise ValueError("a webhook URL must start with http:// or https://")
        unknown = set(events) - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown webhook events {sorted(unknown)}; known: {list(EVENTS)}")
        hook = Webhook(id=next(self._ids), name=name, url=url, events=tuple(events), secret=secret)
        if jql:
            try:
                query = parse_jql(self._state, jql)
            except JiraHttpError as error:
                raise ValueError(f"invalid webhook JQL filter: {error.body}") from None
            hook.jql, hook.matches = jql, query.predicate
        self.webhooks[hook.id] = hook
        return hook

    def register_dynamic(
        self,
        url: str,
        *,
        owner: str,
        signing_secret: str,
        events: tuple[str, ...],
        jql: str,
        expires_at: datetime,
    ) -> Webhook:
        """An OAuth 2.0 app's webhook (Cloud ``POST /rest/api/3/webhook``).

        Raises ValueError for JQL Jira would reject.
        """
        try:
            query = parse_jql(self._state, jql)
        except JiraHttpError as error:
            raise ValueError(f"invalid JQL filter: {error.body}") from None
        hook = Webhook(
            id=next(self._ids),
            name=f"dynamic webhook of {owner}",
            url=url,
            events=events,
            jql=jql,
            matches=query.predicate,
            owner=owner,
            signing_secret=signing_secret,
            expires_at=expires_at,
        )
        self.webhooks[hook.id] = hook
        return hook

    def unregister(self, webhook_id: int) -> bool:
        return self.webhooks.pop(webhook_id, None) is not None

    # ---- events -----------------------------------------------------------
    def _payload(self, event: IssueEvent) -> dict[str, Any]:
        state = self._state
        stamp = int(self._clock.now().timestamp() * 1000)
        issue = render.issue(state, event.issue, 2)
        if event.webhook_event == "comment_created":
            comment = next(c for c in event.issue.comments if c.id == event.comment_id)
            fields = issue["fields"]
            brief = ("summary", "issuetype", "project", "assignee", "priority", "status")
            return {
                "timestamp": stamp,
                "webhookEvent": event.webhook_event,
                "comment": render.comment(state, event.issue.id, comment, 2),
                "issue": {**issue, "fields": {k: fields[k] for k in brief if k in fields}},
            }
        payload: dict[str, Any] = {
            "timestamp": stamp,
            "webhookEvent": event.webhook_event,
            "issue_event_type_name": event.event_type,
            "user": render.user(state, event.user, 2),
            "issue": issue,
        }
        if event.comment_id is not None:
            comment = next(c for c in event.issue.comments if c.id == event.comment_id)
            payload["comment"] = render.comment(state, event.issue.id, comment, 2)
        if event.webhook_event != "jira:issue_deleted":
            payload["changelog"] = {
                "id": event.changelog_id or state.new_id(),
                "items": [render.change_item(state, i) for i in event.changelog],
            }
        return payload

    def _on_event(self, event: IssueEvent) -> None:
        now = self._clock.now()
        hooks = [h for h in self.webhooks.values() if h.wants(event, now)]
        if not hooks:
            return
        body = json.dumps(self._payload(event)).encode()
        for hook in hooks:
            url = (
                hook.url.replace("${issue.key}", event.issue.key)
                .replace("${issue.id}", event.issue.id)
                .replace("${project.key}", event.issue.key.split("-")[0])
            )
            delivery = Delivery(
                identifier=str(uuid.uuid4()),
                webhook_id=hook.id,
                url=url,
                event=event.webhook_event,
                body=body,
                due=self._clock.monotonic(),
            )
            self.deliveries.append(delivery)
            if self.mode == "auto":
                # without a running loop, deliver_pending() sends it later
                with contextlib.suppress(RuntimeError):
                    self._spawn(delivery)

    # ---- delivery ---------------------------------------------------------
    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver_until_done(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_until_done(self, delivery: Delivery) -> None:
        faults = self.faults
        if faults.drop and self._rng.random() < faults.drop:
            delivery.failed = True  # as if every attempt had failed: only a poll sees the change
            delivery.outcomes.append("given up")
            return
        if faults.delay_seconds:
            delivery.due += self._rng.uniform(0.0, faults.delay_seconds)
        twice = bool(faults.duplicate) and self._rng.random() < faults.duplicate
        while not delivery.done and not delivery.failed:
            await self._clock.sleep(max(0.0, delivery.due - self._clock.monotonic()))
            await self._attempt(delivery)
            if delivery.done and twice:
                twice = False  # Jira did not see the answer: the same delivery once more
                delivery.done = False
                delivery.due = self._clock.monotonic() + self._rng.uniform(
                    0.0, faults.delay_seconds
                )

    async def _attempt(self, delivery: Delivery) -> None:
        hook = self.webhooks.get(delivery.webhook_id)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
        }
        if delivery.attempts:
            headers["X-Atlassian-Webhook-Retry"] = str(delivery.attempts)
        if hook is not None and hook.secret:
            headers["X-Hub-Signature"] = sign(hook.secret, delivery.body)
        if hook is not None and hook.signing_secret and hook.owner:
            headers["Authorization"] = f"Bearer {self._jwt(hook.owner, hook.signing_secret)}"
        delivery.attempts += 1
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.timeout, verify=_tls()
            ) as client:
                answer = await client.post(delivery.url, content=delivery.body, headers=headers)
            outcome, retry = str(answer.status_code), answer.status_code in RETRYABLE
            delivered = 200 <= answer.status_code < 300
        except httpx.TimeoutException:
            outcome, retry, delivered = "timeout", True, False
        except httpx.TransportError as exc:
            outcome, retry, delivered = f"error: {type(exc).__name__}", True, False
        delivery.outcomes.append(outcome)
        if delivered:
            delivery.done = True
        elif retry and delivery.attempts <= len(self.retry_delays):
            delivery.due = self._clock.monotonic() + self.retry_delays[delivery.attempts - 1]
        else:
            delivery.failed = True

    def _jwt(self, client_id: str, secret: str) -> str:
        """What Cloud sends an OAuth 2.0 app's webhook: a short-lived HS256 JWT."""
        stamp = int(self._clock.now().timestamp())
        claims = {"iss": client_id, "iat": stamp, "exp": stamp + 300}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # a test app's short secret
            key = OctKey.import_key(secret)
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)

    async def deliver_pending(self) -> int:
        """Attempt every delivery that is due now; returns how many were attempted."""
        due = [
            d
            for d in self.deliveries
            if not d.done and not d.failed and d.due <= self._clock.monotonic()
        ]
        for delivery in due:
            await self._attempt(delivery)
        return len(due)

    async def drain(self) -> None:
        """Wait for every delivery started in auto mode to finish or give up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def pending(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.done and not d.failed]
