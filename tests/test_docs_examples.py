"""Every configuration example is checked against the model that reads it (issue 20).

Every ```toml block in docs/ and README.md, and every TOML file of the repository (but
pyproject.toml), is loaded through the entry point a user's file goes through: the edge
configuration (a fragment such as ``[serials]`` is placed into a minimal edge file), the
server settings, a label template, a line scenario, the virtual printer's file, the line
thresholds of ``serialtrace vision``. An example nobody can load fails here, and so does an
example this test does not know how to load: a new kind of file needs a loader below.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]

#: The smallest valid edge file; a fragment of the docs is merged into it.
MINIMAL_EDGE: dict[str, Any] = {
    "agent": {
        "site": "plant1",
        "line": "line3",
        "data_dir": "/var/lib/serialtrace/line3",
        "read_point": {"gln": "9506000000008", "company_prefix_length": 7},
    },
    "products": [{"gtin": "09506000134352", "company_prefix_length": 7}],
    "packing": {"sscc_company_prefix": "9506000"},
}


@dataclass(frozen=True)
class Example:
    where: str  # docs/edge.md:196 or simulators/scenarios/normal.toml
    path: Path  # the file the example is in
    text: str

    @property
    def data(self) -> dict[str, Any]:
        return tomllib.loads(self.text)


def _examples() -> list[Example]:
    found: list[Example] = []
    for doc in sorted([*(REPO / "docs").rglob("*.md"), REPO / "README.md"]):
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"^```toml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(f"{doc.relative_to(REPO)}:{line}", doc, match.group(1)))
    for file in sorted(REPO.glob("**/*.toml")):
        relative = file.relative_to(REPO)
        if relative.parts[0].startswith(".") or relative.name == "pyproject.toml":
            continue
        found.append(Example(str(relative), file, file.read_text(encoding="utf-8")))
    return found


EXAMPLES = _examples()


# -- loaders: the way a user's file of each kind is read --------------------------------------


def load_edge_file(example: Example, tmp_path: Path) -> None:
    from edge.config import load_config

    file = tmp_path / "edge.toml"
    file.write_text(example.text, encoding="utf-8")
    load_config(file, environ={})


def load_edge_fragment(example: Example, tmp_path: Path) -> None:
    """A part of the edge file (``[serials]``, ``[api]``, ``[devices.camera.calibration]``…)
    completed by :data:`MINIMAL_EDGE`."""
    from edge.config import parse_config

    raw = copy.deepcopy(MINIMAL_EDGE)
    fragment = example.data
    if "devices" in fragment:  # a device table needs the device's required keys too
        for name, table in fragment["devices"].items():
            table.setdefault("url", "loop://")
            raw.setdefault("devices", {})[name] = table
        del fragment["devices"]
    raw.update(fragment)
    parse_config(raw, environ={})


def load_edge_printer(example: Example, tmp_path: Path) -> None:
    """docs/printers.md: "the same in the [printer] table of the edge config"."""
    from edge.config import parse_config

    raw = copy.deepcopy(MINIMAL_EDGE)
    raw["devices"] = {"printer": example.data["printer"]}
    parse_config(raw, environ={})


def load_printer_driver(example: Example, tmp_path: Path) -> None:
    """docs/printers.md: "PrinterConfig.from_mapping(table) reads it"."""
    from edge.printers import PrinterConfig

    PrinterConfig.from_mapping(example.data["printer"])


def load_server(example: Example, tmp_path: Path) -> None:
    from server.config import load_settings

    file = tmp_path / "server.toml"
    file.write_text(example.text, encoding="utf-8")
    load_settings(file)


def load_template_file(example: Example, tmp_path: Path) -> None:
    from edge.printers.templates import load_template

    file = tmp_path / "template.toml"
    file.write_text(example.text, encoding="utf-8")
    load_template(file)


def load_scenario(example: Example, tmp_path: Path) -> None:
    from simulators.line.scenario import Scenario

    file = tmp_path / "scenario.toml"
    file.write_text(example.text, encoding="utf-8")
    Scenario.load(file)


def load_printer_simulator(example: Example, tmp_path: Path) -> None:
    from simulators.printer.device import PrinterSimConfig

    file = tmp_path / "printer.toml"
    file.write_text(example.text, encoding="utf-8")
    PrinterSimConfig.load(file)


def load_vision_thresholds(example: Example, tmp_path: Path) -> None:
    from serialtrace.commands.vision import _thresholds

    file = tmp_path / "thresholds.toml"
    file.write_text(example.text, encoding="utf-8")
    _thresholds(file)


Loader = Callable[[Example, Path], None]

EDGE_SECTIONS = {"agent", "products", "packing", "devices", "serials", "server", "mqtt"} | {
    "outbox",
    "trigger",
    "api",
}


def loaders_for(example: Example) -> list[Loader]:
    """Which model reads this example (from where it is and what it holds)."""
    data = example.data
    where = example.where
    if where.startswith("docs/deployment.md"):
        return [load_server]
    if "agent" in data:
        return [load_edge_file]
    if "[datamatrix]" in example.text or where.startswith("edge/printers/templates/"):
        return [load_template_file]
    if ("line" in data and "name" in data) or where.startswith("simulators/scenarios/"):
        return [load_scenario]
    if where.startswith("docs/printers.md") and "faults" in data.get("printer", {}):
        return [load_printer_simulator]
    if where.startswith("docs/printers.md") and "printer" in data:
        return [load_printer_driver, load_edge_printer]
    if "thresholds" in data:
        return [load_vision_thresholds]
    if set(data) <= EDGE_SECTIONS:
        return [load_edge_fragment]
    return []


#: Examples that name keys the edge configuration does not take yet: the device settings
#: defined by the drivers and embedded in the edge file (issue 20, the drivers' part). Strict:
#: when the edge file takes them, this test says so and the entry goes.
NOT_YET: dict[tuple[str, str], str] = {}


CASES = [
    pytest.param(
        example,
        loader,
        id=f"{example.where}:{loader.__name__}",
        marks=[
            pytest.mark.xfail(strict=True, reason=reason)
            for (prefix, name), reason in NOT_YET.items()
            if example.where.startswith(prefix) and loader.__name__ == name
        ],
    )
    for example in EXAMPLES
    for loader in loaders_for(example)
]


@pytest.mark.parametrize(("example", "loader"), CASES)
def test_example_loads(example: Example, loader: Loader, tmp_path: Path) -> None:
    loader(example, tmp_path)


def test_every_example_has_a_loader() -> None:
    assert len(EXAMPLES) >= 15  # the docs' blocks and the repository's files were found
    assert [example.where for example in EXAMPLES if not loaders_for(example)] == []


def test_every_not_yet_entry_still_names_an_example() -> None:
    """When the docs' printer table moves under [devices.printer] (the drivers' part of issue
    20), its entry above names nothing any more: remove it."""
    cases = {
        (example.where, loader.__name__) for example in EXAMPLES for loader in loaders_for(example)
    }
    for prefix, name in NOT_YET:
        assert any(where.startswith(prefix) and loader == name for where, loader in cases), (
            f"NOT_YET entry {(prefix, name)} matches no example: remove it"
        )


def test_a_wrong_key_in_an_example_would_fail() -> None:
    """The loaders refuse what the models refuse (so a passing example means something)."""
    from edge.errors import ConfigError

    bad = Example("docs/serials.md:1", REPO / "docs" / "serials.md", "[serials]\nalphabet = 'x'\n")
    with pytest.raises(ConfigError, match=r"serials\.alphabet"):
        load_edge_fragment(bad, REPO)
    typo = Example("docs/hmi.md:1", REPO / "docs" / "hmi.md", "[api]\nprot = 8710\n")
    with pytest.raises(ConfigError, match=r"api\.prot: unknown setting"):
        load_edge_fragment(typo, REPO)


UNIT_TEMPLATE = (REPO / "edge" / "printers" / "templates" / "unit-50x30-203.toml").read_text(
    encoding="utf-8"
)


@pytest.mark.parametrize(
    ("loader", "text"),
    [
        (load_server, "[server]\ncolour = 1\n"),
        (load_template_file, UNIT_TEMPLATE.replace("[datamatrix]", "[datamatrix]\ncolour = 1")),
        (load_scenario, 'name = "x"\ncolour = 1\n[line]\nsite = "s"\nline = "l"\n'),
        (load_printer_simulator, "[printer]\ncolour = 1\n[printer.faults]\n"),
        (load_printer_driver, '[printer]\nurl = "loop://"\ncolour = 1\n'),
        (load_edge_printer, '[printer]\nurl = "loop://"\ncolour = 1\n'),
        (load_vision_thresholds, "[thresholds]\ncolour = 1\n"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_every_loader_refuses_an_unknown_key(loader: Loader, text: str, tmp_path: Path) -> None:
    """An example with a typo fails whatever kind of file it is (a key nobody reads would
    otherwise pass unnoticed)."""
    example = Example("docs/x.md:1", REPO / "docs" / "x.md", text)
    with pytest.raises(Exception, match=r"colour") as caught:
        loader(example, tmp_path)
    assert isinstance(caught.value, ValueError) or type(caught.value).__name__ == "CliError"


# -- every key the docs name ----------------------------------------------------------------


def _field_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (through ``X | None``, ``list[X]``, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _field_model(argument)
        if found is not None:
            return found
    return None


def _by_alias(model: type[BaseModel], name: str) -> Any:
    """The field that also takes ``name`` (``validation_alias=AliasChoices(...)``), if any."""
    for field in model.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [field.validation_alias])
        if name in choices:
            return field
    return None


def _resolves(model: type[BaseModel], path: list[str]) -> bool:
    """Whether ``path`` (``["mqtt", "password"]``, list indices as digits) names a setting."""
    for depth, part in enumerate(path):
        if part.isdigit() or part == "*":
            continue
        field = model.model_fields.get(part) or _by_alias(model, part)
        if field is None:
            return False
        inner = _field_model(field.annotation)
        if inner is None:
            return depth == len(path) - 1 or all(p.isdigit() for p in path[depth + 1 :])
        model = inner
    return True


def _edge_reference_keys() -> list[str]:
    """Every key in the first column of docs/edge.md's configuration reference."""
    keys: list[str] = []
    for row in (REPO / "docs" / "edge.md").read_text(encoding="utf-8").splitlines():
        cell = row.split("|")[1] if row.startswith("| ") else ""
        names = re.findall(r"`([a-z_.*\[\]]+)`", cell)
        if not names or ("." not in names[0] and not names[0].startswith("[[")):
            continue
        if names[0].startswith("[["):  # `[[products]]` `gtin`, `company_prefix_length`
            section = names[0].strip("[]")
            keys.extend(f"{section}.{name}" for name in names[1:])
            continue
        parent = names[0].rsplit(".", 1)[0]
        keys.append(names[0])
        keys.extend(name if "." in name else f"{parent}.{name}" for name in names[1:])
    return keys


EDGE_REFERENCE_KEYS = _edge_reference_keys()


def test_every_key_of_the_edge_reference_is_a_setting() -> None:
    from edge.config import EdgeConfig

    assert len(EDGE_REFERENCE_KEYS) > 60  # the table was found
    unknown = [key for key in EDGE_REFERENCE_KEYS if not _resolves(EdgeConfig, key.split("."))]
    assert unknown == []


def _environment_names(prefix: str) -> set[str]:
    found: set[str] = set()
    for doc in [*(REPO / "docs").rglob("*.md"), REPO / "README.md"]:
        for name in re.findall(rf"{prefix}[A-Z0-9_]+", doc.read_text(encoding="utf-8")):
            found.add(name.rstrip("_"))
    return found


def _docs() -> list[Path]:
    pages = sorted([*(REPO / "docs").rglob("*.md"), REPO / "docs" / "examples" / "edge.toml"])
    return [*pages, REPO / "README.md"]


#: Names the docs give that are not settings but values read by a fixed name (secrets the
#: edge reads when no file names them, the CLI's API token, test and tool switches). Each
#: must still be read somewhere in the code.
FIXED_NAMES = {
    "SERIALTRACE_SERIAL_KEY",
    "SERIALTRACE_AUTHORITY_PASSWORD",
    "SERIALTRACE_SERVER_PASSWORD",
    "SERIALTRACE_EDGE_API_TOKEN",
    "SERIALTRACE_BENCHMARKS",
    "SERIALTRACE_SCREENSHOTS",
    "SERIALTRACE_TEST_WORKERS",
    "SERIALTRACE_TEST_LEAK_DEADLINE_S",
    "SERIALTRACE_CHROMIUM",
}
#: Names that stand for the syntax itself.
PLACEHOLDERS = {"SERIALTRACE_EDGE__SECTION__KEY"}
#: The names before one syntax, still read: only docs/configuration.md names them (once,
#: as the older names); every other page uses the one syntax.
LEGACY = re.compile(r"^SERIALTRACE_(SERVER_(?!_)|QA_|MQTT_SECRETS)")


def test_every_environment_name_the_docs_give_is_read() -> None:
    """Every ``SERIALTRACE_…`` name in the docs is a setting of the part it names, in the one
    syntax (``SERIALTRACE_EDGE__A__B``, ``SERIALTRACE_SERVER__KEY``, ``SERIALTRACE_SIM__KEY``),
    or a fixed name the code reads; the older names only where they are listed as such."""
    from edge.config import EdgeConfig
    from server.config import ServerSettings
    from simulators.env import SimulatorSettings

    code = "\n".join(
        path.read_text(encoding="utf-8")
        for root in ("edge", "server", "simulators", "serialtrace", "tests", "benchmarks")
        for path in (REPO / root).rglob("*.py")
    )
    bad: list[str] = []
    seen: set[str] = set()
    for doc in _docs():
        where = doc.relative_to(REPO).as_posix()
        for name in re.findall(r"SERIALTRACE_[A-Z0-9_]*", doc.read_text(encoding="utf-8")):
            seen.add(name)
            # a pattern: SERIALTRACE_SERVER__<KEY>, SERIALTRACE_EDGE__…, …__SECTION__KEY
            pattern = name.endswith("_") or name in PLACEHOLDERS
            if name in FIXED_NAMES:
                continue
            if LEGACY.match(name):
                if where != "docs/configuration.md":
                    bad.append(f"{where}: {name} (the older name; use the one syntax)")
                continue
            if pattern:
                continue
            part, _, path = name.removeprefix("SERIALTRACE_").partition("__")
            if part == "EDGE" and path:
                ok = _resolves(EdgeConfig, path.lower().split("__"))
            elif part == "SERVER" and path:
                ok = path.lower() in ServerSettings.model_fields
            elif part == "SIM" and path:
                ok = path.lower() in SimulatorSettings.model_fields
            else:
                ok = False
            if not ok:
                bad.append(f"{where}: {name}")
    assert {"SERIALTRACE_EDGE__MQTT__PASSWORD", "SERIALTRACE_SERVER__DB_URL"} <= seen
    assert {"SERIALTRACE_SIM__MQTT_SECRETS", "SERIALTRACE_SERVER__QA_RESOLUTION_HOURS"} <= seen
    assert sorted(set(bad)) == []
    assert [name for name in sorted(FIXED_NAMES) if f'"{name}"' not in code] == []


def _environment_examples() -> list[tuple[str, str, str]]:
    """Every ``SERIALTRACE_PART__KEY=value`` the docs give: (where, name, value)."""
    found = []
    for doc in _docs():
        text = doc.read_text(encoding="utf-8")
        pattern = r"(SERIALTRACE_(?:EDGE|SERVER|SIM)__[A-Z0-9_]+)=('[^']*'|[^\s`]+)"
        for match in re.finditer(pattern, text):
            line = text.count("\n", 0, match.start()) + 1
            value = match.group(2).strip("'")  # as a shell hands it over
            found.append((f"{doc.relative_to(REPO)}:{line}", match.group(1), value))
    return found


ENVIRONMENT_EXAMPLES = _environment_examples()


@pytest.mark.parametrize(
    ("where", "name", "value"), ENVIRONMENT_EXAMPLES, ids=[e[0] for e in ENVIRONMENT_EXAMPLES]
)
def test_environment_example_loads(
    where: str, name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NAME=value`` in the docs is read by the model of its part and its value is valid."""
    if name.startswith("SERIALTRACE_EDGE__"):
        from edge.config import parse_config

        config = parse_config(copy.deepcopy(MINIMAL_EDGE), environ={name: value})
        node: Any = config
        for part in name.removeprefix("SERIALTRACE_EDGE__").lower().split("__"):
            node = node[int(part)] if part.isdigit() else getattr(node, part)
        given = json.loads(value) if value.startswith(("[", "{")) else value
        assert getattr(node, "value", node) == given
    elif name.startswith("SERIALTRACE_SERVER__"):
        from server.config import load_settings

        monkeypatch.setenv(name, value)
        settings = load_settings(None)
        key = name.removeprefix("SERIALTRACE_SERVER__").lower()
        assert str(getattr(settings, key)) in (
            value,
            str(float(value)) if value[0].isdigit() else value,
        )
    else:
        from simulators.env import SimulatorSettings

        monkeypatch.setenv(name, value)
        key = name.removeprefix("SERIALTRACE_SIM__").lower()
        assert getattr(SimulatorSettings(), key) == value


def test_the_environment_examples_were_found() -> None:
    names = {name for _, name, _ in ENVIRONMENT_EXAMPLES}
    assert "SERIALTRACE_EDGE__DEVICES__PRINTER__URL" in names  # docs/examples/edge.toml
    assert "SERIALTRACE_SERVER__AUDIT_KEY_FILE" in names  # docs/qa.md


def test_a_wrong_environment_name_in_the_docs_would_fail() -> None:
    from edge.config import EdgeConfig

    assert not _resolves(EdgeConfig, ["mqtt", "pasword"])
    assert LEGACY.match("SERIALTRACE_SERVER_DB_URL") and LEGACY.match("SERIALTRACE_QA_X")
    assert not LEGACY.match("SERIALTRACE_SERVER__DB_URL")


# -- every settings table of the docs names settings ----------------------------------------

#: The tables of settings in the docs (header ``| key |`` or ``| setting |``), by the page
#: and the heading they are under: the model their first column names and the path of the
#: table in it. A table not listed fails :func:`test_every_settings_table_is_known`.
SETTINGS_TABLES: dict[tuple[str, str], tuple[str, str]] = {
    ("docs/edge.md", "Configuration reference"): ("edge", ""),
    ("docs/configuration.md", "Devices (`[devices.*]` of the edge file)"): ("edge", ""),
    ("docs/configuration.md", "EPCIS REST bindings (server)"): ("server", ""),
    ("docs/vision.md", "On the line"): ("edge", "devices.camera."),
    ("docs/scanners.md", "Set the scanner up"): ("edge", "devices.scanner."),
    ("docs/api.md", "Limits and timeouts"): ("server", ""),
    ("docs/qa.md", "Audit trail anchored outside the database"): ("server", ""),
    ("docs/qa.md", "Complaints and feedback"): ("server", ""),
}
#: Tables headed like settings that are not keys of a configuration.
NOT_SETTINGS = {
    # the serial generator's concepts; its keys are [serials] of the edge file (edge.md)
    ("docs/serials.md", "Configuration"),
}


def _settings_tables() -> dict[tuple[str, str], list[str]]:
    """(page, heading) -> the names in the first column of its settings table(s)."""
    tables: dict[tuple[str, str], list[str]] = {}
    for doc in sorted((REPO / "docs").rglob("*.md")):
        heading = ""
        in_table = False
        where = doc.relative_to(REPO).as_posix()
        fenced = False
        for row in doc.read_text(encoding="utf-8").splitlines():
            if row.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            if row.startswith("#"):
                heading = row.lstrip("#").strip()
            if re.match(r"^\| *(key|setting) *\|", row):
                in_table = True
                tables.setdefault((where, heading), [])
                continue
            if not row.startswith("|"):
                in_table = False
            if in_table and not row.startswith("|---"):
                cell = row.split("|")[1]
                tables[(where, heading)].extend(re.findall(r"`([a-z_.*\[\]]+)`", cell)[:4])
    return tables


def test_every_settings_table_is_known() -> None:
    found = set(_settings_tables())
    assert sorted(found - set(SETTINGS_TABLES) - NOT_SETTINGS) == []
    assert sorted(set(SETTINGS_TABLES) - found) == []  # a heading renamed: update the list


@pytest.mark.parametrize("table", sorted(SETTINGS_TABLES), ids=lambda t: f"{t[0]}#{t[1]}")
def test_every_key_of_a_settings_table_is_a_setting(table: tuple[str, str]) -> None:
    from edge.config import EdgeConfig
    from server.config import ServerSettings

    model, prefix = SETTINGS_TABLES[table]
    names = _settings_tables()[table]
    assert names  # the table's keys were found
    if table[0] == "docs/edge.md":
        names = EDGE_REFERENCE_KEYS  # [[products]] rows and dotted keys, read above
    unknown: list[str] = []
    parent = ""
    for name in names:
        if name.startswith("[") or name.endswith("_"):
            continue
        if model == "server":
            if name not in ServerSettings.model_fields:
                unknown.append(name)
            continue
        if "." in name:
            parent = name.rsplit(".", 1)[0] + "."
            path = prefix + name
        else:
            path = prefix + (parent if not prefix else "") + name
        if not _resolves(EdgeConfig, path.split(".")):
            unknown.append(path)
    assert unknown == []
