// The window's shell: the nav, the banners (paused, broken files), the
// pause button, and which page is shown. The Rust side sends a status event
// whenever any process changes the database; the shown page refreshes itself.

import { call, on, EVENTS } from "./api.js";
import { h, fill, notice } from "./dom.js";
import { PAGES } from "./pages/index.js";

const app = {
  status: null,
  page: null,
  /** Shows `message` at the top of the page for a while. */
  toast(message, kind = "ok") {
    const box = document.getElementById("toasts");
    const n = notice(kind, message);
    n.classList.add("toast");
    box.append(n);
    setTimeout(() => n.remove(), kind === "error" ? 9000 : 3000);
  },
  /**
   * What a page shows when its command failed: the message, unless the same
   * problem is already in a banner above (a broken file); then a short pointer.
   */
  pageError(message) {
    const known = app.status && app.status.problems.some((p) => p.message === message);
    return known
      ? notice("warn", "This page can't be shown until the problem above is fixed; it comes back by itself.")
      : notice("error", sentence(message));
  },
  /** Asks for the status now (after the page changed something). */
  async refreshStatus() {
    try {
      showStatus(await call("status"));
    } catch (e) {
      showProblems([{ what: "app", message: `The window can't reach Gatehouse: ${e.message}` }]);
    }
  },
};

function pageFromHash() {
  const id = location.hash.replace(/^#\/?/, "").split("/")[0];
  return PAGES.find((p) => p.id === id) || PAGES[0];
}

/**
 * Draws the page links once, then only updates their state and badges:
 * status events come with every call, and a link replaced under the
 * pointer would swallow the user's click.
 */
function renderNav() {
  const nav = document.getElementById("nav");
  const pending = app.status ? app.status.pending.length : 0;
  const alerts = app.status ? app.status.open_alerts.length : 0;
  const badges = {
    agents: pending > 0 && { class: "badge", title: `${pending} waiting for approval`, testid: "pending-count", text: String(pending) },
    alerts: alerts > 0 && { class: "badge bad", title: `${alerts} open`, testid: "alerts-count", text: String(alerts) },
  };
  if (nav.children.length !== PAGES.length) {
    fill(nav, PAGES.map((p) => h("a", { href: `#${p.id}`, data: { testid: `nav-${p.id}` } }, p.title)));
  }
  PAGES.forEach((p, i) => {
    const link = nav.children[i];
    const current = app.page === p;
    link.className = current ? "active" : "";
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    const want = badges[p.id] || null;
    let badge = link.querySelector(".badge");
    if (!want) {
      if (badge) badge.remove();
      return;
    }
    if (!badge) badge = link.appendChild(h("span", {}));
    badge.className = want.class;
    badge.title = want.title;
    badge.dataset.testid = want.testid;
    badge.textContent = want.text;
  });
}

function show(page) {
  if (app.page === page) return;
  if (app.page && app.page.unmount) app.page.unmount();
  app.page = page;
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = page.id;
  window.scrollTo(0, 0);
  document.title = `${page.title} · Gatehouse`;
  renderNav();
  page.mount(root, app);
}

function showProblems(problems) {
  const box = document.getElementById("banners");
  for (const old of box.querySelectorAll(".problem")) old.remove();
  for (const p of problems) {
    const n = notice("error", sentence(p.message));
    n.classList.add("problem");
    n.dataset.testid = `problem-${p.what}`;
    box.prepend(n);
  }
}

/** `message` with a capital first letter. */
function sentence(message) {
  return message ? message[0].toUpperCase() + message.slice(1) : "";
}

function showStatus(status) {
  const first = app.status === null;
  app.status = status;
  const box = document.getElementById("banners");
  for (const old of box.querySelectorAll(".paused")) old.remove();
  if (status.paused.paused) {
    const resume = h("button", { type: "button", class: "small", on: { click: () => setPaused(false) } }, "Resume all agents");
    const n = notice("warn", h("strong", {}, "All agents are paused."), " Every tool call is refused until you resume. ", resume);
    n.classList.add("paused");
    n.dataset.testid = "paused-banner";
    box.prepend(n);
  }
  showProblems(status.problems);
  const live = document.getElementById("live");
  const stale = status.problems.some((p) => p.what === "database");
  live.classList.toggle("off", stale);
  live.textContent = stale ? "Not live" : "Live";
  live.title = stale ? "The database can't be read: see the message above" : "Updates as clients call tools";
  const toggle = document.getElementById("pause-toggle");
  toggle.textContent = status.paused.paused ? "Resume all agents" : "Pause all agents";
  toggle.classList.toggle("warn", status.paused.paused);
  renderNav();
  if (!first && app.page && app.page.status) app.page.status(status);
}

async function setPaused(on) {
  try {
    await call(on ? "pause_agents" : "resume_agents");
    app.toast(on ? "All agents paused: every call is refused until you resume." : "Agents resumed: calls go through again.");
    await app.refreshStatus();
  } catch (e) {
    app.toast(e.message, "error");
  }
}

// A bug in the window must not leave it silently stale: say so.
window.addEventListener("error", (e) => app.toast(`The window hit an error: ${e.message}. Reopen it if it looks stale.`, "error"));
window.addEventListener("unhandledrejection", (e) => app.toast(`The window hit an error: ${(e.reason && e.reason.message) || e.reason}`, "error"));

async function start() {
  document.getElementById("pause-toggle").addEventListener("click", () => setPaused(!(app.status && app.status.paused.paused)));
  window.addEventListener("hashchange", () => show(pageFromHash()));
  await on(EVENTS.status, showStatus);
  await on(EVENTS.navigate, (page) => { location.hash = `#${page}`; });
  await app.refreshStatus();
  show(pageFromHash());
}

start().catch((e) => {
  fill(document.getElementById("page"), notice("error", `The window could not start: ${e.message}`));
});
