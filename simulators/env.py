"""The simulators' settings, named as every part of serialtrace names them:
``SERIALTRACE_SIM__<KEY>`` in the environment (``SERIALTRACE_SIM__MQTT_SECRETS``). The older
name ``SERIALTRACE_<KEY>`` (``SERIALTRACE_MQTT_SECRETS``) is still read; the new one wins, and
an argument (``SimulatorSettings(mqtt_secrets=...)``, a command-line option) wins over both.
An empty variable counts as unset."""

from __future__ import annotations

from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "SERIALTRACE_SIM__"
LEGACY_ENV_PREFIX = "SERIALTRACE_"


class SimulatorSettings(BaseSettings):
    """What the simulators read from the environment (the rest comes from their options and
    scenario files)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True
    )

    mqtt_secrets: str | None = None
    """The broker identity's secrets file of the PLC and line simulators (as ``serialtrace
    broker add-plc`` writes it)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments > ``SERIALTRACE_SIM__<KEY>`` > ``SERIALTRACE_<KEY>`` > defaults."""
        legacy = EnvSettingsSource(
            settings_cls, env_prefix=LEGACY_ENV_PREFIX, env_ignore_empty=True
        )
        return init_settings, env_settings, legacy
