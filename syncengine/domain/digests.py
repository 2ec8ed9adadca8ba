"""Constant-time comparison of secrets, tokens and signatures as they arrive.

``hmac.compare_digest`` refuses two ``str`` values holding anything but ASCII (a
``TypeError``: a 500 to whoever sent it). What a client sends can hold anything, so
both sides are compared as UTF-8 bytes: a wrong value is simply a wrong value.
"""

from __future__ import annotations

import hmac

__all__ = ["same_text"]


def same_text(given: str, expected: str) -> bool:
    """True when ``given`` is ``expected``, compared in constant time (for equal lengths)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
