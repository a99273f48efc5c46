// Connections: the GitHub and Gmail accounts whose tools agents may use.
// Connecting runs the same sign-in as `gatehouse connect` inside the app:
// the browser opens the provider's page (or, for GitHub, a code is entered
// on any device), progress arrives as events, and the tokens go to the OS
// keychain. This window never sees a token: only account, scopes, expiry.

import { call, on, EVENTS } from "../api.js";
import { h, fill, notice, copyButton, pathText } from "../dom.js";
import { ago, dateTime, span } from "../format.js";

const ABOUT = {
  github: "Search and read issues, open issues, comment, list notifications.",
  google: "Search and read mail, write drafts, send mail.",
};
const AVATAR = { github: "GH", google: "M" };
const ACCOUNT_KIND = { github: "GitHub account", google: "Google account" };

let root = null;
let app = null;
const slots = {};
let data = null; // the last list_connections answer
let shownKey = null;
const flows = {}; // provider -> the sign-in in progress (its latest step), or its error
const armed = new Set(); // providers whose Disconnect asks for a second click
let listening = false;
let ticker = null;

export default {
  id: "connections",
  title: "Connections",
  mount(el, a) {
    root = el;
    app = a;
    shownKey = null;
    slots.error = h("div");
    slots.cards = h("div", { class: "stack" });
    slots.keychain = h("div", { class: "keychain-line", data: { testid: "keychain" } });
    fill(root,
      h("div", { class: "page-head" }, h("div", {},
        h("h1", {}, "Connections"),
        h("p", { class: "muted" }, "Accounts whose tools your agents may use, with the same guardrails as every other tool. Tokens stay in your OS keychain; this window never sees them."))),
      slots.error, slots.cards, slots.keychain);
    if (!listening) {
      listening = true;
      on(EVENTS.connect, progress);
    }
    refresh();
    keychain();
    ticker = setInterval(render, 30000); // "expires in …" stays true
  },
  status() {
    refresh();
  },
  unmount() {
    root = null;
    clearInterval(ticker);
  },
};

let asked = 0;

async function refresh() {
  if (!root) return;
  const ticket = ++asked;
  try {
    const page = await call("list_connections");
    if (ticket !== asked || !root) return;
    fill(slots.error);
    data = page;
    const key = JSON.stringify(page);
    if (key !== shownKey) {
      shownKey = key;
      render();
    }
  } catch (e) {
    if (ticket !== asked || !root) return;
    shownKey = null;
    data = null;
    fill(slots.cards);
    fill(slots.error, app.pageError(e.message));
  }
}

async function keychain() {
  let k;
  try {
    k = await call("keychain_status");
  } catch (e) {
    k = { problem: e.message };
  }
  if (!root) return;
  fill(slots.keychain, k.problem
    ? notice("error", h("strong", {}, "The keychain can't be used, so accounts can't be connected. "), k.problem)
    : h("p", { class: "muted small" }, "New tokens go to ", h("strong", {}, k.label), ` (${k.name}). There is no plaintext fallback.`));
}

function progress(event) {
  const current = flows[event.provider];
  if (!current || current.error) return; // a sign-in this window no longer shows
  flows[event.provider] = { ...current, ...event };
  render();
}

function render() {
  if (!root || !data) return;
  fill(slots.cards, data.providers.map(card));
}

function card(p) {
  const c = p.connection;
  const flow = flows[p.provider];
  const state = c ? c.state : "not_connected";
  return h("section", { class: "card provider", data: { testid: `provider-${p.provider}`, provider: p.provider, state } },
    h("div", { class: "provider-head" },
      h("div", { class: `avatar ${p.provider}`, "aria-hidden": "true" }, AVATAR[p.provider]),
      h("div", { class: "grow" },
        h("h2", {}, p.title),
        h("p", { class: "muted small" }, ABOUT[p.provider], " ", h("span", { class: "mono" }, `${p.tools}__*`))),
      statePill(state)),
    c ? details(p, c) : null,
    !c && !p.configured ? notConfigured(p) : null,
    flow ? flowPanel(p, flow) : null,
    flow && !flow.error ? null : actions(p, c));
}

function statePill(state) {
  const [tone, text] = {
    connected: ["good", "Connected"],
    needs_reconnect: ["warn", "Needs reconnecting"],
    not_connected: ["", "Not connected"],
  }[state] || ["", state];
  return h("span", { class: `pill ${tone}`, data: { testid: "connection-state" } }, text);
}

function details(p, c) {
  return [
    c.state === "needs_reconnect"
      ? notice("warn", h("strong", {}, "Agents can't use this account until you reconnect. "), c.reason ? `Why: ${c.reason}.` : "")
      : null,
    h("dl", { class: "facts wide" },
      field("Account", h("strong", { data: { testid: "account" }, class: "account" }, c.account || "unknown"),
        h("span", { class: "muted" }, ` · ${ACCOUNT_KIND[p.provider]}`)),
      field("Scopes", c.scopes.length
        ? h("span", { class: "scopes" }, c.scopes.map((s) => h("span", { class: "chip scope", title: s }, shortScope(s))))
        : h("span", { class: "muted" }, "none reported")),
      field("Access token", h("span", { data: { expiry: c.expires_at || "" } }, expiry(c))),
      field("Keychain", p.keychain_label || c.keychain, h("span", { class: "muted" }, ` (${c.keychain})`)),
      field("Connected", h("span", { title: dateTime(c.connected_at) }, ago(c.connected_at)),
        c.refreshed_at ? h("span", { class: "muted" }, ` · tokens renewed ${ago(c.refreshed_at)}`) : null)),
  ];
}

/** "gmail.readonly" for Google's long scope URLs; the full one is in the title. */
function shortScope(s) {
  return s.replace(/^https:\/\/www\.googleapis\.com\/auth\//, "");
}

/** "59 min", "3 h", "2 days": a countdown without false precision. */
function roughly(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function expiry(c, now = Date.now()) {
  if (c.state === "needs_reconnect") return "no longer renewed: reconnect to get a new one";
  if (!c.expires_at) return "does not expire";
  const left = Date.parse(c.expires_at) - now;
  const renew = c.refreshable ? "renewed automatically" : "no refresh token: reconnect then";
  return left > 0
    ? `expires in ${roughly(left)} · ${renew}`
    : `expired ${ago(c.expires_at)} · ${c.refreshable ? "renewed at the next tool call" : "reconnect to use it again"}`;
}

function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

function notConfigured(p) {
  return notice("warn",
    h("strong", {}, `To connect ${p.title}, Gatehouse needs your OAuth client id. `),
    "Set ", h("code", {}, "client_id"), " under ", h("code", {}, `[oauth.${p.provider}]`), " in ",
    pathText(data.config_file), " (docs/configuration.md says how to create one); this page notices the change by itself.");
}

function actions(p, c) {
  const buttons = [];
  const connect = (label, style, device = false, testid = `connect-${p.provider}`) => h("button", {
    type: "button", class: style, disabled: !p.configured, data: { testid },
    title: p.configured ? null : `Set ${p.client_id_key} first`,
    on: { click: () => startConnect(p, device) },
  }, label);
  if (!c) {
    buttons.push(connect(`Connect ${p.title}`, "primary"));
    if (p.device_flow) buttons.push(connect("Use a code instead", "secondary", true, `connect-device-${p.provider}`));
  } else {
    buttons.push(connect("Reconnect", c.state === "needs_reconnect" ? "primary" : "secondary", false, `reconnect-${p.provider}`));
    buttons.push(disconnectButton(p));
  }
  return h("div", { class: "row end" }, buttons);
}

function disconnectButton(p) {
  const isArmed = armed.has(p.provider);
  return h("button", {
    type: "button",
    class: isArmed ? "danger" : "secondary",
    data: { testid: `disconnect-${p.provider}` },
    title: "Revoke the grant where the provider can, and delete the tokens from the keychain",
    on: {
      click: async () => {
        if (!armed.has(p.provider)) {
          armed.add(p.provider);
          render();
          setTimeout(() => { if (armed.delete(p.provider)) render(); }, 4000);
          return;
        }
        armed.delete(p.provider);
        try {
          const done = await call("disconnect_account", { provider: p.provider });
          app.toast(`Disconnected ${p.title}: ${done.revocation}; the tokens were deleted from the keychain.`);
        } catch (e) {
          app.toast(e.message, "error");
        }
        shownKey = null;
        await refresh();
      },
    },
  }, isArmed ? "Confirm: disconnect" : "Disconnect");
}

async function startConnect(p, device) {
  flows[p.provider] = { step: "starting", device };
  render();
  try {
    const view = await call("connect_account", { provider: p.provider, device });
    if (view) {
      delete flows[p.provider];
      app.toast(`Connected ${p.title} as ${view.account || "an unknown account"}. Agents see the ${p.tools}__* tools the next time they list tools.`);
    } else if (flows[p.provider] && !flows[p.provider].error) {
      delete flows[p.provider]; // cancelled
    }
  } catch (e) {
    flows[p.provider] = { error: e.message, device };
  }
  shownKey = null;
  await refresh();
  render();
}

function flowPanel(p, f) {
  const cancel = h("button", {
    type: "button", class: "secondary", data: { testid: "connect-cancel" },
    on: { click: () => call("cancel_connect", { provider: p.provider }).catch((e) => app.toast(e.message, "error")) },
  }, "Cancel");
  const reopen = (label) => h("button", {
    type: "button", class: "secondary",
    on: { click: () => call("open_connect_page", { provider: p.provider }).catch((e) => app.toast(e.message, "error")) },
  }, label);
  if (f.error) {
    const n = notice("error", h("span", {}, h("strong", {}, `Connecting ${p.title} failed. `), f.error),
      h("button", {
        type: "button", class: "link dismiss", title: "Dismiss", "aria-label": "Dismiss",
        on: { click: () => { delete flows[p.provider]; render(); } },
      }, "Dismiss"));
    n.dataset.testid = "connect-error";
    n.classList.add("with-dismiss");
    return n;
  }
  if (f.step === "open_browser") {
    return h("div", { class: "flow", data: { testid: "connect-flow", step: f.step } },
      h("h3", {}, `Sign in to ${p.title} in your browser`),
      h("p", {}, f.opened
        ? `Your browser opened ${p.title}'s sign-in page. Approve Gatehouse there; this window continues by itself.`
        : `No browser opened (${f.browser_problem}). Open this address in a browser on this computer:`),
      h("div", { class: "url-row" },
        h("code", { class: "url-value", data: { testid: "connect-url" } }, f.url),
        copyButton(() => f.url, "Copy address")),
      h("p", { class: "muted small waiting" }, h("span", { class: "spinner", "aria-hidden": "true" }),
        "Waiting for the browser to come back to ", h("code", {}, f.redirect), " …"),
      h("div", { class: "row end" }, reopen("Open the browser again"), cancel));
  }
  if (f.step === "device_code") {
    return h("div", { class: "flow", data: { testid: "connect-flow", step: f.step } },
      h("h3", {}, `Enter this code at ${p.title}`),
      h("div", { class: "device-row" },
        h("code", { class: "device-code", data: { testid: "device-code" } }, f.user_code),
        copyButton(() => f.user_code, "Copy code")),
      h("p", {}, "Open ", h("code", { class: "path-text" }, f.verification_uri),
        ` on this computer or any other device and enter the code. It is valid for ${span(f.expires_in_s * 1000)}.`),
      h("p", { class: "muted small waiting" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Waiting for you to approve …"),
      h("div", { class: "row end" }, reopen("Open that page"), cancel));
  }
  const text = {
    starting: "Starting the sign-in (checking the keychain) …",
    exchanging: "Authorization received; getting the tokens …",
    saved: "Connected; saving …",
  }[f.step] || "Working …";
  return h("div", { class: "flow", data: { testid: "connect-flow", step: f.step } },
    h("p", { class: "waiting" }, h("span", { class: "spinner", "aria-hidden": "true" }), text),
    f.step === "starting" ? h("div", { class: "row end" }, cancel) : null);
}
