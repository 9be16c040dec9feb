// Building the page from data: text always goes in as text, never as HTML.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

// A link handled by the page router (no reload).
export function link(path, ...children) {
  return h("a", { href: path, "data-link": true }, ...children);
}

export function unitPath(gtin, serial) {
  return `/ui/unit/${gtin}/${encodeURIComponent(serial)}`;
}

export function batchPath(gtin, lot) {
  return `/ui/batch/${gtin}/${encodeURIComponent(lot)}`;
}

export function containerPath(sscc) {
  return `/ui/container/${sscc}`;
}

// Status, disposition and verification outcomes share one colour scale.
const TONES = {
  active: "ok",
  released: "ok",
  in_progress: "info",
  in_transit: "info",
  open: "info",
  quarantine: "warn",
  pending: "warn",
  expired: "warn",
  suspect: "bad",
  sampled: "muted",
  decommissioned: "bad",
  inactive: "muted",
  destroyed: "bad",
  recalled: "bad",
  rejected: "bad",
  unknown: "bad",
  // QA: inspections and drills, complaint workflow.
  pass: "ok",
  fail: "bad",
  received: "warn",
  acknowledged: "info",
  investigating: "info",
  resolved: "ok",
  closed: "muted",
};

export function badge(value, label) {
  const text = value ?? "none";
  return h("span", { class: `badge tone-${TONES[text] ?? "neutral"}` }, label ?? text);
}

export function unitHri(gtin, serial) {
  return `(01)${gtin}(21)${serial}`;
}

export function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toISOString().replace("T", " ").slice(0, 19);
}

export function table(columns, rows, { empty = "Nothing to show.", caption } = {}) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    { class: "data" },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))),
    ),
  );
}

// A failed API call, said plainly: 403 names the role the action needs.
export function problem(error) {
  const status = error.status ?? 0;
  const title =
    status === 403
      ? "Not allowed for your role"
      : status === 401
        ? "Sign-in failed"
      : status === 404
        ? "Not found"
        : status === 422
          ? "Not understood"
          : status === 0
            ? "Server unreachable"
            : `Error ${status}`;
  return h(
    "div",
    { class: `problem status-${status}`, role: "alert" },
    h("strong", {}, title),
    h("span", {}, error.detail ?? error.message),
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

// A URN shown by its master-data name, the URN one click away (a disclosure); the URN
// alone when there is no name.
export function named(urn, names = {}) {
  if (!urn) return "";
  const name = names[urn];
  if (!name) return h("code", { class: "urn" }, urn);
  return h(
    "span",
    { class: "named", "data-urn": urn },
    h("span", { class: "name" }, name),
    h("details", { class: "urn" }, h("summary", {}, /^\d{14}$/.test(urn) ? "GTIN" : "URN"), h("code", {}, urn)),
  );
}

// A table over a paged, sortable, filterable JSON resource: ``fetchPage({limit, offset,
// sort, order, ...filters})`` returns {total, items}. ``columns``: [title, cell, sortKey?].
// Filters: [{name, label, options?}] (a select when options are given, else a text box).
export function pagedTable({ id, columns, fetchPage, filters = [], pageSize = 25, sort, order }) {
  const state = { offset: 0, sort, order, values: {} };
  const body = h("div", { class: "paged-body" });
  const status = h("span", { class: "pager-status", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "prev", onclick: () => move(-1) }, "← previous");
  const next = h("button", { type: "button", class: "next", onclick: () => move(1) }, "next →");
  const form = h(
    "form",
    {
      class: "filters no-print",
      onsubmit: (event) => {
        event.preventDefault();
        for (const filter of filters) {
          state.values[filter.name] = form.elements[filter.name].value.trim();
        }
        state.offset = 0;
        load();
      },
    },
    filters.map((filter) => [
      h("label", { for: `${id}-${filter.name}` }, filter.label),
      filter.options
        ? h(
            "select",
            { id: `${id}-${filter.name}`, name: filter.name },
            h("option", { value: "" }, "any"),
            filter.options.map((option) => h("option", { value: option }, option)),
          )
        : h("input", { id: `${id}-${filter.name}`, name: filter.name, maxlength: 200 }),
    ]),
    filters.length > 0 ? h("button", { type: "submit" }, "Filter") : null,
  );
  const root = h(
    "div",
    { class: "paged", id },
    filters.length > 0 ? form : null,
    body,
    h("p", { class: "pager no-print" }, previous, " ", status, " ", next),
  );
  let total = 0;

  function move(step) {
    state.offset = Math.max(0, state.offset + step * pageSize);
    load();
  }

  function header([title, , key]) {
    if (!key) return h("th", { scope: "col" }, title);
    const active = state.sort === key;
    const arrow = active ? (state.order === "asc" ? " ▲" : " ▼") : "";
    return h(
      "th",
      { scope: "col", "aria-sort": active ? (state.order === "asc" ? "ascending" : "descending") : null },
      h(
        "button",
        {
          type: "button",
          class: "sort link",
          "data-sort": key,
          onclick: () => {
            state.order = active && state.order === "asc" ? "desc" : "asc";
            state.sort = key;
            state.offset = 0;
            load();
          },
        },
        title,
        arrow,
      ),
    );
  }

  async function load() {
    root.setAttribute("aria-busy", "true");
    try {
      const params = { limit: pageSize, offset: state.offset, sort: state.sort, order: state.order };
      for (const [name, value] of Object.entries(state.values)) if (value) params[name] = value;
      const page = await fetchPage(params);
      total = page.total;
      body.replaceChildren(
        page.items.length === 0
          ? h("p", { class: "empty" }, "Nothing to show.")
          : h(
              "table",
              { class: "data" },
              h("thead", {}, h("tr", {}, columns.map(header))),
              h(
                "tbody",
                {},
                page.items.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))),
              ),
            ),
      );
      const last = Math.min(total, state.offset + page.items.length);
      status.textContent =
        total === 0 ? "none" : `${state.offset + 1}–${last} of ${total}`;
      previous.disabled = state.offset === 0;
      next.disabled = last >= total;
    } catch (error) {
      body.replaceChildren(problem(error));
    }
    root.removeAttribute("aria-busy");
    root.setAttribute("data-loaded", "true");
  }

  load();
  return root;
}

// The query string of a parameters object (undefined and empty values left out).
export function queryString(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  return query.toString();
}
