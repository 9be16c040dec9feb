// QA pages: routes and navigation of the QA modules this server has (recalls, drills,
// complaints, forward genealogy), and the audit trail.

import { api, can } from "../api.js";
import { h, link, problem, section, table, when } from "../dom.js";
import { complaintFormPage, complaintPage, complaintsPage, dashboardPage } from "./complaints.js";
import { drillsPage } from "./drills.js";
import { forwardPage } from "./genealogy.js";
import { newRecallPage, recallPage, recallsPage } from "./recalls.js";

export const qaRoutes = [
  [/^\/ui\/audit$/, auditPage, "audit"],
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

const PAGE = 100;

export async function auditPage(page, _params, query) {
  const offset = Math.max(0, Number.parseInt(query.get("offset") ?? "0", 10) || 0);
  page.append(h("h1", {}, "Audit trail"));
  let entries;
  let chain;
  try {
    [entries, chain] = await Promise.all([
      api(`/audit?limit=${PAGE}&offset=${offset}`),
      api("/audit/verify"),
    ]);
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
        : `Hash chain BROKEN at entry ${chain.first_broken_id}: report to QA management.`,
    ),
    section(
      "Entries",
      table(
        [
          ["#", (e) => String(e.id)],
          ["When (UTC)", (e) => when(e.at)],
          ["Who", (e) => e.actor],
          ["Action", (e) => e.action],
          ["What", (e) => [e.entity, " ", h("code", {}, e.entity_key)]],
          ["Old", (e) => h("code", {}, json(e.old_value))],
          ["New", (e) => h("code", {}, json(e.new_value))],
          ["Why", (e) => e.reason ?? ""],
        ],
        entries,
        { empty: "No entries." },
      ),
      h(
        "p",
        { class: "pager no-print" },
        offset > 0 ? link(`/ui/audit?offset=${Math.max(0, offset - PAGE)}`, "← previous") : null,
        " ",
        entries.length === PAGE ? link(`/ui/audit?offset=${offset + PAGE}`, "next →") : null,
      ),
    ),
  );
}

function json(value) {
  return value === null || value === undefined ? "" : JSON.stringify(value);
}
