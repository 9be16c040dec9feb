"""Validation without a commercial verifier: symbols printed with known defects, whose
ISO/IEC 15415 values follow from the standard's definitions, graded; each value must be
within the stated tolerance of the expected one, and grades must not rise as damage grows.

Tolerances (stated in docs/vision.md, "Validation"):

==========================  ==========================  ====================================
parameter                   without camera effects      through the camera (rotation,
                                                        blur 0.8 px, noise 2 grey levels)
==========================  ==========================  ====================================
symbol contrast             0.01                        0.05
axial non-uniformity        0.005                       0.01
grid non-uniformity         0.03 (of X)                 0.06
unused error correction     exact                       exact
print growth                0.02 (of X)                 0.03
fixed pattern, modulation   the grade, exactly          the grade, exactly
==========================  ==========================  ====================================
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.vision.grading.report import (
    AN_THRESHOLDS,
    FPD_DAMAGE_THRESHOLDS,
    GN_THRESHOLDS,
    SC_THRESHOLDS,
    UEC_THRESHOLDS,
    grade_at_least,
    grade_at_most,
)
from simulators.camera.symbols import PrintDefects, Spot, modules_of_codewords
from tests.edge.vision.grading.conftest import CODEWORD_OF_MODULE, MODULES, SIZE, grade, grey

EC = SIZE.ec_per_block  # 20: one block of 30 data + 20 EC codewords


def test_a_perfect_print_grades_a_on_everything() -> None:
    report = grade().report
    assert report.error is None
    assert report.overall == 4.0 and report.letter == "A"
    assert {name: p.grade for name, p in report.parameters.items()} == dict.fromkeys(
        report.parameters, 4
    )
    assert report.segments == {"L1": 4, "L2": 4, "QZL1": 4, "QZL2": 4, "OCTASA": 4, "AG": 4}
    assert report.corrected == (0,)
    assert report.data == "01095060001343521728113010LOT2611\x1d21A1B2C3"


# -- symbol contrast --------------------------------------------------------------------


@pytest.mark.parametrize("dark", [0.05, 0.20, 0.35, 0.50, 0.65, 0.75])
def test_symbol_contrast_is_paper_minus_ink(dark: float) -> None:
    report = grade(PrintDefects(dark_reflectance=dark, light_reflectance=0.90)).report
    expected = grey(0.90) - grey(dark)
    sc = report.parameters["symbol_contrast"]
    assert sc.value == pytest.approx(expected, abs=0.01)
    assert sc.grade == grade_at_least(expected, SC_THRESHOLDS)
    rmax, rmin, gt = report.reflectance
    assert rmax == pytest.approx(grey(0.90), abs=0.01) and rmin == pytest.approx(
        grey(dark), abs=0.01
    )
    assert gt == pytest.approx((rmax + rmin) / 2)


def test_symbol_contrast_grades_fall_as_the_ink_fades() -> None:
    grades = [
        grade(PrintDefects(dark_reflectance=d)).report.parameters["symbol_contrast"].grade
        for d in (0.05, 0.25, 0.40, 0.55, 0.72)
    ]
    assert grades == [4, 3, 2, 1, 0]


# -- axial non-uniformity -----------------------------------------------------------------


@pytest.mark.parametrize("axial", [0.0, 0.03, 0.07, 0.09, 0.11, 0.13, -0.05])
def test_axial_nonuniformity_is_the_axes_difference(axial: float) -> None:
    report = grade(PrintDefects(axial=axial)).report
    an = report.parameters["axial_nonuniformity"]
    assert an.value == pytest.approx(abs(axial), abs=0.005)
    assert an.grade == grade_at_most(abs(axial), AN_THRESHOLDS)


# -- grid non-uniformity ------------------------------------------------------------------


def _expected_gn(column: int, shift: float) -> float:
    """GN by its definition for one column of modules displaced by ``shift`` X: the grid is
    measured on the top clock track, where a dark module (even column) moves with its
    column and its light neighbours' centres follow its edges by half; the ideal grid is
    the least-squares affine grid of the measured one."""
    rows, columns = MODULES.shape
    u = np.arange(columns) + 0.5
    u[column] += shift
    u[column - 1] += shift / 2
    u[column + 1] += shift / 2
    grid_u, grid_v = np.meshgrid(u, np.arange(rows) + 0.5)
    ideal_u, ideal_v = np.meshgrid(np.arange(columns) + 0.5, np.arange(rows) + 0.5)
    design = np.stack((ideal_u.ravel(), ideal_v.ravel(), np.ones(rows * columns)), axis=1)
    measured = np.stack((grid_u.ravel(), grid_v.ravel()), axis=1)
    solution, *_ = np.linalg.lstsq(design, measured, rcond=None)
    pitch = (np.linalg.norm(solution[0]) + np.linalg.norm(solution[1])) / 2
    return float(np.linalg.norm(design @ solution - measured, axis=1).max() / pitch)


@pytest.mark.parametrize("shift", [0.1, 0.3, 0.45, 0.6, 0.7, -0.5])
def test_grid_nonuniformity_of_a_displaced_column(shift: float) -> None:
    report = grade(PrintDefects(column_shifts=((10, shift),))).report
    expected = _expected_gn(10, shift)
    gn = report.parameters["grid_nonuniformity"]
    assert gn.value == pytest.approx(expected, abs=0.03)
    if all(abs(expected - limit) > 0.03 for limit in GN_THRESHOLDS):  # not at a grade limit
        assert gn.grade == grade_at_most(expected, GN_THRESHOLDS)


def test_grid_nonuniformity_grades_fall_as_the_warp_grows() -> None:
    grades = [
        grade(PrintDefects(column_shifts=((10, s),))).report.parameters["grid_nonuniformity"].grade
        for s in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7)
    ]
    assert grades == sorted(grades, reverse=True) and grades[0] == 4 and grades[-1] < 4


# -- unused error correction ---------------------------------------------------------------


@pytest.mark.parametrize("errors", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
def test_unused_error_correction_counts_inverted_codewords(errors: int) -> None:
    inverted = modules_of_codewords(CODEWORD_OF_MODULE, range(0, 3 * errors, 3))
    report = grade(PrintDefects(inverted=inverted)).report
    expected = 1 - 2 * errors / EC
    uec = report.parameters["unused_error_correction"]
    assert report.corrected == (errors,)
    assert uec.value == pytest.approx(max(expected, 0.0), abs=1e-9)
    assert uec.grade == grade_at_least(max(expected, 0.0), UEC_THRESHOLDS)
    assert report.parameters["decode"].grade == 4


def test_beyond_the_error_correction_decode_fails_and_the_grade_is_f() -> None:
    inverted = modules_of_codewords(CODEWORD_OF_MODULE, range(0, 33, 3))  # 11 > 20 / 2
    report = grade(PrintDefects(inverted=inverted)).report
    assert report.parameters["decode"].grade == 0
    assert report.parameters["unused_error_correction"].value == 0.0
    assert report.overall == 0.0
    assert report.error == "reference decode: more damage than the error correction repairs"


def test_grades_fall_as_codewords_are_erased() -> None:
    overall = []
    uec = []
    for errors in range(0, 12):
        inverted = modules_of_codewords(CODEWORD_OF_MODULE, range(0, 3 * errors, 3))
        report = grade(PrintDefects(inverted=inverted)).report
        overall.append(report.overall)
        uec.append(report.parameters["unused_error_correction"].grade)
    assert overall == sorted(overall, reverse=True) and uec == sorted(uec, reverse=True)
    assert overall[0] == 4.0 and overall[-1] == 0.0


# -- modulation and reflectance margin ---------------------------------------------------


def _overlay(weak_codewords: int, weak_grade: int) -> int:
    """The modulation grade by the overlay definition: at each level the codewords below it
    are erasures; notional UEC = 1 - e / d; the best of min(level, its grade)."""
    best = 0
    for level in (4, 3, 2, 1):
        erasures = weak_codewords if weak_grade < level else 0
        best = max(best, min(level, grade_at_least(1 - erasures / EC, UEC_THRESHOLDS)))
    return best


@pytest.mark.parametrize("weak_codewords", [0, 4, 8, 10, 13, 16])
@pytest.mark.parametrize(("modulation", "module_grade"), [(0.45, 3), (0.35, 2), (0.25, 1)])
def test_modulation_of_codewords_printed_weak(
    weak_codewords: int, modulation: float, module_grade: int
) -> None:
    # paper 0.90, ink 0.05: SC 0.85, GT 0.475; a weak dark module at GT - MOD x SC / 2
    weak = GT = (grey(0.90) + grey(0.05)) / 2
    weak = GT - modulation * (grey(0.90) - grey(0.05)) / 2
    modules = modules_of_codewords(CODEWORD_OF_MODULE, range(weak_codewords))
    dark_modules = frozenset(m for m in modules if MODULES[m])
    report = grade(PrintDefects(weak=dark_modules, weak_reflectance=weak)).report
    expected = _overlay(weak_codewords, module_grade)
    assert report.parameters["modulation"].grade == expected
    assert report.parameters["reflectance_margin"].grade == expected  # none in error
    assert report.corrected == (0,)


def test_modulation_grades_fall_as_more_codewords_print_weak() -> None:
    grades = []
    for count in (0, 6, 10, 14, 18):
        modules = modules_of_codewords(CODEWORD_OF_MODULE, range(count))
        weak = frozenset(m for m in modules if MODULES[m])
        report = grade(PrintDefects(weak=weak, weak_reflectance=0.40)).report
        grades.append(report.parameters["modulation"].grade)
    assert grades == sorted(grades, reverse=True) and grades[0] == 4 and grades[-1] < 4


def test_reflectance_margin_counts_modules_in_error_as_grade_0() -> None:
    inverted = modules_of_codewords(CODEWORD_OF_MODULE, range(0, 24, 3))  # 8 codewords
    report = grade(PrintDefects(inverted=inverted)).report
    assert report.parameters["modulation"].grade == 4  # every module has full contrast
    assert report.parameters["reflectance_margin"].grade == _overlay(8, 0)


# -- fixed pattern damage ------------------------------------------------------------------


@pytest.mark.parametrize("damaged", [0, 1, 2, 3, 4, 6])
def test_l1_damage_is_graded_by_the_share_of_modules_in_error(damaged: int) -> None:
    inverted = frozenset((row, 0) for row in range(4, 4 + damaged))
    report = grade(PrintDefects(inverted=inverted)).report
    expected = grade_at_most(damaged / MODULES.shape[0], FPD_DAMAGE_THRESHOLDS)
    assert report.segments["L1"] == expected
    assert report.parameters["fixed_pattern_damage"].grade == expected
    assert report.segments["L2"] == 4 and report.segments["OCTASA"] == 4


def test_clock_track_damage_is_octasa() -> None:
    inverted = frozenset((0, column) for column in range(6, 12, 2))  # three dark clock modules
    report = grade(PrintDefects(inverted=inverted)).report
    assert report.segments["OCTASA"] < 4 and report.segments["L1"] == 4
    assert report.parameters["fixed_pattern_damage"].grade == report.segments["OCTASA"]


def test_ink_in_the_quiet_zone_is_qzl1_damage() -> None:
    spot = Spot(column=-0.5, row=11.0, radius=1.6, dark=True)  # left of L1, in the quiet zone
    report = grade(PrintDefects(spots=(spot,))).report
    assert report.segments["QZL1"] < 4
    assert report.parameters["fixed_pattern_damage"].grade < 4


def test_fixed_pattern_grades_fall_as_the_finder_wears() -> None:
    grades = [
        grade(PrintDefects(inverted=frozenset((r, 0) for r in range(2, 2 + n)))).report.segments[
            "L1"
        ]
        for n in range(0, 7)
    ]
    assert grades == sorted(grades, reverse=True) and grades[0] == 4 and grades[-1] == 0


# -- print growth --------------------------------------------------------------------------


def _rendered_growth(dot_gain: float, module_px: float) -> float:
    """The growth the renderer really printed: each side to 1/16 px."""
    per_side = round(dot_gain * module_px / 2 * 16) / 16
    return 2 * per_side / module_px


@pytest.mark.parametrize("dot_gain", [-0.25, -0.125, 0.0, 0.125, 0.25, 0.375])
def test_print_growth_is_the_dark_modules_gain(dot_gain: float) -> None:
    report = grade(PrintDefects(dot_gain=dot_gain), module_px=8.0).report
    expected = _rendered_growth(dot_gain, 8.0)
    horizontal, vertical = report.print_growth
    assert horizontal == pytest.approx(expected, abs=0.02)
    assert vertical == pytest.approx(expected, abs=0.02)
    assert report.parameters["grid_nonuniformity"].value == pytest.approx(0.0, abs=0.03)


# -- aperture ------------------------------------------------------------------------------


def test_a_wider_aperture_sees_less_contrast_on_thin_ink() -> None:
    thin = PrintDefects(dot_gain=-0.25)  # dark modules 0.75 X (6 px) wide
    narrow = grade(thin, aperture=0.5, module_px=8.0).report.parameters["symbol_contrast"].value
    wide = grade(thin, aperture=0.8, module_px=8.0).report.parameters["symbol_contrast"].value
    assert narrow is not None and wide is not None
    assert narrow == pytest.approx(grey(0.90) - grey(0.05), abs=0.01)  # 0.5 X fits in the dot
    assert wide < narrow - 0.05


# -- through the camera --------------------------------------------------------------------

CAMERA = {"rotate_deg": 33.0, "blur_sigma": 0.8, "noise_sigma": 2.0}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_through_the_camera_values_stay_within_tolerance(seed: int) -> None:
    inverted = modules_of_codewords(CODEWORD_OF_MODULE, range(0, 12, 3))  # 4 errors
    defects = PrintDefects(dark_reflectance=0.25, axial=0.05, dot_gain=0.125, inverted=inverted)
    report = grade(defects, module_px=8.0, seed=seed, **CAMERA).report
    p = report.parameters
    assert p["decode"].grade == 4
    assert p["symbol_contrast"].value == pytest.approx(grey(0.90) - grey(0.25), abs=0.05)
    assert p["axial_nonuniformity"].value == pytest.approx(0.05, abs=0.01)
    assert p["grid_nonuniformity"].value == pytest.approx(0.0, abs=0.06)
    assert p["unused_error_correction"].value == pytest.approx(1 - 8 / EC)
    horizontal, vertical = report.print_growth
    # axes of the symbol, not of the frame: the same growth along both
    assert horizontal == pytest.approx(_rendered_growth(0.125, 8.0), abs=0.03)
    assert vertical == pytest.approx(_rendered_growth(0.125, 8.0), abs=0.03)


@pytest.mark.parametrize("angle", [0.0, 90.0, 180.0, 270.0, 137.0])
def test_any_orientation_of_the_corners_is_found(angle: float) -> None:
    report = grade(PrintDefects(), rotate_deg=angle).report
    assert report.error is None and report.overall == 4.0
