// Production data: product master data (QA edits, audited) and batch orders (created,
// released to a line, confirmed there, closed with the reconciliation beside the plan).

import { api, can } from "../api.js";
import { badge, batchPath, h, link, problem, section, table, when } from "../dom.js";

export const productionRoutes = [
  [/^\/ui\/products$/, productsPage, "products"],
  [/^\/ui\/products\/new$/, productFormPage, "products"],
  [/^\/ui\/products\/(\d{14})$/, productFormPage, "products"],
  [/^\/ui\/orders$/, ordersPage, "orders"],
  [/^\/ui\/orders\/(\d+)$/, orderPage, "orders"],
];

const FIELDS = [
  // [name, label, input type, default, help]
  ["gtin", "GTIN", "text", "", "14 digits with the check digit"],
  ["company_prefix_length", "Company prefix length", "number", 7, "6 to 12"],
  ["name", "Name", "text", "", "as registered"],
  ["strength", "Strength", "text", "", "e.g. 500 mg"],
  ["markets", "Markets", "text", "", "ISO country codes separated by commas, e.g. DE, AT"],
  ["shelf_life_months", "Shelf life (months)", "number", 24, ""],
  ["shelf_life_days", "Shelf life (days, added)", "number", 0, ""],
  ["expiry_rule", "Expiry rule", "select", "end_of_month", ""],
  ["units_per_case", "Units per case", "number", 10, ""],
  ["cases_per_pallet", "Cases per pallet", "number", 20, ""],
  ["unit_template", "Unit label template", "text", "unit-50x30-203", ""],
  ["case_template", "Case label template", "text", "sscc-100x150-203", ""],
  ["pallet_template", "Pallet label template", "text", "sscc-100x150-203", ""],
  ["serial_alphabet", "Serial alphabet", "select", "numeric", ""],
  ["serial_length", "Serial length", "number", 12, ""],
];
const CHOICES = {
  expiry_rule: [
    ["end_of_month", "End of month (day 00), rounded down"],
    ["exact", "Exact day"],
  ],
  serial_alphabet: [
    ["numeric", "numeric"],
    ["safe", "safe (no I, O)"],
    ["cset82", "cset82"],
  ],
};

export async function productsPage(page) {
  page.append(h("h1", {}, "Products"));
  let products;
  try {
    products = await api("/production/products");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  if (can("masterData")) {
    page.append(h("p", { class: "no-print" }, link("/ui/products/new", "New product")));
  }
  page.append(
    section(
      "Master data",
      table(
        [
          ["GTIN", (p) => link(`/ui/products/${p.gtin}`, h("code", {}, p.gtin))],
          ["Name", (p) => `${p.name} ${p.strength}`.trim()],
          ["Markets", (p) => p.markets.join(", ")],
          ["Shelf life", (p) => shelfLife(p)],
          ["Pack", (p) => `${p.units_per_case} / case, ${p.cases_per_pallet} cases / pallet`],
          ["Serials", (p) => `${p.serial_alphabet}/${p.serial_length}`],
          ["", (p) => (p.active ? badge("active", "active") : badge("inactive", "inactive"))],
        ],
        products,
        { empty: "No products yet." },
      ),
    ),
  );
}

function shelfLife(p) {
  const parts = [];
  if (p.shelf_life_months) parts.push(`${p.shelf_life_months} months`);
  if (p.shelf_life_days) parts.push(`${p.shelf_life_days} days`);
  return `${parts.join(" ")} (${p.expiry_rule === "exact" ? "exact day" : "end of month"})`;
}

export async function productFormPage(page, params, query, { go }) {
  const gtin = params[0] ?? null;
  page.append(h("h1", {}, gtin ? `Product ${gtin}` : "New product"));
  let product = null;
  if (gtin) {
    try {
      product = await api(`/production/products/${gtin}`);
    } catch (error) {
      page.append(problem(error));
      return;
    }
  }
  const inputs = {};
  const rows = FIELDS.map(([name, label, type, fallback, help]) => {
    const value = product ? product[name] : fallback;
    let input;
    if (type === "select") {
      input = h(
        "select",
        { id: `product-${name}`, name },
        CHOICES[name].map(([v, text]) => h("option", { value: v }, text)),
      );
      input.value = value;
    } else {
      input = h("input", {
        id: `product-${name}`,
        name,
        type,
        value: Array.isArray(value) ? value.join(", ") : String(value ?? ""),
      });
    }
    if (name === "gtin" && gtin) input.readOnly = true;
    inputs[name] = input;
    return h(
      "div",
      { class: "field" },
      h("label", { for: `product-${name}` }, label),
      input,
      help ? h("small", { class: "help" }, help) : null,
    );
  });
  const active = h("input", { id: "product-active", type: "checkbox" });
  active.checked = product ? product.active : true;
  const reason = h("input", { id: "product-reason", required: true, minlength: 3 });
  const notice = h("div", { "aria-live": "polite" });
  if (query.get("saved")) notice.append(h("p", { class: "ok", id: "product-saved" }, "Saved."));
  const save = h("button", { type: "submit", class: "primary", id: "product-save" }, "Save");
  if (!can("masterData")) save.disabled = true;
  page.append(
    h(
      "form",
      { class: "card", id: "product-form", onsubmit: onSave },
      rows,
      h("div", { class: "field" }, h("label", { for: "product-active" }, "Active"), active),
      h(
        "div",
        { class: "field" },
        h("label", { for: "product-reason" }, "Reason for the change (audit trail)"),
        reason,
      ),
      save,
      notice,
    ),
  );

  async function onSave(event) {
    event.preventDefault();
    const body = { reason: reason.value.trim(), active: active.checked };
    for (const [name, , type] of FIELDS) {
      if (name === "gtin") continue;
      const raw = inputs[name].value.trim();
      if (name === "markets") body.markets = raw ? raw.split(",").map((m) => m.trim()) : [];
      else if (type === "number") body[name] = Number.parseInt(raw || "0", 10);
      else body[name] = raw;
    }
    notice.replaceChildren();
    try {
      const saved = await api(`/production/products/${inputs.gtin.value.trim()}`, {
        method: "PUT",
        json: body,
      });
      if (!gtin) {
        go(`/ui/products/${saved.gtin}?saved=1`, { replace: true });
        return;
      }
      notice.append(
        h("p", { class: "ok", id: "product-saved" }, saved.changed ? "Saved." : "No change."),
      );
    } catch (error) {
      notice.append(problem(error));
    }
  }
}

export async function ordersPage(page, _params, _query, { go }) {
  page.append(h("h1", {}, "Batch orders"));
  let orders;
  let products;
  try {
    [orders, products] = await Promise.all([
      api("/production/orders"),
      api("/production/products?active=true"),
    ]);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  if (can("orders")) page.append(orderForm(products, go));
  page.append(
    section(
      "Orders",
      table(
        [
          ["Order", (o) => link(`/ui/orders/${o.id}`, h("code", {}, o.number))],
          ["GTIN", (o) => h("code", {}, o.gtin)],
          ["Lot", (o) => (o.lot ? h("code", {}, o.lot) : o.lot_source === "rule" ? "by rule" : "")],
          ["Made", (o) => o.manufacturing_date],
          ["Expiry", (o) => o.expiry],
          ["Planned", (o) => o.planned.toLocaleString("en")],
          ["Line", (o) => `${o.site}/${o.line}`],
          ["State", (o) => badge(o.state, o.state)],
        ],
        orders,
        { empty: "No orders yet." },
      ),
    ),
  );
}

function orderForm(products, go) {
  const product = h(
    "select",
    { id: "order-gtin" },
    products.map((p) => h("option", { value: p.gtin }, `${p.name} ${p.strength} (${p.gtin})`)),
  );
  const planned = h("input", { id: "order-planned", type: "number", min: 1, required: true });
  const lot = h("input", { id: "order-lot", maxlength: 20, placeholder: "empty: by rule" });
  const made = h("input", { id: "order-made", type: "date" });
  const expiry = h("input", { id: "order-expiry", pattern: "[0-9]{6}", placeholder: "computed" });
  const reason = h("input", { id: "order-expiry-reason", placeholder: "needed for another expiry" });
  const site = h("input", { id: "order-site", required: true, value: "plant1" });
  const line = h("input", { id: "order-line", required: true });
  const release = h("input", { id: "order-release", type: "checkbox" });
  const notice = h("div", { "aria-live": "polite" });
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  return h(
    "form",
    { class: "card no-print", id: "order-form", onsubmit: onCreate },
    h("h2", {}, "New order"),
    field("order-gtin", "Product", product),
    field("order-planned", "Quantity planned", planned),
    field("order-lot", "Lot", lot),
    field("order-made", "Manufacturing date", made),
    field("order-expiry", "Expiry (YYMMDD)", expiry),
    field("order-expiry-reason", "Why another expiry", reason),
    field("order-site", "Site", site),
    field("order-line", "Line", line),
    field("order-release", "Release to the line now", release),
    h("button", { type: "submit", class: "primary", id: "order-create" }, "Create order"),
    notice,
  );

  async function onCreate(event) {
    event.preventDefault();
    const body = {
      gtin: product.value,
      planned: Number.parseInt(planned.value, 10),
      site: site.value.trim(),
      line: line.value.trim(),
      release: release.checked,
    };
    if (lot.value.trim()) body.lot = lot.value.trim();
    if (made.value) body.manufacturing_date = made.value;
    if (expiry.value.trim()) body.expiry = expiry.value.trim();
    if (reason.value.trim()) body.expiry_reason = reason.value.trim();
    notice.replaceChildren();
    try {
      const order = await api("/production/orders", { method: "POST", json: body });
      go(`/ui/orders/${order.id}`);
    } catch (error) {
      notice.append(problem(error));
    }
  }
}

export async function orderPage(page, params, _query, { go }) {
  let order;
  try {
    order = await api(`/production/orders/${params[0]}`);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  page.append(h("h1", {}, `Order ${order.number}`), h("p", {}, badge(order.state, order.state)));
  const rec = order.reconciliation ?? {};
  const counts = order.server_units ?? {};
  const row = (label, plan, actual) => h("tr", {}, h("th", {}, label), h("td", {}, plan), h("td", {}, actual));
  page.append(
    section(
      "Plan and reconciliation",
      h(
        "table",
        { class: "data", id: "plan-vs-actual" },
        h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Plan"), h("th", {}, "Actual"))),
        h(
          "tbody",
          {},
          row("Product", order.gtin, order.gtin),
          row(
            "Lot",
            order.lot ?? "by rule (at release)",
            order.lot ? link(batchPath(order.gtin, order.lot), "batch record") : "",
          ),
          row("Manufacturing date", order.manufacturing_date, order.started_at ? when(order.started_at) : ""),
          row("Expiry", order.expiry_reason ? `${order.expiry} (computed ${order.expiry_computed}: ${order.expiry_reason})` : order.expiry, ""),
          row("Quantity", order.planned.toLocaleString("en"), rec.printed === undefined ? "" : `printed ${rec.printed}`),
          row("Commissioned", "", rec.commissioned === undefined ? "" : String(rec.commissioned)),
          row("Rejected / sampled / scrapped", "", rec.printed === undefined ? "" : `${rec.rejected} / ${rec.sampled} / ${rec.scrapped}`),
          row("Units at the trace server", "", Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")),
          row("Line", `${order.site}/${order.line}`, order.confirmed_by ? `confirmed by ${order.confirmed_by}` : ""),
        ),
      ),
    ),
  );
  const notice = h("div", { "aria-live": "polite" });
  if (can("orders") && order.state === "created") {
    page.append(
      h(
        "p",
        { class: "no-print" },
        h("button", { class: "primary", id: "order-release-button", onclick: onRelease }, "Release to the line"),
        notice,
      ),
    );
  }

  async function onRelease() {
    notice.replaceChildren();
    try {
      await api(`/production/orders/${order.id}/release`, { method: "POST" });
      go(`/ui/orders/${order.id}`, { replace: true });
    } catch (error) {
      notice.append(problem(error));
    }
  }
}
