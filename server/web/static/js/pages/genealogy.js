// Genealogy both ways: backward from a unit to its batch records and raw materials (a
// section of the unit page), forward from a raw-material lot to the batches made from it
// and everything they reached.

import { api } from "../api.js";
import {
  badge,
  batchPath,
  containerPath,
  facts,
  h,
  link,
  problem,
  section,
  table,
  when,
} from "../dom.js";
import { forwardPath, reconciles } from "./release.js";

// The unit page's "Raw materials and records" section, from GET /qa/genealogy/backward.
export async function backwardSection(gtin, serial) {
  let trace;
  try {
    trace = await api(
      `/qa/genealogy/backward?code=${encodeURIComponent(`(01)${gtin}(21)${serial}`)}`,
    );
  } catch (error) {
    return section("Raw materials and records", problem(error));
  }
  return h(
    "section",
    { class: "card", id: "backward" },
    h("h2", {}, "Raw materials and records"),
    trace.batches.map(batchRecordBlock),
  );
}

function batchRecordBlock(record) {
  const balance = record.reconciliation;
  const failed = record.inspections.filter((item) => !item.passed).length;
  const lots = [
    ...record.material_lots.map((m) => ({
      what: m.material,
      supplier: m.supplier,
      lot: m.supplier_lot,
      source: "QA record",
    })),
    ...record.epcis_inputs.map((item) => ({
      what: item.input,
      supplier: "",
      lot: null,
      quantity: item.quantity,
      uom: item.uom,
      source: "EPCIS transformation",
    })),
  ];
  return h(
    "div",
    { class: "record", "data-batch": `${record.gtin}/${record.lot}` },
    h(
      "h3",
      {},
      link(batchPath(record.gtin, record.lot), `Batch (01)${record.gtin}(10)${record.lot}`),
    ),
    facts([
      ["Release status", badge(record.status)],
      [
        "Signed",
        record.signature
          ? `${record.signature.meaning} by ${record.signature.full_name}, ${when(record.signature.signed_at)}`
          : "not yet",
      ],
      [
        "Production",
        record.production === null
          ? "no production record"
          : `line ${record.production.line}, started ${when(record.production.started_at)}`,
      ],
      [
        "Reconciliation",
        balance === null
          ? "none"
          : reconciles(balance)
            ? `reconciled (produced ${balance.produced})`
            : `does not reconcile (produced ${balance.produced}, commissioned ${balance.commissioned})`,
      ],
      [
        "Inspections",
        record.inspections.length === 0
          ? "none recorded"
          : `${record.inspections.length} recorded, ${failed} failed`,
      ],
    ]),
    table(
      [
        ["Raw material", (m) => m.what],
        ["Supplier", (m) => m.supplier],
        ["Supplier lot", (m) => (m.lot ? link(forwardPath(m.lot), h("code", {}, m.lot)) : "")],
        ["Quantity", (m) => (m.quantity == null ? "" : `${m.quantity} ${m.uom ?? ""}`.trim())],
        ["Source", (m) => h("span", { class: "muted" }, m.source)],
      ],
      lots,
      { empty: "No raw-material lots recorded for this batch." },
    ),
  );
}

// GET /qa/genealogy/forward?material_lot=: batches, units, shipments and customers.
export async function forwardPage(page, _params, query, { go }) {
  const initial = query.get("lot") ?? "";
  const input = h("input", {
    id: "material-lot",
    name: "lot",
    maxlength: 512,
    autocomplete: "off",
    spellcheck: "false",
    value: initial,
    placeholder: "Supplier lot, or an EPCIS input lot",
  });
  page.append(
    h("h1", {}, "Forward genealogy from a raw-material lot"),
    h(
      "form",
      {
        class: "search card",
        role: "search",
        onsubmit: (event) => {
          event.preventDefault();
          if (input.value.trim() !== "") go(forwardPath(input.value.trim()));
        },
      },
      h("label", { for: "material-lot" }, "Raw-material lot"),
      h(
        "div",
        { class: "row" },
        input,
        h("button", { type: "submit", class: "primary" }, "Trace forward"),
      ),
      h(
        "p",
        { class: "help" },
        "A supplier lot recorded by QA on a batch record, or a lot named as input of an EPCIS ",
        "transformation event (",
        h("code", {}, "urn:epc:class:lgtin:…"),
        " or its lot part).",
      ),
    ),
  );
  if (initial === "") {
    input.focus();
    return;
  }
  let trace;
  try {
    trace = await api(`/qa/genealogy/forward?material_lot=${encodeURIComponent(initial)}`);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  const units = trace.batches.reduce((sum, b) => sum + b.units, 0);
  const shipped = trace.batches.reduce((sum, b) => sum + b.shipped_units, 0);
  const shipments = new Set(trace.batches.flatMap((b) => b.shipments.map((s) => s.id)));
  const customers = new Set(trace.batches.flatMap((b) => b.customers));
  page.append(
    h(
      "p",
      { class: "summary", id: "forward-summary" },
      `Lot ${trace.material_lot}: ${trace.batches.length} batch(es), ${units} units `,
      `(${shipped} shipped), ${shipments.size} shipment(s) to ${customers.size} customer(s).`,
    ),
    section(
      "Batches made from this lot",
      table(
        [
          ["Batch", (b) => link(batchPath(b.gtin, b.lot), `(01)${b.gtin}(10)${b.lot}`)],
          ["Units", (b) => h("span", { class: "num" }, String(b.units))],
          ["Shipped units", (b) => h("span", { class: "num" }, String(b.shipped_units))],
          ["Cases", (b) => h("span", { class: "num" }, String(b.cases))],
          ["Pallets", (b) => h("span", { class: "num" }, String(b.pallets))],
          ["Shipments", (b) => h("span", { class: "num" }, String(b.shipments.length))],
          ["Customers", (b) => b.customers.map((c) => [h("code", {}, c), " "])],
        ],
        trace.batches,
        { empty: "No batch was made from this lot." },
      ),
    ),
    section(
      "Shipments",
      table(
        [
          ["Batch", (s) => s.batch],
          ["#", (s) => String(s.id)],
          ["Shipped (UTC)", (s) => when(s.shipped_at)],
          ["Customer", (s) => h("code", {}, s.customer ?? "")],
          ["Ship-to", (s) => h("code", {}, s.destination ?? "")],
          ["Despatch advice", (s) => h("code", {}, s.biz_transaction ?? "")],
          ["Units", (s) => h("span", { class: "num" }, String(s.units))],
          ["SSCCs", (s) => s.ssccs.map((sscc) => [link(containerPath(sscc), sscc), " "])],
        ],
        trace.batches.flatMap((b) => b.shipments.map((s) => ({ ...s, batch: b.lot }))),
        { empty: "Nothing made from this lot has been shipped." },
      ),
    ),
  );
}
