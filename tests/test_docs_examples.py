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


def test_every_environment_name_the_docs_give_is_read() -> None:
    """``SERIALTRACE_EDGE__A__B`` and ``SERIALTRACE_SERVER(_)_KEY`` in the docs name settings."""
    from edge.config import EdgeConfig
    from server.config import ServerSettings

    edge_names = _environment_names("SERIALTRACE_EDGE__") - {"SERIALTRACE_EDGE__SECTION__KEY"}
    assert "SERIALTRACE_EDGE__MQTT__PASSWORD" in edge_names
    bad = [
        name
        for name in sorted(edge_names)
        if not _resolves(EdgeConfig, name.removeprefix("SERIALTRACE_EDGE__").lower().split("__"))
    ]
    server_names = _environment_names("SERIALTRACE_SERVER_")
    # not settings of the server: the edge's password at the server, read by the edge
    server_names -= {"SERIALTRACE_SERVER_PASSWORD"}
    assert "SERIALTRACE_SERVER__DB_URL" in server_names
    for name in sorted(server_names):
        key = name.removeprefix("SERIALTRACE_SERVER").strip("_").lower()
        if key and key not in ServerSettings.model_fields:  # empty: SERIALTRACE_SERVER_<KEY>
            bad.append(name)
    assert bad == []
