"""Doctor's credential checks: is an OAuth project connected, and does anything expire soon.

Cloud API tokens expire within a year (their date is ``jira.api_token_expires``, since Jira
does not tell); OAuth 1.0a access tokens after 5 years; OAuth 2.0 grants after 90 days unused.
Each is a failed check ``expiry_warning_days`` ahead, saying what to renew.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from syncengine.jira.diagnostics import Check
from syncengine.store.secret_box import SecretUnreadable
from syncengine.sync.jira_connect import JiraConnector

__all__ = ["CredentialChecks", "TokenExpiry"]


@dataclass(frozen=True, kw_only=True)
class TokenExpiry:
    """A project's configured token expiry and how early to warn."""

    expires: date | None = None
    warning_days: int = 30


class CredentialChecks:
    """The credential checks of each project, run first by doctor."""

    def __init__(
        self,
        *,
        connector: JiraConnector | None,
        expiries: Mapping[str, TokenExpiry],
        now: Callable[[], datetime],
    ) -> None:
        self._connector = connector
        self._expiries = dict(expiries)
        self._now = now

    async def __call__(self, slug: str) -> list[Check]:
        checks: list[Check] = []
        expiry = self._expiries.get(slug, TokenExpiry())
        warn = timedelta(days=expiry.warning_days)
        now = self._now()
        connector = self._connector
        if connector is not None and slug in connector.credentials.setups:
            checks.append(await self._oauth(connector, slug, now, warn))
        elif expiry.expires is not None:
            left = expiry.expires - now.date()
            ok = left > warn
            checks.append(
                Check(
                    name="token expiry",
                    ok=ok,
                    detail=f"the API token expires on {expiry.expires.isoformat()}"
                    + ("" if left.days >= 0 else " (it has expired)"),
                    fix=""
                    if ok
                    else "create a new API token, put it in api_token_env or "
                    "api_token_file, and update jira.api_token_expires",
                )
            )
        return checks

    async def _oauth(
        self, connector: JiraConnector, slug: str, now: datetime, warn: timedelta
    ) -> Check:
        try:
            state = await connector.state(slug)
        except SecretUnreadable as exc:
            return Check(name="OAuth connection", ok=False, detail=str(exc), fix="connect again")
        fix = f"run `syncengine jira connect {slug}` (or Connect on the integration page)"
        if not state.connected:
            return Check(
                name="OAuth connection",
                ok=False,
                detail=f"not connected (OAuth {'1.0a' if state.kind == 'oauth1' else '2.0'})",
                fix=fix,
            )
        if state.expires_at is not None and state.expires_at - now <= warn:
            return Check(
                name="OAuth connection",
                ok=False,
                detail=f"the grant expires on {state.expires_at.date().isoformat()}",
                fix=fix,
            )
        until = state.expires_at.date().isoformat() if state.expires_at else "no expiry"
        return Check(name="OAuth connection", ok=True, detail=f"connected (renew by {until})")
