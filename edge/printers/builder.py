"""Build ZPL II label formats from a template and GS1 data.

One format per label, ``^XA`` … ``^XZ``; the builder keeps the template's fixed parts ready so
a unit label costs a few string joins. Output is ASCII bytes, ready for the printer driver::

    builder = LabelBuilder(LabelTemplate.builtin("unit-50x30-203"))
    zpl = builder.unit_label(UnitCode.create(gtin="09506000134352", serial="A1", ...))
"""

from __future__ import annotations

from collections.abc import Mapping

from edge.printers.errors import LabelDataError
from edge.printers.templates import LabelKind, LabelTemplate, TextSpec
from edge.printers.zpl import code128_gs1_data, datamatrix_gs1_data, field_data
from gs1 import Expiry, Sscc, UnitCode

_NO_VARIABLES: Mapping[str, str] = {}


def expiry_text(expiry: Expiry) -> str:
    """``YYYY-MM-DD``, or ``YYYY-MM`` when the day is 00 (end of month)."""
    month = f"{expiry.year:04d}-{expiry.month:02d}"
    return f"{month}-{expiry.day:02d}" if expiry.day else month


def unit_fields(code: UnitCode) -> dict[str, str]:
    """The text fields of a unit label (see :data:`~edge.printers.templates.UNIT_FIELDS`)."""
    fields = {"gtin": code.gtin.value, "hri": code.hri()}
    if code.serial is not None:
        fields["serial"] = code.serial
    if code.lot is not None:
        fields["lot"] = code.lot
    if code.expiry is not None:
        fields["expiry"] = expiry_text(code.expiry)
        fields["expiry_yymmdd"] = code.expiry.yymmdd()
    return fields


def logistic_fields(sscc: Sscc) -> dict[str, str]:
    return {"sscc": sscc.value, "sscc_hri": sscc.hri()}


class LabelBuilder:
    """Turns GS1 data into ZPL with one template."""

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

    def unit_label(self, code: UnitCode, variables: Mapping[str, str] = _NO_VARIABLES) -> bytes:
        """A unit label: the code's GS1 DataMatrix and the template's text lines."""
        self._expect(LabelKind.UNIT)
        barcode = datamatrix_gs1_data(code.element_string())
        return self._format(barcode, unit_fields(code), variables)

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

    def _format(self, barcode: str, fields: dict[str, str], variables: Mapping[str, str]) -> bytes:
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
