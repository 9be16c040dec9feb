// Charts drawn as inline SVG from data (no library, no CDN): bars and lines with axes,
// a <title> per mark for the exact value, and a table-free text alternative (aria-label).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const WIDTH = 560;
const HEIGHT = 220;
const LEFT = 44;
const BOTTOM = 40;
const TOP = 12;

function frame(id, label, max, format) {
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const root = svg("svg", {
    id,
    class: "chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMinYMin meet",
  });
  root.append(svg("title", {}, label));
  for (const share of [0, 0.5, 1]) {
    const y = TOP + plotHeight * (1 - share);
    root.append(
      svg("line", { x1: LEFT, x2: WIDTH - 8, y1: y, y2: y, class: "grid" }),
      svg("text", { x: LEFT - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format(max * share)),
    );
  }
  return { root, plotHeight };
}

// Bars: points = [{label, value}]
export function barChart(id, label, points, { format = (v) => String(Math.round(v)) } = {}) {
  const max = Math.max(1, ...points.map((p) => p.value));
  const { root, plotHeight } = frame(id, label, max, format);
  const step = (WIDTH - LEFT - 8) / Math.max(1, points.length);
  points.forEach((point, index) => {
    const height = (plotHeight * point.value) / max;
    const x = LEFT + index * step + step * 0.15;
    root.append(
      svg(
        "rect",
        {
          class: "bar",
          x,
          y: TOP + plotHeight - height,
          width: step * 0.7,
          height,
          "data-label": point.label,
          "data-value": point.value,
        },
        svg("title", {}, `${point.label}: ${format(point.value)}`),
      ),
      svg(
        "text",
        { x: x + step * 0.35, y: HEIGHT - BOTTOM + 16, class: "tick", "text-anchor": "middle" },
        short(point.label),
      ),
    );
  });
  return root;
}

// Lines: series = [{name, points: [{label, value|null}]}] over the same labels.
export function lineChart(id, label, series, { max, format = (v) => String(v) } = {}) {
  const values = series.flatMap((s) => s.points.map((p) => p.value)).filter((v) => v !== null);
  const top = max ?? Math.max(1, ...values);
  const { root, plotHeight } = frame(id, label, top, format);
  const labels = series[0]?.points.map((p) => p.label) ?? [];
  const step = (WIDTH - LEFT - 8) / Math.max(1, labels.length - 1 || 1);
  series.forEach((line, number) => {
    const coordinates = line.points.map((p, index) =>
      p.value === null ? null : [LEFT + index * step, TOP + plotHeight * (1 - p.value / top)],
    );
    const path = coordinates
      .filter(Boolean)
      .map(([x, y], index) => `${index === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`)
      .join(" ");
    root.append(svg("path", { d: path, class: `series series-${number}`, "data-series": line.name }));
    line.points.forEach((p, index) => {
      const at = coordinates[index];
      if (at === null) return;
      root.append(
        svg(
          "circle",
          {
            cx: at[0],
            cy: at[1],
            r: 3,
            class: `point series-${number}`,
            "data-label": p.label,
            "data-value": p.value,
          },
          svg("title", {}, `${line.name}, ${p.label}: ${format(p.value)}`),
        ),
      );
    });
  });
  labels.forEach((text, index) => {
    root.append(
      svg(
        "text",
        { x: LEFT + index * step, y: HEIGHT - BOTTOM + 16, class: "tick", "text-anchor": "middle" },
        short(text),
      ),
    );
  });
  const legend = svg("g", { class: "legend" });
  series.forEach((line, number) => {
    legend.append(
      svg("rect", { x: LEFT + number * 170, y: HEIGHT - 14, width: 10, height: 10, class: `key series-${number}` }),
      svg("text", { x: LEFT + number * 170 + 14, y: HEIGHT - 5, class: "tick" }, line.name),
    );
  });
  root.append(legend);
  return root;
}

function short(text) {
  const value = String(text);
  return value.length > 14 ? `${value.slice(0, 13)}…` : value;
}
