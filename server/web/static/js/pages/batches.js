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
  problem,
  section,
  table,
  unitHri,
  unitPath,
  when,
} from "../dom.js";
import { releaseSection } from "./release.js";
import { batchGradeSection } from "./grades.js";

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

const ROWS_SHOWN = 500;

async function recallSection(batch) {
  if (!can("recallSet")) return h("div");
  let reach;
  try {
    reach = await api(`/batches/${batch.gtin}/${encodeURIComponent(batch.lot)}/recall`);
  } catch (error) {
    return section("Recall set", problem(error));
  }
  const customers = new Set(reach.shipments.map((s) => s.customer).filter(Boolean));
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
      `${plural(customers.size, "customer")}.`,
    ),
    h("h3", {}, "Shipments"),
    table(
      [
        ["#", (s) => String(s.id)],
        ["Shipped (UTC)", (s) => when(s.shipped_at)],
        ["Ship-to", (s) => h("code", {}, s.destination ?? "")],
        ["Customer", (s) => h("code", {}, s.customer ?? "")],
        ["Despatch advice", (s) => h("code", {}, s.biz_transaction ?? "")],
        ["SSCCs", (s) => s.ssccs.map((sscc) => [link(containerPath(sscc), sscc), " "])],
      ],
      reach.shipments,
      { empty: "Nothing of this batch has been shipped." },
    ),
    h("h3", {}, "Cases and pallets"),
    table(
      [
        ["SSCC", ([sscc]) => link(containerPath(sscc), h("code", {}, sscc))],
        ["Level", ([, level]) => level],
        ["Packed in", ([, , parent]) => (parent ? link(containerPath(parent), parent) : "")],
      ],
      reach.containers.slice(0, ROWS_SHOWN),
      { empty: "No unit of this batch is packed." },
    ),
    more(reach.containers.length),
    h("h3", {}, "Units"),
    table(
      [
        ["Unit", ([gtin, serial]) => link(unitPath(gtin, serial), h("code", {}, unitHri(gtin, serial)))],
        ["Status", ([, , status]) => badge(status)],
      ],
      reach.units.slice(0, ROWS_SHOWN),
      { empty: "No units." },
    ),
    more(reach.units.length),
  );
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

function more(count) {
  return count > ROWS_SHOWN
    ? h("p", { class: "muted" }, `First ${ROWS_SHOWN} of ${count}; the CSV export has them all.`)
    : null;
}
