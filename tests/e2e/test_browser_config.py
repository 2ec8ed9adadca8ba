"""The ``[web]`` block every browser test's server starts with is one valid configuration."""

from __future__ import annotations

import tomllib

from syncengine.settings import Settings
from syncengine.web.passwords import verify_password
from tests.e2e.browser import web_config


def test_the_shared_web_block_signs_in_each_user_in_their_role() -> None:
    block = web_config({"root": ("root-pw-1", "admin"), "alice": ("alice-pw-2", "portal")})
    web = Settings.model_validate(tomllib.loads(block)).web
    assert web.session_secret is not None
    assert {name: user.role for name, user in web.users.items()} == {
        "root": "admin",
        "alice": "portal",
    }
    assert verify_password(web.users["alice"].password_hash, "alice-pw-2")
    assert not verify_password(web.users["alice"].password_hash, "root-pw-1")
