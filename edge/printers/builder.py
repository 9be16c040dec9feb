"""Build ZPL II label formats from a template and a unit's code (any
:class:`identity.UnitIdentity`) or an SSCC.

One format per label, ``^XA`` … ``^XZ``; the builder keeps the template's fixed parts ready so
a unit label costs a few string joins. Output is ASCII bytes, ready for the printer driver::

    builder = LabelBuilder(LabelTemplate.builtin("unit-50x30-203"))
    zpl = builder.unit_label(UnitCode.create(gtin="09506000134352", serial="A1", ...))

A unit's barcode and text fields come from its :meth:`~identity.UnitIdentity.printer_payload`:
a GS1 DataMatrix (FNC1 first) for GS1, a plain DataMatrix for a scheme that asks for one.
"""

from __future__ import annotations

from collections.abc import Mapping

from edge.printers.errors import LabelDataError
from edge.printers.templates import LabelKind, LabelTemplate, TextSpec
from edge.printers.zpl import (
    code128_gs1_data,
    datamatrix_gs1_data,
    datamatrix_plain_data,
    field_data,
)
from gs1 import Sscc
from identity import DATAMATRIX, GS1_DATAMATRIX, SYMBOLOGIES, UnitIdentity

_NO_VARIABLES: Mapping[str, str] = {}


def unknown_symbology(code: UnitIdentity, symbology: str) -> LabelDataError:
    """The error for a unit code whose scheme asks for a barcode the drivers do not print."""
    return LabelDataError(
        f"{code.scheme} unit: symbology: expected one of {sorted(SYMBOLOGIES)}, got {symbology!r}"
    )


def logistic_fields(sscc: Sscc) -> dict[str, str]:
    return {"sscc": sscc.value, "sscc_hri": sscc.hri()}


class LabelBuilder:
    """Turns a unit's code or an SSCC into ZPL with one template."""

    def __init__(self, template: LabelTemplate) -> None:
        self.template = template
        self._head = f"^XA^PW{template.width}^LL{template.length}"
        self._text_heads = tuple(
            f"^FO{t.x},{t.y}^A{t.font}N,{t.height},{t.width}^FH\\^FD" for t in template.texts
        )
        if template.datamatrix is not None:
            dm = template.datamatrix
            self._barcode_head = f"^FO{dm.x},{dm.y}^BXN,{dm.module},200,0,0,6,_^FH\\^FD"
        elif template.code128 is not None:
            bc = template.code128
            self._barcode_head = f"^FO{bc.x},{bc.y}^BY{bc.module}^BCN,{bc.height},N,N,N^FH\\^FD"

    def unit_label(self, code: UnitIdentity, variables: Mapping[str, str] = _NO_VARIABLES) -> bytes:
        """A unit label: the code's DataMatrix (GS1 or plain, as its scheme asks) and the
        template's text lines."""
        self._expect(LabelKind.UNIT)
        payload = code.printer_payload()
        if payload.symbology == GS1_DATAMATRIX:
            barcode = datamatrix_gs1_data(payload.data)
        elif payload.symbology == DATAMATRIX:
            barcode = datamatrix_plain_data(payload.data)
        else:
            raise unknown_symbology(code, payload.symbology)
        return self._format(barcode, payload.fields, variables)

    def logistic_label(self, sscc: Sscc, variables: Mapping[str, str] = _NO_VARIABLES) -> bytes:
        """A case or pallet label: the SSCC as GS1-128 and the template's text lines."""
        self._expect(LabelKind.LOGISTIC)
        barcode = code128_gs1_data(sscc.element_string())
        return self._format(barcode, logistic_fields(sscc), variables)

    def _expect(self, kind: LabelKind) -> None:
        if self.template.kind is not kind:
            raise LabelDataError(
                f"template {self.template.name!r}: expected {kind.value} label data,"
                f" got data for a {self.template.kind.value} label"
            )

    def _format(
        self, barcode: str, fields: Mapping[str, str], variables: Mapping[str, str]
    ) -> bytes:
        if variables:
            unknown = set(variables) - self.template.variables
            if unknown:
                raise LabelDataError(
                    f"template {self.template.name!r}: variables: expected names from"
                    f" {sorted(self.template.variables)}, got {sorted(unknown)!r}"
                )
            fields = {**fields, **variables}
        parts = [self._head]
        texts = [
            (head, line)
            for head, spec in zip(self._text_heads, self.template.texts, strict=True)
            if (line := _fill(spec, fields)) is not None
        ]
        if any(not line.isascii() for _, line in texts):
            parts.append("^CI28")
        parts += (self._barcode_head, field_data(barcode), "^FS")
        for head, line in texts:
            parts += (head, field_data(line), "^FS")
        parts.append("^XZ")
        return "".join(parts).encode("ascii")


def _fill(spec: TextSpec, fields: Mapping[str, str]) -> str | None:
    out = []
    for piece in spec.pieces:
        if piece.field is None:
            out.append(piece.literal)
        else:
            value = fields.get(piece.field)
            if value is None:
                return None
            out.append(value)
    return "".join(out)
