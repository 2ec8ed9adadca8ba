"""The Jira webhook receiver: verified, idempotent, and quick to answer.

A delivery is accepted when ``X-Hub-Signature`` signs the raw body with the
project's webhook secret, or, where Jira cannot sign (some Data Center set-ups),
when the URL carries ``?token=<secret>``, or (a Cloud OAuth 2.0 app's dynamic webhook)
when ``Authorization: Bearer`` holds a current JWT signed (HS256) with the app's client
secret. Anything else gets 401 and changes
nothing. Jira redelivers for about 30 minutes, so each delivery is handled once:
by ``X-Atlassian-Webhook-Identifier``, else by issue id and changelog id (comment
events and deliveries without a timestamp: by a hash of the body). A signed body
whose timestamp is older than ``http.webhook_max_age_seconds`` is a replay and
gets 400; so does a body the parser cannot read (a field of the wrong type,
nesting past 64 levels), saying which field.

The answer (200) says what happened: ``{"status": "applied"}``,
``{"status": "ignored", "reason": "not linked: …"}`` (not linked, comment only,
unknown event, Passive…), ``{"status": "queued", "reason": …}`` (the link was busy or Jira
failed: merged later by the outbox) or ``{"status": "duplicate"}``, with the ``delivery`` id.
"""

from __future__ import annotations

import hmac
import logging
import warnings
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OctKey

from syncengine.domain.webhooks import (
    JiraEvent,
    PayloadError,
    delivery_key,
    parse_delivery,
    verify_signature,
)
from syncengine.logs import bind
from syncengine.sync.webhook_inbox import WebhookInbox, WebhookTarget
from syncengine.web.problem_documents import problem, problem_responses
from syncengine.web.request_bodies import WEBHOOK_BODY
from syncengine.web.services import ServicesDep

__all__ = ["PATH", "router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["jira webhooks"])
# Its body limit (http.max_webhook_bytes) is kept by the app's BodyLimits, before any read.
PATH = "/api/v1/jira/webhooks/{project}"


def _app_token_problem(app_secret: bytes, authorization: str, now: datetime) -> str | None:
    """Why a dynamic webhook's JWT is not good, or None (signature and expiry checked)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "no Bearer token"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # the app's secret is what it is
        key = OctKey.import_key(app_secret)
    try:
        decoded = jwt.decode(token.strip(), key, algorithms=["HS256"])
        jwt.JWTClaimsRegistry(
            now=int(now.timestamp()), leeway=300, exp={"essential": True}
        ).validate(decoded.claims)
    except JoseError as exc:
        return f"the app's token is not valid ({exc.error})"
    except ValueError:
        return "the app's token is not valid"
    return None


def _refusal(
    project: str, target: WebhookTarget, body: bytes, request: Request, now: datetime
) -> JSONResponse | None:
    """The answer to an unauthentic delivery, or None to go on."""
    secret = target.secret
    header = request.headers.get("x-hub-signature")
    url_token = request.query_params.get("token")
    authorization = request.headers.get("authorization")
    if target.app_secret is not None and authorization is not None and header is None:
        why = _app_token_problem(target.app_secret, authorization, now)
    elif not secret:
        why = "not signed by the OAuth 2.0 app (no webhook secret is set)"
    elif header is not None or url_token is None:
        why = verify_signature(secret, body, header)
    else:
        why = None if hmac.compare_digest(url_token.encode(), secret) else "wrong token in the URL"
    if why is None:
        return None
    log.warning("webhook for %s refused: %s", project, why)
    return problem(401, f"webhook refused: {why}")


def _event(project: str, body: bytes, inbox: WebhookInbox) -> JiraEvent | JSONResponse:
    """The delivery's event, or the 400 for a body that is unreadable or a replay."""
    try:
        event = parse_delivery(body)
    except PayloadError as exc:
        return problem(400, f"not a Jira issue event: {exc}")
    stale = inbox.too_old(event)
    if stale is not None:
        log.warning("webhook for %s refused: %s", project, stale)
        return problem(400, f"webhook refused: {stale}", reason="stale")
    return event


@router.post(
    PATH,
    response_model=None,
    responses=problem_responses(400, 401, 413, 500),
    openapi_extra=WEBHOOK_BODY,
)
async def receive(project: str, request: Request, services: ServicesDep) -> JSONResponse:
    """Take one Jira webhook delivery for ``project``."""
    bind(project=project)
    inbox = services.webhooks
    target = await inbox.target(project)
    if target is None:
        # Same answer whether the project is unknown or unconfigured: no probing.
        return problem(
            401,
            "webhook deliveries for this URL are not accepted; "
            "set projects.<slug>.jira.webhook_secret and register the webhook with it",
        )
    body = await request.body()
    refusal = _refusal(project, target, body, request, inbox.now())
    if refusal is not None:
        return refusal
    event = _event(project, body, inbox)
    if isinstance(event, JSONResponse):
        return event
    delivery = delivery_key(event, request.headers.get("x-atlassian-webhook-identifier"), body)
    if not await inbox.first_sight(target, delivery):
        return JSONResponse({"status": "duplicate", "delivery": delivery})
    try:
        handled = await inbox.handle(project, target, event, delivery)
    except Exception:
        # The inbox forgot the delivery, so Jira's retry (it retries 5xx) is handled.
        log.exception("webhook delivery %s for %s failed", delivery, project)
        return problem(500, "the delivery could not be applied; Jira will retry it")
    answer = {"status": handled.status, "delivery": delivery}
    if handled.reason:
        answer["reason"] = handled.reason
    return JSONResponse(answer)
