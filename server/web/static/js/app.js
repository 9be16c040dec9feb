// The QA web UI: a page router over the History API, the session header and navigation.

import { apiPaths, session, signOut, whenUnauthorized } from "./api.js";
import { h } from "./dom.js";
import { batchPage, batchesPage } from "./pages/batches.js";
import { deliveryPage } from "./pages/delivery.js";
import { loginPage } from "./pages/login.js";
import { productionRoutes } from "./pages/production.js";
import { qaLinks, qaRoutes } from "./pages/qa.js";
import { containerPage, searchPage, unitPage } from "./pages/trace.js";
import { verifyPage } from "./pages/verify.js";

const ROUTES = [
  [/^\/ui\/?$/, searchPage, "search"],
  [/^\/ui\/login$/, loginPage, null],
  [/^\/ui\/unit\/(\d{14})\/([^/]+)$/, unitPage, "search"],
  [/^\/ui\/container\/(\d{18})$/, containerPage, "search"],
  [/^\/ui\/batches$/, batchesPage, "batches"],
  [/^\/ui\/batch\/(\d{14})\/([^/]+)$/, batchPage, "batches"],
  [/^\/ui\/verify$/, verifyPage, "verify"],
  [/^\/ui\/delivery$/, deliveryPage, "delivery"],
  ...qaRoutes,
  ...productionRoutes,
];

const view = document.getElementById("view");
let rendering = 0;

export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

async function render() {
  const ticket = ++rendering;
  const path = location.pathname;
  const current = session();
  showSession(current);
  hideBanner();
  if (current === null && path !== "/ui/login") {
    const next = path + location.search;
    history.replaceState(null, "", `/ui/login?next=${encodeURIComponent(next)}`);
    return render();
  }
  const match = ROUTES.map(([pattern, page, nav]) => [pattern.exec(path), page, nav]).find(
    ([found]) => found !== null,
  );
  const active = match?.[2] ?? null;
  markNav(active);
  apiPaths().then((paths) => {
    if (ticket !== rendering) return;
    document.getElementById("qa-nav").replaceChildren(...(current ? qaLinks(paths) : []));
    markNav(active);
  });
  const page = document.createElement("div");
  page.className = "page";
  if (match === undefined) {
    page.append(h("h1", {}, "Page not found"), h("p", {}, `No page at ${path}.`));
  } else {
    const params = match[0].slice(1).map(decodeURIComponent);
    page.setAttribute("aria-busy", "true");
    view.replaceChildren(page);
    try {
      await match[1](page, params, new URLSearchParams(location.search), { go, stale });
    } catch (error) {
      page.append(h("div", { class: "problem", role: "alert" }, String(error.message ?? error)));
    }
    page.removeAttribute("aria-busy");
    page.setAttribute("data-ready", "true");
  }
  if (ticket === rendering && page.parentNode !== view) view.replaceChildren(page);

  function stale() {
    return ticket !== rendering;
  }
}

function showSession(current) {
  document.getElementById("nav").hidden = current === null;
  document.getElementById("session").hidden = current === null;
  if (current !== null) {
    document.getElementById("session-user").textContent = current.username;
    document.getElementById("session-role").textContent = current.role;
    document.body.dataset.role = current.role;
  } else {
    delete document.body.dataset.role;
  }
}

function markNav(active) {
  for (const item of document.querySelectorAll("[data-nav]")) {
    if (item.dataset.nav === active) item.setAttribute("aria-current", "page");
    else item.removeAttribute("aria-current");
  }
}

function hideBanner() {
  document.getElementById("banner").hidden = true;
}

export function banner(text) {
  const element = document.getElementById("banner");
  element.textContent = text;
  element.hidden = false;
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[data-link]");
  if (anchor === null || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
    return;
  }
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui")) return;
  event.preventDefault();
  go(url.pathname + url.search);
});

window.addEventListener("popstate", render);

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  go("/ui/login");
});

whenUnauthorized(() => {
  banner("Your session has ended: please sign in again.");
  const next = location.pathname + location.search;
  history.replaceState(null, "", `/ui/login?next=${encodeURIComponent(next)}`);
  render().then(() => banner("Your session has ended: please sign in again."));
});


render();
