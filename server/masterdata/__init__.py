"""Master data: display names for the URNs the store keeps (locations, parties, products).

Captured from EPCIS master-data documents (:func:`capture_master_data`), edited by QA
(:func:`set_name`, audited), read in bulk wherever an answer shows a URN (:func:`names_for`).
"""

from server.masterdata.store import (
    MasterDataError,
    MasterDataItem,
    capture_master_data,
    get_item,
    list_items,
    names_for,
    set_name,
)

__all__ = [
    "MasterDataError",
    "MasterDataItem",
    "capture_master_data",
    "get_item",
    "list_items",
    "names_for",
    "set_name",
]
