"""Version parsing and ordering under a configured scheme.

Every scheme first drops a package prefix, as Sentry's recommended release form
``package@version[+build]`` has it (``checkout-service@1.4.2``,
``@acme/web@2.0.0+417``): the text after the LAST ``@`` is the version, and the
package does not take part in the order. A project whose versions carry other
text sets ``version_pattern`` (a regex with one group) and the version is what
the group matched (:func:`extract_version`).

Four schemes (``SyncSettings.version_scheme``):

``semver``
    Semantic Versioning 2.0.0: ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``, no leading zeros
    in numeric identifiers. Pre-release precedence follows the spec (numeric
    identifiers below alphanumeric ones, numeric compared as numbers, a shorter
    list below a longer one with the same prefix, any pre-release below the
    release). Build metadata is kept in the text but ignored in comparisons. A
    leading ``v`` is accepted. ``2.3`` is *not* semver: use ``loose`` for that.
``pep440``
    Python's PEP 440 (epochs, pre/post/dev releases, local versions), by the
    ``packaging`` library, the reference implementation. A ``+local`` part orders
    after the same version without one.
``calver`` (``calendar`` is the old name, still read)
    ``YYYY.MM[.DD][.N]`` or ``YY.MM[.DD][.N]`` with ``.`` or ``-`` between parts
    (``2024.05``, ``2024-05-17``, ``24.05``, ``2024.05.17.2``), then optionally a
    build number written ``build 17`` (or ``build17``, ``+17``). ``YY`` means
    ``20YY``, so ``24.05 == 2024.05``. The month must be 1-12 and the day a real
    day of that month. A missing day sorts before day 1; a missing ``N`` or build
    is 0.
``loose``
    Dotted numbers of any length with an optional pre-release tag and an
    optional ``v`` prefix: ``2.3``, ``v2.3.0``, ``2.3.0-rc1``, ``2.3.0b2``,
    ``2.3.0-beta.2``, ``1.2.3.4``. Trailing zeros do not count (``2.3 == 2.3.0``).
    Tags, lowest first: ``dev``/``snapshot`` < ``a``/``alpha`` < ``b``/``beta``
    < ``c``/``rc``/``pre``/``preview`` < the release; a missing tag number is 0.
    A trailing ``build N`` orders builds of one version (a missing one is 0);
    ``+build`` metadata is ignored. Any other tag is not a version.

What each does with three common texts:

- ``2.3.0-beta``: semver, a pre-release below ``2.3.0``; pep440, ``2.3.0b0``;
  calver, not a version; loose, ``2.3-b0``, below ``2.3``.
- ``2024.05 build 17``: semver and pep440, not a version; calver, build 17 of
  ``2024.05`` (after ``2024.05``, before ``2024.05.01``); loose, build 17 of
  ``2024.5`` (before ``2024.5.1``).
- ``v2.3``: semver, not a version (it needs three numbers); pep440, ``2.3``;
  calver, not a version (``v`` then a two-digit year: ``v24.05`` is); loose,
  ``2.3`` (equal to ``2.3.0``).

Anything a scheme does not accept raises :class:`UnparseableVersion`, naming the
text and the scheme: versions are never guessed. Versions of different schemes
do not compare (``TypeError``, as for any unorderable Python values).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from syncengine.errors import SyncEngineError

__all__ = [
    "UnparseableVersion",
    "Version",
    "VersionScheme",
    "extract_version",
    "parse_version",
]


class VersionScheme(StrEnum):
    """How version strings are read and ordered (``SyncSettings.version_scheme``)."""

    SEMVER = "semver"
    PEP440 = "pep440"
    CALVER = "calver"
    CALENDAR = "calver"  # the old name of CALVER; "calendar" in settings and rules still reads
    LOOSE = "loose"

    @classmethod
    def _missing_(cls, value: object) -> VersionScheme | None:
        return cls.CALVER if value == "calendar" else None


class UnparseableVersion(SyncEngineError):
    """A text is not a version under a scheme; ``text``, ``scheme`` and ``reason`` say why."""

    def __init__(self, text: str, scheme: VersionScheme | str, reason: str) -> None:
        self.text = text
        self.scheme = VersionScheme(scheme)
        self.reason = reason
        super().__init__(f"{text!r} is not a {self.scheme} version: {reason}")


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Version:
    """A parsed version. Equality, hashing and order go by ``scheme`` and ``key`` only.

    ``text`` is the version as written (``str(v)``, any ``package@`` included);
    ``normalized`` is its canonical spelling, without the package. ``package`` is
    the ``package@`` prefix's name, if any. ``parse_version(str(v), s) == v`` and
    ``parse_version(v.normalized, s) == v`` always hold.
    """

    scheme: VersionScheme
    text: str
    normalized: str
    key: tuple[Any, ...] = field(repr=False)
    package: str | None = None

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.scheme == other.scheme and self.key == other.key

    def __hash__(self) -> int:
        return hash((self.scheme, self.key))

    def _other_key(self, other: object) -> tuple[Any, ...]:
        if not isinstance(other, Version):
            raise TypeError(f"cannot compare a version with {type(other).__name__}")
        if other.scheme != self.scheme:
            raise TypeError(
                f"cannot compare {self.scheme} version {self.text!r} "
                f"with {other.scheme} version {other.text!r}"
            )
        return other.key

    def __lt__(self, other: object) -> bool:
        return self.key < self._other_key(other)

    def __le__(self, other: object) -> bool:
        return self.key <= self._other_key(other)

    def __gt__(self, other: object) -> bool:
        return self.key > self._other_key(other)

    def __ge__(self, other: object) -> bool:
        return self.key >= self._other_key(other)


def parse_version(text: str, scheme: VersionScheme | str) -> Version:
    """Parse ``text`` under ``scheme``; raise :class:`UnparseableVersion` if it is not one.

    Surrounding whitespace and a ``package@`` prefix are ignored. An unknown
    scheme name raises ``ValueError``.
    """
    scheme = VersionScheme(scheme)
    stripped = text.strip()
    package, at, bare = stripped.rpartition("@")
    if not at:
        package, bare = "", stripped
    elif not bare.strip():
        raise UnparseableVersion(text, scheme, f"nothing follows {package + '@'!r}")
    if not bare:
        raise UnparseableVersion(text, scheme, "it is empty")
    parser = _PARSERS[scheme]
    normalized, key = parser(bare.strip(), text)
    return Version(
        scheme=scheme, text=stripped, normalized=normalized, key=key, package=package or None
    )


def extract_version(
    name: str, pattern: str | re.Pattern[str], scheme: VersionScheme | str
) -> Version:
    """The version inside a fix-version name such as ``"checkout 2.3.0"``.

    ``pattern`` is searched for in ``name``; its first group (the whole match
    when it has no group) is parsed under ``scheme``. Raise
    :class:`UnparseableVersion` when the pattern does not match or the text it
    found is not a version; ``re.error`` when ``pattern`` does not compile.
    """
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    match = compiled.search(name)
    if match is None:
        raise UnparseableVersion(
            name, scheme, f"the fix-version pattern {compiled.pattern!r} finds nothing in it"
        )
    found = match.group(1) if compiled.groups else match.group(0)
    if found is None:
        raise UnparseableVersion(
            name, scheme, f"the first group of {compiled.pattern!r} matched nothing"
        )
    try:
        return parse_version(found, scheme)
    except UnparseableVersion as exc:
        raise UnparseableVersion(
            name, scheme, f"the pattern found {found!r}, which is not a version: {exc.reason}"
        ) from exc


# --- semver -------------------------------------------------------------------------

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"^[vV]?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def _semver(text: str, original: str) -> tuple[str, tuple[Any, ...]]:
    match = _SEMVER.match(text)
    if match is None:
        raise UnparseableVersion(
            original,
            VersionScheme.SEMVER,
            "expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] without leading zeros",
        )
    release = tuple(int(match[name]) for name in ("major", "minor", "patch"))
    pre = match["pre"]
    normalized = ".".join(map(str, release)) + (f"-{pre}" if pre else "")
    if match["build"]:
        normalized += f"+{match['build']}"
    if pre is None:
        return normalized, (release, (1, ()))
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")
    )
    return normalized, (release, (0, identifiers))


# --- pep440 -------------------------------------------------------------------------


def _pep440(text: str, original: str) -> tuple[str, tuple[Any, ...]]:
    try:
        parsed = Pep440Version(text)
    except InvalidVersion as exc:
        raise UnparseableVersion(
            original, VersionScheme.PEP440, "not a valid PEP 440 version"
        ) from exc
    return str(parsed), (parsed,)


# --- calendar -----------------------------------------------------------------------

_CALENDAR = re.compile(
    r"^[vV]?(?P<year>\d{4}|\d{2})[.-](?P<month>\d{1,2})"
    r"(?:[.-](?P<day>\d{1,2})(?:[.-](?P<n>\d+))?)?"
    r"(?:(?:\s*[Bb]uild\s*|\+)(?P<build>\d+))?$"
)


def _calendar(text: str, original: str) -> tuple[str, tuple[Any, ...]]:
    match = _CALENDAR.match(text)
    if match is None:
        raise UnparseableVersion(
            original,
            VersionScheme.CALVER,
            "expected YYYY.MM[.DD][.N] or YY.MM[.DD][.N], then optionally 'build N'",
        )
    year = int(match["year"]) + (2000 if len(match["year"]) == 2 else 0)
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise UnparseableVersion(original, VersionScheme.CALVER, f"month {month} is not 1-12")
    day = int(match["day"]) if match["day"] is not None else 0
    if match["day"] is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise UnparseableVersion(
                original, VersionScheme.CALVER, f"{year}-{month:02d} has no day {day}"
            )
    n = int(match["n"]) if match["n"] is not None else 0
    build = int(match["build"]) if match["build"] is not None else 0
    normalized = f"{year:04d}.{month:02d}"
    if day:
        normalized += f".{day:02d}"
        if match["n"] is not None:
            normalized += f".{n}"
    if build:
        normalized += f" build {build}"
    return normalized, (year, month, day, n, build)


# --- loose --------------------------------------------------------------------------

_TAG_RANK = {
    "dev": 0,
    "snapshot": 0,
    "a": 1,
    "alpha": 1,
    "b": 2,
    "beta": 2,
    "c": 3,
    "rc": 3,
    "pre": 3,
    "preview": 3,
}
_TAG_NAME = {0: "dev", 1: "a", 2: "b", 3: "rc"}
_LOOSE = re.compile(
    r"^[vV]?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?![Bb]uild)(?P<tag>[A-Za-z]+)(?:[-_.]?(?P<tagnum>\d+))?)?"
    r"(?:[\s_.-]*[Bb]uild[\s_.-]*(?P<build>\d+))?"
    r"(?:\+[0-9A-Za-z.-]*)?$"
)


def _loose(text: str, original: str) -> tuple[str, tuple[Any, ...]]:
    match = _LOOSE.match(text)
    if match is None:
        raise UnparseableVersion(
            original,
            VersionScheme.LOOSE,
            "expected dotted numbers with an optional pre-release tag, such as 2.3.0-rc1",
        )
    numbers = [int(part) for part in match["release"].split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    release = tuple(numbers)
    shown = ".".join(map(str, release or (0,)))
    build = int(match["build"] or 0)
    built = f" build {build}" if build else ""
    tag = match["tag"]
    if tag is None:
        return shown + built, (release, (1, 0, 0), build)
    rank = _TAG_RANK.get(tag.lower())
    if rank is None:
        raise UnparseableVersion(
            original,
            VersionScheme.LOOSE,
            f"unknown pre-release tag {tag!r}; known: {', '.join(sorted(_TAG_RANK))}",
        )
    number = int(match["tagnum"] or 0)
    return f"{shown}-{_TAG_NAME[rank]}{number}{built}", (release, (0, rank, number), build)


_PARSERS = {
    VersionScheme.SEMVER: _semver,
    VersionScheme.PEP440: _pep440,
    VersionScheme.CALVER: _calendar,
    VersionScheme.LOOSE: _loose,
}
