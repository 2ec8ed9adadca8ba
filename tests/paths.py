"""Where the tests find the repository and the shared reference material.

CI clones the repository with ``shared/`` beside it; a git worktree may sit deeper,
so the nearest ancestor folder holding ``shared/jira`` is used.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _find_shared() -> Path:
    if os.environ.get("TEST_SHARED_DIR"):
        return Path(os.environ["TEST_SHARED_DIR"])
    for folder in REPO.parents:
        if (folder / "shared" / "jira").is_dir():
            return folder / "shared"
    return REPO.parent / "shared"


SHARED = _find_shared()
JIRA_FIXTURES = SHARED / "jira" / "fixtures"
