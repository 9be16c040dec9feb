"""Server settings, one pydantic-settings model (:class:`ServerSettings`) whose sources have
one precedence: arguments > environment > TOML file > defaults.

The environment names a key as every part of serialtrace does: ``SERIALTRACE_SERVER__`` and
the key in capitals (``SERIALTRACE_SERVER__DB_URL``, ``SERIALTRACE_SERVER__MQTT_PASSWORD``,
``SERIALTRACE_SERVER__QA_RESOLUTION_HOURS``); the older names are still read, below the new
one: ``SERIALTRACE_SERVER_<KEY>`` (one underscore) and, for the QA keys, ``SERIALTRACE_QA_<KEY>``
(``SERIALTRACE_QA_RESOLUTION_HOURS``).

A TOML file holds the keys below at top level or under a ``[server]`` table::

    db_url = "postgresql://trace@db.example/serialtrace"
    mqtt_url = "mqtts://broker.plant:8883"
    mqtt_secrets_file = "/etc/serialtrace/mqtt/server-trace1.toml"
    mqtt_share_group = "ingest"

The broker's credentials and TLS files come from ``mqtt_secrets_file`` (as ``serialtrace
broker add-server`` writes it, mode 0600), or from ``mqtt_username``, ``mqtt_password``
(best from the environment: ``SERIALTRACE_SERVER__MQTT_PASSWORD``), ``mqtt_ca_file``,
``mqtt_cert_file`` and ``mqtt_key_file``, or from the URL (``mqtts://user:pw@host``). The
password never appears in a log line or on the receiver process's command line.
"""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from epcis.broker import BrokerLink
from epcis.errors import BrokerLinkError
from server.errors import ConfigError
from server.qa.sla import QaSettings
from server.store.engine import normalize_url

ENV_PREFIX = "SERIALTRACE_SERVER__"
"""The environment's names for the settings: ``SERIALTRACE_SERVER__<KEY>``."""
LEGACY_ENV_PREFIX = "SERIALTRACE_SERVER_"
"""Still read (``SERIALTRACE_SERVER_<KEY>``): the names before one syntax for every part."""
LEGACY_QA_ENV_PREFIX = "SERIALTRACE_QA_"
"""Still read for the ``qa_*`` keys (``SERIALTRACE_QA_<KEY>`` for ``qa_<key>``): the QA
settings' names before they were the server's."""

_FILE: ContextVar[Mapping[str, Any] | None] = ContextVar("server_settings_file", default=None)
"""The settings file's values while :func:`load_settings` builds the settings."""


class ServerSettings(BaseSettings):
    """Everything the trace server reads from its configuration."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    db_url: str = "sqlite:///serialtrace.db"
    mqtt_url: str | None = None  # no MQTT ingest when unset (HTTP capture only)
    mqtt_share_group: str | None = None  # e.g. "ingest" for $share/ingest/…
    mqtt_username: str | None = None
    mqtt_password: str | None = Field(default=None, repr=False)
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    mqtt_secrets_file: str | None = None
    # /health answers 503 while the oldest message not acknowledged is older than this,
    # and for this long after the broker said another client took the session over.
    mqtt_max_lag_seconds: float = Field(default=60.0, gt=0)
    mqtt_takeover_alarm_seconds: float = Field(default=300.0, ge=0)
    # A receiver process that died is started again after this, doubling while new ones die
    # (up to 30 s); after one that ran a minute or more, after this again.
    mqtt_receiver_restart_seconds: float = Field(default=1.0, gt=0, le=30)
    # A line's delivery gap (sequence numbers missing) open this long raises an alert
    # (server/delivery.py, docs/mqtt.md).
    delivery_gap_alert_seconds: float = Field(default=120.0, gt=0)
    # Dead letters: kept per source (MQTT topic or HTTP user) and by age; payload kept up to.
    dead_letter_max_per_source: int = Field(default=1000, ge=1)
    dead_letter_max_age_days: float = Field(default=30.0, gt=0)
    dead_letter_keep_bytes: int = Field(default=64 * 1024, ge=0)
    mqtt_client_id: str = Field(
        default_factory=lambda: f"serialtrace-server-{socket.gethostname()}"
    )
    # MQTT 5 Receive Maximum: unacknowledged messages the broker may send (Mosquitto 2
    # honours it for v5 clients whatever its max_inflight_messages); half is the group commit.
    mqtt_max_inflight: int = Field(default=400, ge=1, le=65535)
    mqtt_session_expiry_seconds: int = Field(default=3600, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_payload_bytes: int = Field(default=1024 * 1024, ge=1024)
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    page_size_max: int = Field(default=1000, ge=1)
    migrate_on_start: bool = True
    # serial authority (docs/serials.md): the FF3-1 key (hex, mode 0600) and the high-water
    # journal (keep it out of the database's backups)
    serials_key_file: Path | None = None
    serials_journal: Path | None = None
    serials_max_pool: int = Field(default=100_000, ge=1, le=1_000_000)
    serials_max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    # EPCIS 2.0 REST bindings (docs/epcis.md): where they live, how many events one capture
    # may hold, how often subscriptions are checked, which hosts webhooks may call (empty:
    # any; name them to keep subscribers from making the server call into your network).
    epcis_base_path: str = Field(
        default="/epcis", pattern=r"^(/[A-Za-z0-9._~-]+)+$", max_length=100
    )
    epcis_capture_limit: int = Field(default=10_000, ge=1)
    epcis_subscription_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A webhook delivery that failed is tried again after this, doubling up to 60 s.
    epcis_webhook_retry_seconds: float = Field(default=2.0, gt=0, le=60)
    epcis_webhook_hosts: tuple[str, ...] = ()

    # Audit trail anchoring (docs/qa.md): the Ed25519 key that signs checkpoints, from a
    # file or the environment (SERIALTRACE_SERVER__AUDIT_KEY), never from the database; the
    # public key verifiers trust (derived from the private key when not given); the
    # append-only checkpoint file; how often a checkpoint goes into the trail itself.
    audit_key_file: str | None = None
    audit_key: SecretStr | None = None
    audit_public_key: str | None = None
    audit_checkpoint_file: str | None = None
    audit_checkpoint_seconds: float = Field(default=300, gt=0, le=86400)

    # Accounts (docs/api.md): password policy, lockout after failed logins and signatures.
    password_min_length: int = Field(default=12, ge=8, le=128)
    lockout_failures: int = Field(default=5, ge=1, le=1000)
    lockout_seconds: int = Field(default=900, ge=0)  # 0: until an admin enables the user
    failure_window_seconds: int = Field(default=900, ge=1)
    address_max_failures: int = Field(default=20, ge=1)
    # Segregation of duties: may the user who recorded a batch's production release it?
    producer_may_release: bool = False

    # Ingest: event times outside [now - max age, now + max ahead] are refused.
    event_time_max_age_days: float = Field(default=365, gt=0)
    event_time_max_ahead_days: float = Field(default=1, ge=0)

    # HTTP: one body limit for every request, checked before the body is read; slow
    # clients are cut off after these many seconds without a complete header / between
    # requests on a kept-alive connection.
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    header_timeout_seconds: float = Field(default=10, gt=0, le=600)
    idle_timeout_seconds: float = Field(default=5, gt=0, le=600)

    # QA (docs/qa.md): complaint SLA clocks (first response, resolution, the fraction of a
    # window after which a running clock is at risk), the satisfaction target, and when a
    # batch is flagged (at least this many complaints and a rate over factor x the median
    # rate of its product's batches).
    qa_first_response_hours: float = Field(default=24.0, gt=0)
    qa_resolution_hours: float = Field(default=48.0, gt=0)
    qa_at_risk_fraction: float = Field(default=0.75, gt=0, lt=1)
    qa_satisfaction_target: float = Field(default=0.90, gt=0, le=1)
    qa_batch_flag_factor: float = Field(default=3.0, gt=1)
    qa_batch_flag_min_complaints: int = Field(default=3, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments > ``SERIALTRACE_SERVER__KEY`` > ``SERIALTRACE_SERVER_KEY`` >
        ``SERIALTRACE_QA_KEY`` (``qa_*`` keys only) > the file of :func:`load_settings` >
        defaults (added by pydantic-settings)."""
        return (
            init_settings,
            env_settings,
            EnvSettingsSource(settings_cls, env_prefix=LEGACY_ENV_PREFIX),
            _LegacyQaEnvSource(settings_cls, env_prefix=LEGACY_QA_ENV_PREFIX),
            _FileSource(settings_cls, _FILE.get() or {}),
        )

    def qa(self) -> QaSettings:
        """The QA part, as the complaint SLA clocks and dashboard take it."""
        return QaSettings(
            first_response_hours=self.qa_first_response_hours,
            resolution_hours=self.qa_resolution_hours,
            at_risk_fraction=self.qa_at_risk_fraction,
            satisfaction_target=self.qa_satisfaction_target,
            batch_flag_factor=self.qa_batch_flag_factor,
            batch_flag_min_complaints=self.qa_batch_flag_min_complaints,
        )

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        normalize_url(value)  # raises ConfigError naming the field
        return value


class _LegacyQaEnvSource(EnvSettingsSource):
    """``SERIALTRACE_QA_<KEY>`` for the ``qa_<key>`` settings (and nothing else)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if not field_name.startswith("qa_"):
            return None, field_name, False
        value, _, complex_ = super().get_field_value(field, field_name.removeprefix("qa_"))
        return value, field_name, complex_


class _FileSource(PydanticBaseSettingsSource):
    """The settings file's keys as written (unknown keys are refused by the model)."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = dict(data)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def broker_link(settings: ServerSettings) -> BrokerLink | None:
    """The broker link the settings describe (None without ``mqtt_url``)."""
    if not settings.mqtt_url and not settings.mqtt_secrets_file:
        return None
    try:
        return BrokerLink.parse(
            settings.mqtt_url or "",
            username=settings.mqtt_username,
            password=settings.mqtt_password,
            ca_file=settings.mqtt_ca_file,
            cert_file=settings.mqtt_cert_file,
            key_file=settings.mqtt_key_file,
            secrets_file=settings.mqtt_secrets_file,
        )
    except BrokerLinkError as exc:
        raise ConfigError(str(exc)) from None


DB_URL_SOURCES = "--db URL, db_url in the --config file, or SERIALTRACE_SERVER__DB_URL"


def db_url_problem(settings: ServerSettings) -> str | None:
    """None if the store's URL was given (file, environment or argument): no command
    creates ``serialtrace.db`` in the current folder because nobody said where the store is."""
    if "db_url" in settings.model_fields_set:
        return None
    return f"db_url: expected the trace store's URL ({DB_URL_SOURCES}), got none"


def require_db_url(settings: ServerSettings) -> ServerSettings:
    """``settings``, or :class:`ConfigError` when they do not say where the store is."""
    problem = db_url_problem(settings)
    if problem is not None:
        raise ConfigError(problem)
    return settings


def existing_store(db_url: str) -> str:
    """``db_url``, or :class:`ConfigError` if it is a SQLite file that does not exist (a
    command that reads the store must not create an empty one by mistake)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db_url)
    except ArgumentError:
        return db_url  # create_store_engine names the problem
    database = url.database
    is_file = url.get_backend_name() == "sqlite" and database and database != ":memory:"
    if is_file and not Path(str(database)).is_file():
        raise ConfigError(
            f"db_url: expected an existing trace store, got {db_url!r} (no such file; "
            "serialtrace server migrate --db URL makes one)"
        )
    return db_url


def load_settings(config_file: Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from ``config_file`` (TOML: keys at top level or in a ``[server]`` table), the
    environment and ``overrides`` (non-None); ConfigError listing every problem."""
    file_values: dict[str, Any] = {}
    problems: list[str] = []
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config: cannot read {str(config_file)!r}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {str(config_file)!r} is not valid TOML: {exc}") from exc
        section = data.get("server", data)
        if not isinstance(section, dict):
            raise ConfigError(f"config: expected a [server] table, got {section!r}")
        file_values = section
        problems.extend(
            f"{key}: unknown setting beside the [server] table (put it in the table)"
            for key in data
            if section is not data and key != "server"
        )
    token = _FILE.set(file_values)
    try:
        settings = ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors())
    finally:
        _FILE.reset(token)
    if not problems:
        return settings
    if len(problems) == 1:
        raise ConfigError(problems[0])
    raise ConfigError(str(config_file) if config_file is not None else "of the server", problems)


def _describe(error: Any) -> str:
    """One problem, one line: ``key: what was expected, got 'value'`` (secrets hidden)."""
    where = ".".join(str(part) for part in error["loc"]) or "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith(where + ":"):  # a validator that names its own field
        return message
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown setting (typo?)"
    secret = any(word in where for word in ("password", "audit_key"))
    got = "(hidden)" if secret else repr(error.get("input"))
    return f"{where}: {message}, got {got}"
