// Delivery: each line's server-confirmed delivery state (GET /delivery): the contiguous
// sequence number, open gaps (alerted when open too long) and whether each recent batch
// close is "closed on the server" (every event up to the close is stored).

import { api } from "../api.js";
import { badge, h, problem, section, table, when } from "../dom.js";

export async function deliveryPage(page) {
  page.append(h("h1", {}, "Delivery from the lines"));
  let lines;
  try {
    lines = await api("/delivery");
  } catch (error) {
    page.append(problem(error));
    return;
  }
  page.append(
    section(
      "Lines",
      table(
        [
          ["Line", (x) => `${x.site}/${x.line}`],
          ["Stored up to #", (x) => String(x.contiguous_seq)],
          ["Highest #", (x) => String(x.highest_seq)],
          ["Missing", (x) => String(x.missing)],
          ["Duplicates", (x) => String(x.duplicates)],
          [
            "State",
            (x) =>
              x.gap_alert
                ? badge("rejected", "gap alert")
                : x.missing > 0
                  ? badge("received", "gap open")
                  : badge("pass", "complete"),
          ],
          ["Last event", (x) => when(x.last_seen_at)],
        ],
        lines,
        { empty: "No line has sent events yet." },
      ),
    ),
  );
  for (const line of lines) {
    const gaps = table(
      [
        ["Missing #", (g) => `${g.first_seq}-${g.last_seq}`],
        ["Events", (g) => String(g.events)],
        ["Open since", (g) => when(g.opened_at)],
        ["Alerted", (g) => (g.alerted ? badge("rejected", "yes") : "no")],
      ],
      line.gaps,
      { empty: "No gap: every event up to the highest number is stored." },
    );
    const closes = table(
      [
        ["Batch (LGTIN)", (c) => c.lot ?? ""],
        ["Close event #", (c) => String(c.seq)],
        [
          "Closed on the server",
          (c) => (c.closed_on_server ? badge("pass", "yes") : badge("received", "waiting")),
        ],
        ["Close received", (c) => when(c.recorded_at)],
      ],
      line.batch_closes,
      { empty: "No batch close received." },
    );
    page.append(
      section(
        `${line.site}/${line.line}`,
        h("h3", {}, "Open gaps"),
        gaps,
        h("h3", {}, "Batch closes"),
        closes,
      ),
    );
  }
}
