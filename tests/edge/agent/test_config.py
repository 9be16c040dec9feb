"""Configuration: the example loads; every problem of a bad file is listed at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "examples" / "edge.toml"

MINIMAL: dict[str, Any] = {
    "agent": {
        "site": "plant1",
        "line": "line3",
        "data_dir": "/tmp/x",
        "read_point": {"gln": "9506000000008", "company_prefix_length": 7},
    },
    "products": [{"gtin": "09506000134352", "company_prefix_length": 7}],
    "packing": {"sscc_company_prefix": "9506000"},
}


def with_changes(**sections: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(MINIMAL)
    for name, values in sections.items():
        if isinstance(raw.get(name), dict):
            raw[name].update(values)
        else:
            raw[name] = values
    return raw


def problems_of(raw: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ=environ)
    return caught.value.problems


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.agent.read_point.uri == "urn:epc:id:sgln:9506000.00000.3"
    assert config.mqtt.port == 8883 and config.mqtt.tls
    assert config.devices.printer is not None
    assert config.devices.printer.url == "socket://127.0.0.1:9100"
    assert config.client_id == "serialtrace-edge-plant1-line3"


def test_minimal_config_takes_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.mqtt.max_inflight == 20
    assert config.mqtt.session_expiry_s > 0
    assert config.outbox.max_events_per_message == 100
    assert config.products[0].gtin == "09506000134352"
    assert config.product("9506000134352") is config.products[0]
    assert config.product("not a gtin") is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"products": [{"gtin": "09506000134353", "company_prefix_length": 7}]},
            "products.0.gtin: gtin: expected check digit 2, got 3 in '09506000134353'",
        ),
        (
            {"mqtt": {"url": "http://broker"}},
            "mqtt.url: expected mqtt://host[:port] or mqtts://host[:port], got 'http://broker'",
        ),
        (
            {"mqtt": {"url": "mqtt://broker:99999"}},
            "mqtt.url: expected a port number in 1..65535, got 'mqtt://broker:99999'",
        ),
        (
            {"mqtt": {"max_inflight": 50}},
            "mqtt.max_inflight: Input should be less than or equal to 20, got 50",
        ),
        ({"mqtt": {"clientid": "x"}}, "mqtt.clientid: unknown setting (typo?)"),
        (
            {"api": {"host": "0.0.0.0"}},
            "api.host: Input should be '127.0.0.1', 'localhost' or '::1', got '0.0.0.0'",
        ),
        (
            {"packing": {"units_per_case": 0, "sscc_company_prefix": "9506000"}},
            "packing.units_per_case: Input should be greater than or equal to 1, got 0",
        ),
        (
            {"line": {"verdict_deadline_ms": -5}},
            "line.verdict_deadline_ms: Input should be greater than 0, got -5",
        ),
        (
            {"line": {"policy": "pray"}},
            "line.policy: Input should be 'stop', 'slow' or 'alarm', got 'pray'",
        ),
        ({"line": {"deadline_ms": 150}}, "line.deadline_ms: unknown setting (typo?)"),
    ],
)
def test_one_problem_is_named_precisely(changes: dict[str, Any], expected: str) -> None:
    assert problems_of(with_changes(**changes)) == [expected]


def test_every_problem_is_listed_at_once() -> None:
    raw = with_changes(
        agent={"site": "plant/1", "line": ""},
        mqtt={"url": "tcp://x"},
        products=[
            {"gtin": "09506000134352", "company_prefix_length": 7},
            {"gtin": "09506000134352", "company_prefix_length": 7},
        ],
    )
    del raw["packing"]
    problems = problems_of(raw)
    assert "packing: required, missing" in problems
    assert any(p.startswith("agent.site: String should match pattern") for p in problems)
    assert any(p.startswith("agent.line: String should match pattern") for p in problems)
    assert any(p.startswith("mqtt.url: expected mqtt://") for p in problems)
    assert len(problems) == 4
    message = str(ConfigError("edge.toml", problems))
    assert message.startswith("invalid configuration edge.toml (4 problems):\n  - ")


def test_duplicate_products_are_refused() -> None:
    product = {"gtin": "09506000134352", "company_prefix_length": 7}
    assert problems_of(with_changes(products=[product, product])) == [
        "products.1.gtin: duplicate GTIN '09506000134352'"
    ]


def test_environment_overrides_file_values() -> None:
    environ = {
        "SERIALTRACE_EDGE__MQTT__URL": "mqtts://broker.plant:8883",
        "SERIALTRACE_EDGE__MQTT__PASSWORD": "s3cret",
        "SERIALTRACE_EDGE__PRODUCTS__0__NAME": "Paracetamol",
        "SERIALTRACE_EDGE__OUTBOX__ALARM_DEPTH": "500",
        "OTHER": "ignored",
    }
    config = parse_config(MINIMAL, environ=environ)
    assert config.mqtt.tls and config.mqtt.port == 8883 and config.mqtt.host == "broker.plant"
    assert config.mqtt.password == "s3cret"
    assert config.products[0].name == "Paracetamol"
    assert config.outbox.alarm_depth == 500


def test_bad_environment_overrides_are_listed() -> None:
    environ = {
        "SERIALTRACE_EDGE__PRODUCTS__3__NAME": "x",
        "SERIALTRACE_EDGE__AGENT__SITE__X": "y",
        "SERIALTRACE_EDGE__OUTBOX__ALARM_DEPTH": "many",
    }
    problems = problems_of(MINIMAL, environ)
    assert "environment: SERIALTRACE_EDGE__PRODUCTS__3__NAME: no list item '3' at products.3" in (
        problems
    )
    assert (
        "environment: SERIALTRACE_EDGE__AGENT__SITE__X: agent.site is a value, not a section"
        in (problems)
    )
    assert any(
        p.startswith("outbox.alarm_depth: Input should be a valid integer") for p in problems
    )


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nope.toml", environ={})
    assert missing.value.problems == [f"file: no such file {str(tmp_path / 'nope.toml')!r}"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[agent\nsite = 1")
    with pytest.raises(ConfigError) as invalid:
        load_config(bad, environ={})
    assert invalid.value.problems[0].startswith("file: not valid TOML: ")


# -- sources and their precedence: arguments > environment > file > defaults -----------------


def test_each_source_wins_over_the_ones_below(tmp_path: Path) -> None:
    file = tmp_path / "line.toml"
    file.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("[outbox]", "[outbox]\nmax_delay_ms = 40"),
        encoding="utf-8",
    )
    environ = {
        "SERIALTRACE_EDGE__OUTBOX__MAX_DELAY_MS": "30",
        "SERIALTRACE_EDGE__OUTBOX__ALARM_DEPTH": "700",
    }
    overrides = {"outbox": {"max_delay_ms": 20}}
    config = load_config(file, environ=environ, overrides=overrides)
    assert config.outbox.max_delay_ms == 20  # argument over environment over file
    assert config.outbox.alarm_depth == 700  # environment over default
    assert config.outbox.max_events_per_message == 100  # default (a key the file leaves out)
    assert load_config(file, environ=environ).outbox.max_delay_ms == 30
    assert load_config(file, environ={}).outbox.max_delay_ms == 40
    # an argument for one key of a section leaves the section's other keys from below
    assert config.agent.site == "plant1" and config.mqtt.port == 8883


def test_load_config_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERIALTRACE_EDGE__API__PORT", "8799")
    assert load_config(EXAMPLE).api.port == 8799
    assert load_config(EXAMPLE, environ={}).api.port != 8799
    assert parse_config(MINIMAL).api.port == 8710  # a mapping: only the environ it is given


def test_the_settings_class_alone_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.config import EdgeConfig

    monkeypatch.setenv("SERIALTRACE_EDGE__MQTT__USERNAME", "line/plant1/line3")
    config = EdgeConfig(**copy.deepcopy(MINIMAL))
    assert config.mqtt.username == "line/plant1/line3"
    assert config.agent.site == "plant1"
    assert EdgeConfig(**with_changes(mqtt={"username": "u"})).mqtt.username == "u"
    monkeypatch.setenv("SERIALTRACE_EDGE__MQTT____URL", "x")
    with pytest.raises(ConfigError) as caught:
        EdgeConfig(**copy.deepcopy(MINIMAL))
    assert caught.value.problems == [
        "environment: SERIALTRACE_EDGE__MQTT____URL: expected SECTION__FIELD, got an empty part"
    ]


def test_environment_list_items_and_nested_tables(tmp_path: Path) -> None:
    raw = with_changes(
        products=[
            {"gtin": "09506000134352", "company_prefix_length": 7},
            {"gtin": "09506000134369", "company_prefix_length": 7, "name": "B"},
        ],
        api={"operators": [{"name": "ana", "password_hash": "$argon2id$v=19$x"}]},
    )
    environ = {
        "SERIALTRACE_EDGE__PRODUCTS__1__UNIT_TEMPLATE": "unit-40x24-300",
        "SERIALTRACE_EDGE__API__OPERATORS__0__NAME": "bea",
        "SERIALTRACE_EDGE__DEVICES__PRINTER__URL": "socket://10.1.2.3:9100",
        "SERIALTRACE_EDGE__DEVICES__PRINTER__FLOW_CONTROL": "rtscts",
        "SERIALTRACE_EDGE__DEVICES__SCANNER__URL": "loop://",
        "SERIALTRACE_EDGE__DEVICES__SCANNER__TIMEOUT_S": "3.5",
        "SERIALTRACE_EDGE__DEVICES__SCANNER__TERMINATOR": "CRLF",
    }
    config = parse_config(raw, environ=environ)
    assert [p.unit_template for p in config.products] == ["unit-50x30-203", "unit-40x24-300"]
    assert config.products[1].name == "B"  # the file's item, one key set
    assert config.api.operators[0].name == "bea"
    assert config.api.operators[0].password_hash == "$argon2id$v=19$x"
    printer, scanner = config.devices.printer, config.devices.scanner
    assert printer is not None and printer.url == "socket://10.1.2.3:9100"
    assert printer.flow_control.value == "rtscts"
    assert scanner is not None and scanner.timeout_s == 3.5
    assert scanner.framing().terminator == b"\r\n"
    assert raw["products"][1] == {
        "gtin": "09506000134369",
        "company_prefix_length": 7,
        "name": "B",
    }  # the caller's mapping is not changed


def test_the_file_is_strict_and_every_problem_is_listed(tmp_path: Path) -> None:
    file = tmp_path / "line.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    file.write_text(
        text.replace("[outbox]", "[outbox]\nmax_delay = 50")
        + "\n[devices.printer.extra]\nx = 1\n[colour]\nred = 1\n",
        encoding="utf-8",
    )
    environ = {
        "SERIALTRACE_EDGE__MQTT__CLIENTID": "x",
        "SERIALTRACE_EDGE__AGENT__SITE__X": "y",
        "SERIALTRACE_EDGE__API__PORT": "many",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ=environ)
    assert caught.value.source == str(file)
    assert sorted(caught.value.problems) == sorted(
        [
            "environment: SERIALTRACE_EDGE__AGENT__SITE__X: agent.site is a value, not a section",
            "outbox.max_delay: unknown setting (typo?)",
            "devices.printer.extra: unknown setting (typo?)",
            "colour: unknown setting (typo?)",
            "mqtt.clientid: unknown setting (typo?)",
            "api.port: Input should be a valid integer, unable to parse string as an integer,"
            " got 'many'",
        ]
    )


def test_a_list_or_a_table_may_be_given_whole_as_json() -> None:
    printer_table = '{"url": "socket://10.1.2.3:9100", "language": "dpl"}'
    environ = {
        "SERIALTRACE_EDGE__API__ALLOWED_HOSTS": '["hmi.plant", "10.1.2.3"]',
        "SERIALTRACE_EDGE__DEVICES__PRINTER": printer_table,
        "SERIALTRACE_EDGE__MQTT__PASSWORD": "[not json, a password",
    }
    config = parse_config(MINIMAL, environ=environ)
    assert config.api.allowed_hosts == ["hmi.plant", "10.1.2.3"]
    printer = config.devices.printer
    assert printer is not None and printer.language.value == "dpl"
    assert config.mqtt.password == "[not json, a password"  # a text key stays text
    bad = {"SERIALTRACE_EDGE__API__ALLOWED_HOSTS": '["hmi.plant",'}
    problems = problems_of(MINIMAL, bad)
    assert problems[0].startswith(
        "environment: SERIALTRACE_EDGE__API__ALLOWED_HOSTS: expected JSON (a list or a table), got "
    )
