"""EPCIS 2.0 / CBV 2.0 standard vocabularies.

In EPCIS 2.0 JSON-LD the standard terms are written as bare words (``"commissioning"``);
the same terms also exist as CBV 1.x URNs (``urn:epcglobal:cbv:bizstep:commissioning``) and as
GS1 Web URIs (``https://ref.gs1.org/cbv/BizStep-commissioning``). :func:`parse_term` accepts all
three and returns the enum member; any other URI is a private vocabulary term and is kept as
the string it is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from epcis.errors import EventFieldError


class Action(StrEnum):
    """How an event relates to the lifecycle of the objects it names."""

    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


class BizStep(StrEnum):
    """CBV 2.0 business steps."""

    ACCEPTING = "accepting"
    ARRIVING = "arriving"
    ASSEMBLING = "assembling"
    COLLECTING = "collecting"
    COMMISSIONING = "commissioning"
    CONSIGNING = "consigning"
    CREATING_CLASS_INSTANCE = "creating_class_instance"
    CYCLE_COUNTING = "cycle_counting"
    DECOMMISSIONING = "decommissioning"
    DEPARTING = "departing"
    DESTROYING = "destroying"
    DISASSEMBLING = "disassembling"
    DISPENSING = "dispensing"
    ENCODING = "encoding"
    ENTERING_EXITING = "entering_exiting"
    HOLDING = "holding"
    INSPECTING = "inspecting"
    INSTALLING = "installing"
    KILLING = "killing"
    LOADING = "loading"
    OTHER = "other"
    PACKING = "packing"
    PICKING = "picking"
    RECEIVING = "receiving"
    REMOVING = "removing"
    REPACKAGING = "repackaging"
    REPAIRING = "repairing"
    REPLACING = "replacing"
    RESERVING = "reserving"
    RETAIL_SELLING = "retail_selling"
    SAMPLING = "sampling"
    SENSOR_REPORTING = "sensor_reporting"
    SHIPPING = "shipping"
    STAGING_OUTBOUND = "staging_outbound"
    STOCK_TAKING = "stock_taking"
    STOCKING = "stocking"
    STORING = "storing"
    TRANSPORTING = "transporting"
    UNLOADING = "unloading"
    UNPACKING = "unpacking"
    VOID_SHIPPING = "void_shipping"


class Disposition(StrEnum):
    """CBV 2.0 dispositions."""

    ACTIVE = "active"
    AVAILABLE = "available"
    COMPLETENESS_INFERRED = "completeness_inferred"
    COMPLETENESS_VERIFIED = "completeness_verified"
    CONFORMANT = "conformant"
    CONTAINER_CLOSED = "container_closed"
    CONTAINER_OPEN = "container_open"
    DAMAGED = "damaged"
    DESTROYED = "destroyed"
    DISPENSED = "dispensed"
    DISPOSED = "disposed"
    ENCODED = "encoded"
    EXPIRED = "expired"
    IN_PROGRESS = "in_progress"
    IN_TRANSIT = "in_transit"
    INACTIVE = "inactive"
    MISMATCH_CLASS = "mismatch_class"
    MISMATCH_INSTANCE = "mismatch_instance"
    MISMATCH_QUANTITY = "mismatch_quantity"
    NEEDS_REPLACEMENT = "needs_replacement"
    NO_PEDIGREE_MATCH = "no_pedigree_match"
    NON_CONFORMANT = "non_conformant"
    NON_SELLABLE_OTHER = "non_sellable_other"
    PARTIALLY_DISPENSED = "partially_dispensed"
    RECALLED = "recalled"
    RESERVED = "reserved"
    RETAIL_SOLD = "retail_sold"
    RETURNED = "returned"
    SELLABLE_ACCESSIBLE = "sellable_accessible"
    SELLABLE_NOT_ACCESSIBLE = "sellable_not_accessible"
    STOLEN = "stolen"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


class BizTransactionType(StrEnum):
    """CBV 2.0 business transaction types."""

    BOL = "bol"
    CERT = "cert"
    DESADV = "desadv"
    INV = "inv"
    PEDIGREE = "pedigree"
    PO = "po"
    POC = "poc"
    PRODORDER = "prodorder"
    RECADV = "recadv"
    RMA = "rma"
    TESTPRD = "testprd"
    TESTRES = "testres"
    UPEVT = "upevt"


class SourceDestType(StrEnum):
    """CBV 2.0 source/destination types."""

    OWNING_PARTY = "owning_party"
    POSSESSING_PARTY = "possessing_party"
    LOCATION = "location"


class ErrorReason(StrEnum):
    """CBV 2.0 error reasons of an error declaration."""

    DID_NOT_OCCUR = "did_not_occur"
    INCORRECT_DATA = "incorrect_data"


Term = TypeVar("Term", BizStep, Disposition, BizTransactionType, SourceDestType, ErrorReason)

CBV_WEB = "https://ref.gs1.org/cbv/"

# vocabulary -> (field name used in messages, CBV 1.x URN prefix, GS1 Web URI prefix)
_FORMS: dict[type[StrEnum], tuple[str, str, str]] = {
    BizStep: ("bizStep", "urn:epcglobal:cbv:bizstep:", CBV_WEB + "BizStep-"),
    Disposition: ("disposition", "urn:epcglobal:cbv:disp:", CBV_WEB + "Disp-"),
    BizTransactionType: ("bizTransaction type", "urn:epcglobal:cbv:btt:", CBV_WEB + "BTT-"),
    SourceDestType: ("source/destination type", "urn:epcglobal:cbv:sdt:", CBV_WEB + "SDT-"),
    ErrorReason: ("error reason", "urn:epcglobal:cbv:er:", CBV_WEB + "ER-"),
}


def parse_term(vocabulary: type[Term], value: object, field: str) -> Term | str:
    """Read a vocabulary value in any of its three standard forms, or a private URI.

    Returns the enum member for a standard term and the string itself for a non-CBV URI.
    Raises :class:`EventFieldError` naming ``field`` for anything else.
    """
    kind, urn, web = _FORMS[vocabulary]
    if not isinstance(value, str):
        raise EventFieldError(field, f"expected a {kind} string, got {value!r}")
    for prefix in (urn, web):
        if value.startswith(prefix):
            word = value[len(prefix) :]
            try:
                return vocabulary(word)
            except ValueError:
                raise EventFieldError(
                    field, f"expected a CBV {kind}, got unknown term {value!r}"
                ) from None
    try:
        return vocabulary(value)
    except ValueError:
        pass
    if ":" in value and not value.startswith("urn:epcglobal:cbv:"):
        return value  # a private (non-CBV) vocabulary URI, allowed by EPCIS 2.0
    raise EventFieldError(
        field,
        f"expected a CBV {kind} such as {next(iter(vocabulary)).value!r} or a URI, got {value!r}",
    )


def web_uri(term: StrEnum) -> str:
    """The GS1 Web URI of a standard term, e.g. ``https://ref.gs1.org/cbv/BizStep-packing``."""
    return _FORMS[type(term)][2] + term.value


def expand_bare_word(vocabulary: type[StrEnum], value: str) -> str:
    """The GS1 Web URI for a bare standard term; any other value is returned unchanged."""
    if value in vocabulary._value2member_map_:
        return _FORMS[vocabulary][2] + value
    return value
