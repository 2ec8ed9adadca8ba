"""Engine users (e-mail addresses) ↔ Jira users (Cloud accountId, Data Center name).

Outbound, in order: the project's ``jira.user_map`` (e-mail → id, pinned by
configuration), then this process's cache, then a Jira user search by e-mail.
Inbound: the reverse of the same map and cache, then the e-mail Jira shows. A
Jira user the engine cannot name becomes ``jira:<id>``, which maps straight back
to that id: a round trip never changes the value, so it never echoes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from syncengine.errors import JiraPermanentError
from syncengine.jira.client import JiraClient
from syncengine.jira.models import JiraUser

__all__ = ["JIRA_PREFIX", "UnmappedUser", "UserDirectory"]

JIRA_PREFIX = "jira:"


class UnmappedUser(JiraPermanentError):
    """No Jira user answers to an engine user; the fix names the setting to add."""


class UserDirectory:
    """Maps the users of one project, caching what Jira told it."""

    def __init__(self, slug: str, user_map: Mapping[str, str]) -> None:
        self._slug = slug
        self._pinned = {email.casefold(): jira_id for email, jira_id in user_map.items()}
        self._reverse = {jira_id: email for email, jira_id in user_map.items()}
        self._cache: dict[str, str] = {}

    async def jira_id(self, client: JiraClient, user: str | None) -> str | None:
        """The Jira id to assign ``user`` (an e-mail) to; None unassigns.

        Raises:
            UnmappedUser: neither the map nor a user search names exactly one Jira user.
            JiraError: the user search failed.
        """
        if not user:
            return None
        if user.startswith(JIRA_PREFIX):
            return user[len(JIRA_PREFIX) :]
        key = user.casefold()
        found = self._pinned.get(key) or self._cache.get(key)
        if found is not None:
            return found
        candidates = await client.search_users(user, max_results=10)
        exact = [c for c in candidates if c.email and c.email.casefold() == key]
        chosen = exact or (list(candidates) if len(candidates) == 1 else [])
        if len(chosen) != 1 or not chosen[0].identifier:
            what = "no Jira user" if not chosen else f"{len(chosen)} Jira users"
            raise UnmappedUser(
                f"assignee {user} is not mapped to a Jira user ({what} found by e-mail)",
                fix=f'add "{user}" = "<accountId or username>" to '
                f"projects.{self._slug}.jira.user_map",
            )
        self._remember(user, chosen[0].identifier)
        return chosen[0].identifier

    def engine_user(self, user: JiraUser | None) -> str | None:
        """The engine user a Jira assignee stands for (see the module docstring)."""
        if user is None or not user.identifier:
            return None
        ident = user.identifier
        named = self._reverse.get(ident)
        if named is not None:
            return named
        if user.email:
            self._remember(user.email, ident)
            return user.email
        return f"{JIRA_PREFIX}{ident}"

    async def known_as(
        self, client: JiraClient, engine_user: str | None, candidates: Iterable[str | None]
    ) -> str | None:
        """``engine_user`` as one of ``candidates`` (the link's own values) when it is a
        ``jira:<id>`` that a candidate e-mail maps to; else ``engine_user`` unchanged.

        A Jira user whose e-mail Cloud hides is named ``jira:<id>`` only by a process that
        never looked that user up (another process pushed it, or this one restarted): the
        same person must not read as a change. Each candidate is looked up once (cached).

        Raises JiraError when a lookup fails for a passing reason.
        """
        if not engine_user or not engine_user.startswith(JIRA_PREFIX):
            return engine_user
        wanted = engine_user[len(JIRA_PREFIX) :]
        for candidate in dict.fromkeys(candidates):
            if not candidate or candidate.startswith(JIRA_PREFIX):
                continue
            try:
                found = await self.jira_id(client, candidate)
            except JiraPermanentError:
                continue  # not a Jira user we can name: not this one
            if found == wanted:
                return candidate
        return engine_user

    def _remember(self, email: str, jira_id: str) -> None:
        self._cache[email.casefold()] = jira_id
        self._reverse.setdefault(jira_id, email)
