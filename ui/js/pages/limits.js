// Limits: every budget with its live balance and how fast it refills, and
// edits written back to the config file (comments kept; the same checks as
// `gatehouse serve` run before the file is replaced).

import { call } from "../api.js";
import { h, fill } from "../dom.js";
import { PERIODS, balance, budgetText, refill, span } from "../format.js";

let root = null;
let app = null;
let timer = null;
const slots = {};
let shownKey = null; // rows and budgets shown; balances update in place
let editing = false; // an edit form is open: don't rebuild under the user's cursor

export default {
  id: "limits",
  title: "Limits",
  mount(el, a) {
    root = el;
    app = a;
    shownKey = null;
    editing = false;
    slots.info = h("p", { class: "muted" }, "");
    slots.error = h("div");
    slots.tables = h("div", { class: "defaults" });
    slots.buckets = h("div");
    slots.add = h("div");
    fill(root,
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Limits"), slots.info)),
      slots.error, slots.tables, slots.buckets, slots.add);
    fill(slots.add, addForm());
    refresh();
    // Balances refill continuously: show them live while the page is open.
    timer = setInterval(refresh, 1000);
  },
  status() {},
  unmount() {
    clearInterval(timer);
    root = null;
  },
};

function keyOf(b) {
  return [b.scope, b.agent, b.tool, b.period].join("|");
}

let asked = 0; // answers to older requests are dropped: they may predate an edit

async function refresh() {
  if (!root) return;
  const ticket = ++asked;
  let page;
  try {
    page = await call("list_limits");
    if (ticket !== asked || !root) return;
    fill(slots.error);
    slots.add.hidden = false;
  } catch (e) {
    if (ticket !== asked) return;
    shownKey = null;
    fill(slots.error, app.pageError(e.message));
    slots.add.hidden = true;
    return;
  }
  fill(slots.info,
    "Budgets come from ", h("code", { class: "path", title: page.config_file }, page.config_file),
    page.config_exists ? "" : " (not created yet: the built-in defaults apply)",
    ". Changes made here are written to that file with its comments kept; running clients' Gatehouse applies them within a second.");
  const key = JSON.stringify([page.buckets.map((b) => [keyOf(b), b.capacity]), page.tables]);
  if (key !== shownKey && !editing) {
    shownKey = key;
    fill(slots.tables, tableCard("every_agent", "Every agent", "Each agent's own budget, unless set for that agent.", page.tables),
      tableCard("every_tool", "Every tool", "Each tool's budget, shared by all agents, unless set for that tool.", page.tables));
    fill(slots.buckets, bucketsCard(page.buckets));
  }
  for (const b of page.buckets) updateBalance(b);
}

function tableCard(table, title, hint, tables) {
  const mine = tables.filter((t) => t.table === table);
  return h("section", { class: "card", data: { testid: `table-${table}` } },
    h("h2", {}, title),
    h("p", { class: "muted small" }, hint),
    h("ul", { class: "budget-chips" }, mine.map((t) => h("li", {}, editable({ table }, t.period, t.capacity, true)))));
}

const GROUPS = [
  { scope: "agent", title: "Each agent's own budget", hint: "Counts every call the agent makes." },
  { scope: "tool", title: "Each tool's budget", hint: "Shared by all agents: it protects the service behind the tool." },
  { scope: "agent_tool", title: "One agent on one tool", hint: "Counts one agent's calls to one tool." },
];

function subject(b) {
  const agent = b.agent && h("span", { class: "name", title: b.agent }, b.agent);
  const tool = b.tool && h("span", { class: "mono", title: b.tool }, b.tool);
  if (b.scope === "agent") return agent;
  if (b.scope === "tool") return tool;
  return [agent, h("span", { class: "muted" }, " on "), tool];
}

function bucketsCard(buckets) {
  if (!buckets.length) {
    return h("section", { class: "card empty" }, h("h2", {}, "No budgets in use yet"),
      h("p", {}, "Budgets appear here as agents call tools, or when you set one below."));
  }
  const search = h("input", { type: "search", placeholder: "Filter by agent or tool", "aria-label": "Filter budgets", data: { testid: "limits-filter" } });
  const body = h("tbody");
  const rowsOf = (group) => {
    const mine = buckets.filter((b) => b.scope === group.scope);
    if (!mine.length) return [];
    const out = [h("tr", { class: "group" }, h("th", { colspan: "6" }, group.title, h("span", { class: "muted small" }, ` · ${group.hint}`)))];
    let last = null;
    for (const b of mine) {
      const who = `${b.agent || ""}|${b.tool || ""}`;
      const target = b.scope === "agent" ? { table: "agent", agent: b.agent }
        : b.scope === "tool" ? { table: "tool", tool: b.tool }
          : { table: "agent_tool", agent: b.agent, tool: b.tool };
      out.push(h("tr", { data: { bucket: keyOf(b), find: `${b.agent || ""} ${b.tool || ""}`.toLowerCase() }, class: who === last ? "same" : "" },
        h("td", { class: "applies" }, who === last ? null : subject(b)),
        h("td", { class: "nowrap" }, editable(target, b.period, b.capacity, false)),
        h("td", { class: "balance" }, h("div", { class: "bar" }, h("div", { class: "fill" })), h("span", { class: "num" })),
        h("td", { class: "nowrap muted" }, refill(b.capacity, b.period)),
        h("td", { class: "nowrap full" }),
        h("td", {})));
      last = who;
    }
    return out;
  };
  fill(body, GROUPS.map(rowsOf));
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    for (const tr of body.querySelectorAll("tr[data-find]")) tr.hidden = q !== "" && !tr.dataset.find.includes(q);
  });
  return h("section", { class: "card" },
    h("div", { class: "card-head" }, h("h2", {}, "Budgets and live balances"), search),
    h("table", { class: "grid limits" },
      h("thead", {}, h("tr", {}, ["Applies to", "Budget", "Balance", "Refill", "Full in", ""].map((t) => h("th", { class: "nowrap" }, t)))),
      body));
}

function updateBalance(b) {
  const row = slots.buckets.querySelector(`tr[data-bucket="${CSS.escape(keyOf(b))}"]`);
  if (!row) return;
  const share = Math.max(0, Math.min(1, b.balance / b.capacity));
  const fillEl = row.querySelector(".fill");
  fillEl.style.width = `${(share * 100).toFixed(1)}%`;
  fillEl.className = `fill ${share < 0.1 ? "bad" : share < 0.35 ? "warn" : "good"}`;
  row.querySelector(".num").textContent = `${balance(b.balance)} of ${b.capacity.toLocaleString()}`;
  const left = Date.parse(b.full_at) - Date.now();
  row.querySelector(".full").textContent = left > 500 ? span(left) : "full now";
}

// A budget that turns into a small form when clicked.
function editable(target, period, capacity, showPeriod) {
  const wrap = h("span", { class: "editable" });
  const view = () => {
    fill(wrap,
      h("span", {}, budgetText(capacity, period)),
      h("button", { type: "button", class: "link small", title: "Change this budget", data: { testid: "edit-budget" }, on: { click: edit } }, "Edit"));
  };
  const edit = () => {
    editing = true;
    const input = h("input", { type: "number", min: "1", step: "1", value: String(capacity), class: "num-input", "aria-label": `Calls per ${period}` });
    const save = async (capacityValue) => {
      try {
        await call("set_budget", { change: { ...target, period, capacity: capacityValue } });
        editing = false;
        shownKey = null;
        app.toast(capacityValue === null ? "Budget reset to the default; saved to the config file." : "Budget saved to the config file.");
        await refresh();
      } catch (e) {
        app.toast(e.message, "error");
      }
    };
    const form = h("form", { class: "inline-edit", on: { submit: (ev) => { ev.preventDefault(); save(parseInt(input.value, 10)); } } },
      input, h("span", { class: "muted small" }, ` per ${period} `),
      h("button", { type: "submit", class: "small", data: { testid: "save-budget" } }, "Save"),
      showPeriod ? null : h("button", { type: "button", class: "secondary small", title: "Remove this override: the budget of every agent / every tool applies", on: { click: () => save(null) } }, "Use default"),
      h("button", { type: "button", class: "link small", on: { click: () => { editing = false; view(); } } }, "Cancel"));
    fill(wrap, form);
    input.focus();
    input.select();
  };
  view();
  return wrap;
}

function addForm() {
  const kind = h("select", { name: "table", "aria-label": "Applies to" },
    h("option", { value: "agent" }, "One agent"),
    h("option", { value: "tool" }, "One tool (all agents)"),
    h("option", { value: "agent_tool" }, "One agent on one tool"),
    h("option", { value: "every_agent" }, "Every agent"),
    h("option", { value: "every_tool" }, "Every tool"));
  const agent = h("input", { type: "text", placeholder: "agent name", "aria-label": "Agent" });
  const tool = h("input", { type: "text", placeholder: "tool, e.g. github__create_issue", "aria-label": "Tool" });
  const period = h("select", { "aria-label": "Period" }, PERIODS.map((p) => h("option", { value: p, selected: p === "minute" }, `per ${p}`)));
  const capacity = h("input", { type: "number", min: "1", step: "1", value: "10", class: "num-input", "aria-label": "Calls" });
  const err = h("div", { class: "form-error", role: "alert" });
  const sync = () => {
    agent.hidden = !["agent", "agent_tool"].includes(kind.value);
    tool.hidden = !["tool", "agent_tool"].includes(kind.value);
  };
  kind.addEventListener("change", sync);
  sync();
  const submit = async (ev) => {
    ev.preventDefault();
    fill(err);
    try {
      await call("set_budget", {
        change: {
          table: kind.value,
          agent: agent.hidden ? null : agent.value,
          tool: tool.hidden ? null : tool.value,
          period: period.value,
          capacity: parseInt(capacity.value, 10),
        },
      });
      shownKey = null;
      app.toast("Budget saved to the config file.");
      await refresh();
    } catch (e) {
      fill(err, e.message);
    }
  };
  return h("form", { class: "card", on: { submit } },
    h("h2", {}, "Set a budget"),
    h("p", { class: "muted small" }, "Sets one period of one table in the config file; the other periods keep their values."),
    h("div", { class: "row wrap" }, kind, agent, tool, capacity, period, h("button", { type: "submit" }, "Save")),
    err);
}
