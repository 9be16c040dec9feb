// Print quality: a unit's ISO/IEC 15415 grade at commissioning, and a batch's grade
// distribution. Grades come from the line's verifier with the commissioning event.

import { api } from "../api.js";
import { facts, h, problem, section } from "../dom.js";

const LETTERS = ["A", "B", "C", "D", "F"];
const PARAMETERS = [
  ["DEC", "Decode"],
  ["SC", "Symbol contrast"],
  ["MOD", "Modulation"],
  ["RM", "Reflectance margin"],
  ["FPD", "Fixed pattern damage"],
  ["AN", "Axial non-uniformity"],
  ["GN", "Grid non-uniformity"],
  ["UEC", "Unused error correction"],
];

function letterOf(grade) {
  if (grade >= 3.5) return "A";
  if (grade >= 2.5) return "B";
  if (grade >= 1.5) return "C";
  if (grade >= 0.5) return "D";
  return "F";
}

function gradeBadge(grade) {
  const letter = letterOf(grade);
  return h("span", { class: `grade grade-${letter}` }, `${grade.toFixed(1)} (${letter})`);
}

export function unitGradeSection(grade) {
  if (!grade || typeof grade.overall !== "number") {
    return section(
      "Print quality",
      h("p", { class: "muted" }, "Not graded (commissioned without a grade)."),
    );
  }
  const parameters = grade.parameters || {};
  const limiting = new Set(grade.limiting || []);
  return h(
    "section",
    { class: "card", id: "print-quality" },
    h("h2", {}, "Print quality"),
    facts([
      ["Overall grade", gradeBadge(grade.overall)],
      ["ISO/IEC 15415", grade.iso],
      ["Lowest", [...limiting].join(", ")],
    ]),
    h(
      "table",
      { class: "grades" },
      h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "Grade"))),
      h(
        "tbody",
        {},
        PARAMETERS.filter(([key]) => key in parameters).map(([key, title]) =>
          h(
            "tr",
            { class: limiting.has(key) ? "limiting" : "" },
            h("td", {}, `${title} (${key})`),
            h("td", {}, gradeBadge(parameters[key])),
          ),
        ),
      ),
    ),
  );
}

export async function batchGradeSection(gtin, lot) {
  let distribution;
  try {
    distribution = await api(`/batches/${gtin}/${encodeURIComponent(lot)}/grades`);
  } catch (error) {
    return section("Print quality", problem(error));
  }
  const { graded, ungraded, letters } = distribution;
  if (graded === 0) {
    return h(
      "section",
      { class: "card", id: "grade-distribution" },
      h("h2", {}, "Print quality"),
      h("p", { class: "muted" }, `No graded units (${ungraded} without a grade).`),
    );
  }
  const most = Math.max(...LETTERS.map((letter) => letters[letter] || 0), 1);
  return h(
    "section",
    { class: "card", id: "grade-distribution" },
    h("h2", {}, "Print quality"),
    facts([
      ["Mean grade", gradeBadge(distribution.mean)],
      ["Lowest grade", gradeBadge(distribution.lowest)],
      ["Graded units", String(graded)],
      ["Not graded", String(ungraded)],
    ]),
    h(
      "div",
      { class: "grade-bars", role: "list", "aria-label": "Units by grade" },
      LETTERS.map((letter) => {
        const count = letters[letter] || 0;
        return h(
          "div",
          { class: "grade-bar", role: "listitem", "data-letter": letter },
          h("span", { class: "grade-letter" }, letter),
          h(
            "span",
            { class: "bar" },
            h("span", {
              class: `fill grade-${letter}`,
              style: `width: ${((100 * count) / most).toFixed(1)}%`,
            }),
          ),
          h("span", { class: "num" }, `${count} (${((100 * count) / graded).toFixed(1)}%)`),
        );
      }),
    ),
  );
}
