// Batch release: status with its electronic signature, production record and
// reconciliation, inspection results, raw-material lots, and for QA the signed status
// changes (release, reject, hold) with the password entered again.

import { api, can, session } from "../api.js";
import { badge, facts, h, problem, section, table, when } from "../dom.js";

// What each action asks the server for, and the meaning the server signs it with
// (server/qa/release.py MEANINGS); shown to the signer before the password is asked.
const ACTIONS = {
  released: { label: "Release…", meaning: "Release for sale", tone: "primary" },
  rejected: { label: "Reject…", meaning: "Reject batch", tone: "danger" },
  quarantine: { label: "Hold…", meaning: "Place batch on hold", tone: "" },
};
// Moves the server allows from each status (rejected is final).
const MOVES = {
  quarantine: ["released", "rejected"],
  released: ["quarantine"],
  rejected: [],
};

function recordPath(gtin, lot) {
  return `/qa/batches/${gtin}/${encodeURIComponent(lot)}`;
}

// The release card of the batch page and the record behind it (production, inspections,
// QA's raw-material lots); `refresh` redraws the page after a signed change.
export async function releaseSection(gtin, lot, refresh) {
  let record;
  try {
    record = await api(`${recordPath(gtin, lot)}/record`);
  } catch (error) {
    return { card: section("Release", problem(error)), details: h("div") };
  }
  let history = [];
  try {
    history = await api(`${recordPath(gtin, lot)}/history`);
  } catch {
    history = [];
  }
  const card = h(
    "section",
    { class: "card release", id: "release", "data-status": record.status },
    h("h2", {}, "Release ", badge(record.status)),
    integrityWarning(record.integrity ?? []),
    lockNotice(record),
    signatureFacts(record.signature),
    actions(record, refresh),
  );
  const details = h(
    "div",
    { id: "batch-record", "data-locked": String(Boolean(record.locked)) },
    section("Batch order", orderFacts(record.order)),
    section("Production record", productionFacts(record)),
    section("Inspection results", inspectionTable(record.inspections)),
    section("Raw-material lots (QA record)", materialTable(record.material_lots)),
    section("Record history", historyTable(history)),
  );
  return { card, details };
}

// What the server found when it compared the signature and status with the audit trail.
function integrityWarning(problems) {
  if (problems.length === 0) return null;
  return h(
    "div",
    { class: "problem", role: "alert", id: "integrity" },
    h("strong", {}, "This record differs from the audit trail"),
    h(
      "ul",
      {},
      problems.map((text) => h("li", {}, text)),
    ),
  );
}

function lockNotice(record) {
  if (!record.locked) return null;
  return h(
    "p",
    { class: "lock", id: "record-locked" },
    record.status === "released"
      ? "Record locked: the batch is released, so its production record, inspections and " +
          "raw-material lots are read only. To change them, place the batch on hold (signed); " +
          "the change then needs a reason and your signature, and the batch a new release."
      : "Record locked: a rejected batch is final.",
  );
}

const ACTION_TEXT = {
  production_record: "Production record",
  inspection: "Inspection",
  material_lot: "Raw-material lot",
  batch_released: "Released",
  batch_rejected: "Rejected",
  batch_quarantine: "Placed on hold",
  recall: "Put under recall",
};

function historyTable(entries) {
  return h("div", { id: "record-history" }, historyRows(entries));
}

function historyRows(entries) {
  return table(
    [
      ["#", (e) => String(e.id)],
      ["When (UTC)", (e) => when(e.at)],
      ["Who", (e) => e.actor],
      ["What", (e) => ACTION_TEXT[e.action] ?? e.action],
      ["Reason", (e) => e.reason],
      ["Before", (e) => changeText(e.old_value)],
      ["After", (e) => changeText(e.new_value)],
      [
        "Signature",
        (e) => {
          const signature = e.new_value?.signature;
          return signature ? `${signature.name}: ${signature.meaning}` : "";
        },
      ],
    ],
    entries,
    { empty: "No change recorded yet." },
  );
}

// A short text of a recorded value (the full values are in GET .../history).
function changeText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  const parts = [];
  for (const [key, item] of Object.entries(value)) {
    if (key === "signature" || item === null || typeof item === "object") continue;
    parts.push(`${key}: ${item}`);
  }
  return parts.join(", ");
}

function signatureFacts(signature) {
  if (signature === null) {
    return h("p", { class: "muted", id: "signature" }, "No QA decision signed yet.");
  }
  return h(
    "div",
    { id: "signature" },
    facts([
      ["Signed by", `${signature.full_name} (${signature.username})`],
      ["Signed at (UTC)", when(signature.signed_at)],
      ["Meaning", h("span", { class: "meaning" }, signature.meaning)],
      [
        "Audit record",
        h("code", { class: "id", title: signature.audit_hash }, short(signature.audit_hash)),
      ],
    ]),
  );
}

function short(hash) {
  return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
}

export function reconciles(balance) {
  return (
    balance.produced ===
    balance.commissioned + balance.rejected + balance.sampled + balance.scrapped
  );
}

// The order the batch was made from: its plan beside the record (issue 23).
function orderFacts(order) {
  if (!order) {
    return h("p", { class: "empty", id: "batch-order" }, "Started without a batch order.");
  }
  const expiry =
    order.expiry === order.expiry_computed
      ? `${order.expiry} (from the shelf life)`
      : `${order.expiry}, computed ${order.expiry_computed}; override: ${order.expiry_reason}`;
  const counts = order.line_counts;
  return h(
    "div",
    { id: "batch-order" },
    facts([
      ["Order", order.number],
      ["State", order.state],
      ["Line", `${order.site}/${order.line}`],
      ["Planned", String(order.planned)],
      ["Lot", order.lot_source === "rule" ? "by rule" : order.lot_source],
      ["Manufactured", order.manufacturing_date],
      ["Expiry (YYMMDD)", expiry],
      ["Created by", `${order.created_by}, ${when(order.created_at)}`],
      ["Released by", order.released_by ? `${order.released_by}, ${when(order.released_at)}` : "not released"],
      ["Confirmed on the line by", order.confirmed_by ?? "not started"],
      [
        "Line counts at close",
        counts
          ? `printed ${counts.printed} = commissioned ${counts.commissioned} + rejected ${counts.rejected} + sampled ${counts.sampled} + scrapped ${counts.scrapped}`
          : "not closed",
      ],
    ]),
  );
}

function productionFacts(record) {
  const production = record.production;
  if (production === null) {
    return h("p", { class: "empty" }, "No production record: the batch cannot be released.");
  }
  const balance = record.reconciliation;
  const balanced = reconciles(balance);
  return h(
    "div",
    {},
    facts([
      ["Line", production.line],
      ["Started (UTC)", when(production.started_at)],
      ["Finished (UTC)", production.finished_at ? when(production.finished_at) : "not finished"],
      ["Planned", String(production.planned)],
      ["Recorded by", `${production.updated_by}, ${when(production.updated_at)}`],
    ]),
    h(
      "p",
      { class: balanced ? "reconciliation ok" : "reconciliation bad", id: "reconciliation" },
      `Produced ${balance.produced} ${balanced ? "=" : "≠"} commissioned ${balance.commissioned}`,
      ` + rejected ${balance.rejected} + sampled ${balance.sampled} + scrapped ${balance.scrapped}`,
      balanced ? ": reconciled." : ": does not reconcile.",
    ),
    production.deviations.length > 0
      ? table(
          [
            ["Deviation", (d) => h("code", {}, d.reference)],
            ["Description", (d) => d.description],
          ],
          production.deviations,
        )
      : h("p", { class: "muted" }, "No deviations."),
  );
}

function inspectionTable(inspections) {
  return table(
    [
      ["Test", (i) => i.test],
      ["Specification", (i) => i.specification],
      ["Result", (i) => i.result],
      ["Outcome", (i) => badge(i.passed ? "pass" : "fail")],
      ["Tested (UTC)", (i) => when(i.tested_at)],
      ["Approved by", (i) => i.approved_by],
    ],
    inspections,
    { empty: "No inspection results: the batch cannot be released." },
  );
}

function materialTable(lots) {
  return table(
    [
      ["Material", (m) => m.material],
      ["Supplier", (m) => m.supplier],
      [
        "Supplier lot",
        (m) =>
          h(
            "a",
            { href: forwardPath(m.supplier_lot), "data-link": true },
            h("code", {}, m.supplier_lot),
          ),
      ],
      ["Received (UTC)", (m) => when(m.received_at)],
      ["Quantity", (m) => (m.quantity === null ? "" : `${m.quantity} ${m.uom ?? ""}`.trim())],
    ],
    lots,
    { empty: "No raw-material lots recorded by QA." },
  );
}

export function forwardPath(materialLot) {
  return `/ui/genealogy/forward?lot=${encodeURIComponent(materialLot)}`;
}

function actions(record, refresh) {
  if (!can("release")) {
    return h("p", { class: "muted" }, "Release, rejection and hold need the QA role.");
  }
  const moves = MOVES[record.status] ?? [];
  if (moves.length === 0) {
    return h("p", { class: "muted" }, "A rejected batch is final: no further status change.");
  }
  const bar = h("div", { class: "actions no-print" });
  for (const target of moves) {
    const action = ACTIONS[target];
    bar.append(
      h(
        "button",
        {
          type: "button",
          class: action.tone,
          id: `sign-${target}`,
          onclick: () => signDialog(record, target, refresh),
        },
        action.label,
      ),
    );
  }
  return bar;
}

// The electronic-signature dialog: meaning, reason, printed name, password again.
function signDialog(record, target, refresh) {
  const action = ACTIONS[target];
  const user = session();
  const error = h("div", { class: "sign-error", "aria-live": "polite" });
  const reason = h("textarea", {
    id: "sign-reason",
    required: true,
    minlength: 3,
    maxlength: 2000,
    rows: 3,
  });
  // The printed name is the user record's (set by an admin), never typed here.
  const fullName = h(
    "output",
    { id: "sign-name" },
    user?.fullName || user?.username || "the signed-in user",
  );
  // The meaning comes from the server's fixed list; a move has exactly one.
  const meaning = h(
    "select",
    { id: "sign-meaning-select", required: true },
    h("option", { value: action.meaning, selected: true }, action.meaning),
  );
  const password = h("input", {
    id: "sign-password",
    type: "password",
    required: true,
    maxlength: 1024,
    autocomplete: "current-password",
  });
  const submit = h(
    "button",
    { type: "submit", class: action.tone || "primary", id: "sign-confirm" },
    `Sign: ${action.meaning}`,
  );
  const dialog = h(
    "dialog",
    { id: "sign-dialog", class: "sign", "aria-labelledby": "sign-title" },
    h(
      "form",
      { method: "dialog", novalidate: true, onsubmit: confirm },
      h("h2", { id: "sign-title" }, `Electronic signature: lot ${record.lot}`),
      h(
        "p",
        { class: "meaning-line" },
        "Meaning of this signature: ",
        h("strong", { id: "sign-meaning" }, action.meaning),
        ` (batch (01)${record.gtin}(10)${record.lot}, now ${record.status}).`,
      ),
      h(
        "p",
        { class: "help" },
        `By entering your password you, ${user?.username ?? "the signed-in user"}, sign this `,
        "record electronically. The signature is the legally binding equivalent of your ",
        "handwritten signature; it is recorded with your name, the date and time (UTC) and ",
        "its meaning, and linked to the audit trail.",
      ),
      h("label", { for: "sign-reason" }, "Reason"),
      reason,
      h("label", { for: "sign-meaning-select" }, "Meaning"),
      meaning,
      h("label", { for: "sign-name" }, "Printed name (from your user record)"),
      fullName,
      h("label", { for: "sign-password" }, "Password (enter it again to sign)"),
      password,
      error,
      h(
        "div",
        { class: "row end" },
        h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
        submit,
      ),
    ),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();

  async function confirm(event) {
    event.preventDefault();
    error.replaceChildren();
    if (reason.value.trim().length < 3) {
      error.append(problem({ status: 422, detail: "reason: at least 3 characters, please." }));
      reason.focus();
      return;
    }
    if (password.value === "") {
      error.append(problem({ status: 422, detail: "password: enter your password to sign." }));
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api(`${recordPath(record.gtin, record.lot)}/status`, {
        method: "POST",
        json: {
          status: target,
          password: password.value,
          meaning: meaning.value,
          reason: reason.value.trim(),
        },
      });
      dialog.close();
      refresh();
    } catch (failure) {
      error.append(signProblem(failure));
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
    }
  }
}

// 403 here is the signature check (or a duty this user may not do), 409 lists the release
// blockers one per line, 429 a locked user name.
function signProblem(failure) {
  if (failure.status === 403 && !(failure.detail ?? "").startsWith("signature: password")) {
    return h(
      "div",
      { class: "problem status-403", role: "alert", id: "sign-refused" },
      h("strong", {}, "Refused: nothing was signed"),
      h("span", {}, failure.detail),
    );
  }
  if (failure.status === 429) {
    return h(
      "div",
      { class: "problem status-429", role: "alert", id: "sign-refused" },
      h("strong", {}, "Signature refused: too many failed attempts"),
      h("span", {}, failure.detail),
    );
  }
  if (failure.status === 403) {
    return h(
      "div",
      { class: "problem status-403", role: "alert", id: "sign-refused" },
      h("strong", {}, "Signature refused: password wrong"),
      h("span", {}, `Nothing was signed (${failure.detail}). Enter your own password again.`),
    );
  }
  if (failure.status === 409) {
    const [head, rest] = splitBlockers(failure.detail ?? "");
    return h(
      "div",
      { class: "problem status-409", role: "alert", id: "sign-blocked" },
      h("strong", {}, "Refused: nothing was signed"),
      h("span", {}, head),
      rest.length > 0
        ? h(
            "ul",
            { class: "blockers" },
            rest.map((item) => h("li", {}, item)),
          )
        : null,
    );
  }
  return problem(failure);
}

function splitBlockers(detail) {
  const marker = " refused: ";
  const at = detail.indexOf(marker);
  if (at === -1) return [detail, []];
  return [detail.slice(0, at + marker.length - 1), detail.slice(at + marker.length).split("; ")];
}
