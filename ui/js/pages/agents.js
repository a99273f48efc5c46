// Agents: who may call tools. Pending agents first, with Approve and Deny;
// then every agent with what can be done to it. "Add agent" issues a token,
// shown once, with ready config for each client.

import { call } from "../api.js";
import { h, fill, notice, copyButton, pathText } from "../dom.js";
import { ago } from "../format.js";

const CLIENTS = [
  { key: "claude_desktop", label: "Claude Desktop", where: "Add to claude_desktop_config.json (Settings → Developer → Edit Config):" },
  { key: "cursor", label: "Cursor", where: "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project):" },
  { key: "vscode", label: "VS Code", where: "Add to .vscode/mcp.json in your workspace (or run “MCP: Open User Configuration”):" },
  { key: "claude_code", label: "Claude Code", where: "Run in a terminal:" },
];

const ACTIONS = {
  pending: ["approve", "deny"],
  approved: ["revoke", "rotate"],
  denied: ["approve"],
  revoked: ["rotate"],
};

const LABELS = { approve: "Approve", deny: "Deny", revoke: "Revoke", rotate: "New token" };
const HINTS = {
  approve: "Let this agent call tools",
  deny: "Refuse this agent's calls",
  revoke: "Withdraw approval and token at once",
  rotate: "Issue a new token; the old one stops working at once",
};

let root = null;
let app = null;
const slots = {};
let shownKey = null; // what the list shows, less the "last seen" times

export default {
  id: "agents",
  title: "Agents",
  mount(el, a) {
    root = el;
    app = a;
    shownKey = null;
    slots.error = h("div");
    slots.form = h("div");
    slots.token = h("div");
    slots.list = h("div", { class: "stack" });
    fill(root,
      h("div", { class: "page-head" },
        h("div", {},
          h("h1", {}, "Agents"),
          h("p", { class: "muted" }, "Every client that calls tools through Gatehouse is an agent. Approve the ones you trust.")),
        h("button", { type: "button", data: { testid: "add-agent" }, on: { click: openAddForm } }, "Add agent")),
      slots.error, slots.form, slots.token, slots.list);
    refresh();
  },
  status() {
    refresh();
  },
  unmount() {
    root = null;
  },
};

let asked = 0; // answers to older requests are dropped: they may predate a change

async function refresh() {
  if (!root) return;
  const ticket = ++asked;
  try {
    const agents = await call("list_agents");
    if (ticket !== asked || !root) return;
    fill(slots.error);
    const key = JSON.stringify(agents.map((a) => [a.name, a.status, a.verified, a.parent_exe]));
    if (key === shownKey) {
      for (const a of agents) {
        for (const cell of slots.list.querySelectorAll(`[data-seen-of]`)) {
          if (cell.dataset.seenOf === a.name) {
            cell.textContent = ago(a.last_seen_at);
            cell.title = a.last_seen_at || "";
          }
        }
      }
      return;
    }
    shownKey = key;
    agents.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
    const pending = agents.filter((a) => a.status === "pending");
    const others = agents.filter((a) => a.status !== "pending");
    fill(slots.list, pending.length ? pendingSection(pending) : null,
      others.length || !pending.length ? allSection(others, pending.length > 0) : null);
  } catch (e) {
    if (ticket !== asked) return;
    shownKey = null;
    fill(slots.error, app.pageError(e.message));
  }
}

function openAddForm() {
  fill(slots.token);
  fill(slots.form, addForm());
}

function pendingSection(pending) {
  return h("section", { class: "card attention", data: { testid: "pending" } },
    h("h2", {}, `Waiting for your approval (${pending.length})`),
    h("p", { class: "muted" }, "Their calls wait here for you, then give up. Approve only clients you started."),
    h("ul", { class: "pending-list" }, pending.map((a) =>
      h("li", { data: { agent: a.name } },
        h("div", { class: "who" },
          h("strong", { class: "name", title: a.name }, a.name),
          identity(a),
          h("div", { class: "muted small exe" },
            a.parent_exe ? ["Launched by ", pathText(a.parent_exe)] : "Launched by an unknown program",
            ` · first seen ${ago(a.created_at)}`)),
        h("div", { class: "actions" },
          actionButton(a, "approve", "primary"),
          actionButton(a, "deny", "danger"))))));
}

function allSection(agents, somePending) {
  if (!agents.length) {
    return h("section", { class: "card empty", data: { testid: "agents-empty" } },
      h("h2", {}, "No agents yet"),
      h("p", {}, "Add an agent for each client with “Add agent”: you get a token and the config to paste."),
      h("p", { class: "muted" }, "A client started without a token shows up here by itself, waiting for your approval."));
  }
  return h("section", { class: "card" },
    h("h2", {}, somePending ? "Other agents" : "All agents"),
    h("table", { class: "grid agents" },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Launched by", "Last seen", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, agents.map((a) =>
        h("tr", { data: { agent: a.name, status: a.status } },
          h("td", { class: "name-cell" }, h("span", { class: "name", title: a.name }, a.name), identity(a), toolsProblem(a)),
          h("td", {}, h("span", { class: `pill ${tone(a.status)}`, data: { testid: "status" } }, a.status)),
          h("td", { class: "exe mono" }, a.parent_exe ? pathText(a.parent_exe) : h("span", { class: "muted" }, "—")),
          h("td", { class: "nowrap", title: a.last_seen_at || "", data: { seenOf: a.name } }, ago(a.last_seen_at)),
          h("td", { class: "actions" }, ACTIONS[a.status].map((act) => actionButton(a, act, act === "approve" ? "primary" : "secondary"))))))));
}

function identity(a) {
  return a.verified
    ? h("span", { class: "chip good", title: "Proves itself with its own token" }, "token")
    : h("span", { class: "chip warn", title: "Named by the client itself (no token): anything could claim this name", data: { testid: "unverified" } }, "unverified");
}

/// A stored tool list that can't be read: every call of the agent is refused until it is set again.
function toolsProblem(a) {
  return a.tools_error
    ? h("span", { class: "chip bad", title: a.tools_error, data: { testid: "tools-error" } }, "calls refused: tool list unreadable")
    : null;
}

function tone(status) {
  return { approved: "good", pending: "warn", denied: "bad", revoked: "bad" }[status] || "";
}

function actionButton(agent, action, style) {
  const b = h("button", {
    type: "button",
    class: `${style} small`,
    title: HINTS[action],
    data: { action },
  }, LABELS[action]);
  const needsConfirm = action === "revoke" || action === "rotate" || (action === "deny" && agent.status !== "pending");
  b.addEventListener("click", async () => {
    if (needsConfirm && !b.dataset.armed) {
      b.dataset.armed = "1";
      b.textContent = `Confirm ${LABELS[action].toLowerCase()}`;
      b.classList.add("danger");
      setTimeout(() => {
        if (b.isConnected) {
          delete b.dataset.armed;
          b.textContent = LABELS[action];
          b.classList.remove("danger");
        }
      }, 4000);
      return;
    }
    b.disabled = true;
    try {
      const out = await call(`${action}_agent`, { name: agent.name });
      if (action === "rotate") {
        fill(slots.token, tokenPanel(out));
        app.toast(`New token for “${agent.name}”: the old one no longer works.`);
      } else {
        app.toast(`“${agent.name}” is ${out.status}.`);
      }
      shownKey = null;
      await app.refreshStatus();
      await refresh();
    } catch (e) {
      app.toast(e.message, "error");
      b.disabled = false;
    }
  });
  return b;
}

function addForm() {
  const input = h("input", { type: "text", name: "name", placeholder: "e.g. claude-desktop", maxlength: "64", required: true, autocomplete: "off", data: { testid: "agent-name" } });
  const err = h("div", { class: "form-error", role: "alert" });
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      const view = await call("add_agent", { name: input.value });
      fill(slots.form);
      fill(slots.token, tokenPanel(view));
      shownKey = null;
      await refresh();
    } catch (e) {
      fill(err, e.message);
    }
  };
  const form = h("form", { class: "card add", on: { submit } },
    h("h2", {}, "Add an agent"),
    h("p", { class: "muted" }, "One agent per client. It is approved at once and proves itself with a token, shown once."),
    h("div", { class: "row" },
      h("label", {}, "Name ", input),
      h("button", { type: "submit", data: { testid: "create-agent" } }, "Create"),
      h("button", { type: "button", class: "secondary", on: { click: () => fill(slots.form) } }, "Cancel")),
    err);
  setTimeout(() => input.focus(), 0);
  return form;
}

function tokenPanel(view) {
  let current = CLIENTS[0];
  const body = h("div", { class: "client-config" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const text = (c) => (typeof view.client_config[c.key] === "string"
    ? view.client_config[c.key]
    : JSON.stringify(readable(view.client_config[c.key]), null, 2));
  const showTab = (c) => {
    current = c;
    for (const t of tabs.children) t.setAttribute("aria-selected", String(t.dataset.client === c.key));
    fill(body,
      h("p", { class: "muted small" }, c.where),
      h("pre", { class: "code", data: { testid: `config-${c.key}` } }, text(c)),
      copyButton(() => text(current), `Copy ${c.label} config`));
  };
  fill(tabs, CLIENTS.map((c) => h("button", { type: "button", role: "tab", class: "tab", data: { client: c.key }, on: { click: () => showTab(c) } }, c.label)));
  showTab(current);
  return h("section", { class: "card token", data: { testid: "token-panel" } },
    h("h2", {}, `Token for “${view.name}”`),
    notice("warn", "Shown this once: Gatehouse keeps only a hash. Copy it into the client's config now."),
    h("div", { class: "token-row" },
      h("code", { class: "token-value", data: { testid: "token" } }, view.token),
      copyButton(() => view.token, "Copy token")),
    tabs, body,
    h("div", { class: "row end" },
      h("button", { type: "button", class: "secondary", data: { testid: "token-done" }, on: { click: () => fill(slots.token) } }, "Done: hide the token")));
}

// Keys in the order people write them: type, command, args, env.
const FIRST = ["type", "command", "args", "env"];

function readable(value) {
  if (Array.isArray(value)) return value.map(readable);
  if (!value || typeof value !== "object") return value;
  const keys = Object.keys(value).sort((a, b) => {
    const ia = FIRST.indexOf(a);
    const ib = FIRST.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  return Object.fromEntries(keys.map((k) => [k, readable(value[k])]));
}
