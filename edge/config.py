"""Edge agent configuration: one TOML file, overridable by environment variables.

:class:`EdgeConfig` is a pydantic-settings model whose sources have one precedence:
arguments > environment > the TOML file > defaults. The file (:class:`TomlFileSource`) is
taken as written: a key no section knows is refused. The environment
(:class:`NestedEnvSource`) names a key ``SERIALTRACE_EDGE__`` followed by its path in upper
case, parts joined by a double underscore; list items are addressed by their index in the
file's list::

    SERIALTRACE_EDGE__MQTT__URL=mqtts://broker.plant:8883
    SERIALTRACE_EDGE__MQTT__PASSWORD=secret
    SERIALTRACE_EDGE__PRODUCTS__0__LOT_TEMPLATE=unit-large

:func:`load_config` either returns a complete, valid :class:`EdgeConfig` or raises
:class:`ConfigError` listing *every* problem of the file and the environment
(``section.field: what was expected, got 'x'``), so an operator fixes a file in one go
instead of one error per start. :func:`parse_config` does the same for a mapping already read.

See ``docs/edge.md`` for the reference and ``docs/examples/edge.toml`` for a full example.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

import gs1
from edge.devices import DevicesConfig
from edge.errors import ConfigError
from epcis.broker import BrokerLink
from epcis.errors import BrokerLinkError

ENV_PREFIX = "SERIALTRACE_EDGE__"

__all__ = ["ConfigError", "EdgeConfig", "load_config", "parse_config"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""A site or line id: it becomes an MQTT topic level, so no ``/``, ``+``, ``#`` or spaces
(the rule of :func:`epcis.topics.validate_id`)."""


class ReadPointConfig(_Section):
    """Where the line is: an SGLN built from a GLN and an extension."""

    gln: str
    extension: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,20}$")] = "0"
    company_prefix_length: Annotated[int, Field(ge=6, le=12)]

    @field_validator("gln")
    @classmethod
    def _valid_gln(cls, value: str) -> str:
        return gs1.Gln.parse(value).value

    @property
    def uri(self) -> str:
        """The read point as an EPC URI (``urn:epc:id:sgln:…``)."""
        return gs1.sgln_uri(gs1.Gln.parse(self.gln), self.company_prefix_length, self.extension)


class ProductConfig(_Section):
    """One product the line can pack, with the label templates it uses."""

    gtin: str
    company_prefix_length: Annotated[int, Field(ge=6, le=12)]
    name: str = ""
    unit_template: str = "unit-50x30-203"
    """A built-in template name or a TOML file (see docs/printers.md)."""
    case_template: str = "sscc-100x150-203"
    pallet_template: str = "sscc-100x150-203"

    @field_validator("gtin")
    @classmethod
    def _valid_gtin(cls, value: str) -> str:
        return gs1.Gtin.parse(value).value


class PackingConfig(_Section):
    """The packing hierarchy and where SSCCs come from."""

    units_per_case: Annotated[int, Field(ge=1, le=10_000)] = 10
    cases_per_pallet: Annotated[int, Field(ge=1, le=10_000)] = 20
    sscc_company_prefix: Annotated[str, Field(pattern=r"^[0-9]{6,12}$")]
    sscc_extension: Annotated[int, Field(ge=0, le=9)] = 0


class SerialsConfig(_Section):
    """Where serials and SSCCs come from.

    **Local** (no ``authority_url``): counter ranges leased from ``allocator`` (a SQLite file
    of this host) turned into serials with the FF3-1 key from ``key_file`` (hex, mode 0600)
    or the ``SERIALTRACE_SERIAL_KEY`` environment variable.

    **Authority** (``authority_url`` set): ready-made pools from the serial authority, kept
    in ``buffer`` for ``buffer_hours`` of production at ``line_rate_per_minute`` and refilled
    below ``low_water_hours``; the line logs in as ``authority_user`` with the password in
    ``authority_password_file`` (mode 0600) or ``SERIALTRACE_AUTHORITY_PASSWORD``."""

    allocator: str = "serials.sqlite"
    key_file: str | None = None
    alphabet: Literal["numeric", "safe", "cset82"] = "numeric"
    length: Annotated[int, Field(ge=6, le=20)] = 12
    lease_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    sscc_lease_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    authority_url: str | None = None
    authority_user: Annotated[str | None, Field(validate_default=True)] = None
    authority_password_file: str | None = None
    authority_ca_file: str | None = None
    buffer: str = "serials-buffer.sqlite"
    buffer_hours: Annotated[float, Field(gt=0, le=24 * 31)] = 24.0
    low_water_hours: Annotated[float, Field(gt=0, le=24 * 31)] = 20.0
    pool_size: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    sscc_pool_size: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    line_rate_per_minute: Annotated[float | None, Field(gt=0, le=100_000)] = None
    return_unused_at_close: bool = False
    authority_retry_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    authority_max_backoff_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @field_validator("authority_url")
    @classmethod
    def _valid_authority_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host[:port], got {value!r}")
        return value

    @field_validator("authority_user")
    @classmethod
    def _authority_needs_a_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("authority_url") is not None and not value:
            raise ValueError(
                "required with serials.authority_url (the line's device identity at the "
                "authority), missing"
            )
        return value

    @field_validator("low_water_hours")
    @classmethod
    def _low_water_below_target(cls, value: float, info: ValidationInfo) -> float:
        buffer_hours = info.data.get("buffer_hours")
        if buffer_hours is not None and value > buffer_hours:
            raise ValueError(f"expected at most serials.buffer_hours ({buffer_hours:g})")
        return value


class ServerLinkConfig(_Section):
    """The trace server's production data for this line (master data, orders, lots).

    The line logs in as ``user`` (a device identity bound to this site/line at the server)
    with the password in ``password_file`` (mode 0600) or ``SERIALTRACE_SERVER_PASSWORD``."""

    url: str
    user: Annotated[str, Field(min_length=1, max_length=64)]
    password_file: str | None = None
    ca_file: str | None = None
    data: str = "production.sqlite"
    poll_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    lot_reserve_days: Annotated[int, Field(ge=1, le=14)] = 2
    lot_reserve_per_period: Annotated[int, Field(ge=1, le=50)] = 3

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host[:port], got {value!r}")
        return value


class MqttConfig(_Section):
    """The broker link; ``mqtts://`` turns TLS on.

    Credentials come from ``secrets_file`` (as ``serialtrace broker add-line`` writes it, mode
    0600; it may also carry the URL and CA file), else from ``username``/``password`` (best
    from the environment: ``SERIALTRACE_EDGE__MQTT__PASSWORD``). The line identity's
    username (``line/SITE/LINE``) is used by the outbox publisher; the PLC link connects as
    ``{username}/plc`` and ``{username}/gate`` with the same password (the broker set-up
    creates all three)."""

    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    secrets_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    session_expiry_s: Annotated[int, Field(ge=1, le=4_294_967_295)] = 7 * 24 * 3600
    max_inflight: Annotated[int, Field(ge=1, le=20)] = 20

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"expected mqtt://host[:port] or mqtts://host[:port], got {value!r}")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"expected a port number in 1..65535, got {value!r}") from None
        return value

    @model_validator(mode="after")
    def _usable_link(self) -> MqttConfig:
        try:
            self.link()
        except BrokerLinkError as exc:
            raise ValueError(str(exc).replace("mqtt_url:", "mqtt:", 1)) from None
        return self

    def link(self, suffix: str = "") -> BrokerLink:
        """The broker link; ``suffix`` is appended to the username (``/plc``, ``/gate``)."""
        link = BrokerLink.parse(
            self.url,
            username=self.username,
            password=self.password,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            secrets_file=self.secrets_file,
            field_name="mqtt",
        )
        if suffix and link.username is not None:
            link = link.with_username(link.username + suffix)
        return link

    @property
    def host(self) -> str:
        return self.link().host

    @property
    def port(self) -> int:
        return self.link().port

    @property
    def tls(self) -> bool:
        return self.link().tls


class OutboxConfig(_Section):
    """How events are batched into EPCIS documents and when the depth raises an alarm."""

    max_events_per_message: Annotated[int, Field(ge=1, le=1000)] = 100
    max_delay_ms: Annotated[int, Field(ge=0, le=10_000)] = 50
    alarm_depth: Annotated[int, Field(ge=1)] = 10_000
    # Server-confirmed delivery (docs/mqtt.md): an event leaves the outbox only when the
    # trace server acknowledged it on the line's ``acks`` topic ("server"); "broker" deletes
    # on the broker's PUBACK (a broker crash then loses what it held: only for a line
    # without a trace server).
    confirm_by: Literal["server", "broker"] = "server"
    # Events sent but not confirmed by the server this long are sent again (from the oldest
    # unconfirmed); each further timeout without progress doubles it, up to the maximum.
    confirm_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    confirm_timeout_max_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    # The agent's /health fails (part "outbox") while the oldest event not yet confirmed is
    # older than this: delivery to the trace server has stalled.
    max_age_s: Annotated[float, Field(gt=0, le=30 * 86_400)] = 120.0


class TriggerConfig(_Section):
    """Where unit triggers come from: the PLC over MQTT or an internal timer."""

    source: Literal["plc", "timer"] = "plc"
    rate_per_minute: Annotated[float, Field(gt=0, le=100_000)] = 600.0


class LineConfig(_Section):
    """The line keeps step or stops (docs/edge.md, "Gate timing" and "Faults").

    ``verdict_deadline_ms``: how long after its trigger the PLC's reject gate waits for a
    unit's verdict (a trigger's ``deadline_ms`` from the PLC overrides it per unit). A verdict
    later than that is *missed* (the gate already rejected a unit that may be good); one
    closer to the deadline than ``guard_ms`` is *at risk*. Over the last ``window`` verdicts,
    a missed fraction above ``max_miss_rate`` raises the gate-timing alarm, and a fraction
    missed or at risk of ``policy_at_risk_rate`` or more applies ``policy``: ``stop`` (pause
    the batch, stop the line), ``slow`` (ask the PLC for ``slow_factor`` times the measured
    rate, down to ``min_rate_per_minute``, then stop) or ``alarm`` (alarm only).
    ``stuck_unit_s``: a unit in flight longer than that is stuck: alarm and stop.
    ``max_lost_frames``: this many units in a row without their own camera frame, or one
    frame from the future beyond the units in flight, means the camera is out of step:
    alarm and stop.
    """

    verdict_deadline_ms: Annotated[float, Field(gt=0, le=60_000)] = 150.0
    guard_ms: Annotated[float, Field(ge=0, le=60_000)] = 30.0
    window: Annotated[int, Field(ge=10, le=100_000)] = 200
    max_miss_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    policy: Literal["stop", "slow", "alarm"] = "stop"
    policy_at_risk_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    slow_factor: Annotated[float, Field(gt=0.1, lt=1)] = 0.8
    min_rate_per_minute: Annotated[float, Field(gt=0, le=100_000)] = 60.0
    stuck_unit_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    max_lost_frames: Annotated[int, Field(ge=1, le=1000)] = 3


class OperatorConfig(_Section):
    """An operator who may sign in at the HMI: a name and an argon2 password hash
    (``serialtrace edge operator-hash`` makes one)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    password_hash: Annotated[str, Field(pattern=r"^\$argon2(id|i|d)\$")]


class ApiConfig(_Section):
    """The agent's local control API (``serialtrace edge batch …`` and the HMI talk to it).

    Every state-changing route needs ``Authorization: Bearer <token>``: the API token (in
    ``token_file``, made at the first start, mode 0600; what ``serialtrace edge`` sends), or
    the session token of an operator signed in at the HMI. Requests must name this host
    (``Host``) and, when a browser says where it comes from (``Origin``), come from it."""

    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8710
    token_file: str = "api.token"
    operators: list[OperatorConfig] = []
    session_ttl_s: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 12 * 3600
    allowed_hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.:\[\]-]{1,255}$")]] = []


class AgentConfig(_Section):
    site: Identifier
    line: Identifier
    data_dir: str
    read_point: ReadPointConfig
    commit_interval_ms: Annotated[float, Field(ge=0, le=1000)] = 0.0


class EdgeConfig(BaseSettings):
    """The whole edge agent configuration, from its sources in this order of precedence:
    arguments (``EdgeConfig(mqtt=...)``) > environment (``SERIALTRACE_EDGE__…``) > the TOML
    file > the defaults below. :func:`load_config` and :func:`parse_config` build it and turn
    every problem into one :class:`ConfigError`."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=ENV_PREFIX)

    agent: AgentConfig
    products: Annotated[list[ProductConfig], Field(min_length=1)]
    packing: PackingConfig
    devices: DevicesConfig = DevicesConfig()
    serials: SerialsConfig = SerialsConfig()
    server: ServerLinkConfig | None = None
    mqtt: MqttConfig = MqttConfig()
    outbox: OutboxConfig = OutboxConfig()
    trigger: TriggerConfig = TriggerConfig()
    line: LineConfig = LineConfig()
    api: ApiConfig = ApiConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments > environment > file (> defaults, added by pydantic-settings). Without
        :func:`load_config` or :func:`parse_config` there is no file and the environment is
        ``os.environ``."""
        reading = _READING.get()
        if reading is None:
            return init_settings, NestedEnvSource(settings_cls, os.environ)
        env = NestedEnvSource(
            settings_cls, reading.environ, below=reading.file, problems=reading.problems
        )
        return init_settings, env, reading.file

    @model_validator(mode="after")
    def _unique_products(self) -> EdgeConfig:
        seen: set[str] = set()
        for index, product in enumerate(self.products):
            if product.gtin in seen:
                raise ValueError(f"products.{index}.gtin: duplicate GTIN {product.gtin!r}")
            seen.add(product.gtin)
        return self

    @property
    def data_path(self) -> Path:
        return Path(self.agent.data_dir)

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"serialtrace-edge-{self.agent.site}-{self.agent.line}"

    def product(self, gtin: str) -> ProductConfig | None:
        """The product with this GTIN (any GTIN form), or None if the line does not pack it."""
        try:
            wanted = gs1.Gtin.parse(gtin).value
        except gs1.Gs1Error:
            return None
        return next((p for p in self.products if p.gtin == wanted), None)

    def resolve(self, path: str) -> Path:
        """A path from the config: relative paths are relative to the data directory."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.data_path / candidate


class TomlFileSource(PydanticBaseSettingsSource):
    """The configuration file: every table and key as written (pydantic refuses unknown keys,
    ``extra="forbid"`` on every section), read from ``path`` or given as ``data`` (a mapping
    already read from TOML). A file that is missing, unreadable or not TOML raises
    :class:`ConfigError` naming it."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        path: str | Path | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.data: dict[str, Any] = _deep_copy(dict(data or {}))  # the caller's stays as is
        if path is not None:
            self.data = read_toml(path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        copied: dict[str, Any] = _deep_copy(self.data)
        return copied


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a mapping; ConfigError naming the file if it cannot be."""
    source = str(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, [f"file: no such file {source!r}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"file: cannot read {source!r}: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"file: not valid TOML: {exc}"]) from None


class NestedEnvSource(PydanticBaseSettingsSource):
    """``SERIALTRACE_EDGE__A__B=value`` sets ``a.b``; a list item is addressed by its index
    in the list below it (``SERIALTRACE_EDGE__PRODUCTS__0__NAME`` names the file's first
    product). A name that addresses nothing (a list item the file does not have, a key under
    a value) is a problem: added to ``problems`` when given (so it is listed with every
    other problem), else raised as :class:`ConfigError`."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        *,
        below: TomlFileSource | None = None,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.environ = environ
        self.below = below
        self.problems = problems

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        problems: list[str] = []
        below = self.below.data if self.below else {}
        overlay = env_overlay(self.environ, below, problems, self.settings_cls)
        if problems and self.problems is None:
            raise ConfigError("the environment", problems)
        if self.problems is not None:
            self.problems.extend(problem for problem in problems if problem not in self.problems)
        return overlay


@dataclass(frozen=True)
class _Reading:
    """Where :meth:`EdgeConfig.settings_customise_sources` reads: set by :func:`parse_config`
    and :func:`load_config` for the duration of one construction."""

    file: TomlFileSource
    environ: Mapping[str, str]
    problems: list[str]


_READING: ContextVar[_Reading | None] = ContextVar("edge_config_reading", default=None)


def load_config(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> EdgeConfig:
    """Read the file, override from the environment (``os.environ`` unless ``environ`` is
    given) and then from ``overrides`` (nested like the file: ``{"mqtt": {"url": ...}}``),
    and validate; raise ConfigError with every problem."""
    file = TomlFileSource(EdgeConfig, path=path)
    return _build(file, os.environ if environ is None else environ, str(path), overrides)


def parse_config(
    raw: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "<dict>",
    overrides: Mapping[str, Any] | None = None,
) -> EdgeConfig:
    """Validate a configuration mapping (as read from TOML) with the overrides of ``environ``
    (none unless given: not ``os.environ``) and of ``overrides``."""
    return _build(TomlFileSource(EdgeConfig, data=raw), environ or {}, source, overrides)


def _build(
    file: TomlFileSource,
    environ: Mapping[str, str],
    source: str,
    overrides: Mapping[str, Any] | None,
) -> EdgeConfig:
    problems: list[str] = []
    token = _READING.set(_Reading(file, environ, problems))
    try:
        config = EdgeConfig(**_deep_copy(dict(overrides or {})))
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors())
        raise ConfigError(source, problems) from None
    finally:
        _READING.reset(token)
    if problems:
        raise ConfigError(source, problems)
    return config


def env_overlay(
    environ: Mapping[str, str],
    below: Mapping[str, Any],
    problems: list[str],
    model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """The settings ``SERIALTRACE_EDGE__…`` names give, as a nested mapping over ``below``
    (the file): a list the environment addresses is the file's list with those items set.
    A key of ``model`` that holds a list or a table may be given whole, as JSON
    (``SERIALTRACE_EDGE__API__ALLOWED_HOSTS='["hmi.plant"]'``)."""
    overlay: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            problems.append(f"environment: {name}: expected SECTION__FIELD, got an empty part")
            continue
        node: Any = overlay
        base: Any = below
        for depth, key in enumerate(keys[:-1]):
            path = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    problems.append(f"environment: {name}: no list item {key!r} at {path}")
                    break
                node = base = node[int(key)]
            else:
                base_child = base.get(key) if isinstance(base, Mapping) else None
                if key not in node:
                    if isinstance(base_child, list):
                        node[key] = _deep_copy(base_child)
                    elif base_child is None or isinstance(base_child, Mapping):
                        node[key] = {}
                node, base = node.get(key), base_child
            if not isinstance(node, dict | list):
                problems.append(f"environment: {name}: {path} is a value, not a section")
                break
        else:
            last = keys[-1]
            value = _env_value(name, environ[name], model, keys, problems)
            if isinstance(node, list):
                if not last.isdigit() or int(last) >= len(node):
                    problems.append(f"environment: {name}: no list item {last!r}")
                    continue
                node[int(last)] = value
            else:
                node[last] = value
    return overlay


def _env_value(
    name: str, text: str, model: type[BaseModel] | None, keys: list[str], problems: list[str]
) -> Any:
    """``text``, or what its JSON says when the key holds a list or a table."""
    if model is None or not text.lstrip().startswith(("[", "{")):
        return text
    if not _holds_many(_annotation_at(model, keys)):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"environment: {name}: expected JSON (a list or a table), got {exc}")
        return text


def _annotation_at(model: type[BaseModel], keys: list[str]) -> Any:
    """The annotation of the setting at ``keys`` (list indices as digits), None if none."""
    annotation: Any = model
    for key in keys:
        inner = _model_in(annotation)
        if key.isdigit():
            annotation = _item_of(annotation)
        elif inner is not None and key in inner.model_fields:
            annotation = inner.model_fields[key].annotation
        else:
            return None
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):  # X | None, Annotated[X, ...]
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _item_of(annotation: Any) -> Any:
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) in (list, tuple):
            return get_args(candidate)[0]
        if get_origin(candidate) is Annotated:
            return _item_of(get_args(candidate)[0])
    return None


def _holds_many(annotation: Any) -> bool:
    """Whether a setting of this annotation is a list or a table."""
    if annotation is None:
        return False
    if _model_in(annotation) is not None and not (
        isinstance(annotation, type) and issubclass(annotation, str)
    ):
        return True
    return any(
        get_origin(candidate) in (list, tuple, dict)
        for candidate in (annotation, *get_args(annotation))
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a whole-config rule: the message names its own field
        return message
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"{location}: required, missing"
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown setting (typo?)"
    if message.startswith(location + ":"):
        return message
    got = error.get("input")
    if isinstance(got, dict | list) or got is None or repr(got) in message:
        return f"{location}: {message}"
    return f"{location}: {message}, got {got!r}"
