"""In demo mode (the bundled simulator) no page asks the user to register a Jira webhook."""

from __future__ import annotations

from syncengine.bootstrap.values import webhook_watches
from syncengine.settings import Settings


def test_the_bundled_simulator_asks_for_no_webhook_registration() -> None:
    real = {"url": "https://x.atlassian.net", "user": "bot@example.com", "api_token": "t0ken-abc"}
    settings = Settings.model_validate({"projects": {"demo": {}, "real": {"jira": real}}})
    watches = webhook_watches(settings)
    assert not watches["demo"].registrable
    assert watches["real"].registrable
