// Batches: the list with counts, and one batch with its counts, lines, raw-material lots,
// recall set (table and CSV) and the recall action for QA.

import { api, apiPaths, can, download } from "../api.js";
import {
  badge,
  batchPath,
  containerPath,
  facts,
  h,
  link,
  named,
  pagedTable,
  problem,
  queryString,
  section,
  table,
  unitHri,
  unitPath,
  when,
} from "../dom.js";
import { releaseSection } from "./release.js";
import { batchGradeSection } from "./grades.js";
import { barChart } from "../charts.js";

const STATUS_ORDER = ["active", "sampled", "decommissioned", "inactive", "destroyed"];

function total(counts) {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function countsText(counts) {
  return orderedStatuses(counts)
    .map((status) => `${counts[status]} ${status}`)
    .join(", ");
}

function orderedStatuses(counts) {
  return Object.keys(counts).sort(
    (a, b) => rank(a) - rank(b) || a.localeCompare(b),
  );
}

function rank(status) {
  const index = STATUS_ORDER.indexOf(status);
  return index === -1 ? STATUS_ORDER.length : index;
}

export async function batchesPage(page, _params, query) {
  const gtin = query.get("gtin");
  page.append(h("h1", {}, gtin ? `Batches of GTIN ${gtin}` : "Batches"));
  let list;
  try {
    list = await api("/batches?limit=500");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  const shown = gtin ? list.filter((batch) => batch.gtin === gtin) : list;
  page.append(
    h(
      "section",
      { class: "card" },
      table(
        [
          ["GTIN", (b) => h("code", {}, b.gtin)],
          ["Lot", (b) => link(batchPath(b.gtin, b.lot), b.lot)],
          ["Expiry", (b) => b.expiry ?? ""],
          ["Disposition", (b) => badge(b.disposition)],
          ["Units", (b) => h("span", { class: "num" }, String(total(b.counts)))],
          ["By status", (b) => countsText(b.counts)],
          ["First seen (UTC)", (b) => when(b.first_seen)],
        ],
        shown,
        { empty: "No batches on record yet." },
      ),
    ),
  );
}

export async function batchPage(page, [gtin, lot], _query, context) {
  page.append(h("p", { class: "crumbs" }, link("/ui/batches", "Batches"), " / batch"));
  let batch;
  try {
    batch = await api(`/batches/${gtin}/${encodeURIComponent(lot)}`);
  } catch (error) {
    page.append(h("h1", {}, `GTIN ${gtin} lot ${lot}`), problem(error));
    return;
  }
  const actions = h("div", { class: "actions no-print" });
  const notice = h("div", { "aria-live": "polite" });
  const release = h("div", { id: "release-part" });
  page.append(
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, h("span", { class: "kind" }, "Batch"), `Lot ${batch.lot}`),
      h("div", { class: "badges" }, badge(batch.disposition)),
    ),
    notice,
    actions,
    release,
    h(
      "div",
      { class: "counts", id: "counts" },
      h("div", { class: "count total" }, h("b", {}, String(total(batch.counts))), "units"),
      orderedStatuses(batch.counts).map((status) =>
        h(
          "div",
          { class: `count status-${status}`, "data-status": status },
          h("b", {}, String(batch.counts[status])),
          status,
        ),
      ),
    ),
    section(
      "Batch",
      facts([
        ["GTIN", batch.gtin],
        ["Lot", batch.lot],
        ["Expiry", batch.expiry],
        ["Disposition", badge(batch.disposition)],
        ["First seen (UTC)", when(batch.first_seen)],
        ["Recalled at (UTC)", batch.recalled_at ? when(batch.recalled_at) : null],
        ["Recall reason", batch.recall_reason],
      ]),
    ),
    section(
      "Packaging lines",
      table(
        [
          ["Site", (l) => l.site ?? ""],
          ["Line", (l) => l.line ?? ""],
          ["Commissioned", (l) => h("span", { class: "num" }, String(l.commissioned))],
          ["First (UTC)", (l) => when(l.first_at)],
          ["Last (UTC)", (l) => when(l.last_at)],
        ],
        batch.lines,
        { empty: "No line recorded." },
      ),
    ),
    section(
      "Raw-material lots",
      table(
        [
          ["Input", (i) => h("code", {}, i.input)],
          ["Quantity", (i) => (i.quantity === null ? "" : String(i.quantity))],
          ["Unit", (i) => i.uom ?? ""],
        ],
        batch.raw_material_lots,
        { empty: "No raw-material lots recorded for this batch." },
      ),
    ),
  );
  page.append(await batchGradeSection(batch.gtin, batch.lot));
  page.append(await rejectsSection(batch), unitsSection(batch));
  recallActions(batch, actions, notice, context);
  if ((await apiPaths()).includes("/qa/batches/{gtin}/{lot}/record")) {
    const { card, details } = await releaseSection(batch.gtin, batch.lot, () =>
      context.go(batchPath(batch.gtin, batch.lot), { replace: true }),
    );
    release.replaceWith(card);
    page.append(details);
  }
  page.append(await recallSection(batch));
}

function recallActions(batch, actions, notice, { go }) {
  if (!can("recallSet")) {
    actions.append(
      h("p", { class: "muted" }, "Recall set, CSV export and recall need the QA role."),
    );
    return;
  }
  const base = `/batches/${batch.gtin}/${encodeURIComponent(batch.lot)}/recall`;
  actions.append(
    h(
      "button",
      {
        type: "button",
        id: "export-csv",
        onclick: async () => {
          try {
            await download(`${base}?format=csv`, `recall-${batch.gtin}-${batch.lot}.csv`);
          } catch (error) {
            notice.replaceChildren(problem(error));
          }
        },
      },
      "Export recall set (CSV)",
    ),
  );
  if (!can("recall") || batch.disposition === "recalled") return;
  const reason = h("textarea", {
    id: "recall-reason",
    name: "reason",
    required: true,
    minlength: 3,
    maxlength: 2000,
    rows: 3,
    oninput: () => dialogError.replaceChildren(),
  });
  const dialogError = h("div", { "aria-live": "polite" });
  const dialog = h(
    "dialog",
    { id: "recall-dialog" },
    h(
      "form",
      { method: "dialog", novalidate: true, onsubmit: confirm },
      h("h2", {}, `Put lot ${batch.lot} under recall`),
      h(
        "p",
        {},
        "Every unit of the batch will verify as recalled. The action and your reason are ",
        "recorded in the audit trail under your name.",
      ),
      h("label", { for: "recall-reason" }, "Reason"),
      reason,
      dialogError,
      h(
        "div",
        { class: "row end" },
        h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
        h("button", { type: "submit", class: "danger", id: "recall-confirm" }, "Put under recall"),
      ),
    ),
  );
  actions.append(
    h(
      "button",
      { type: "button", class: "danger", id: "recall", onclick: () => dialog.showModal() },
      "Put under recall…",
    ),
    dialog,
  );

  async function confirm(event) {
    event.preventDefault();
    if (reason.value.trim().length < 3) {
      dialogError.replaceChildren(
        problem({ status: 422, detail: "reason: at least 3 characters, please." }),
      );
      return;
    }
    try {
      await api(base, { method: "POST", json: { reason: reason.value.trim() } });
      dialog.close();
      go(batchPath(batch.gtin, batch.lot), { replace: true });
    } catch (error) {
      dialogError.replaceChildren(problem(error));
    }
  }
}

const UNIT_STATUSES = ["active", "decommissioned", "destroyed", "inactive", "sampled"];

function unitsSection(batch) {
  const base = `/batches/${batch.gtin}/${encodeURIComponent(batch.lot)}/units`;
  return h(
    "section",
    { class: "card", id: "units" },
    h("h2", {}, "Units"),
    pagedTable({
      id: "unit-table",
      sort: "serial",
      order: "asc",
      filters: [
        { name: "status", label: "Status", options: UNIT_STATUSES },
        { name: "q", label: "Serial or SSCC starts with" },
      ],
      columns: [
        [
          "Unit",
          (u) => link(unitPath(u.gtin, u.serial), h("code", {}, unitHri(u.gtin, u.serial))),
          "serial",
        ],
        ["Status", (u) => badge(u.status), "status"],
        ["Case", (u) => (u.case ? link(containerPath(u.case), u.case) : ""), "case"],
        ["Pallet", (u) => (u.pallet ? link(containerPath(u.pallet), u.pallet) : ""), "pallet"],
      ],
      fetchPage: (params) => api(`${base}?${queryString(params)}`),
    }),
  );
}

async function rejectsSection(batch) {
  let rejects;
  try {
    rejects = await api(`/batches/${batch.gtin}/${encodeURIComponent(batch.lot)}/rejects`);
  } catch (error) {
    return section("Rejects by reason", problem(error));
  }
  if (rejects.length === 0) {
    return section("Rejects by reason", h("p", { class: "empty" }, "No unit left the active state."));
  }
  return h(
    "section",
    { class: "card", id: "rejects" },
    h("h2", {}, "Rejects by reason"),
    barChart(
      "rejects-chart",
      `Units of lot ${batch.lot} out of the active state, by reason`,
      rejects.map((r) => ({ label: `${r.reason} (${r.status})`, value: r.units })),
    ),
  );
}

async function recallSection(batch) {
  if (!can("recallSet")) return h("div");
  let reach;
  try {
    reach = await api(`/batches/${batch.gtin}/${encodeURIComponent(batch.lot)}/recall`);
  } catch (error) {
    return section("Recall set", problem(error));
  }
  const names = {};
  for (const s of reach.shipments) {
    if (s.customer && s.customer_name) names[s.customer] = s.customer_name;
    if (s.destination && s.destination_name) names[s.destination] = s.destination_name;
  }
  return h(
    "section",
    { class: "card", id: "recall-set" },
    h("h2", {}, "Recall set"),
    h(
      "p",
      { class: "summary" },
      `${plural(reach.units.length, "unit")}, `,
      `${plural(reach.containers.length, "case or pallet", "cases and pallets")}, `,
      `${plural(reach.shipments.length, "shipment")} to `,
      `${plural(reach.customers.length, "customer")}.`,
    ),
    h("h3", {}, "Shipments"),
    table(
      [
        ["#", (s) => String(s.id)],
        ["Shipped (UTC)", (s) => when(s.shipped_at)],
        ["Customer", (s) => named(s.customer, names)],
        ["Ship-to", (s) => named(s.destination, names)],
        ["Units", (s) => h("span", { class: "num" }, String(s.units))],
        ["Despatch advice", (s) => h("code", {}, s.biz_transaction ?? "")],
        ["SSCCs", (s) => s.ssccs.map((sscc) => [link(containerPath(sscc), sscc), " "])],
      ],
      reach.shipments,
      { empty: "Nothing of this batch has been shipped." },
    ),
    h("h3", {}, "Cases and pallets"),
    pagedTable({
      id: "container-table",
      sort: "sscc",
      order: "asc",
      pageSize: 20,
      columns: [
        ["SSCC", (c) => link(containerPath(c.sscc), h("code", {}, c.sscc)), "sscc"],
        ["Level", (c) => c.level, "level"],
        ["Packed in", (c) => (c.parent ? link(containerPath(c.parent), c.parent) : ""), "parent"],
      ],
      fetchPage: async (params) => localPage(reach.containers, params),
    }),
    h("p", { class: "muted" }, "Every unit with its case, pallet, shipment and customer: the CSV export."),
  );
}

// A page of rows already here, sorted by a field (for the few containers of one batch).
function localPage(rows, { limit, offset, sort, order }) {
  const sorted = [...rows].sort((a, b) => String(a[sort] ?? "").localeCompare(String(b[sort] ?? "")));
  if (order === "desc") sorted.reverse();
  return { total: rows.length, items: sorted.slice(offset, offset + limit) };
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
