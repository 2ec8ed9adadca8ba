"""What a process does with a built engine before it serves: its projects and tokens."""

from __future__ import annotations

from collections.abc import Callable

from syncengine.bootstrap.container import Container
from syncengine.store.migrate import schema_is_current as _schema_is_current
from syncengine.store.projects import generate_token

__all__ = ["prepare_projects", "schema_is_current"]


async def schema_is_current(container: Container) -> bool:
    """True when the database is at the newest migration the code knows."""
    return await _schema_is_current(container.settings.effective_database_url)


async def prepare_projects(container: Container, echo: Callable[[str], None]) -> None:
    """Make the configured projects and their tokens exist in the store.

    A project with ``generate_token`` and no token configured gets one generated
    on its first start; it is printed once through ``echo`` and only its digest is
    kept. Configured tokens are only counted.
    """
    now = container.clock()
    for slug, project in container.settings.projects.items():
        record = await container.projects.ensure(
            slug, name=project.name, integration_active=project.integration_active, now=now
        )
        tokens = [t.get_secret_value() for t in project.submission_tokens]
        await container.projects.set_tokens(record.id, tokens, source="config", now=now)
        if tokens:
            # No character of a token is shown: a prefix and a length narrow a guess.
            echo(f"project {slug}: {len(tokens)} submission token(s) configured")
        if tokens or not project.generate_token:
            continue
        if await container.projects.token_count(record.id, source="generated"):
            env = project.submission_token_env or "a submission token"
            echo(f"project {slug}: using the token generated at first start (set {env} to choose)")
            continue
        token = generate_token()
        await container.projects.set_tokens(record.id, [token], source="generated", now=now)
        echo(f"project {slug}: generated submission token {token} (shown once: keep it)")
