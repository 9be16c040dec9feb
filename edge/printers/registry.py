"""The printer languages: for each, the label builder and the driver.

``open_printer(settings)`` gives the driver of ``settings.language`` and
``label_builder(language, template)`` the builder that writes that language, so the edge
builds every printer through this table. A new language is one module (a builder with
``unit_label``/``logistic_label`` and a driver implementing
:class:`~edge.printers.driver.LabelPrinter`) plus one entry in :data:`LANGUAGES` under a new
:class:`~edge.printers.config.PrinterLanguage`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import serial

from edge.printers.builder import LabelBuilder
from edge.printers.config import PrinterLanguage, PrinterSettings
from edge.printers.dpl import DplLabelBuilder, DplPrinter
from edge.printers.driver import LabelPrinter
from edge.printers.templates import LabelKind, LabelTemplate
from edge.printers.zpl import ZplPrinter
from gs1 import Sscc
from identity import UnitIdentity


class LabelFormatter(Protocol):
    """Turns a unit's code (any :class:`identity.UnitIdentity`) or an SSCC into the bytes
    of one label in a printer language."""

    template: LabelTemplate

    def unit_label(self, code: UnitIdentity, variables: Mapping[str, str] = ...) -> bytes: ...

    def logistic_label(self, sscc: Sscc, variables: Mapping[str, str] = ...) -> bytes: ...


class PrinterDriverFactory(Protocol):
    def __call__(
        self,
        config: PrinterSettings,
        *,
        port_factory: Callable[..., serial.SerialBase] = ...,
    ) -> LabelPrinter: ...


@dataclass(frozen=True)
class Language:
    """What a printer language brings: its driver, its builder and the label kinds it prints."""

    driver: PrinterDriverFactory
    builder: Callable[[LabelTemplate], LabelFormatter]
    kinds: frozenset[LabelKind]


LANGUAGES: Mapping[PrinterLanguage, Language] = {
    PrinterLanguage.ZPL: Language(
        ZplPrinter, LabelBuilder, frozenset({LabelKind.UNIT, LabelKind.LOGISTIC})
    ),
    PrinterLanguage.DPL: Language(
        DplPrinter, DplLabelBuilder, frozenset({LabelKind.UNIT, LabelKind.LOGISTIC})
    ),
}

PRINTER_DRIVERS: Mapping[PrinterLanguage, PrinterDriverFactory] = {
    language: entry.driver for language, entry in LANGUAGES.items()
}
"""Driver per printer language (the driver column of :data:`LANGUAGES`)."""


def open_printer(
    config: PrinterSettings,
    *,
    port_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
) -> LabelPrinter:
    """The driver for ``config.language`` (the port opens on first use)."""
    return LANGUAGES[config.language].driver(config, port_factory=port_factory)


def label_builder(language: PrinterLanguage | str, template: LabelTemplate) -> LabelFormatter:
    """The builder of ``language`` for ``template``; ValueError if the language cannot print
    that kind of label."""
    entry = LANGUAGES[PrinterLanguage(language)]
    if template.kind not in entry.kinds:
        kinds = sorted(kind.value for kind in entry.kinds)
        raise ValueError(
            f"template {template.name!r}: language {PrinterLanguage(language).value} prints"
            f" {kinds} labels, not {template.kind.value}"
        )
    return entry.builder(template)
