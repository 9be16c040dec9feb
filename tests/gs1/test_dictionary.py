"""The AI table is GS1's Barcode Syntax Dictionary: generated from it, and checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gs1 import APPLICATION_IDENTIFIERS, BY_AI, Charset
from gs1.dictionary import (
    DICTIONARY_FILE,
    TABLE_FILE,
    DictionaryFormatError,
    generated_source,
    main,
    parse_dictionary,
)
from gs1.linters import LINTERS

DATA = Path(DICTIONARY_FILE).parent


def test_generated_table_matches_the_shipped_dictionary() -> None:
    assert TABLE_FILE.read_text(encoding="utf-8") == generated_source()


def test_check_command_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert "matches" in capsys.readouterr().out


def test_check_command_fails_on_a_different_dictionary(tmp_path: Path) -> None:
    changed = tmp_path / "dictionary.txt"
    text = DICTIONARY_FILE.read_text(encoding="utf-8")
    changed.write_text(text.replace("ex=255,37", "ex=255"), encoding="utf-8")
    assert main(["--check", "--dictionary", str(changed)]) == 1


def test_shipped_dictionary_is_the_reference_copy(refdata: Path) -> None:
    for name in ("gs1-syntax-dictionary.txt", "LICENSE-gs1-syntax-dictionary.txt", "SOURCE_COMMIT"):
        assert (DATA / name).read_bytes() == (refdata / "gs1" / name).read_bytes()


def test_every_dictionary_ai_is_in_the_table_with_its_attributes() -> None:
    entries = parse_dictionary(DICTIONARY_FILE.read_text(encoding="utf-8"))
    assert [e.ai for e in entries] == [a.ai for a in APPLICATION_IDENTIFIERS]
    for spec in entries:
        ours = BY_AI[spec.ai]
        assert ours.title == spec.title
        assert ours.fnc1_required == ("*" not in spec.flags)
        assert ours.dl_data_attribute == ("?" in spec.flags)
        assert [c.notation for c in ours.components] == [c.notation for c in spec.components]
        assert [c.linters for c in ours.components] == [c.linters for c in spec.components]
        assert ours.rules == tuple(a for a in spec.attributes if not a.startswith("dlpkey"))


def test_every_linter_the_dictionary_names_is_implemented() -> None:
    named = {
        name for entry in APPLICATION_IDENTIFIERS for c in entry.components for name in c.linters
    }
    assert named <= set(LINTERS)
    assert len(named) >= 30


@pytest.mark.parametrize(
    ("ai", "fmt", "fnc1", "attribute", "requires", "excludes"),
    [
        ("00", "N2+N18", False, True, (), ()),
        ("01", "N2+N14", False, True, (), ("255", "37")),
        ("02", "N2+N14", False, True, ((("37",),),), ("01", "03")),
        ("10", "N2+X..20", True, True, ((("01",), ("02",), ("03",), ("8006",), ("8026",)),), ()),
        ("21", "N2+X..20", True, False, ((("01",), ("03",), ("8006",)),), ("235",)),
        ("37", "N2+N..8", True, True, ((("00", "02"), ("00", "8026")),), ()),
        ("250", "N3+X..30", True, True, ((("01", "21"), ("03", "21"), ("8006", "21")),), ()),
        ("253", "N3+N13+[X..17]", True, True, (), ()),
        ("3103", "N4+N6", False, True, ((("01",), ("02",)),), ("310n",)),
        ("4309", "N4+N10+N10", True, True, ((("00",),),), ()),
        ("8030", "N4+Z..90", True, True, None, ()),
        ("99", "N2+X..90", True, True, (), ()),
    ],
)
def test_entries(
    ai: str,
    fmt: str,
    fnc1: bool,
    attribute: bool,
    requires: object,
    excludes: tuple[str, ...],
) -> None:
    entry = BY_AI[ai]
    assert (entry.format, entry.fnc1_required, entry.dl_data_attribute) == (fmt, fnc1, attribute)
    if requires is not None:
        assert entry.requires == requires
    assert entry.excludes == excludes


def test_digital_link_primary_keys_and_qualifiers() -> None:
    keys = {e.ai: e.dl_qualifiers for e in APPLICATION_IDENTIFIERS if e.dl_primary_key}
    assert keys["01"] == (("22", "10", "21"), ("235",))
    assert keys["414"] == (("254",), ("7040",))
    assert keys["00"] == ((),)
    assert set(keys) == {
        "00", "01", "253", "255", "401", "402", "414", "415", "417", "8003", "8004", "8006",
        "8010", "8013", "8017", "8018",
    }  # fmt: skip


def test_ranges_are_expanded_and_charsets_are_known() -> None:
    assert [ai for ai in BY_AI if ai.startswith("310")] == [f"310{n}" for n in range(6)]
    assert [ai for ai in BY_AI if len(ai) == 2 and ai >= "91"] == [str(n) for n in range(91, 100)]
    assert {c.charset for e in APPLICATION_IDENTIFIERS for c in e.components} == set(Charset)
    assert len(APPLICATION_IDENTIFIERS) == 541


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("01 *? Q14", "no specification"),
        ("1x *? N14", "AI or AI range expected"),
        ("3105-3100 *? N6", "bad AI range"),
        ("01 *? N..14 N2", "only the last component may have variable length"),
        ("01 *? [N2] N2", "a mandatory component follows an optional one"),
        ("01 *? N14 foo=1", "unknown attribute"),
    ],
)
def test_malformed_dictionary_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(DictionaryFormatError, match=message):
        parse_dictionary(line + "\n")
