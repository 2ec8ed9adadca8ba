"""Base URL forms, config checks, and the settings → JiraConfig wiring."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from syncengine.bootstrap.jira_clients import jira_config, new_site_limiters, open_jira_client
from syncengine.errors import ConfigError
from syncengine.jira.config import JiraConfig, parse_base_url, site_of
from syncengine.settings import JiraSettings


@pytest.mark.parametrize(
    ("url", "site", "version"),
    [
        ("https://x.atlassian.net", "https://x.atlassian.net", None),
        ("https://x.atlassian.net/", "https://x.atlassian.net", None),
        ("https://x.atlassian.net/rest/api/2/", "https://x.atlassian.net", 2),
        ("https://x.atlassian.net/rest/api/2", "https://x.atlassian.net", 2),
        ("https://x.atlassian.net/rest/api/3/", "https://x.atlassian.net", 3),
        ("https://jira.corp.example/jira/rest/api/2/", "https://jira.corp.example/jira", 2),
        ("http://localhost:8080/rest/api/2/", "http://localhost:8080", 2),
        ("  https://x.atlassian.net/rest/api/2/  ", "https://x.atlassian.net", 2),
    ],
)
def test_accepted_base_urls(url: str, site: str, version: int | None) -> None:
    base = parse_base_url(url)
    assert (base.site, base.version) == (site, version)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("x.atlassian.net", "is not an http(s) URL"),
        ("ftp://x.atlassian.net/", "is not an http(s) URL"),
        ("https://x.atlassian.net/jira", "does not end in /rest/api/2/"),
        ("https://x.atlassian.net/rest/api/latest/", "does not end in /rest/api/2/"),
        ("https://x.atlassian.net/rest/api/4/", "does not end in /rest/api/2/"),
        ("https://x.atlassian.net/browse/CRASH-1", "does not end in /rest/api/2/"),
        ("https://x.atlassian.net/rest/api/2/?a=b", "has a query or fragment"),
    ],
)
def test_rejected_base_urls_say_what_form_is_expected(url: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_base_url(url, key="projects.crash.jira.url")
    message = str(caught.value)
    assert message.startswith("projects.crash.jira.url: ")
    assert why in message
    assert "https://your-site.atlassian.net" in message
    assert "/rest/api/2/" in message


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_base_url("https://bot:hunter2-token@x.atlassian.net/rest/api/2/")
    assert "hunter2-token" not in str(caught.value)
    assert "jira.api_token" in str(caught.value)


def test_config_checks_its_own_consistency() -> None:
    with pytest.raises(ConfigError) as caught:
        JiraConfig(site="https://x", deployment="datacenter", api_version=3, user="")
    problems = caught.value.problems
    assert any("Data Center only has REST v2" in p for p in problems)
    assert any("jira.user" in p for p in problems)


def test_token_is_masked_in_the_config_repr() -> None:
    config = JiraConfig(site="https://x", user="u", token=SecretStr("s3cret-value-123"))
    assert "s3cret-value-123" not in repr(config)
    assert config.api_root == "https://x/rest/api/2"


def _settings(**values: object) -> JiraSettings:
    return JiraSettings.model_validate(
        {"url": "https://x.atlassian.net", "user": "bot@example.com", "api_token": "t0ken-abc"}
        | values
    )


def test_wiring_builds_the_config_from_settings() -> None:
    config = jira_config(
        _settings(url="https://x.atlassian.net/rest/api/3/", max_retries=2, auth="basic")
    )
    assert config.site == "https://x.atlassian.net"
    assert config.api_version == 3  # from the URL, api_version was not set
    assert config.max_retries == 2
    assert config.token.get_secret_value() == "t0ken-abc"


def test_wiring_refuses_a_url_and_api_version_that_disagree() -> None:
    with pytest.raises(ConfigError) as caught:
        jira_config(
            _settings(url="https://x.atlassian.net/rest/api/2/", api_version=3),
            key="projects.crash.jira",
        )
    assert "projects.crash.jira.url" in str(caught.value)
    assert "make them agree" in str(caught.value)


def test_wiring_names_the_section_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        jira_config(_settings(url="https://x/jira"), key="projects.crash.jira")
    assert str(caught.value).startswith("projects.crash.jira.url:")
    with pytest.raises(ConfigError, match=r"projects\.crash\.jira\.api_token"):
        jira_config(_settings(api_token=None), key="projects.crash.jira")
    with pytest.raises(ConfigError, match=r"projects\.crash\.jira\.user"):
        jira_config(_settings(user=""), key="projects.crash.jira")


async def test_clients_of_one_site_share_its_limiter() -> None:
    limiters = new_site_limiters()
    first = open_jira_client(_settings(), limiters=limiters, key="projects.a.jira")
    second = open_jira_client(
        _settings(max_concurrency=9), limiters=limiters, key="projects.b.jira"
    )
    other = open_jira_client(_settings(url="https://y.atlassian.net"), limiters=limiters)
    try:
        assert first.session.limiter is second.session.limiter
        assert other.session.limiter is not first.session.limiter
    finally:
        for client in (first, second, other):
            await client.aclose()


CLOUD_ID = "b184c2c2-48c5-59b0-b89a-141a8e010b22"
GATEWAY = f"https://api.atlassian.com/ex/jira/{CLOUD_ID}"


@pytest.mark.parametrize(
    ("url", "version"),
    [(GATEWAY, None), (f"{GATEWAY}/rest/api/2/", 2), (f"{GATEWAY}/rest/api/3", 3)],
)
def test_the_gateway_is_accepted_with_any_api_version(url: str, version: int | None) -> None:
    base = parse_base_url(url)
    assert (base.site, base.version, base.gateway) == (GATEWAY, version, True)


def test_a_gateway_url_without_a_cloud_id_says_what_to_give() -> None:
    with pytest.raises(ConfigError, match="ex/jira/<cloudId>"):
        parse_base_url("https://api.atlassian.com/rest/api/3/")


@pytest.mark.parametrize(
    ("url", "site_url", "site"),
    [
        ("https://jira.corp.example/jira/rest/api/2/", "", "https://jira.corp.example/jira"),
        ("https://x.atlassian.net/rest/api/3", "", "https://x.atlassian.net"),
        (f"{GATEWAY}/rest/api/3/", "https://x.atlassian.net/", "https://x.atlassian.net"),
        (GATEWAY, "", None),
    ],
)
def test_links_hang_from_the_site_never_a_rest_root_or_the_gateway(
    url: str, site_url: str, site: str | None
) -> None:
    assert site_of(url, site_url) == site


def test_wiring_sends_every_call_through_a_configured_gateway() -> None:
    config = jira_config(
        _settings(url=f"{GATEWAY}/rest/api/3/", site_url="https://x.atlassian.net")
    )
    assert (config.site, config.gateway, config.deployment) == (
        "https://x.atlassian.net",
        GATEWAY,
        "cloud",
    )
    assert config.api_root == f"{GATEWAY}/rest/api/3"


def test_wiring_finds_the_gateway_from_the_site_when_asked() -> None:
    config = jira_config(_settings(api_gateway=True, api_version=3))
    assert (config.site, config.gateway, config.find_gateway) == (
        "https://x.atlassian.net",
        "",
        True,
    )


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"url": GATEWAY}, "site_url: not set"),
        ({"site_url": "https://x.atlassian.net"}, "only used with a gateway URL"),
        ({"api_gateway": True, "deployment": "datacenter"}, "serves Jira Cloud only"),
    ],
)
def test_wiring_refuses_gateway_settings_that_cannot_work(
    values: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        jira_config(_settings(**values), key="projects.crash.jira")
