// Alerts: what needs attention, and why, computed from the history: a
// tool's error rate or latency jumping against its own usual, a budget
// drained (naming the agent), a burst of auth failures (naming the source).
// Open alerts first, then those resolved in the last days. Opening the page
// evaluates the rules, like `gatehouse alerts`; the app also does in the
// background and notifies when an alert opens.

import { call } from "../api.js";
import { h, fill } from "../dom.js";
import { ago, dateTime, span } from "../format.js";

const KINDS = {
  error_rate: { label: "Error rate", hint: "A tool fails much more often than it usually does." },
  latency_spike: { label: "Latency spike", hint: "A tool's slowest calls got much slower than usual." },
  budget_exhausted: { label: "Budget exhausted", hint: "A tool's budget refused calls; the agent that used it up is named." },
  auth_failures: { label: "Auth failures", hint: "Many calls with a bad token, or from a denied or revoked agent." },
};

let root = null;
let app = null;
const slots = {};
let shownKey = null;
let lastOpen = null;

export default {
  id: "alerts",
  title: "Alerts",
  mount(el, a) {
    root = el;
    app = a;
    shownKey = null;
    lastOpen = null;
    slots.error = h("div");
    slots.body = h("div", { class: "stack" });
    fill(root,
      h("div", { class: "page-head" }, h("div", {},
        h("h1", {}, "Alerts"),
        h("p", { class: "muted" }, "What needs your attention, worked out from the history, each with the numbers behind it."))),
      slots.error, slots.body);
    refresh();
  },
  status(status) {
    const open = status.open_alerts.map((x) => x.id).join(",");
    if (open !== lastOpen) refresh();
  },
  unmount() {
    root = null;
  },
};

let asked = 0;

async function refresh() {
  if (!root) return;
  const ticket = ++asked;
  try {
    const page = await call("list_alerts");
    if (ticket !== asked || !root) return;
    fill(slots.error);
    lastOpen = page.alerts.filter((x) => x.state === "open").map((x) => x.id).join(",");
    const key = JSON.stringify(page);
    if (key === shownKey) return;
    shownKey = key;
    render(page);
  } catch (e) {
    if (ticket !== asked || !root) return;
    shownKey = null;
    fill(slots.body);
    fill(slots.error, app.pageError(e.message));
  }
}

function render(page) {
  const open = page.alerts.filter((x) => x.state === "open");
  const resolved = page.alerts.filter((x) => x.state !== "open");
  fill(slots.body,
    page.enabled ? null : h("div", { class: "notice info" },
      "Background checks are off (", h("code", {}, "[alerts] enabled = false"), "): alerts are worked out only when this page opens or ",
      h("code", {}, "gatehouse alerts"), " runs, and no notification is sent."),
    open.length
      ? h("section", { class: "card attention bad", data: { testid: "alerts-open" } },
        h("h2", {}, `Open (${open.length})`),
        h("ul", { class: "alert-list" }, open.map(item)))
      : h("section", { class: "card empty", data: { testid: "alerts-none" } },
        h("h2", {}, "Nothing needs attention"),
        h("p", {}, `No rule holds over the last ${page.window}. When one does, it shows here and the desktop tells you.`),
        h("ul", { class: "kinds muted small" }, Object.values(KINDS).map((k) => h("li", {}, h("strong", {}, k.label), ": ", k.hint)))),
    resolved.length
      ? h("section", { class: "card", data: { testid: "alerts-recent" } },
        h("h2", {}, `Resolved in the last ${page.recent_days} days`),
        h("ul", { class: "alert-list" }, resolved.map(item)))
      : h("p", { class: "muted", data: { testid: "alerts-recent" } }, `No alert was resolved in the last ${page.recent_days} days.`),
    h("p", { class: "muted small" }, `The rules look at the last ${page.window} of calls; thresholds are under [alerts] in config.toml (docs/configuration.md).`));
}

function item(a) {
  const kind = KINDS[a.kind] || { label: a.kind, hint: "" };
  const isOpen = a.state === "open";
  const lasted = a.resolved_at ? span(Date.parse(a.resolved_at) - Date.parse(a.opened_at)) : null;
  return h("li", { class: `alert ${isOpen ? "open" : "resolved"}`, data: { testid: "alert", kind: a.kind, state: a.state } },
    h("div", { class: "alert-head" },
      h("span", { class: `pill ${isOpen ? "bad" : ""}`, title: kind.hint }, kind.label),
      h("span", { class: `alert-subject${a.kind === "auth_failures" ? "" : " mono"}`, title: a.subject }, a.subject),
      h("span", { class: "muted small when", title: dateTime(a.opened_at) },
        isOpen ? `opened ${ago(a.opened_at)}` : `resolved ${ago(a.resolved_at)} · lasted ${lasted}`)),
    h("p", { class: "why", data: { testid: "alert-why" } }, withoutSubject(a)));
}

/** The why, less the subject it starts with (the line above names it). */
function withoutSubject(a) {
  const lead = `${a.subject}: `;
  const why = a.why.startsWith(lead) ? a.why.slice(lead.length) : a.why;
  return why ? why[0].toUpperCase() + why.slice(1) : a.why;
}
