"""The simulator's site kept in a folder, so that a bundled demo's Jira survives restarts.

:meth:`StateFile.open` ties a :class:`~syncengine.jira.simulator.state.SimState` to a
folder of JSON files (``site.json``: users, versions and counters; ``issues/<id>.json``:
one file per issue, rewritten only when the issue changed): a folder that holds a
site replaces the seeded site's issues, users, versions and counters with it; a new
folder gets the seeded site written into it.
:meth:`StateFile.wrap` wraps the simulator's ASGI app so that the answer to a request
that may have changed the site is sent only once what changed is on disk: an issue a
client was told about is never forgotten, even by a process that is killed.

One process writes a folder: the one holding its lock (``lock``, an ``flock``).
Another opens it read-only: it sees the site as the writer last saved it, and
answers 503 to any call that would change it (a CLI command while ``serve`` runs).
Each file is written aside and renamed into place, so a reader never sees half of one.

Definitions (statuses, fields, workflows) are not stored: they come from the seed.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncengine.jira.simulator.model import (
    Attachment,
    ChangeItem,
    Comment,
    History,
    Issue,
    Permission,
    RemoteLink,
    User,
    Version,
)
from syncengine.jira.simulator.state import SimState

__all__ = ["StateFile"]

# Calls that change nothing although they are not GETs.
_READ_POSTS = ("/search", "/search/jql", "/search/approximate-count")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$time" in obj:
            return datetime.fromisoformat(obj["$time"])
        if "$bytes" in obj:
            return base64.b64decode(obj["$bytes"])
    return obj


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_encode, sort_keys=True, separators=(",", ":"))


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode)


_ISSUE_PARTS = {"comments", "attachments", "remote_links", "history"}


def _issue_from(doc: dict[str, Any]) -> Issue:
    return Issue(
        **{k: v for k, v in doc.items() if k not in _ISSUE_PARTS},
        comments=[Comment(**c) for c in doc["comments"]],
        attachments=[Attachment(**a) for a in doc["attachments"]],
        remote_links=[RemoteLink(**r) for r in doc["remote_links"]],
        history=[
            History(
                id=h["id"],
                author=h["author"],
                created=h["created"],
                items=tuple(ChangeItem(**item) for item in h["items"]),
            )
            for h in doc["history"]
        ],
    )


def _site_doc(state: SimState) -> dict[str, Any]:
    return {
        "next_id": state.next_id,
        "reserved_ids": state.reserved_ids,
        "projects": {
            key: {
                "next_number": p.next_number,
                "versions": [dataclasses.asdict(v) for v in p.versions],
            }
            for key, p in state.projects.items()
        },
        "users": [dataclasses.asdict(u) for u in state.users.values()],
        "denied": sorted([list(d) for d in state.denied]),
    }


def _load_site(state: SimState, doc: dict[str, Any]) -> None:
    state.next_id = doc["next_id"]
    state.reserved_ids = set(doc["reserved_ids"])
    for key, saved in doc["projects"].items():
        project = state.projects.get(key)
        if project is None:
            continue  # a project the seed no longer has: its issues stay, unreachable
        project.next_number = saved["next_number"]
        project.versions = [Version(**v) for v in saved["versions"]]
    users = [
        User(
            **{
                **u,
                "token_digests": set(u["token_digests"]),
                "scoped_digests": set(u["scoped_digests"]),
            }
        )
        for u in doc["users"]
    ]
    state.users = {u.account_id: u for u in users}
    state.denied = {(a, p, Permission(perm)) for a, p, perm in doc["denied"]}


def _signature(issue: Issue) -> tuple[Any, ...]:
    # Every write through the REST API counts in ``writes``; moves change the key and
    # ``updated``, so an issue whose signature is unchanged needs no new row.
    return (issue.writes, issue.key, issue.updated, issue.status_id, len(issue.history))


class StateFile:
    """One simulator's state tied to its folder (see the module docstring)."""

    def __init__(self, path: Path, state: SimState, *, lock: IO[str] | None) -> None:
        self.path = path
        self._state = state
        self._lock = lock
        self._site = ""
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._seen: tuple[int, int] | None = None

    @property
    def writable(self) -> bool:
        """True in the process holding the folder's lock."""
        return self._lock is not None

    @property
    def _site_file(self) -> Path:
        return self.path / "site.json"

    @property
    def _issues(self) -> Path:
        return self.path / "issues"

    @classmethod
    def open(cls, path: Path, state: SimState, *, wait_seconds: float = 0.0) -> StateFile:
        """Tie ``state`` (seeded) to the folder ``path``, loading what it holds.

        The lock is taken when free (waiting up to ``wait_seconds``); otherwise the
        folder is opened read-only. Raises OSError when the folder cannot be written.
        """
        (path / "issues").mkdir(parents=True, exist_ok=True)
        lock = _take_lock(path / "lock", wait_seconds)
        opened = cls(path, state, lock=lock)
        opened._load()
        if lock is not None:
            opened.save()
        return opened

    def _stamp(self) -> tuple[int, int] | None:
        try:
            found = self._site_file.stat()
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_mtime_ns)

    def refresh(self) -> None:
        """Read-only: load the folder again when the writer saved since the last load."""
        if self._lock is None and self._stamp() != self._seen:
            self._load()

    def _load(self) -> None:
        self._seen = self._stamp()
        try:
            site = self._site_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return  # a new folder: the seeded site
        _load_site(self._state, _loads(site))
        issues = []
        for file in self._issues.glob("*.json"):
            try:
                issues.append(_issue_from(_loads(file.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                continue  # deleted by the writer while this copy read
        self._state.issues = {i.id: i for i in sorted(issues, key=lambda i: int(i.id))}
        self._site = site
        self._signatures = {i.id: _signature(i) for i in issues}

    def save(self) -> None:
        """Write what changed since the last save: the issues, then the site."""
        if self._lock is None:
            return
        state = self._state
        site = _dumps(_site_doc(state))
        changed = [i for i in state.issues.values() if self._signatures.get(i.id) != _signature(i)]
        gone = [key for key in self._signatures if key not in state.issues]
        if site == self._site and not changed and not gone:
            return
        for issue in changed:
            _write(self._issues / f"{issue.id}.json", _dumps(dataclasses.asdict(issue)))
            self._signatures[issue.id] = _signature(issue)
        for key in gone:
            (self._issues / f"{key}.json").unlink(missing_ok=True)
            del self._signatures[key]
        # Last, and always: a reader reloads when the site file is new.
        _write(self._site_file, site)
        self._site = site

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` answering only once its changes are saved (read-only: refusing them)."""

        async def saved(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            self.refresh()
            if _reads(scope):
                await app(scope, receive, send)
                return
            if not self.writable:
                await _refuse(self.path, send)
                return

            async def send_saved(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self.save()
                await send(message)

            try:
                await app(scope, receive, send_saved)
            finally:
                self.save()  # also when the app failed half-way, or dropped the answer

        return saved

    def close(self) -> None:
        """Save and give up the lock."""
        try:
            self.save()
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None


def _reads(scope: Scope) -> bool:
    method = scope["method"]
    if method in {"GET", "HEAD", "OPTIONS"}:
        return True
    return method == "POST" and str(scope["path"]).rstrip("/").endswith(_READ_POSTS)


async def _refuse(path: Path, send: Send) -> None:
    body = json.dumps(
        {
            "errorMessages": [
                f"the bundled Jira simulator in {path} is served by another syncengine "
                "process; this one only reads it (make the change there, or stop it first)"
            ],
            "errors": {},
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _write(path: Path, text: str) -> None:
    # A whole file or none: written aside, then renamed over the old one.
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, path)


def _take_lock(path: Path, wait_seconds: float) -> IO[str] | None:
    handle = path.open("a+", encoding="utf-8")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                return None
            time.sleep(0.1)
            continue
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle
