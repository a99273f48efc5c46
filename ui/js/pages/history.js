// History: every call any client made through Gatehouse, newest first,
// filtered by agent, tool, status and time. A call opens with its status,
// latency, trace id, redacted arguments (values are never stored) and its
// trace as a timeline.
// New calls appear by themselves: the status event carries the newest id.

import { call } from "../api.js";
import { h, fill, copyButton } from "../dom.js";
import { CALL_STATUSES, clock, dateTime, latency, statusLabel, statusTone } from "../format.js";
import { timeline } from "../timeline.js";

/**
 * Extra sections of an opened call, each `(call) => Node | null`, shown
 * under its arguments: the trace timeline.
 */
export const detailSections = [timeline];

const TIMES = [
  { label: "Last 15 minutes", minutes: 15 },
  { label: "Last hour", minutes: 60 },
  { label: "Last 24 hours", minutes: 1440 },
  { label: "Last 7 days", minutes: 10080 },
  { label: "All kept", minutes: null },
];

let root = null;
let app = null;
const slots = {};
const filters = { agent: "", tool: "", status: "", since_minutes: 1440 };
let rows = [];
let selected = null;
let newest = 0;
let loading = false;

export default {
  id: "history",
  title: "History",
  mount(el, a) {
    root = el;
    app = a;
    slots.filters = h("form", { class: "filters", on: { submit: (e) => e.preventDefault() } });
    slots.error = h("div");
    slots.list = h("div", { class: "history-list" });
    slots.detail = h("aside", { class: "detail card", data: { testid: "call-detail" } });
    fill(root,
      h("div", { class: "page-head" }, h("div", {},
        h("h1", {}, "History"),
        h("p", { class: "muted" }, "Every tool call, allowed or refused. Arguments are kept only as lengths and keyed hashes, never their values."))),
      slots.filters, slots.error,
      h("div", { class: "split" }, slots.list, slots.detail));
    renderDetail();
    loadNames();
    reload();
  },
  status(status) {
    if (status.last_call_id > newest) {
      loadNewer();
      loadNames();
    }
  },
  unmount() {
    root = null;
  },
};

async function loadNames() {
  let names = { agents: [], tools: [] };
  try {
    names = await call("history_names");
  } catch {
    // The list below shows the error.
  }
  if (!root) return;
  const select = (key, label, options) => {
    const values = [...new Set([...options, filters[key]].filter(Boolean))];
    const s = h("select", { name: key, "aria-label": label, data: { testid: `filter-${key}` } },
      h("option", { value: "" }, { agent: "All agents", tool: "All tools", status: "All statuses" }[key]),
      values.map((v) => h("option", { value: v, selected: v === filters[key] }, key === "status" ? statusLabel(v) : v)));
    s.addEventListener("change", () => { filters[key] = s.value; reload(); });
    return h("label", {}, h("span", { class: "label" }, label), s);
  };
  const time = h("select", { name: "time", "aria-label": "Time", data: { testid: "filter-time" } },
    TIMES.map((t) => h("option", { value: t.minutes ?? "", selected: t.minutes === filters.since_minutes }, t.label)));
  time.addEventListener("change", () => { filters.since_minutes = time.value ? Number(time.value) : null; reload(); });
  fill(slots.filters,
    select("agent", "Agent", names.agents),
    select("tool", "Tool", names.tools),
    select("status", "Status", CALL_STATUSES),
    h("label", {}, h("span", { class: "label" }, "Time"), time));
}

function query(extra = {}) {
  return { query: { ...filters, ...extra } };
}

let asked = 0; // a reload's answer is dropped when the filters changed again meanwhile

async function reload() {
  loading = true;
  const ticket = ++asked;
  let got;
  try {
    got = await call("list_history", query());
    if (ticket !== asked) return;
    rows = got;
    fill(slots.error);
  } catch (e) {
    if (ticket !== asked) return;
    rows = [];
    fill(slots.error, app.pageError(e.message));
  }
  loading = false;
  newest = Math.max(newest, ...rows.map((r) => r.id), 0);
  renderList(new Set());
  if (again) {
    again = false;
    loadNewer();
  }
}

let fetching = false;
let again = false;

// One fetch at a time; a status event during one asks for another after it.
async function loadNewer() {
  if (!root) return;
  if (loading || fetching) {
    again = true;
    return;
  }
  fetching = true;
  try {
    await fetchNewer();
  } finally {
    fetching = false;
  }
  if (again) {
    again = false;
    loadNewer();
  }
}

async function fetchNewer() {
  const after = rows.length ? rows[0].id : newest;
  const ticket = asked;
  try {
    const fresh = await call("list_history", query({ after_id: after }));
    if (ticket !== asked || !root) return;
    if (!fresh.length) {
      newest = Math.max(newest, after);
      return;
    }
    rows = [...fresh, ...rows].slice(0, 500);
    newest = Math.max(newest, ...fresh.map((r) => r.id));
    renderList(new Set(fresh.map((r) => r.id)));
  } catch (e) {
    fill(slots.error, app.pageError(e.message));
  }
}

function renderList(fresh) {
  if (!root) return;
  const filtered = filters.agent || filters.tool || filters.status;
  if (!rows.length) {
    fill(slots.list, h("div", { class: "card empty", data: { testid: "history-empty" } },
      h("h2", {}, filtered ? "No calls match these filters" : "No calls yet"),
      h("p", {}, filtered ? "Try another agent, tool, status or a longer time."
        : "When a client calls a tool through Gatehouse, the call appears here within a second.")));
    return;
  }
  fill(slots.list, h("table", { class: "grid history" },
    h("thead", {}, h("tr", {}, ["Time", "Agent", "Tool", "Status", "Latency"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {
      class: [selected && selected.id === r.id ? "selected" : "", fresh.has(r.id) ? "fresh" : ""].join(" "),
      tabindex: "0",
      data: { callId: String(r.id) },
      on: { click: () => open(r.id), keydown: (e) => { if (e.key === "Enter") open(r.id); } },
    },
    h("td", { class: "nowrap", title: dateTime(r.time) }, clock(r.time)),
    h("td", { class: "name-cell" }, r.agent ? h("span", { class: "name", title: r.agent }, r.agent) : h("span", { class: "muted" }, "unknown"),
      r.verified === false ? h("span", { class: "chip warn", title: "Named by the client itself (no token)" }, "unverified") : null),
    h("td", { class: "mono tool", title: r.tool }, r.tool),
    h("td", {}, h("span", { class: `pill ${statusTone(r.status)}` }, statusLabel(r.status))),
    h("td", { class: "nowrap num" }, latency(r.latency_ms)))))),
  rows.length >= 500 ? h("p", { class: "muted small" }, "Showing the newest 500 calls; narrow the filters to see older ones.") : null);
}

async function open(id) {
  try {
    selected = await call("get_call", { id });
  } catch (e) {
    selected = null;
    app.toast(e.message, "error");
  }
  for (const tr of slots.list.querySelectorAll("tr[data-call-id]")) {
    tr.classList.toggle("selected", selected !== null && tr.dataset.callId === String(selected.id));
  }
  renderDetail();
}

function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

function renderDetail() {
  const c = selected;
  if (!c) {
    fill(slots.detail, h("p", { class: "muted placeholder" }, "Select a call to see its details."));
    return;
  }
  const args = JSON.stringify(c.args, null, 2);
  fill(slots.detail,
    h("h2", { class: "mono tool", title: c.tool }, c.tool),
    h("p", {}, h("span", { class: `pill ${statusTone(c.status)}`, data: { testid: "detail-status" } }, statusLabel(c.status)),
      c.code && c.code !== c.status ? h("span", { class: "muted" }, ` code ${c.code}`) : null),
    h("dl", { class: "facts" },
      field("Agent", c.agent || h("span", { class: "muted" }, "unknown (bad token)"),
        c.verified === false ? h("span", { class: "chip warn" }, "unverified") : null),
      field("Time", dateTime(c.time)),
      field("Latency", h("span", { data: { testid: "detail-latency" } }, latency(c.latency_ms))),
      field("Trace id", h("code", { class: "mono trace", data: { testid: "detail-trace" } }, c.trace_id), " ", copyButton(() => c.trace_id)),
      c.message ? field("Why", h("span", { class: "message" }, c.message)) : []),
    h("h3", {}, "Arguments (redacted)"),
    h("pre", { class: "code", data: { testid: "detail-args" } }, args),
    h("p", { class: "muted small" }, "Text is shown as <str:LENGTH #HASH>: its length and a keyed hash, so equal values match across calls while the values themselves are never stored."),
    detailSections.map((section) => section(c)));
}
