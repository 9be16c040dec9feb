// Verification: an EU FMD-style answer for one pack (GET /verify), typed in or scanned.

import { api } from "../api.js";
import { badge, facts, h, problem } from "../dom.js";

const MEANING = {
  active: "Genuine and active: the pack may be supplied.",
  decommissioned: "Decommissioned: do not supply.",
  recalled: "Batch under recall: do not supply, quarantine the pack.",
  expired: "Expired: do not supply.",
  unknown: "Serial not on record: suspected falsified pack, do not supply.",
  suspect: "Data on the pack differ from the record: suspected falsified pack.",
};

export async function verifyPage(page, _params, query) {
  const field = (name, label, attributes = {}) => {
    const input = h("input", { id: `verify-${name}`, name, autocomplete: "off", ...attributes });
    return [input, h("div", { class: "field" }, h("label", { for: input.id }, label), input)];
  };
  const [scan, scanField] = field("scan", "Scan the pack (fills the fields)", {
    class: "scan",
    placeholder: "Scan or paste the DataMatrix content, then Enter",
    maxlength: 512,
  });
  const [gtin, gtinField] = field("gtin", "GTIN", {
    required: true,
    pattern: "\\d{8}|\\d{12,14}",
    maxlength: 14,
    inputmode: "numeric",
  });
  const [serial, serialField] = field("serial", "Serial", { required: true, maxlength: 20 });
  const [lot, lotField] = field("lot", "Lot (optional)", { maxlength: 20 });
  const [expiry, expiryField] = field("expiry", "Expiry (optional, YYMMDD or YYYY-MM-DD)", {
    maxlength: 10,
  });
  const scanError = h("div", { "aria-live": "polite" });
  const result = h("div", { id: "verify-result", "aria-live": "polite" });
  page.append(
    h("h1", {}, "Verify a pack"),
    h(
      "form",
      { class: "card", onsubmit: onScan },
      scanField,
      scanError,
    ),
    h(
      "form",
      { class: "card verify", onsubmit: onVerify },
      h("div", { class: "grid" }, gtinField, serialField, lotField, expiryField),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Verify")),
    ),
    result,
  );
  for (const [input, name] of [[gtin, "gtin"], [serial, "serial"], [lot, "lot"], [expiry, "expiry"]]) {
    input.value = query.get(name) ?? "";
  }
  scan.focus();
  if (gtin.value && serial.value) await verify();

  async function onScan(event) {
    event.preventDefault();
    scanError.replaceChildren();
    try {
      const code = await api(`/ui/resolve?code=${encodeURIComponent(scan.value)}`);
      if (code.kind !== "unit") {
        scanError.append(
          problem({ status: 422, detail: `that code names a ${code.kind}, not a pack` }),
        );
        return;
      }
      gtin.value = code.gtin;
      serial.value = code.serial;
      lot.value = code.lot ?? "";
      expiry.value = code.expiry ?? "";
      scan.value = "";
      await verify();
    } catch (error) {
      scanError.append(problem(error));
    }
  }

  async function onVerify(event) {
    event.preventDefault();
    await verify();
  }

  async function verify() {
    result.replaceChildren();
    const params = new URLSearchParams({ gtin: gtin.value.trim(), serial: serial.value.trim() });
    if (lot.value.trim()) params.set("lot", lot.value.trim());
    if (expiry.value.trim()) params.set("expiry", expiry.value.trim());
    try {
      const answer = await api(`/verify?${params}`);
      result.append(
        h(
          "section",
          { class: `card verdict verdict-${answer.result}`, "data-result": answer.result },
          h("h2", {}, badge(answer.result, answer.result.toUpperCase())),
          h("p", { class: "meaning" }, MEANING[answer.result] ?? ""),
          facts([
            ["GTIN", answer.gtin],
            ["Serial", answer.serial],
            ["Reason", answer.reason],
            ["Lot on record", answer.lot],
            ["Expiry on record", answer.expiry],
          ]),
        ),
      );
    } catch (error) {
      result.append(problem(error));
    }
  }
}
