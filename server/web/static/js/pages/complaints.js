// Complaints: the intake form (staff entering a complaint received online or by phone),
// the list with SLA badges, one complaint with its workflow, owner and notes, and the
// dashboard (SLA attainment, age, satisfaction, per-batch rates with outlier flags).

import { api, can } from "../api.js";
import {
  badge,
  batchPath,
  facts,
  h,
  link,
  problem,
  section,
  table,
  unitPath,
  when,
} from "../dom.js";
import { barChart, lineChart } from "../charts.js";

export function complaintPath(id) {
  return `/ui/complaint/${id}`;
}

const SLA_LABELS = { on_track: "on time", at_risk: "at risk", breached: "breached", met: "met" };
const STATUSES = ["received", "acknowledged", "investigating", "resolved", "closed"];
// Workflow steps offered from each status (the server enforces the same moves).
const STEPS = {
  received: [["acknowledged", "Acknowledge"]],
  acknowledged: [
    ["investigating", "Investigate"],
    ["resolved", "Resolve"],
  ],
  investigating: [["resolved", "Resolve"]],
  resolved: [
    ["closed", "Close"],
    ["investigating", "Reopen investigation"],
  ],
  closed: [],
};

function sla(clock, what) {
  return h(
    "span",
    {
      class: `badge sla sla-${clock.state}`,
      "data-sla": clock.state,
      title: `${what} due ${when(clock.due_at)} UTC`,
    },
    `${what}: ${SLA_LABELS[clock.state] ?? clock.state}`,
  );
}

function share(value) {
  return value === null || value === undefined ? "n/a" : `${Math.round(value * 1000) / 10} %`;
}

function remaining(clock) {
  if (clock.state === "met") return "met";
  const hours = Math.abs(clock.remaining_seconds) / 3600;
  const text = hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(hours * 60)} min`;
  return clock.remaining_seconds >= 0 ? `${text} left` : `${text} overdue`;
}

// -- intake -----------------------------------------------------------------------------

export async function complaintFormPage(page, _params, _query, { go }) {
  page.append(
    h("h1", {}, "Record a complaint"),
    h(
      "p",
      { class: "lede" },
      "For staff entering a complaint received through the web form, by phone or from a ",
      "distributor. The clocks start now: first response within 24 h, resolution within 48 h.",
    ),
  );
  const field = (id, label, element, help) => [
    h("label", { for: id }, label),
    element,
    help ? h("p", { class: "help" }, help) : null,
  ];
  const channel = h(
    "select",
    { id: "c-channel" },
    h("option", { value: "online", selected: true }, "online (web form)"),
    h("option", { value: "hotline" }, "hotline (phone)"),
    h("option", { value: "distributor" }, "distributor"),
    h("option", { value: "social" }, "social media"),
  );
  const reporter = h("input", { id: "c-reporter", maxlength: 256, autocomplete: "off" });
  const contact = h("input", { id: "c-contact", maxlength: 256, autocomplete: "off" });
  const code = h("input", {
    id: "c-code",
    class: "scan",
    maxlength: 512,
    autocomplete: "off",
    spellcheck: "false",
  });
  const category = h("input", { id: "c-category", maxlength: 64, list: "c-categories" });
  const description = h("textarea", { id: "c-description", rows: 5, maxlength: 10000 });
  const error = h("div", { "aria-live": "polite" });
  const submit = h(
    "button",
    { type: "submit", class: "primary", id: "c-submit" },
    "Record complaint",
  );
  const form = h(
    "form",
    { class: "card complaint-form", id: "complaint-form", novalidate: true, onsubmit: onSubmit },
    field("c-channel", "Channel", channel),
    field("c-reporter", "Reporter (name)", reporter),
    field("c-contact", "Contact (e-mail or phone, optional)", contact),
    field(
      "c-code",
      "Code on the pack (optional)",
      code,
      "Any form: scanned DataMatrix, the printed (01)…(21)… text, a Digital Link URL, or GTIN and lot.",
    ),
    field("c-category", "Category (optional)", category),
    h(
      "datalist",
      { id: "c-categories" },
      [
        "packaging",
        "label",
        "efficacy",
        "adverse event",
        "foreign matter",
        "counterfeit suspicion",
      ].map((value) => h("option", { value })),
    ),
    field("c-description", "What happened", description),
    error,
    h("div", { class: "row end" }, submit),
  );
  page.append(form);
  reporter.focus();

  async function onSubmit(event) {
    event.preventDefault();
    error.replaceChildren();
    const missing = [
      [reporter, "reporter"],
      [description, "description"],
    ].find(([input]) => input.value.trim() === "");
    if (missing !== undefined) {
      error.append(problem({ status: 422, detail: `${missing[1]}: required.` }));
      missing[0].focus();
      return;
    }
    const optional = (input) => (input.value.trim() === "" ? null : input.value.trim());
    submit.disabled = true;
    try {
      const created = await api("/complaints", {
        method: "POST",
        json: {
          channel: channel.value,
          reporter: reporter.value.trim(),
          description: description.value.trim(),
          contact: optional(contact),
          code: optional(code),
          category: optional(category),
        },
      });
      if (can("complaints")) {
        go(complaintPath(created.id));
        return;
      }
      form.reset();
      error.append(
        h(
          "p",
          { class: "notice ok", id: "c-recorded" },
          `Complaint ${created.id} recorded; QA has been given it.`,
        ),
      );
    } catch (failure) {
      error.append(problem(failure));
    } finally {
      submit.disabled = false;
    }
  }
}

// -- list -------------------------------------------------------------------------------

export async function complaintsPage(page, _params, query) {
  const status = query.get("status") ?? "";
  page.append(
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, "Complaints"),
      h(
        "div",
        { class: "actions" },
        link("/ui/complaints/new", "Record a complaint"),
        link("/ui/complaints/dashboard", "Dashboard"),
      ),
    ),
    h(
      "p",
      { class: "filters no-print" },
      "Show: ",
      [["", "all"], ...STATUSES.map((s) => [s, s])].map(([value, label]) => [
        value === status
          ? h("strong", {}, label)
          : link(value === "" ? "/ui/complaints" : `/ui/complaints?status=${value}`, label),
        " ",
      ]),
    ),
  );
  let list;
  try {
    list = await api(`/complaints?limit=500${status ? `&status=${status}` : ""}`);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  page.append(
    h(
      "section",
      { class: "card", id: "complaints" },
      table(
        [
          ["#", (c) => link(complaintPath(c.id), `#${c.id}`)],
          ["Received (UTC)", (c) => when(c.received_at)],
          ["Channel", (c) => c.channel],
          ["Reporter", (c) => c.reporter],
          ["Product / batch", (c) => productOf(c)],
          ["Status", (c) => badge(c.status)],
          ["Owner", (c) => c.owner ?? h("span", { class: "muted" }, "unassigned")],
          [
            "SLA",
            (c) =>
              h(
                "span",
                { class: "badges" },
                sla(c.response_sla, "response"),
                sla(c.resolution_sla, "resolution"),
              ),
          ],
        ],
        list,
        { empty: "No complaints." },
      ),
    ),
  );
}

function productOf(complaint) {
  if (complaint.gtin && complaint.lot) {
    return link(
      batchPath(complaint.gtin, complaint.lot),
      `(01)${complaint.gtin}(10)${complaint.lot}`,
    );
  }
  return complaint.gtin ? `(01)${complaint.gtin}` : h("span", { class: "muted" }, "not identified");
}

// -- one complaint ----------------------------------------------------------------------

export async function complaintPage(page, [id], _query, { go }) {
  page.append(h("p", { class: "crumbs" }, link("/ui/complaints", "Complaints"), " / complaint"));
  let complaint;
  try {
    complaint = await api(`/complaints/${id}`);
  } catch (error) {
    page.append(h("h1", {}, `Complaint ${id}`), problem(error));
    return;
  }
  const reload = () => go(complaintPath(id), { replace: true });
  page.append(
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, h("span", { class: "kind" }, "Complaint"), `#${complaint.id}`),
      h(
        "div",
        { class: "badges" },
        h("span", { id: "complaint-status" }, badge(complaint.status)),
        sla(complaint.response_sla, "response"),
        sla(complaint.resolution_sla, "resolution"),
      ),
    ),
    workflow(complaint, reload),
    section(
      "Complaint",
      facts([
        ["Received (UTC)", `${when(complaint.received_at)} via ${complaint.channel}`],
        ["Reporter", complaint.reporter],
        ["Contact", complaint.contact],
        ["Category", complaint.category],
        ["Code given", complaint.code ? h("code", {}, complaint.code) : null],
        [
          "Unit",
          complaint.gtin && complaint.serial
            ? link(
                unitPath(complaint.gtin, complaint.serial),
                `(01)${complaint.gtin}(21)${complaint.serial}`,
              )
            : null,
        ],
        ["Batch", complaint.gtin && complaint.lot ? productOf(complaint) : null],
        ["Shipment", complaint.shipment_id === null ? null : `#${complaint.shipment_id}`],
        ["External reference", complaint.external_ref],
        ["Description", h("span", { class: "prose" }, complaint.description)],
      ]),
    ),
    section(
      "Service levels",
      facts([
        [
          "First response",
          [
            sla(complaint.response_sla, "response"),
            ` due ${when(complaint.response_sla.due_at)} · ${remaining(complaint.response_sla)}`,
          ],
        ],
        [
          "Resolution",
          [
            sla(complaint.resolution_sla, "resolution"),
            ` due ${when(complaint.resolution_sla.due_at)} · ${remaining(complaint.resolution_sla)}`,
          ],
        ],
        ["Acknowledged (UTC)", complaint.acknowledged_at ? when(complaint.acknowledged_at) : null],
        ["Resolved (UTC)", complaint.resolved_at ? when(complaint.resolved_at) : null],
        ["Closed (UTC)", complaint.closed_at ? when(complaint.closed_at) : null],
        [
          "Satisfaction",
          complaint.satisfaction === null
            ? null
            : h("span", { id: "satisfaction" }, `${complaint.satisfaction} / 5`),
        ],
      ]),
    ),
    ownerBox(complaint, reload),
    notesBox(complaint, reload),
  );
}

function workflow(complaint, reload) {
  const steps = STEPS[complaint.status] ?? [];
  if (steps.length === 0) return h("p", { class: "muted" }, "Closed: no further step.");
  const note = h("textarea", {
    id: "step-note",
    rows: 2,
    maxlength: 4000,
    placeholder: "What was done or decided",
  });
  const rating = h(
    "select",
    { id: "step-rating" },
    h("option", { value: "" }, "no rating"),
    [5, 4, 3, 2, 1].map((value) => h("option", { value: String(value) }, `${value} / 5`)),
  );
  const error = h("div", { "aria-live": "polite" });
  const closing = steps.some(([target]) => target === "closed");
  return h(
    "section",
    { class: "card no-print", id: "workflow" },
    h("h2", {}, "Next step"),
    h("label", { for: "step-note" }, "Note (required)"),
    note,
    closing
      ? [
          h(
            "label",
            { for: "step-rating" },
            "Customer satisfaction (when closing; 4 or 5 counts as satisfied)",
          ),
          rating,
        ]
      : null,
    error,
    h(
      "div",
      { class: "row end" },
      steps.map(([target, label]) =>
        h(
          "button",
          {
            type: "button",
            class: target === "closed" || target === "acknowledged" ? "primary" : "",
            "data-step": target,
            onclick: () => step(target),
          },
          label,
        ),
      ),
    ),
  );

  async function step(target) {
    error.replaceChildren();
    if (note.value.trim() === "") {
      error.append(problem({ status: 422, detail: "note: say what was done or decided." }));
      note.focus();
      return;
    }
    const body = { status: target, note: note.value.trim() };
    if (target === "closed" && rating.value !== "") body.satisfaction = Number(rating.value);
    try {
      await api(`/complaints/${complaint.id}/status`, { method: "POST", json: body });
      reload();
    } catch (failure) {
      error.append(problem(failure));
    }
  }
}

function ownerBox(complaint, reload) {
  const owner = h("input", {
    id: "owner",
    maxlength: 64,
    value: complaint.owner ?? "",
    autocomplete: "off",
  });
  const error = h("div", { "aria-live": "polite" });
  return section(
    "Owner",
    h(
      "form",
      {
        class: "row",
        onsubmit: async (event) => {
          event.preventDefault();
          error.replaceChildren();
          if (owner.value.trim() === "") return;
          try {
            await api(`/complaints/${complaint.id}/owner`, {
              method: "POST",
              json: { owner: owner.value.trim() },
            });
            reload();
          } catch (failure) {
            error.append(problem(failure));
          }
        },
      },
      owner,
      h("button", { type: "submit", id: "assign" }, "Assign"),
    ),
    error,
  );
}

function notesBox(complaint, reload) {
  const text = h("textarea", { id: "note-text", rows: 2, maxlength: 4000 });
  const error = h("div", { "aria-live": "polite" });
  return h(
    "section",
    { class: "card", id: "notes" },
    h("h2", {}, "Notes"),
    table(
      [
        ["When (UTC)", (n) => when(n.at)],
        ["Who", (n) => n.author],
        ["Note", (n) => h("span", { class: "prose" }, n.text)],
        ["File", (n) => (n.filename ? `${n.filename} (${n.size} bytes)` : "")],
      ],
      complaint.notes,
      { empty: "No notes yet." },
    ),
    h(
      "form",
      {
        class: "no-print",
        onsubmit: async (event) => {
          event.preventDefault();
          error.replaceChildren();
          if (text.value.trim() === "") return;
          try {
            await api(`/complaints/${complaint.id}/notes`, {
              method: "POST",
              json: { text: text.value.trim() },
            });
            reload();
          } catch (failure) {
            error.append(problem(failure));
          }
        },
      },
      h("label", { for: "note-text" }, "Add a note"),
      text,
      error,
      h("div", { class: "row end" }, h("button", { type: "submit" }, "Add note")),
    ),
  );
}

// -- dashboard --------------------------------------------------------------------------

export async function dashboardPage(page) {
  page.append(
    h("p", { class: "crumbs" }, link("/ui/complaints", "Complaints"), " / dashboard"),
    h("h1", {}, "Complaints dashboard"),
  );
  let board;
  try {
    board = await api("/complaints/dashboard");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  const target = board.satisfaction_target;
  page.append(
    h(
      "div",
      { class: "counts", id: "dashboard" },
      tile("total", board.total, "complaints"),
      tile("open", board.open, "open"),
      tile("response", share(board.response_attainment), "first response within SLA"),
      tile("resolution", share(board.resolution_attainment), "resolved within SLA"),
      tile(
        "satisfaction",
        share(board.satisfaction),
        `satisfied (target ${share(target)})`,
        board.satisfaction_met === null ? "" : board.satisfaction_met ? "met" : "missed",
      ),
    ),
    trendSection(board.over_time ?? []),
    section(
      "Open complaints",
      facts([
        ...Object.entries(board.open_by_age).map(([age, count]) => [age, String(count)]),
        [
          "At risk",
          board.at_risk.length === 0
            ? "none"
            : board.at_risk.map((id) => [link(complaintPath(id), `#${id}`), " "]),
        ],
        [
          "Breached",
          board.breached.length === 0
            ? "none"
            : board.breached.map((id) => [link(complaintPath(id), `#${id}`), " "]),
        ],
      ]),
    ),
    section(
      "Per batch",
      table(
        [
          ["Batch", (b) => link(batchPath(b.gtin, b.lot), `(01)${b.gtin}(10)${b.lot}`)],
          ["Complaints", (b) => h("span", { class: "num" }, String(b.complaints))],
          ["Units", (b) => h("span", { class: "num" }, String(b.units))],
          ["Per 10,000 units", (b) => h("span", { class: "num" }, b.per_10k_units.toFixed(1))],
          ["Flag", (b) => (b.flagged ? badge("suspect", "outlier") : "")],
          [
            "",
            (b) =>
              b.flagged && can("recall")
                ? link(
                    `/ui/recalls/new?gtin=${b.gtin}&lot=${encodeURIComponent(b.lot)}`,
                    "Open recall…",
                  )
                : "",
          ],
        ],
        board.by_batch,
        { empty: "No complaint names a batch yet." },
      ),
      h(
        "p",
        { class: "help" },
        "A batch is flagged as an outlier when it has several complaints and a rate well above ",
        "the median of its product's batches (thresholds in docs/qa.md).",
      ),
    ),
    section(
      "Per product and category",
      h(
        "div",
        { class: "grid" },
        tally("Product (GTIN)", board.by_product),
        tally("Category", board.by_category),
      ),
    ),
  );
}

function tile(kind, value, label, verdict = "") {
  return h(
    "div",
    { class: `count${verdict ? ` verdict-${verdict}` : ""}`, "data-tile": kind },
    h("b", {}, String(value)),
    label,
    verdict ? h("span", { class: "aside" }, ` · ${verdict}`) : null,
  );
}

function tally(title, counts) {
  return table(
    [
      [title, ([key]) => h("code", {}, key)],
      ["Complaints", ([, count]) => h("span", { class: "num" }, String(count))],
    ],
    Object.entries(counts),
    { empty: "None." },
  );
}

function trendSection(periods) {
  const labels = periods.map((p) => p.start.slice(5));
  const percent = (value) => (value === null ? null : Math.round(value * 1000) / 10);
  return h(
    "section",
    { class: "card", id: "trends" },
    h("h2", {}, "Over the last weeks"),
    h("h3", {}, "SLA attainment (%)"),
    lineChart(
      "sla-chart",
      "Share of first-response and resolution clocks met, week by week",
      [
        {
          name: "first response",
          points: periods.map((p, i) => ({ label: labels[i], value: percent(p.response_attainment) })),
        },
        {
          name: "resolution",
          points: periods.map((p, i) => ({ label: labels[i], value: percent(p.resolution_attainment) })),
        },
      ],
      { max: 100, format: (v) => `${v}%` },
    ),
    h("h3", {}, "Complaint rate"),
    barChart(
      "rate-chart",
      "Complaints received per week",
      periods.map((p, i) => ({ label: labels[i], value: p.received })),
    ),
    h(
      "p",
      { class: "muted" },
      "Per 10,000 units commissioned to date: ",
      periods
        .filter((p) => p.per_10k_units !== null && p.received > 0)
        .map((p) => `${p.start}: ${p.per_10k_units}`)
        .join(", ") || "no complaints in these weeks",
      ".",
    ),
  );
}
