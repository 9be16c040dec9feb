"""Symbols printed with known defects: the geometry and reflectance are exactly what the
settings say (the grader's validation rests on it), and frame sets are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.camera.frameset import EMPTY, HARD, LINE, frames
from simulators.camera.symbols import (
    PrintDefects,
    Spot,
    modules_of_codewords,
    on_label,
    render_symbol,
    symbol_modules,
)

HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"


@pytest.fixture(scope="module")
def modules() -> np.ndarray:
    return symbol_modules(HRI)


def test_a_perfect_print_has_exact_modules_and_reflectances(modules: np.ndarray) -> None:
    image = render_symbol(modules, module_px=6.0, quiet_zone_modules=2.0)
    assert image.shape == (22 * 6 + 24, 22 * 6 + 24)
    inside = image[12:-12, 12:-12]
    ink, paper = round(0.05 * 255), round(0.9 * 255)
    expected = np.where(np.kron(modules, np.ones((6, 6), bool)), ink, paper)
    assert np.array_equal(inside, expected)
    assert (image[:12] == round(0.9 * 255)).all()  # quiet zone: paper


def test_dot_gain_widens_every_dark_module_on_both_sides(modules: np.ndarray) -> None:
    image = render_symbol(modules, module_px=8.0, defects=PrintDefects(dot_gain=0.25))
    row = image[16 + 4]  # the middle of the top clock track: dark, light, dark, ...
    dark = row < 120
    runs = np.diff(np.flatnonzero(np.diff(dark.astype(int))))
    # dark modules 8 + 2 px, light modules 8 - 2 px between them
    assert set(runs[1:-1:2].tolist()) | set(runs[2:-1:2].tolist()) == {6, 10}


def test_axial_scaling_stretches_columns_and_squeezes_rows(modules: np.ndarray) -> None:
    image = render_symbol(
        modules, module_px=10.0, quiet_zone_modules=0.0, defects=PrintDefects(axial=0.1)
    )
    assert image.shape == (22 * 9.5, 22 * 10.5)


def test_inverted_weak_and_spots(modules: np.ndarray) -> None:
    dark_module = next(zip(*np.nonzero(modules), strict=True))
    defects = PrintDefects(
        inverted=frozenset({(0, 1)}),  # a light clock module printed dark
        weak=frozenset({(int(dark_module[0]), int(dark_module[1]))}),
        weak_reflectance=0.5,
        spots=(Spot(column=11.0, row=11.0, radius=1.0, dark=False),),
    )
    image = render_symbol(modules, module_px=10.0, quiet_zone_modules=0.0, defects=defects)
    assert image[5, 15] == round(0.05 * 255)
    r, c = dark_module
    assert image[r * 10 + 5, c * 10 + 5] == round(0.5 * 255)
    assert image[110, 110] == round(0.9 * 255)  # white-out


def test_modules_of_codewords_picks_eight_per_codeword() -> None:
    placement = np.array([[0, 0, 1], [-1, 1, 0]])
    assert modules_of_codewords(placement, [0]) == {(0, 0), (0, 1), (1, 2)}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dark_reflectance": 1.5}, "dark_reflectance: expected 0 to 1, got 1.5"),
        ({"dot_gain": 0.95}, "dot_gain: expected -0.9 to 0.9 of a module, got 0.95"),
        ({"axial": 0.6}, "axial: expected -0.5 to 0.5, got 0.6"),
    ],
)
def test_bad_defects(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        PrintDefects(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_modules_outside_the_symbol_are_refused(modules: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"inverted: expected modules inside 22x22, got \(30, 1\)"):
        render_symbol(modules, defects=PrintDefects(inverted=frozenset({(30, 1)})))


def test_gs1_content_zxing_cpp_cannot_encode_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="content: expected data zxing-cpp can encode"):
        symbol_modules("(01)123")


def test_a_long_serial_gives_a_dmre_symbol() -> None:
    assert symbol_modules("(01)09506000134352(21)ABCDEFGHIJKLMNOPQR").shape == (8, 64)


def test_label_margin() -> None:
    symbol = np.zeros((10, 10), np.uint8)
    assert on_label(symbol, margin_px=5, paper=200).shape == (20, 20)


@pytest.mark.parametrize("spec", [LINE, HARD, EMPTY], ids=lambda s: s.name)
def test_frame_sets_are_reproducible(spec: object) -> None:
    first = list(frames(spec, 3, seed=7, size=(640, 480)))  # type: ignore[arg-type]
    again = list(frames(spec, 3, seed=7, size=(640, 480)))  # type: ignore[arg-type]
    other = list(frames(spec, 3, seed=8, size=(640, 480)))  # type: ignore[arg-type]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a.image, b.image) for a, b in zip(first, other, strict=True))
    assert [f.image.shape for f in first] == [(480, 640)] * 3
    for frame in first:
        if spec is EMPTY:
            assert frame.hri == "" and frame.element_string == ""
        else:
            assert frame.hri.startswith("(01)09506000134352")
            assert frame.element_string.endswith(frame.hri[-12:])


def test_half_of_the_hard_set_is_damaged() -> None:
    damaged = sum(f.effects["damage_spots"] > 0 for f in frames(HARD, 40, seed=1, size=(320, 240)))
    assert 10 <= damaged <= 30
