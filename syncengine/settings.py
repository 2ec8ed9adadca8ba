"""Configuration: engine settings and per-project settings, built once and passed down.

Values come from a TOML file (``--config PATH``, else ``SYNCENGINE_CONFIG``, else
``config/syncengine.toml`` when it exists) and are overridden by ``SYNCENGINE_*``
environment variables, nested with ``__`` (``SYNCENGINE_PROJECTS__DEMO__JIRA__URL``).
With no file at all the environment alone configures the engine (12-factor); when it
names no project either, the default shipped in the package (the demo project on the
bundled Jira simulator) is used, so an installed package runs ``serve`` as it is.

The choices of a key are the domain's own enums and types (``SyncMode``, ``VersionScheme``...).

Secrets are :class:`~pydantic.SecretStr`. None is ever required in the TOML: each
secret ``x`` may instead be named by ``x_env`` (an environment variable to read)
or ``x_file`` (a file whose content, stripped, is the secret).

:func:`load_settings` raises :class:`~syncengine.errors.ConfigError` with one line
per problem, each naming the file (or environment variable) and the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syncengine.domain.fixversions import ResolveRuleType
from syncengine.domain.groups import GroupState
from syncengine.domain.impact import Stat
from syncengine.domain.merge import ConflictPolicy, SyncMode
from syncengine.domain.placeholders import MissingPolicy
from syncengine.domain.regression import RegressionAction
from syncengine.domain.rules import FilterOp
from syncengine.domain.versions import VersionScheme
from syncengine.errors import ConfigError
from syncengine.jira.config import ApiVersion, AuthScheme, Deployment, JiraConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AttributeFilter",
    "HttpSettings",
    "IngestSettings",
    "JiraSettings",
    "ProjectSettings",
    "RuleSettings",
    "Settings",
    "SupportSettings",
    "SyncSettings",
    "UserSettings",
    "WebSettings",
    "load_settings",
    "mask_secret",
    "resolve_config_path",
]

DEFAULT_CONFIG_PATH = Path("config/syncengine.toml")
# The same default, shipped inside the package for an installation without a checkout.
PACKAGED_CONFIG = "defaults/syncengine.toml"
ENV_PREFIX = "SYNCENGINE_"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def mask_secret(value: str | SecretStr | None) -> str:
    """Whether a secret is set, and nothing else: no character of it, not its length."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return "(set)" if raw else "(unset)"


def _check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValueError(f"project slug {slug!r} must be lower-case letters, digits, '-' or '_'")
    return slug


Slug = Annotated[str, AfterValidator(_check_slug)]


class _Section(BaseModel):
    """A configuration section: unknown keys are errors, secrets may come from env or files.

    Subclasses list their secret fields in ``_secrets``; for each such field ``x``
    the keys ``x_env`` and ``x_file`` are declared beside it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _secrets: ClassVar[tuple[str, ...]] = ()

    @field_validator("*")
    @classmethod
    def _secret_source_exists(cls, value: Any, info: ValidationInfo) -> Any:
        # Checked per field, so a missing variable is reported beside every other problem.
        name = info.field_name or ""
        if value is None or not name.endswith(("_env", "_file")):
            return value
        if info.data.get("generate_token"):
            return value
        secret = name.rsplit("_", 1)[0]
        _read_secret(
            secret,
            value if name.endswith("_env") else None,
            value if name.endswith("_file") else None,
        )
        return value

    @model_validator(mode="after")
    def _resolve_secrets(self) -> _Section:
        for name in self._secrets:
            if getattr(self, name) is not None:
                continue
            env_name: str | None = getattr(self, f"{name}_env")
            file_path: Path | None = getattr(self, f"{name}_file")
            value = _read_secret(name, env_name, file_path)
            if value is not None:
                object.__setattr__(self, name, SecretStr(value))
        return self


def _read_secret(name: str, env_name: str | None, file_path: Path | None) -> str | None:
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise ValueError(
                f"{name}_env: environment variable {env_name} is not set; "
                f"set it, or give {name}_file instead"
            )
        return value.strip()
    if file_path is not None:
        try:
            return file_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{name}_file: cannot read {file_path}: {exc.strerror}") from exc
    return None


class IngestSettings(_Section):
    """Limits and batching of the crash-report intake."""

    max_request_bytes: int = Field(20 * 1024 * 1024, gt=0)
    max_report_bytes: int = Field(1024 * 1024, gt=0)
    max_attributes: int = Field(256, gt=0)
    max_key_length: int = Field(128, gt=0)
    max_value_length: int = Field(1024, gt=0)
    samples_first: int = Field(1, ge=0)
    samples_newest: int = Field(5, ge=0)
    batch_max_reports: int = Field(5000, gt=0)
    batch_max_delay_ms: int = Field(50, ge=0)
    token_cache_seconds: float = Field(10.0, ge=0)
    sqlite_cache_mib: int = Field(32, ge=1)


def _client_default(name: str) -> Any:
    """The Jira client's own default for ``name`` (:class:`JiraConfig` holds each once)."""
    return JiraConfig.__dataclass_fields__[name].default


class JiraSettings(_Section):
    """How one project reaches Jira and its tickets; connection keys become a ``JiraConfig``."""

    _secrets = ("api_token", "webhook_secret", "oauth_client_secret")

    url: str = ""
    site_url: str = ""
    api_gateway: bool = False
    deployment: Deployment = _client_default("deployment")
    api_version: ApiVersion = _client_default("api_version")
    auth: AuthScheme = _client_default("auth")
    user: str = ""
    api_token: SecretStr | None = None
    api_token_env: str | None = None
    api_token_file: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_env: str | None = None
    webhook_secret_file: Path | None = None
    oauth_consumer_key: str = "syncengine"
    oauth_client_id: str = ""
    oauth_client_secret: SecretStr | None = None
    oauth_client_secret_env: str | None = None
    oauth_client_secret_file: Path | None = None
    oauth_scopes: tuple[str, ...] = ()
    oauth_auth_root: str = "https://auth.atlassian.com"
    oauth_callback_url: str = ""
    api_token_expires: date | None = None
    expiry_warning_days: int = Field(30, ge=0)
    project_key: str = "CRASH"
    issue_type: str = "Bug"
    summary: str = "$classifier: $message"
    labels: tuple[str, ...] = ("syncengine",)
    description_template: str = "jira/description.j2"
    description_field: str = "description"
    labels_field: str = "labels"
    custom_fields: dict[str, str] = Field(default_factory=dict)
    description_attributes: tuple[str, ...] = ("version", "hostname", "os")
    missing_attribute: MissingPolicy = "empty"
    user_map: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(_client_default("timeout_seconds"), gt=0)
    max_concurrency: int = Field(_client_default("max_concurrency"), gt=0)
    requests_per_second: float = Field(_client_default("requests_per_second"), gt=0)
    refresh_reserve: float = Field(_client_default("refresh_reserve"), ge=0, le=1)
    max_retries: int = Field(_client_default("max_retries"), ge=0)
    deadline_seconds: float = Field(_client_default("deadline_seconds"), gt=0)
    max_response_bytes: int = Field(_client_default("max_response_bytes"), ge=64 * 1024)
    max_retry_after_seconds: float = Field(_client_default("max_retry_after_seconds"), ge=1)
    search_lag_seconds: float = Field(300.0, ge=0)

    @property
    def simulated(self) -> bool:
        """True when no Jira URL is configured and the bundled simulator stands in."""
        return not self.url


class AttributeFilter(_Section):
    """One ordered condition a group's report must meet for a ticket to be due."""

    attribute: str
    op: FilterOp = FilterOp.EQUALS
    value: str


class RuleSettings(_Section):
    """When a group is due a Jira ticket."""

    enabled: bool = True
    min_occurrences: int = Field(1, gt=0)
    window_minutes: int | None = Field(None, gt=0)
    filters: tuple[AttributeFilter, ...] = ()
    never_states: tuple[GroupState, ...] = (GroupState.MUTED,)


class SyncSettings(_Section):
    """How group state, assignee and fix versions travel between the engine and Jira."""

    mode: SyncMode = SyncMode.TWO_WAY
    conflict_policy: ConflictPolicy = ConflictPolicy.JIRA_WINS
    poll_interval_seconds: int = Field(60, gt=0)
    webhook_silence_seconds: int = Field(900, gt=0)
    state_statuses: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    state_transitions: dict[str, str] = Field(default_factory=dict)
    transition_fields: dict[str, str] = Field(default_factory=dict)
    resolution_on_done: str = "Done"
    muted_resolutions: tuple[str, ...] = ("Won't Do", "Duplicate")
    fix_versions: bool = True
    fix_version_pattern: str = r"(\d+(?:\.\d+)*(?:[-+.]?[0-9A-Za-z.]+)?)"
    version_scheme: VersionScheme = VersionScheme.LOOSE
    resolve_rule: ResolveRuleType = "version_ge"
    regression_action: RegressionAction = "reopen"
    new_issue_after_days: int | None = Field(None, gt=0)

    @field_validator("fix_version_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class SupportSettings(_Section):
    """The support-request portal of a project (the API portal's Jira integration)."""

    enabled: bool = False
    issue_type: str = "Task"
    labels: tuple[str, ...] = ("Bug", "Enhancement", "Question")
    categories: tuple[str, ...] = ("Payment", "Customer", "Other Request")
    api_products: tuple[str, ...] = ()
    category_field: str = ""
    api_product_field: str = ""
    endpoint_field: str = ""
    max_attachment_bytes: int = Field(10 * 1024 * 1024, gt=0)
    attachment_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "text/plain",
        "application/pdf",
        "application/zip",
        "application/json",
    )


class ImpactSettings(_Section):
    """Crash impact on linked issues: which statistic goes to which Jira field, how often."""

    fields: dict[Stat, str] = Field(default_factory=dict)
    min_change_percent: float = Field(10.0, ge=0)
    min_change_occurrences: int = Field(100, gt=0)
    interval_minutes: float = Field(15.0, gt=0)
    budget_share: float = Field(0.2, gt=0, le=1)
    overwrite_edits: bool = False
    notify: bool = False

    @field_validator("fields")
    @classmethod
    def _named(cls, value: dict[Stat, str]) -> dict[Stat, str]:
        empty = [stat.value for stat, key in value.items() if not key.strip()]
        if empty:
            raise ValueError(f"give a Jira field id or name for {', '.join(empty)}")
        return value


class ProjectSettings(_Section):
    """One project: its submission tokens, its Jira integration, rules and sync options."""

    _secrets = ()

    name: str = ""
    generate_token: bool = False
    submission_tokens: tuple[SecretStr, ...] = ()
    submission_token_env: str | None = None
    submission_token_file: Path | None = None
    version_attribute: str = "version"
    version_pattern: str | None = None
    integration_active: bool = True
    jira: JiraSettings = Field(default_factory=JiraSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    support: SupportSettings = Field(default_factory=SupportSettings)
    impact: ImpactSettings = Field(default_factory=ImpactSettings)

    @field_validator("version_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if groups != 1:
            raise ValueError(
                f"needs exactly one group, the version (it has {groups}): "
                r"e.g. 'MyApp (\d+(?:\.\d+)*)'; use (?:...) for other parentheses"
            )
        return value

    @model_validator(mode="after")
    def _read_token(self) -> ProjectSettings:
        try:
            value = _read_secret(
                "submission_token", self.submission_token_env, self.submission_token_file
            )
        except ValueError:
            value = None  # only reachable with generate_token: the field check passed it
        if value:
            object.__setattr__(
                self, "submission_tokens", (*self.submission_tokens, SecretStr(value))
            )
        return self


class UserSettings(_Section):
    """A person who signs in to the dashboard."""

    # Not a secret to resolve, but never shown: a hash is a password's offline target.
    _masked: ClassVar[tuple[str, ...]] = ("password_hash",)

    password_hash: str
    role: Literal["admin", "portal"] = "portal"
    email: str = ""


class WebSettings(_Section):
    """The dashboard and the status pages: sign-in, sessions, who may read what."""

    _secrets = ("session_secret", "status_token")

    session_secret: SecretStr | None = None
    session_secret_env: str | None = None
    session_secret_file: Path | None = None
    session_max_age_seconds: int = Field(8 * 3600, gt=0)
    password_check_concurrency: int = Field(1, gt=0, le=64)
    status_token: SecretStr | None = None
    status_token_env: str | None = None
    status_token_file: Path | None = None
    metrics: Literal["open", "token"] = "open"
    api_docs: Literal["open", "admin", "off"] = "open"
    users: dict[str, UserSettings] = Field(default_factory=dict)
    generate_admin: bool = False


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. 10.0.0.0/8)") from exc
    return value


class HttpSettings(_Section):
    """The HTTP server's limits and timeouts, for every route (README: Limits and timeouts)."""

    max_body_bytes: int = Field(1024 * 1024, gt=0)
    max_webhook_bytes: int = Field(5 * 1024 * 1024, gt=0)
    body_timeout_seconds: float = Field(60.0, gt=0)
    header_timeout_seconds: float = Field(10.0, gt=0)
    keep_alive_seconds: int = Field(5, gt=0)
    max_header_bytes: int = Field(16 * 1024, ge=1024)
    max_connections: int = Field(2048, gt=0)
    webhook_max_age_seconds: int = Field(3600, gt=0, le=86400)
    trusted_proxies: tuple[Annotated[str, AfterValidator(_check_network)], ...] = ()


class Settings(BaseSettings):
    """Everything the engine is configured with, built once by :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )
    _secrets: ClassVar[tuple[str, ...]] = ("admin_token",)

    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    public_url: str = ""
    data_dir: Path = Path("data")
    templates_dir: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    auto_migrate: bool = True
    outbox_lease_seconds: int = Field(120, ge=5)
    outbox_concurrency: int = Field(4, gt=0, le=256)
    outbox_project_concurrency: int = Field(2, gt=0, le=256)
    outbox_item_deadline_seconds: float = Field(600.0, gt=0)
    stop_grace_seconds: float = Field(30.0, ge=0)
    retention_days: int = Field(14, gt=0)
    createmeta_refresh_seconds: int = Field(3600, gt=0)
    health_check_seconds: int = Field(300, gt=0)
    admin_token: SecretStr | None = None
    admin_token_env: str | None = None
    admin_token_file: Path | None = None
    secret_key_env: str = "SYNCENGINE_SECRET_KEY"  # noqa: S105 the variable's name, not a key
    secret_key_file: Path | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    projects: dict[Slug, ProjectSettings] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init keyword arguments; the environment wins over it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _admin_token(self) -> Settings:
        if self.admin_token is None:
            value = _read_secret("admin_token", self.admin_token_env, self.admin_token_file)
            if value is not None:
                object.__setattr__(self, "admin_token", SecretStr(value))
        return self

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds, in clear: the log redaction list."""
        found = [
            secret.get_secret_value()
            for secret in (self.admin_token, self.web.session_secret, self.web.status_token)
            if secret is not None
        ]
        found += [user.password_hash for user in self.web.users.values()]
        if self.database_url and (password := urlsplit(self.database_url).password):
            found.append(password)
        for project in self.projects.values():
            found += [token.get_secret_value() for token in project.submission_tokens]
            jira = project.jira
            for secret in (jira.api_token, jira.webhook_secret, jira.oauth_client_secret):
                if secret is not None:
                    found.append(secret.get_secret_value())
        return found

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or a SQLite file under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'syncengine.db').as_posix()}"

    @property
    def effective_public_url(self) -> str:
        """Where users and Jira reach this engine, for links in tickets."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def resolve_config_path(
    explicit: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """``--config`` wins, then ``SYNCENGINE_CONFIG``, then ``config/syncengine.toml``.

    None when neither is given and there is no ``config/syncengine.toml`` here: the
    environment alone configures the engine then (see :func:`load_settings`).
    """
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("SYNCENGINE_CONFIG"):
        return Path(env["SYNCENGINE_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _read_toml(config_path: Path) -> dict[str, Any]:
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            [f"{config_path}: file not found; pass --config PATH or set SYNCENGINE_CONFIG"]
        ) from exc
    except OSError as exc:
        raise ConfigError([f"{config_path}: cannot read: {exc.strerror}"]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{config_path}: not valid TOML: {exc}"]) from exc


def _environment_names_projects(environ: Mapping[str, str]) -> bool:
    prefix = f"{ENV_PREFIX}PROJECTS"
    return any(name.upper().startswith(prefix) for name in environ)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the TOML file, apply the environment, validate; raise ConfigError on any problem.

    With no file (no ``--config``, no ``SYNCENGINE_CONFIG``, no ``config/syncengine.toml``)
    the ``SYNCENGINE_*`` variables alone are the configuration; when they name no
    project either, the packaged default (the demo project) is the file.
    """
    config_path = resolve_config_path(path)
    source: Path | str
    if config_path is not None:
        source, data = config_path, _read_toml(config_path)
    elif _environment_names_projects(os.environ):
        source, data = "environment", {}
    else:
        packaged = resources.files("syncengine") / PACKAGED_CONFIG
        source = f"syncengine/{PACKAGED_CONFIG} (the packaged default)"
        try:
            data = tomllib.loads(packaged.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError([f"{source}: cannot read: {exc}; reinstall syncengine"]) from exc
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def _describe(exc: ValidationError, config_path: Path | str) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        # A section-level check names its own key first ("api_token_env: ...").
        head, sep, rest = message.partition(": ")
        if sep and re.fullmatch(r"[a-z_]+", head):
            if not loc or loc[-1] != head:
                loc.append(head)
            message = rest
        if error["type"] == "extra_forbidden":
            message = "unknown key; config/reference.toml lists every key there is"
        key = ".".join(loc) or "(top level)"
        env_name = ENV_PREFIX + "__".join(loc).upper()
        source = f"environment variable {env_name}" if env_name in os.environ else str(config_path)
        problems.append(f"{source}: {key}: {message}")
    return problems
