// Mock-recall drills: run one on a chosen or random batch, and the results over time with
// each drill's timing, counts, gaps, verdict and report (HTML in a new window, PDF saved).

import { api, download, fetchBlob } from "../api.js";
import { badge, batchPath, h, link, problem, section, table, when } from "../dom.js";

const SHOWN = 50; // drills listed, newest first (each one's details are fetched)
const PHASES = ["backward", "forward", "completeness", "report"];

export async function drillsPage(page, _params, _query, { go }) {
  page.append(h("h1", {}, "Mock-recall drills"));
  let batches;
  let summaries;
  try {
    [batches, summaries] = await Promise.all([
      api("/batches?limit=500"),
      api(`/qa/drills?limit=${SHOWN}`),
    ]);
  } catch (error) {
    page.append(problem(error));
    return;
  }
  const target = h(
    "select",
    { id: "drill-batch" },
    h("option", { value: "" }, "A random batch"),
    batches.map((b) =>
      h(
        "option",
        { value: JSON.stringify({ gtin: b.gtin, lot: b.lot }) },
        `(01)${b.gtin}(10)${b.lot}`,
      ),
    ),
  );
  const error = h("div", { "aria-live": "polite" });
  const run = h("button", { type: "submit", class: "primary", id: "run-drill" }, "Run drill");
  page.append(
    h(
      "form",
      { class: "card no-print", id: "drill-form", onsubmit: onRun },
      h("label", { for: "drill-batch" }, "Batch"),
      h("div", { class: "row" }, target, run),
      h(
        "p",
        { class: "help" },
        "A drill traces the batch backward (records, raw-material lots, other batches made from ",
        "them) and forward (every unit, case, pallet, shipment and customer), checks ",
        "completeness and renders the report, timing each phase. It changes nothing.",
      ),
      error,
    ),
  );
  let details;
  try {
    details = await Promise.all(summaries.map((s) => api(`/qa/drills/${s.id}`)));
  } catch (failure) {
    page.append(problem(failure));
    return;
  }
  const notice = h("div", { "aria-live": "polite" });
  page.append(
    h(
      "section",
      { class: "card", id: "drills" },
      h("h2", {}, "Results over time"),
      notice,
      table(
        [
          ["#", (d) => String(d.id)],
          ["Started (UTC)", (d) => when(d.started_at)],
          ["Batch", (d) => link(batchPath(d.gtin, d.lot), `(01)${d.gtin}(10)${d.lot}`)],
          ["Run by", (d) => d.run_by],
          ["Total", (d) => h("span", { class: "num" }, seconds(d.seconds))],
          [
            "Phases",
            (d) =>
              h(
                "span",
                { class: "aside" },
                PHASES.filter((p) => p in d.timings)
                  .map((p) => `${p} ${seconds(d.timings[p])}`)
                  .join(" · "),
              ),
          ],
          [
            "Reach",
            (d) =>
              `${d.counts.units ?? 0} units, ${d.counts.shipped_units ?? 0} shipped, ` +
              `${d.counts.shipments ?? 0} shipments, ${d.counts.customers ?? 0} customers`,
          ],
          [
            "Gaps",
            (d) =>
              d.gaps.length === 0
                ? h("span", { class: "muted" }, "none")
                : h(
                    "ul",
                    { class: "gaps" },
                    d.gaps.map((gap) => h("li", {}, gap)),
                  ),
          ],
          ["Result", (d) => badge(d.complete ? "pass" : "fail")],
          [
            "Report",
            (d) => [
              h(
                "button",
                {
                  type: "button",
                  class: "small",
                  "data-report": "html",
                  onclick: () => openHtml(d.id),
                },
                "HTML",
              ),
              " ",
              h(
                "button",
                {
                  type: "button",
                  class: "small",
                  "data-report": "pdf",
                  onclick: () => savePdf(d.id),
                },
                "PDF",
              ),
            ],
          ],
        ],
        details,
        { empty: "No drill has been run yet." },
      ),
      summaries.length === SHOWN ? h("p", { class: "muted" }, `The last ${SHOWN} drills.`) : null,
    ),
  );

  async function onRun(event) {
    event.preventDefault();
    error.replaceChildren();
    run.disabled = true;
    run.textContent = "Running…";
    try {
      const body = target.value === "" ? { random: true } : JSON.parse(target.value);
      await api("/qa/drills", { method: "POST", json: body });
      go("/ui/drills", { replace: true });
    } catch (failure) {
      error.append(problem(failure));
      run.disabled = false;
      run.textContent = "Run drill";
    }
  }

  // The report opens in a new window WITHOUT an opener (noopener, noreferrer): it cannot
  // reach this page, its session storage or the token. A link stays in case the browser
  // blocked the window.
  async function openHtml(id) {
    notice.replaceChildren();
    try {
      const blob = await fetchBlob(`/qa/drills/${id}/report.html`);
      const url = URL.createObjectURL(new Blob([blob], { type: "text/html" }));
      window.open(url, "_blank", "noopener,noreferrer");
      notice.append(
        h(
          "p",
          { id: "report-link" },
          "Report opened in a new window; if the browser blocked it: ",
          h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "open the report"),
        ),
      );
      setTimeout(() => URL.revokeObjectURL(url), 300_000);
    } catch (failure) {
      notice.append(problem(failure));
    }
  }

  async function savePdf(id) {
    notice.replaceChildren();
    try {
      await download(`/qa/drills/${id}/report.pdf`, `drill-${id}.pdf`);
    } catch (failure) {
      notice.append(problem(failure));
    }
  }
}

function seconds(value) {
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}
