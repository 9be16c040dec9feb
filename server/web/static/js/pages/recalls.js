// Recalls: the list, opening one (batches or a raw-material lot), and one recall with its
// frozen reach, live effectiveness, returns entry, notification lists and closing.

import { api, can, download } from "../api.js";
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
import { forwardPath } from "./release.js";

export function recallPath(id) {
  return `/ui/recall/${id}`;
}

function percent(share) {
  return share === null || share === undefined ? "n/a" : `${Math.round(share * 1000) / 10} %`;
}

function scopeText(scope) {
  const parts = [...(scope.batches ?? [])];
  if (scope.material_lot) parts.push(`raw-material lot ${scope.material_lot}`);
  return parts.join(", ");
}

export async function recallsPage(page) {
  page.append(
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, "Recalls"),
      can("recall")
        ? link("/ui/recalls/new", h("span", { class: "button danger" }, "Open a recall…"))
        : null,
    ),
  );
  let list;
  try {
    list = await api("/qa/recalls");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  page.append(
    section(
      "All recalls",
      table(
        [
          ["#", (r) => link(recallPath(r.id), `Recall ${r.id}`)],
          ["Class", (r) => `Class ${r.recall_class}`],
          ["Status", (r) => badge(r.status)],
          ["Scope", (r) => scopeText(r.scope)],
          ["Opened (UTC)", (r) => `${when(r.opened_at)} by ${r.opened_by}`],
          ["Units", (r) => h("span", { class: "num" }, String(r.units))],
          ["Shipped", (r) => h("span", { class: "num" }, String(r.shipped_units))],
          ["Returned", (r) => h("span", { class: "num" }, String(r.returned_shipped_units))],
          ["Effectiveness", (r) => percent(r.effectiveness)],
        ],
        list,
        { empty: "No recall has been opened." },
      ),
    ),
  );
}

// The form to open a recall; ?gtin=&lot= preselects a batch (from the dashboard),
// ?material_lot= a raw-material lot.
export async function newRecallPage(page, _params, query, { go }) {
  page.append(
    h("p", { class: "crumbs" }, link("/ui/recalls", "Recalls"), " / open"),
    h("h1", {}, "Open a recall"),
  );
  if (!can("recall")) {
    page.append(problem({ status: 403, detail: "opening a recall needs the QA role." }));
    return;
  }
  let batches;
  try {
    batches = await api("/batches?limit=500");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  const wanted = `${query.get("gtin") ?? ""}/${query.get("lot") ?? ""}`;
  const choices = batches.map((b) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        name: "batch",
        value: JSON.stringify({ gtin: b.gtin, lot: b.lot }),
        checked: `${b.gtin}/${b.lot}` === wanted,
        "data-lot": b.lot,
      }),
      ` (01)${b.gtin}(10)${b.lot} `,
      badge(b.disposition),
    ),
  );
  const materialLot = h("input", {
    id: "recall-material-lot",
    maxlength: 512,
    value: query.get("material_lot") ?? "",
    autocomplete: "off",
  });
  const recallClass = h(
    "select",
    { id: "recall-class" },
    h("option", { value: "I" }, "Class I: may cause serious harm or death"),
    h("option", { value: "II", selected: true }, "Class II: may cause temporary harm"),
    h("option", { value: "III" }, "Class III: unlikely to cause harm"),
  );
  const reason = h("textarea", { id: "recall-reason", rows: 3, maxlength: 2000, required: true });
  const error = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "danger", id: "recall-open" }, "Open recall");
  page.append(
    h(
      "form",
      { class: "card", id: "recall-form", novalidate: true, onsubmit: onSubmit },
      h(
        "fieldset",
        {},
        h("legend", {}, "Batches"),
        choices.length > 0 ? choices : h("p", { class: "empty" }, "No batches on record."),
      ),
      h("label", { for: "recall-material-lot" }, "or every batch made from raw-material lot"),
      materialLot,
      h("label", { for: "recall-class" }, "Recall class"),
      recallClass,
      h("label", { for: "recall-reason" }, "Reason"),
      reason,
      h(
        "p",
        { class: "help" },
        "Opening computes every affected unit, case, pallet, shipment and customer and freezes ",
        "that set; the batches become 'recalled' and verify as recalled. Audited under your name.",
      ),
      error,
      h("div", { class: "row end" }, submit),
    ),
  );

  async function onSubmit(event) {
    event.preventDefault();
    error.replaceChildren();
    const chosen = [...page.querySelectorAll('input[name="batch"]:checked')].map((box) =>
      JSON.parse(box.value),
    );
    const lot = materialLot.value.trim();
    if (chosen.length === 0 && lot === "") {
      error.append(
        problem({ status: 422, detail: "scope: choose a batch or name a raw-material lot." }),
      );
      return;
    }
    if (reason.value.trim().length < 3) {
      error.append(problem({ status: 422, detail: "reason: at least 3 characters, please." }));
      return;
    }
    submit.disabled = true;
    try {
      const recall = await api("/qa/recalls", {
        method: "POST",
        json: {
          batches: chosen,
          material_lot: lot === "" ? null : lot,
          recall_class: recallClass.value,
          reason: reason.value.trim(),
        },
      });
      go(recallPath(recall.id), { replace: true });
    } catch (failure) {
      error.append(problem(failure));
    } finally {
      submit.disabled = false;
    }
  }
}

const RESULT_TONES = {
  counted: "released",
  already_returned: "pending",
  not_in_recall: "suspect",
  unreadable: "unknown",
};

export async function recallPage(page, [id], _query, { go }) {
  page.append(h("p", { class: "crumbs" }, link("/ui/recalls", "Recalls"), " / recall"));
  let recall;
  try {
    recall = await api(`/qa/recalls/${id}`);
  } catch (error) {
    page.append(h("h1", {}, `Recall ${id}`), problem(error));
    return;
  }
  const notice = h("div", { "aria-live": "polite" });
  const effectiveness = h("div", { id: "effectiveness" });
  const customers = h("div", { id: "recall-customers" });
  draw(recall);
  page.append(
    h(
      "header",
      { class: "page-head" },
      h(
        "h1",
        {},
        h("span", { class: "kind" }, `Class ${recall.recall_class} recall`),
        `Recall ${recall.id}`,
      ),
      h("div", { class: "badges" }, badge(recall.status)),
    ),
    notice,
    h(
      "div",
      { class: "actions no-print" },
      h(
        "button",
        { type: "button", id: "notifications-csv", onclick: () => save("csv") },
        "Notification list (CSV)",
      ),
      h(
        "button",
        { type: "button", id: "notifications-pdf", onclick: () => save("pdf") },
        "Notification list (PDF)",
      ),
    ),
    section(
      "Recall",
      facts([
        [
          "Raw-material lot",
          recall.scope.material_lot
            ? link(forwardPath(recall.scope.material_lot), recall.scope.material_lot)
            : null,
        ],
        ["Batches", (recall.scope.batches ?? []).map((key) => [batchLink(key), " "])],
        ["Reason", recall.reason],
        ["Opened (UTC)", `${when(recall.opened_at)} by ${recall.opened_by}`],
        ["Closed (UTC)", recall.closed_at ? when(recall.closed_at) : null],
      ]),
    ),
    h(
      "div",
      { class: "counts", id: "recall-counts" },
      count("units", recall.units, "affected units (frozen)"),
      count("cases", recall.cases, "cases"),
      count("pallets", recall.pallets, "pallets"),
      count("shipments", recall.customers.length, "shipments"),
      count("shipped", recall.shipped_units, "units shipped"),
    ),
    effectiveness,
    recall.status === "open" ? returnsBox() : null,
    section("Customers to notify (frozen at opening; returns live)", customers),
    recall.status === "open" ? closeBox() : null,
  );

  function draw(current) {
    effectiveness.replaceChildren(
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Effectiveness"),
        h(
          "p",
          { class: "summary" },
          h("b", { id: "effectiveness-share" }, percent(current.effectiveness)),
          ` of shipped units returned: ${current.returned_shipped_units} of ${current.shipped_units}`,
          ` (${current.returned_units} returned in all).`,
        ),
        h("meter", {
          min: 0,
          max: 1,
          value: current.effectiveness ?? 0,
          "aria-label": "returned share of shipped units",
        }),
      ),
    );
    customers.replaceChildren(
      table(
        [
          ["Shipment", (c) => `#${c.shipment_id}`],
          ["Shipped (UTC)", (c) => when(c.shipped_at)],
          ["Customer", (c) => h("code", {}, c.customer ?? "")],
          ["Ship-to", (c) => h("code", {}, c.destination ?? "")],
          ["Despatch advice", (c) => h("code", {}, c.biz_transaction ?? "")],
          ["SSCCs", (c) => c.ssccs.map((sscc) => [link(containerPath(sscc), sscc), " "])],
          ["Units", (c) => h("span", { class: "num" }, String(c.units))],
          ["Returned", (c) => h("span", { class: "num" }, String(c.returned))],
        ],
        current.customers,
        { empty: "Nothing in this recall was shipped: no customer to notify." },
      ),
    );
  }

  function returnsBox() {
    const codes = h("textarea", {
      id: "return-codes",
      rows: 4,
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "Scan or paste returned units' codes, one per line",
      "aria-describedby": "return-help",
    });
    const outcome = h("div", { id: "return-outcome", "aria-live": "polite" });
    const submit = h(
      "button",
      { type: "submit", class: "primary", id: "return-submit" },
      "Record returns",
    );
    return h(
      "form",
      { class: "card no-print", id: "returns", onsubmit: onReturns },
      h("h2", {}, "Returns"),
      h("label", { for: "return-codes" }, "Returned units"),
      codes,
      h(
        "p",
        { id: "return-help", class: "help" },
        "Any code form per line (scanner data, HRI, Digital Link, EPC URI). Each code is counted ",
        "once; codes outside this recall are reported, not counted.",
      ),
      h("div", { class: "row end" }, submit),
      outcome,
    );

    async function onReturns(event) {
      event.preventDefault();
      const lines = codes.value
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "");
      outcome.replaceChildren();
      if (lines.length === 0) {
        outcome.append(problem({ status: 422, detail: "codes: scan or paste at least one code." }));
        return;
      }
      submit.disabled = true;
      try {
        const results = await api(`/qa/recalls/${id}/returns`, {
          method: "POST",
          json: { codes: lines },
        });
        codes.value = "";
        outcome.append(
          table(
            [
              ["Code", (r) => h("code", {}, r.code)],
              ["Unit", (r) => (r.gtin ? `(01)${r.gtin}(21)${r.serial}` : "")],
              [
                "Outcome",
                (r) => badge(RESULT_TONES[r.result] ?? "unknown", r.result.replaceAll("_", " ")),
              ],
            ],
            results,
          ),
        );
        draw(await api(`/qa/recalls/${id}`));
      } catch (failure) {
        outcome.append(problem(failure));
      } finally {
        submit.disabled = false;
        codes.focus();
      }
    }
  }

  function closeBox() {
    if (!can("recall")) return null;
    const reason = h("input", { id: "close-reason", maxlength: 2000 });
    const error = h("div", { "aria-live": "polite" });
    return h(
      "form",
      {
        class: "card no-print",
        id: "close-recall",
        onsubmit: async (event) => {
          event.preventDefault();
          error.replaceChildren();
          try {
            await api(`/qa/recalls/${id}/close`, {
              method: "POST",
              json: { reason: reason.value.trim() },
            });
            go(recallPath(id), { replace: true });
          } catch (failure) {
            error.append(problem(failure));
          }
        },
      },
      h("h2", {}, "Close the recall"),
      h(
        "label",
        { for: "close-reason" },
        "Reason (e.g. effectiveness check done, agency informed)",
      ),
      reason,
      error,
      h("div", { class: "row end" }, h("button", { type: "submit" }, "Close recall")),
    );
  }

  async function save(format) {
    notice.replaceChildren();
    try {
      await download(
        `/qa/recalls/${id}/notifications.${format}`,
        `recall-${id}-notifications.${format}`,
      );
    } catch (failure) {
      notice.append(problem(failure));
    }
  }
}

function count(kind, value, label) {
  return h("div", { class: "count", "data-count": kind }, h("b", {}, String(value)), label);
}

function batchLink(key) {
  // Batch keys are "(01)<gtin>(10)<lot>".
  const match = /^\(01\)(\d{14})\(10\)(.+)$/.exec(key);
  return match === null ? key : link(batchPath(match[1], match[2]), key);
}
