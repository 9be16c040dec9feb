from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from serialtrace.cli import main
from simulators.camera import render_label

HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"


def test_demo_labels_to_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "frames"
    argv = ["sim", "camera", "--demo", "3", "--out", str(out), "--size", "640x480", "--fps", "100"]
    assert main([*argv, "--preset", "degraded", "--seed", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "3 frames"
    truths = [json.loads((out / f"frame-{i:06d}.json").read_text()) for i in range(3)]
    assert len({truth["data"]["datamatrix"] for truth in truths}) == 3  # distinct serials
    image = cv2.imread(str(out / "frame-000000.png"), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape == (480, 640)


def test_labels_folder_with_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    cv2.imwrite(str(labels / "a.png"), render_label(HRI))
    (labels / "a.txt").write_text(HRI)
    out = tmp_path / "frames"
    argv = [
        "sim",
        "camera",
        "--labels",
        str(labels),
        "--out",
        str(out),
        "--set",
        "max_blur_sigma=1",
    ]
    assert main([*argv, "--fps", "100"]) == 0
    truth = json.loads((out / "frame-000000.json").read_text())
    assert truth["data"] == {"datamatrix": HRI}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--demo", "1", "--out", "x", "--size", "big"],
            "--size: expected WIDTHxHEIGHT such as 1280x1024, got 'big'",
        ),
        (
            ["--demo", "1", "--out", "x", "--set", "max_blur"],
            "--set: expected NAME=VALUE, got 'max_blur'",
        ),
        (
            ["--demo", "1", "--out", "x", "--set", "max_noise_sigma=-3"],
            "max_noise_sigma: expected a finite number >= 0, got -3.0",
        ),
        (["--demo", "1"], "--out or --mjpeg: expected at least one, got neither"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "camera", *argv]) == 2
    assert capsys.readouterr().err == f"serialtrace: error: {message}\n"
