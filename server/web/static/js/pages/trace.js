// Trace: the search box (paste or scan any code form), a unit with its genealogy and event
// history, and a case or pallet with everything inside it.

import { api, apiPaths, can } from "../api.js";
import {
  badge,
  batchPath,
  containerPath,
  facts,
  h,
  link,
  named,
  problem,
  section,
  table,
  unitHri,
  unitPath,
  when,
} from "../dom.js";
import { backwardSection } from "./genealogy.js";
import { unitGradeSection } from "./grades.js";

export async function searchPage(page, _params, query, { go }) {
  const input = h("input", {
    id: "code",
    name: "code",
    class: "scan",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Scan or paste a code, then Enter",
    maxlength: 512,
    "aria-describedby": "code-help",
  });
  const answer = h("div", { class: "answer", "aria-live": "polite" });
  page.append(
    h("h1", {}, "Trace a unit, case, pallet or batch"),
    h(
      "form",
      { class: "search card", onsubmit: onSubmit, role: "search" },
      h("label", { for: "code" }, "Code"),
      h("div", { class: "row" }, input, h("button", { class: "primary", type: "submit" }, "Trace")),
      h(
        "p",
        { id: "code-help", class: "help" },
        "Any GS1 form: scanner data (",
        h("code", {}, "]d2010950…21…"),
        ", GS separators), HRI ",
        h("code", {}, "(01)…(21)…"),
        ", Digital Link ",
        h("code", {}, "https://…/01/…/21/…"),
        ", EPC URI ",
        h("code", {}, "urn:epc:id:sgtin:…"),
        ", an SSCC or ",
        h("code", {}, "(01)…(10)lot"),
        " for a batch; or just a serial number (every product that has it), an SSCC or a lot.",
      ),
    ),
    answer,
  );
  input.focus();
  const initial = query.get("code");
  if (initial) {
    input.value = initial;
    await lookUp(initial);
  }

  async function onSubmit(event) {
    event.preventDefault();
    await lookUp(input.value);
  }

  async function lookUp(code) {
    answer.replaceChildren();
    if (code.trim() === "") return;
    try {
      const found = await api(`/search?q=${encodeURIComponent(code)}`);
      if (found.matches.length === 1) {
        go(found.matches[0].page);
        return;
      }
      if (found.matches.length === 0) {
        answer.append(
          h(
            "div",
            { class: "problem status-404", role: "alert", id: "no-match" },
            h("strong", {}, "Nothing found"),
            h(
              "span",
              {},
              `No unit, case, pallet or batch on record for ${JSON.stringify(code.trim())}`,
              found.note ? ` (as a serial, SSCC or lot; ${found.note}).` : ".",
            ),
          ),
        );
        input.select();
        return;
      }
      answer.append(matchList(found));
    } catch (error) {
      answer.append(problem(error));
      input.select();
    }
  }
}

const HOW = { code: "GS1 code", serial: "serial", sscc: "SSCC", lot: "lot" };

function matchList(found) {
  return h(
    "section",
    { class: "card", id: "matches" },
    h("h2", {}, `${found.matches.length} matches${found.truncated ? " (first 100)" : ""}`),
    table(
      [
        ["What", (m) => (m.kind === "container" ? m.level : m.kind)],
        [
          "Identifier",
          (m) =>
            link(
              m.page,
              h(
                "code",
                {},
                m.kind === "unit"
                  ? unitHri(m.gtin, m.serial)
                  : m.kind === "batch"
                    ? `(01)${m.gtin}(10)${m.lot}`
                    : `(00)${m.sscc}`,
              ),
            ),
        ],
        ["GTIN", (m) => m.gtin ?? ""],
        ["Matched as", (m) => HOW[m.how] ?? m.how],
        ["Status", (m) => badge(m.status)],
      ],
      found.matches,
    ),
  );
}

export async function unitPage(page, [gtin, serial]) {
  page.append(h("p", { class: "crumbs" }, link("/ui/", "Trace"), " / unit"));
  let trace;
  try {
    trace = await api(`/units/${gtin}/${encodeURIComponent(serial)}`);
  } catch (error) {
    page.append(h("h1", {}, unitHri(gtin, serial)), problem(error));
    return;
  }
  let batch = null;
  let batchError = null;
  if (trace.lot !== null) {
    try {
      batch = await api(`/batches/${gtin}/${encodeURIComponent(trace.lot)}`);
    } catch (error) {
      batchError = error;
    }
  }
  page.append(
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, h("span", { class: "kind" }, "Unit"), h("code", {}, unitHri(gtin, serial))),
      h(
        "div",
        { class: "badges" },
        badge(trace.status),
        trace.disposition && trace.disposition !== trace.status
          ? badge(trace.disposition)
          : null,
      ),
    ),
    section(
      "Pack",
      facts([
        ["Product", trace.names?.[gtin] ? named(gtin, trace.names) : null],
        ["GTIN", gtin],
        ["Serial", serial],
        ["Lot", trace.lot ? link(batchPath(gtin, trace.lot), trace.lot) : "unknown"],
        ["Expiry", trace.expiry],
        ["Status", badge(trace.status)],
        ["Reason", trace.status_reason],
        ["Batch disposition", trace.batch_disposition ? badge(trace.batch_disposition) : null],
        [
          "Shipment",
          trace.shipment
            ? h(
                "span",
                { id: "shipment-status" },
                `#${trace.shipment.id}, shipped ${when(trace.shipment.shipped_at)}`,
                trace.shipped_with
                  ? [" with ", link(containerPath(trace.shipped_with), `(00)${trace.shipped_with}`)]
                  : null,
              )
            : h("span", { id: "shipment-status" }, "not shipped"),
        ],
        ["Customer", named(trace.shipment?.customer, trace.names)],
      ]),
    ),
    unitGradeSection(trace.grade),
  );
  // With the QA genealogy, raw materials are listed once, in its section below.
  const backward = (await apiPaths()).includes("/qa/genealogy/backward");
  page.append(section("Genealogy", genealogy(trace, batch, batchError, backward)));
  if (backward) {
    page.append(await backwardSection(gtin, serial));
  }
  page.append(
    h(
      "section",
      { class: "card", id: "history" },
      h("h2", {}, "Event history"),
      eventTable(trace.events, trace.names),
    ),
  );
}

function node(kind, label, extra, children = []) {
  return h(
    "li",
    { "data-kind": kind },
    h("div", { class: "node" }, h("span", { class: "kind" }, kind), label, extra),
    children.length > 0 ? h("ul", {}, children) : null,
  );
}

function shipmentNodes(shipment, names = {}) {
  if (shipment === null) return [];
  const parties = [];
  if (shipment.destination) {
    parties.push(node("ship-to", named(shipment.destination, names)));
  }
  if (shipment.customer) parties.push(node("customer", named(shipment.customer, names)));
  return [
    node(
      "shipment",
      h("span", {}, `#${shipment.id} shipped ${when(shipment.shipped_at)}`),
      shipment.biz_transaction ? h("code", { class: "aside" }, shipment.biz_transaction) : null,
      parties,
    ),
  ];
}

function genealogy(trace, batch, batchError, materialsBelow = false) {
  // Outward from the unit: case, pallet, ..., then the shipment and its parties.
  let outward = shipmentNodes(trace.shipment, trace.names);
  for (const parent of [...trace.parents].reverse()) {
    outward = [
      node(
        parent.level,
        link(containerPath(parent.sscc), h("code", {}, `(00)${parent.sscc}`)),
        badge(parent.status),
        outward,
      ),
    ];
  }
  if (trace.parents.length === 0 && trace.shipment === null) {
    outward = [node("packing", h("span", { class: "muted" }, "not packed into a case"))];
  }
  const inputs = (materialsBelow ? [] : (batch?.raw_material_lots ?? [])).map((item) =>
    node(
      "raw material",
      h("code", {}, item.input),
      item.quantity !== null && item.quantity !== undefined
        ? h("span", { class: "aside" }, `${item.quantity} ${item.uom ?? ""}`.trim())
        : null,
    ),
  );
  if (batchError !== null) inputs.push(h("li", {}, problem(batchError)));
  const batchNode =
    trace.lot === null
      ? []
      : [
          node(
            "batch",
            link(batchPath(trace.gtin, trace.lot), `Lot ${trace.lot}`),
            trace.batch_disposition ? badge(trace.batch_disposition) : null,
            inputs.length > 0
              ? inputs
              : materialsBelow
                ? [node("raw material", h("a", { href: "#backward" }, "see Raw materials and records"))]
                : [node("raw material", h("span", { class: "muted" }, "none recorded"))],
          ),
        ];
  return h(
    "ul",
    { class: "tree", id: "genealogy" },
    node(
      "unit",
      h("code", {}, unitHri(trace.gtin, trace.serial)),
      badge(trace.status),
      [...batchNode, ...outward],
    ),
  );
}

export function eventTable(events, names = {}) {
  return table(
    [
      ["Time (UTC)", (e) => when(e.event_time)],
      ["Type", (e) => e.event_type.replace("Event", "")],
      ["Action", (e) => e.action ?? ""],
      ["Business step", (e) => e.biz_step ?? ""],
      ["Disposition", (e) => (e.disposition ? badge(e.disposition) : "")],
      ["Read point", (e) => (e.read_point ? named(e.read_point, names) : "")],
      ["Site / line", (e) => [e.site, e.line].filter(Boolean).join(" / ")],
      ["Event ID", (e) => h("code", { class: "id", title: e.event_id }, shortId(e.event_id))],
    ],
    events,
    { empty: "No events name this object." },
  );
}

function shortId(eventId) {
  // CBV 2.0 event hashes (ni:///sha-256;<hex>?ver=CBV2.0) by the first 12 hex digits.
  const hash = /^ni:\/\/\/sha-256;([0-9a-f]{12})/.exec(eventId);
  if (hash !== null) return `sha-256 ${hash[1]}…`;
  return eventId.length > 28 ? `${eventId.slice(0, 27)}…` : eventId;
}

const UNITS_SHOWN = 200;

export async function containerPage(page, [sscc]) {
  page.append(h("p", { class: "crumbs" }, link("/ui/", "Trace"), " / container"));
  let tree;
  try {
    tree = await api(`/containers/${sscc}`);
  } catch (error) {
    page.append(h("h1", {}, `(00)${sscc}`), problem(error));
    return;
  }
  const { containers, units } = countAll(tree);
  page.append(
    h(
      "header",
      { class: "page-head" },
      h(
        "h1",
        {},
        h("span", { class: "kind" }, tree.level),
        h("code", {}, `(00)${tree.sscc}`),
      ),
      h("div", { class: "badges" }, badge(tree.status)),
    ),
    section(
      "Container",
      facts([
        ["SSCC", tree.sscc],
        ["Level", tree.level],
        ["Inside", `${containers} containers, ${units} units`],
        ["Packed in", tree.parent ? link(containerPath(tree.parent), `(00)${tree.parent}`) : null],
        ["Shipment", shipmentFact(tree)],
        ["Ship-to", named(tree.shipment?.destination, tree.names)],
        ["Customer", named(tree.shipment?.customer, tree.names)],
      ]),
    ),
    section("Contents", h("ul", { class: "tree", id: "contents" }, contentNode(tree))),
  );
  if (can("events")) {
    page.append(section("Events", await containerEvents(sscc)));
  }
}

async function containerEvents(sscc) {
  try {
    const epc = `(00)${sscc}`;
    // Identifiers as captured (the EPCIS default would answer GS1 Digital Links).
    const document = await api(`/epcis/events?MATCH_anyEPC=${encodeURIComponent(epc)}`, {
      headers: { "GS1-EPC-Format": "Never_Translates" },
    });
    const list = document.epcisBody?.queryResults?.resultsBody?.eventList ?? [];
    return eventTable(
      list.map((e) => ({
        event_id: e.eventID ?? "",
        event_type: e.type,
        event_time: e.eventTime,
        action: e.action,
        biz_step: e.bizStep,
        disposition: e.disposition,
        read_point: e.readPoint?.id,
      })),
    );
  } catch (error) {
    return problem(error);
  }
}

function shipmentText(shipment) {
  return `#${shipment.id}, shipped ${when(shipment.shipped_at)}`;
}

function shipmentFact(tree) {
  if (!tree.shipment) return h("span", { id: "shipment-status" }, "not shipped");
  return h(
    "span",
    { id: "shipment-status" },
    shipmentText(tree.shipment),
    tree.shipped_with
      ? [" with ", link(containerPath(tree.shipped_with), `(00)${tree.shipped_with}`)]
      : null,
  );
}

function countAll(tree) {
  let containers = 0;
  let units = tree.units.length;
  for (const child of tree.containers) {
    const inner = countAll(child);
    containers += 1 + inner.containers;
    units += inner.units;
  }
  return { containers, units };
}

function contentNode(tree) {
  const children = tree.containers.map(contentNode);
  const units = tree.units.slice(0, UNITS_SHOWN).map((unit) =>
    node("unit", link(unitPath(unit.gtin, unit.serial), h("code", {}, unitHri(unit.gtin, unit.serial)))),
  );
  if (tree.units.length > UNITS_SHOWN) {
    units.push(h("li", { class: "muted" }, `… and ${tree.units.length - UNITS_SHOWN} more units`));
  }
  return node(
    tree.level,
    link(containerPath(tree.sscc), h("code", {}, `(00)${tree.sscc}`)),
    badge(tree.status),
    [...children, ...units],
  );
}
