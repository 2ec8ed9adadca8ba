"""Version parsing and ordering under each scheme."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.versions import (
    UnparseableVersion,
    Version,
    VersionScheme,
    extract_version,
    parse_version,
)

SEMVER, PEP440, CALENDAR, LOOSE = (
    VersionScheme.SEMVER,
    VersionScheme.PEP440,
    VersionScheme.CALENDAR,
    VersionScheme.LOOSE,
)


def v(text: str, scheme: VersionScheme) -> Version:
    return parse_version(text, scheme)


def assert_ascending(texts: list[str], scheme: VersionScheme) -> None:
    parsed = [v(t, scheme) for t in texts]
    for low, high in itertools.pairwise(parsed):
        assert low < high, f"{low} < {high}"
        assert not high < low
        assert low != high


# --- semver ---------------------------------------------------------------------------


def test_semver_precedence_example_of_the_spec() -> None:
    assert_ascending(
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
            "10.0.0",
        ],
        SEMVER,
    )


def test_semver_ignores_build_metadata_in_order_but_keeps_it_in_text() -> None:
    a, b = v("1.0.0+build.1", SEMVER), v("1.0.0+build.2", SEMVER)
    assert a == b
    assert hash(a) == hash(b)
    assert str(a) == "1.0.0+build.1"
    assert v("1.0.0-rc.1+x", SEMVER) < v("1.0.0", SEMVER)


def test_semver_accepts_a_v_prefix() -> None:
    assert v("v2.3.0", SEMVER) == v("2.3.0", SEMVER)
    assert v("v2.3.0", SEMVER).normalized == "2.3.0"


@pytest.mark.parametrize(
    "text", ["2.3", "2", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3.4", "abc", ""]
)
def test_semver_rejects_what_the_spec_does_not_allow(text: str) -> None:
    with pytest.raises(UnparseableVersion) as caught:
        v(text, SEMVER)
    assert caught.value.scheme is SEMVER
    assert caught.value.text == text
    assert "semver" in str(caught.value)
    assert repr(text) in str(caught.value)


# --- pep440 ---------------------------------------------------------------------------


def test_pep440_order() -> None:
    assert_ascending(
        ["1.0.dev0", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "1!0.1"], PEP440
    )
    assert v("1.0", PEP440) == v("1.0.0", PEP440)
    assert v("1.0+local.1", PEP440) > v("1.0", PEP440)
    assert v("V1.0-RC1", PEP440).normalized == "1.0rc1"


def test_pep440_rejects_non_versions() -> None:
    with pytest.raises(UnparseableVersion, match="pep440"):
        v("1.0-foo", PEP440)


# --- calendar -------------------------------------------------------------------------


def test_calendar_forms_and_order() -> None:
    assert_ascending(
        ["2023.12", "2024.01", "2024.05", "2024.05.01", "2024.05.17", "2024.05.17.1", "2024.06"],
        CALENDAR,
    )
    assert v("2024-05-17", CALENDAR) == v("2024.05.17", CALENDAR)
    assert v("24.05", CALENDAR) == v("2024.05", CALENDAR)
    assert v("2024.5", CALENDAR) == v("2024.05", CALENDAR)
    assert v("2024.05.17.0", CALENDAR) == v("2024.05.17", CALENDAR)
    assert v("24-5-7", CALENDAR).normalized == "2024.05.07"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2024.13", "month 13"),
        ("2024.00", "month 0"),
        ("2023.02.29", "no day 29"),
        ("2024.04.31", "no day 31"),
        ("2024", "expected"),
        ("2024.05.rc1", "expected"),
        ("12024.05", "expected"),
    ],
)
def test_calendar_rejects_impossible_dates(text: str, why: str) -> None:
    with pytest.raises(UnparseableVersion, match=why):
        v(text, CALENDAR)


def test_calendar_leap_day_exists_in_a_leap_year() -> None:
    assert v("2024.02.29", CALENDAR) < v("2024.03", CALENDAR)


# --- loose ----------------------------------------------------------------------------


def test_loose_order_with_tags() -> None:
    assert_ascending(
        [
            "2.2.9",
            "2.3.0-dev1",
            "2.3.0a1",
            "2.3.0-alpha.2",
            "2.3.0b2",
            "2.3.0-beta3",
            "2.3.0-rc1",
            "2.3.0rc2",
            "2.3",
            "2.3.1",
            "2.10",
            "10",
        ],
        LOOSE,
    )


def test_loose_equalities() -> None:
    assert v("2.3", LOOSE) == v("2.3.0", LOOSE) == v("v2.3.0.0", LOOSE)
    assert v("2.3.0-rc1", LOOSE) == v("2.3rc1", LOOSE) == v("2.3.0.RC.1", LOOSE)
    assert v("2.3.0b2", LOOSE) == v("2.3.0-beta2", LOOSE)
    assert v("2.3.0+build7", LOOSE) == v("2.3.0", LOOSE)
    assert v("1.2.3.4.5", LOOSE) > v("1.2.3.4", LOOSE)
    assert v("0", LOOSE) == v("0.0", LOOSE)
    assert v("2.3.0-SNAPSHOT", LOOSE) < v("2.3.0-alpha", LOOSE)


@pytest.mark.parametrize("text", ["2.3.0-foo1", "release", "2.3.0-1", "2..3", ".2", "2.3.", "v"])
def test_loose_rejects_unknown_forms(text: str) -> None:
    with pytest.raises(UnparseableVersion, match="loose"):
        v(text, LOOSE)


def test_versions_of_different_schemes_do_not_compare() -> None:
    with pytest.raises(TypeError, match=r"semver version .2\.3\.0. with loose"):
        assert v("2.3.0", SEMVER) < v("2.3.0", LOOSE)
    with pytest.raises(TypeError):
        assert v("2.3.0", SEMVER) < "2.3.1"  # type: ignore[operator]
    assert v("2.3.0", SEMVER) != v("2.3.0", LOOSE)


def test_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        parse_version("1.0", "nope")


# --- extraction -----------------------------------------------------------------------

DEFAULT_PATTERN = r"(\d+(?:\.\d+)*(?:[-+.]?[0-9A-Za-z.]+)?)"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("checkout 2.3.0", "2.3.0"),
        ("2.3.0", "2.3.0"),
        ("Release v2.4.0-rc1", "2.4.0-rc1"),
        ("android-3.1", "3.1"),
    ],
)
def test_extract_with_the_default_pattern(name: str, expected: str) -> None:
    assert extract_version(name, DEFAULT_PATTERN, LOOSE) == v(expected, LOOSE)


def test_extract_uses_the_first_group_or_the_whole_match() -> None:
    assert extract_version("app-1.2 (build 7)", r"app-([\d.]+)", LOOSE).text == "1.2"
    assert extract_version("x 4.5.6 y", re.compile(r"\d+\.\d+\.\d+"), SEMVER).text == "4.5.6"


def test_extract_reports_names_without_a_version() -> None:
    with pytest.raises(UnparseableVersion, match="finds nothing") as caught:
        extract_version("Next release", DEFAULT_PATTERN, LOOSE)
    assert caught.value.text == "Next release"
    with pytest.raises(UnparseableVersion, match=r"found .2\.3."):
        extract_version("checkout 2.3", DEFAULT_PATTERN, SEMVER)
    with pytest.raises(UnparseableVersion, match="matched nothing"):
        extract_version("abc", r"abc(\d)?", LOOSE)


# --- properties -----------------------------------------------------------------------

_num = st.integers(min_value=0, max_value=300)
_semver_id = st.one_of(
    st.integers(min_value=0, max_value=50).map(str),
    st.text("abcxyz-", min_size=1, max_size=4).filter(lambda s: not s.isdigit()),
)
semver_texts = st.builds(
    lambda a, b, c, pre, build: (
        f"{a}.{b}.{c}" + (f"-{'.'.join(pre)}" if pre else "") + (f"+{build}" if build else "")
    ),
    _num,
    _num,
    _num,
    st.lists(_semver_id, max_size=3),
    st.sampled_from(["", "b1", "exp.sha.5114f85"]),
)
pep440_texts = st.builds(
    lambda epoch, rel, pre, post, dev: (
        (f"{epoch}!" if epoch else "") + ".".join(map(str, rel)) + pre + post + dev
    ),
    st.integers(min_value=0, max_value=2),
    st.lists(_num, min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc3", "rc0"]),
    st.sampled_from(["", ".post1", ".post2"]),
    st.sampled_from(["", ".dev0", ".dev4"]),
)
calendar_texts = st.builds(
    lambda y, m, d, n, sep: sep.join(
        [str(y), f"{m:02d}"]
        + ([f"{d:02d}"] if d else [])
        + ([str(n)] if d and n is not None else [])
    ),
    st.sampled_from([2019, 2020, 2024, 2099, 24, 99]),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=28),
    st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    st.sampled_from([".", "-"]),
)
loose_texts = st.builds(
    lambda prefix, rel, tag: prefix + ".".join(map(str, rel)) + tag,
    st.sampled_from(["", "v"]),
    st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=5),
    st.sampled_from(["", "-rc1", "rc2", "b2", "-beta.1", "a1", "-alpha", ".dev3", "+build9"]),
)
by_scheme = {
    SEMVER: semver_texts,
    PEP440: pep440_texts,
    CALENDAR: calendar_texts,
    LOOSE: loose_texts,
}
scheme_and_three = st.sampled_from(list(by_scheme)).flatmap(
    lambda s: st.tuples(st.just(s), by_scheme[s], by_scheme[s], by_scheme[s])
)


@given(scheme_and_three)
def test_order_is_total_antisymmetric_and_transitive(
    case: tuple[VersionScheme, str, str, str],
) -> None:
    scheme, *texts = case
    a, b, c = (v(t, scheme) for t in texts)
    assert (a < b) + (a == b) + (a > b) == 1  # exactly one holds: total
    if a <= b and b <= a:
        assert a == b
        assert hash(a) == hash(b)
    if a <= b and b <= c:
        assert a <= c
    if a < b and b < c:
        assert a < c
    assert (a <= b) == (not a > b)
    assert (a >= b) == (b <= a)


@given(scheme_and_three)
def test_parse_round_trips_through_text_and_normal_form(
    case: tuple[VersionScheme, str, str, str],
) -> None:
    scheme, text, _, _ = case
    version = v(text, scheme)
    assert v(str(version), scheme) == version
    again = v(version.normalized, scheme)
    assert again == version
    assert again.normalized == version.normalized


@given(st.lists(loose_texts, min_size=1, max_size=8))
def test_sorting_agrees_with_pairwise_order(texts: list[str]) -> None:
    ordered = sorted(v(t, LOOSE) for t in texts)
    for low, high in itertools.pairwise(ordered):
        assert low <= high


@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=4), st.integers(0, 3))
def test_loose_trailing_zeros_do_not_count(release: list[int], zeros: int) -> None:
    text = ".".join(map(str, release))
    assert v(text, LOOSE) == v(text + ".0" * zeros, LOOSE)


# --- package@version (Sentry releases), calver, builds, the documented examples -------


@pytest.mark.parametrize("scheme", [SEMVER, PEP440, LOOSE])
def test_sentry_package_at_version_orders_by_its_version(scheme: VersionScheme) -> None:
    release = v("checkout-service@1.4.2", scheme)
    assert (release.package, release.text) == ("checkout-service", "checkout-service@1.4.2")
    assert release == v("1.4.2", scheme)
    assert v("checkout-service@1.4.2", scheme) < v("checkout-service@1.4.3", scheme)
    assert v("@acme/web@2.0.0", scheme) == v("2.0.0", scheme)  # npm scopes: the last @ splits
    assert v("@acme/web@2.0.0", scheme).package == "@acme/web"
    built = v("checkout-service@1.4.2+1234", scheme)
    assert built >= v("1.4.2", scheme)  # the build never sorts it below its version
    assert built < v("1.4.3", scheme)
    assert parse_version(built.normalized, scheme) == built
    with pytest.raises(UnparseableVersion, match="nothing follows 'checkout-service@'"):
        v("checkout-service@", scheme)


def test_calver_is_the_scheme_name_and_calendar_still_reads() -> None:
    assert VersionScheme("calver") is VersionScheme.CALVER
    assert VersionScheme("calendar") is VersionScheme.CALVER
    assert VersionScheme.CALENDAR is VersionScheme.CALVER
    assert v("app@2024.05.17", VersionScheme("calendar")) == v("2024.05.17", VersionScheme.CALVER)


def test_builds_order_within_their_version() -> None:
    assert_ascending(
        ["2024.05", "2024.05 build 3", "2024.05 build 17", "2024.05+18", "2024.05.01", "2024.06"],
        VersionScheme.CALVER,
    )
    assert v("2024.05 build 17", VersionScheme.CALVER) == v("2024.05build17", VersionScheme.CALVER)
    assert_ascending(["2.3-rc1", "2.3", "2.3 build 2", "2.3.0 build 10", "2.3.1"], LOOSE)
    assert v("2.3.0-Build5", LOOSE).normalized == "2.3 build 5"


@pytest.mark.parametrize(
    ("text", "scheme", "normalized"),
    [  # the table in syncengine/domain/versions.py's docstring and the README
        ("2.3.0-beta", SEMVER, "2.3.0-beta"),
        ("2.3.0-beta", PEP440, "2.3.0b0"),
        ("2.3.0-beta", VersionScheme.CALVER, None),
        ("2.3.0-beta", LOOSE, "2.3-b0"),
        ("2024.05 build 17", SEMVER, None),
        ("2024.05 build 17", PEP440, None),
        ("2024.05 build 17", VersionScheme.CALVER, "2024.05 build 17"),
        ("2024.05 build 17", LOOSE, "2024.5 build 17"),
        ("v2.3", SEMVER, None),
        ("v2.3", PEP440, "2.3"),
        ("v2.3", VersionScheme.CALVER, None),
        ("v2.3", LOOSE, "2.3"),
    ],
)
def test_the_documented_examples(text: str, scheme: VersionScheme, normalized: str | None) -> None:
    if normalized is None:
        with pytest.raises(UnparseableVersion):
            v(text, scheme)
    else:
        assert v(text, scheme).normalized == normalized
    if scheme is SEMVER and normalized is not None:
        assert v(text, scheme) < v("2.3.0", scheme)
    if scheme is LOOSE and text == "2.3.0-beta":
        assert v(text, scheme) < v("2.3", scheme)
