"""In demo mode (the bundled simulator) no page asks the user to register a Jira webhook."""

from __future__ import annotations

from syncengine.bootstrap.values import webhook_watches
from syncengine.settings import Settings


def test_no_webhook_watch_for_the_bundled_simulator() -> None:
    settings = Settings.model_validate(
        {
            "projects": {
                "demo": {},
                "real": {
                    "jira": {
                        "url": "https://x.atlassian.net",
                        "user": "bot@example.com",
                        "api_token": "t0ken-abc",
                    }
                },
            }
        }
    )
    assert set(webhook_watches(settings)) == {"real"}
