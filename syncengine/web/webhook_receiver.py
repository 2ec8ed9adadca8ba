"""The Jira webhook receiver: verified, idempotent, and quick to answer.

A delivery is accepted when ``X-Hub-Signature`` signs the raw body with the
project's webhook secret, or, where Jira cannot sign (some Data Center set-ups),
when the URL carries ``?token=<secret>``. Anything else gets 401 and changes
nothing. Jira redelivers for about 30 minutes, so each delivery is handled once:
by ``X-Atlassian-Webhook-Identifier``, else by issue id and changelog id.
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncengine.domain.webhooks import PayloadError, delivery_key, parse_webhook, verify_signature
from syncengine.web.problem_documents import problem, problem_responses
from syncengine.web.services import ServicesDep

__all__ = ["MAX_WEBHOOK_BYTES", "router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["jira webhooks"])
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


def _refusal(project: str, secret: bytes, body: bytes, request: Request) -> JSONResponse | None:
    """The answer to an oversized or unauthentic delivery, or None to go on."""
    if len(body) > MAX_WEBHOOK_BYTES:
        return problem(413, f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes")
    header = request.headers.get("x-hub-signature")
    url_token = request.query_params.get("token")
    if header is not None or url_token is None:
        why = verify_signature(secret, body, header)
    else:
        why = None if hmac.compare_digest(url_token.encode(), secret) else "wrong token in the URL"
    if why is None:
        return None
    log.warning("webhook for %s refused: %s", project, why)
    return problem(401, f"webhook refused: {why}")


@router.post(
    "/api/v1/jira/webhooks/{project}",
    response_model=None,
    responses=problem_responses(400, 401, 413, 500),
)
async def receive(project: str, request: Request, services: ServicesDep) -> JSONResponse:
    """Take one Jira webhook delivery for ``project``."""
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
    refusal = _refusal(project, target.secret, body, request)
    if refusal is not None:
        return refusal
    try:
        event = parse_webhook(json.loads(body))
    except (ValueError, PayloadError) as exc:
        return problem(400, f"not a Jira issue event: {exc}")
    delivery = delivery_key(event, request.headers.get("x-atlassian-webhook-identifier"))
    if not await inbox.first_sight(target, delivery):
        return JSONResponse({"status": "duplicate", "delivery": delivery})
    try:
        await inbox.handle(project, target, event, delivery)
    except Exception:
        # The inbox forgot the delivery, so Jira's retry (it retries 5xx) is handled.
        log.exception("webhook delivery %s for %s failed", delivery, project)
        return problem(500, "the delivery could not be applied; Jira will retry it")
    return JSONResponse({"status": "ok", "delivery": delivery})
