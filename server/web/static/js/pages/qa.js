// QA pages: routes and navigation of the QA modules this server has (recalls, drills,
// complaints, forward genealogy), and the audit trail.

import { api, can } from "../api.js";
import { h, pagedTable, problem, queryString, section, when } from "../dom.js";
import { complaintFormPage, complaintPage, complaintsPage, dashboardPage } from "./complaints.js";
import { drillsPage } from "./drills.js";
import { forwardPage } from "./genealogy.js";
import { newRecallPage, recallPage, recallsPage } from "./recalls.js";

export const qaRoutes = [
  [/^\/ui\/audit$/, auditPage, "audit"],
  [/^\/ui\/master-data$/, masterDataPage, "master-data"],
  [/^\/ui\/recalls$/, recallsPage, "recalls"],
  [/^\/ui\/recalls\/new$/, newRecallPage, "recalls"],
  [/^\/ui\/recall\/(\d+)$/, recallPage, "recalls"],
  [/^\/ui\/drills$/, drillsPage, "drills"],
  [/^\/ui\/genealogy\/forward$/, forwardPage, "forward"],
  [/^\/ui\/complaints$/, complaintsPage, "complaints"],
  [/^\/ui\/complaints\/new$/, complaintFormPage, "complaints"],
  [/^\/ui\/complaints\/dashboard$/, dashboardPage, "complaints"],
  [/^\/ui\/complaint\/(\d+)$/, complaintPage, "complaints"],
];

// Navigation entries: [API path that must exist, permission, UI path, nav key, label].
const ENTRIES = [
  ["/qa/genealogy/forward", "genealogy", "/ui/genealogy/forward", "forward", "Raw materials"],
  ["/qa/recalls", "recall", "/ui/recalls", "recalls", "Recalls"],
  ["/qa/drills", "drills", "/ui/drills", "drills", "Drills"],
  ["/complaints", "complaints", "/ui/complaints", "complaints", "Complaints"],
  ["/audit", "audit", "/ui/audit", "audit", "Audit trail"],
  ["/master-data", "recallSet", "/ui/master-data", "master-data", "Names"],
];

export function qaLinks(paths) {
  const links = ENTRIES.filter(([api, permission]) => paths.includes(api) && can(permission)).map(
    ([, , path, nav, label]) => h("a", { href: path, "data-link": true, "data-nav": nav }, label),
  );
  // Staff without the QA role may still record a complaint.
  if (paths.includes("/complaints") && !can("complaints") && can("complain")) {
    links.push(
      h(
        "a",
        { href: "/ui/complaints/new", "data-link": true, "data-nav": "complaints" },
        "Complaint",
      ),
    );
  }
  return links;
}

export async function auditPage(page) {
  page.append(h("h1", {}, "Audit trail"));
  let chain;
  let first;
  try {
    [chain, first] = await Promise.all([api("/audit/verify"), api("/qa/audit?limit=1")]);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  page.append(
    h(
      "p",
      { class: chain.intact ? "chain ok" : "chain bad", id: "chain" },
      chain.intact
        ? "Hash chain intact: no entry was changed or removed."
        : `Hash chain BROKEN at entry ${chain.first_bad_row ?? chain.first_broken_id}: report to QA management.`,
    ),
    section(
      "Entries",
      pagedTable({
        id: "audit-table",
        sort: "at",
        order: "desc",
        filters: [
          { name: "actor", label: "Who" },
          { name: "action", label: "Action", options: first.actions },
          { name: "entity", label: "What", options: first.entities },
          { name: "q", label: "Key or reason contains" },
        ],
        columns: [
          ["When (UTC)", (e) => when(e.entry.at), "at"],
          ["Who", (e) => e.entry.actor, "actor"],
          ["Did", (e) => e.entry.action.replaceAll("_", " "), "action"],
          ["To what", (e) => [e.entry.entity, " ", h("code", { class: "key" }, e.entry.entity_key)], "entity"],
          ["Change", changeCell],
          ["Why", (e) => h("span", { class: "why" }, e.entry.reason ?? "")],
        ],
        fetchPage: (params) => api(`/qa/audit?${queryString(params)}`),
      }),
    ),
  );
}

function changeCell(item) {
  return h(
    "div",
    { class: "change" },
    item.changes.length === 0
      ? h("span", { class: "muted" }, "no field changed")
      : h(
          "ul",
          { class: "changes" },
          item.changes.map((c) =>
            h(
              "li",
              {},
              h("b", {}, c.field),
              ": ",
              c.old === null ? h("i", {}, "unset") : h("span", { class: "old" }, c.old),
              " → ",
              c.new === null ? h("i", {}, "removed") : h("span", { class: "new" }, c.new),
            ),
          ),
        ),
    h(
      "details",
      { class: "raw" },
      h("summary", {}, "JSON"),
      h(
        "pre",
        {},
        JSON.stringify({ old: item.entry.old_value, new: item.entry.new_value, hash: item.entry.hash }, null, 2),
      ),
    ),
  );
}

export async function masterDataPage(page) {
  page.append(
    h("h1", {}, "Names (master data)"),
    h(
      "p",
      { class: "help" },
      "Names shown for locations, parties and products instead of their URNs. They arrive ",
      "with EPCIS master data; QA can correct them (recorded in the audit trail).",
    ),
  );
  const editor = can("masterData") ? nameEditor(() => reload()) : null;
  if (editor) page.append(section("Set a name", editor));
  let table = listing();
  page.append(table);

  function listing() {
    return section(
      "Master data",
      pagedTable({
        id: "master-data-table",
        filters: [{ name: "q", label: "URN or name contains" }],
        columns: [
          ["Name", (m) => m.name ?? h("i", { class: "muted" }, "none")],
          ["URN", (m) => h("code", {}, m.urn)],
          ["Kind", (m) => m.vocabulary.split(":").pop()],
          ["From", (m) => (m.source === "qa" ? `QA (${m.updated_by})` : "EPCIS")],
          ["Updated (UTC)", (m) => when(m.updated_at)],
        ],
        fetchPage: (params) => {
          delete params.sort;
          delete params.order;
          return api(`/master-data?${queryString(params)}`);
        },
      }),
    );
  }

  function reload() {
    const fresh = listing();
    table.replaceWith(fresh);
    table = fresh;
  }
}

function nameEditor(done) {
  const notice = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "name-form",
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        const urn = form.elements.urn.value.trim();
        try {
          const item = await api(`/master-data/item?urn=${encodeURIComponent(urn)}`, {
            method: "PUT",
            json: { name: form.elements.name.value.trim(), reason: form.elements.reason.value.trim() },
          });
          notice.replaceChildren(h("p", { class: "ok", id: "name-saved" }, `Saved: ${item.name}`));
          form.reset();
          done();
        } catch (error) {
          notice.replaceChildren(problem(error));
        }
      },
    },
    h("label", { for: "md-urn" }, "URN"),
    h("input", { id: "md-urn", name: "urn", required: true, maxlength: 512 }),
    h("label", { for: "md-name" }, "Name"),
    h("input", { id: "md-name", name: "name", required: true, maxlength: 256 }),
    h("label", { for: "md-reason" }, "Reason for the change (audit trail)"),
    h("input", { id: "md-reason", name: "reason", required: true, minlength: 3, maxlength: 2000 }),
    h("button", { type: "submit", class: "primary" }, "Save name"),
    notice,
  );
  return form;
}
