"""Where the tests find the repository and the vendored Jira reference material.

Everything the tests read lives inside the repository (``tests/vendor``,
``tests/fixtures``), so a clone with nothing beside it runs the whole suite.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENDOR = REPO / "tests" / "vendor" / "jira"
JIRA_FIXTURES = VENDOR / "fixtures"
WEBHOOK_PAYLOADS = JIRA_FIXTURES / "mattermost-plugin-jira" / "webhooks"
