"""The verification camera's settings, defined once: the edge configuration embeds them as
``[devices.camera]`` (``edge.devices.DevicesConfig``); ``edge.wiring`` builds the frame source
(:func:`~edge.vision.frames.open_source`), the decoder (the registry of
:mod:`edge.vision.decoding`) and the verifier from them. See docs/vision.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalibrationSettings(_Settings):
    """Grey levels of two references of known reflectance (0-1) under the line's light
    (see docs/vision.md, "Calibration")."""

    black_grey: Annotated[float, Field(ge=0, le=255)] = 0.0
    white_grey: Annotated[float, Field(ge=0, le=255)] = 255.0
    black_reflectance: Annotated[float, Field(ge=0, le=1)] = 0.0
    white_reflectance: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> CalibrationSettings:
        if self.white_grey - self.black_grey < 10:
            raise ValueError(
                f"white_grey: expected at least 10 above black_grey ({self.black_grey:g}), "
                f"got {self.white_grey:g}"
            )
        if self.white_reflectance <= self.black_reflectance:
            raise ValueError(
                f"white_reflectance: expected more than black_reflectance "
                f"({self.black_reflectance:g}), got {self.white_reflectance:g}"
            )
        return self


class CameraSettings(_Settings):
    """The verification camera: a device index, a folder of frames, or a stream URL.

    ``decoder``: ``ladder`` (zxing-cpp step by step, then libdmtx) or one library alone;
    ``deadline_ms`` bounds the ladder per frame. ``grade``: grade every unit per ISO/IEC
    15415 (``aperture`` as a fraction of the module size, ``wavelength_nm`` of the light,
    ``calibration``); ``min_grade`` rejects units graded lower (GS1 recommends 1.5, C, for
    healthcare; unset: no grade rule). ``trend_window`` units make the moving grade, and a
    fall of ``trend_drop`` below its baseline raises the grade alarm. A unit verified more than
    ``grade_backlog_ms`` after its label was sent (the verify stage behind the belt) is not
    graded unless ``min_grade`` is set (load shedding: the decision must reach the gate).
    """

    url: str
    decoder: Literal["ladder", "zxing", "libdmtx"] = "ladder"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    min_symbol_contrast: Annotated[float, Field(ge=0, le=1)] = 0.40
    deadline_ms: Annotated[float, Field(ge=1, le=10_000)] = 150.0
    grade: bool = True
    min_grade: Annotated[float, Field(ge=0, le=4)] | None = None
    aperture: Annotated[float, Field(ge=0.5, le=0.8)] = 0.8
    wavelength_nm: Annotated[int, Field(ge=300, le=1100)] = 660
    calibration: CalibrationSettings = CalibrationSettings()
    trend_window: Annotated[int, Field(ge=2, le=10_000)] = 50
    trend_drop: Annotated[float, Field(ge=0.05, le=4)] = 0.5
    grade_backlog_ms: Annotated[float, Field(ge=0, le=60_000)] = 250.0


CalibrationConfig = CalibrationSettings
CameraConfig = CameraSettings
