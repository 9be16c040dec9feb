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
