"""Database errors, translated once at the store's edge into the engine's error tree.

:class:`~syncengine.store.database.Database` wraps every session and connection
it hands out, so a repository method raises only the tree's errors:
``StoreBusy`` (transient: a lock, a deadlock, a lost connection — retry),
``StoreConflict`` (a row with the same key exists), ``StoreRejected`` (the data
itself: a value out of range, text the driver cannot encode) or ``StoreError``.
Drivers raise :class:`UnicodeEncodeError` themselves for text they cannot send
(a lone surrogate), outside SQLAlchemy's wrapping, so it is caught here too.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from syncengine.errors import StoreBusy, StoreConflict, StoreError, StoreRejected

__all__ = ["FOREIGN_ERRORS", "translate"]

FOREIGN_ERRORS = (SQLAlchemyError, UnicodeEncodeError)


def translate(exc: BaseException, what: str) -> StoreError:
    """The tree's error for a driver or SQLAlchemy error, its message starting with ``what``."""
    # The driver's own message names the constraint or the lock; the SQL is left out.
    cause = getattr(exc, "orig", None) or exc
    message = f"{what}: {type(cause).__name__}: {cause}"
    if isinstance(exc, IntegrityError):
        return StoreConflict(message)
    if isinstance(exc, DataError | UnicodeEncodeError):
        return StoreRejected(message)
    if isinstance(exc, OperationalError):
        return StoreBusy(message)
    return StoreError(message)
