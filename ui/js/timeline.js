// An opened call's trace as a timeline: the spans Gatehouse wrote to its
// span files (the SERVER span of the call, a span per guard stage, the
// CLIENT span of each upstream or API request), as a waterfall with names,
// offsets, durations, status and nesting. A span opens its attributes
// (recorded already redacted). Calls whose spans are not in the files say
// why that may be.

import { call } from "./api.js";
import { h, fill, notice, pathText } from "./dom.js";
import { latency } from "./format.js";

const KIND = { server: "S", client: "C", internal: "I", producer: "P", consumer: "R", unspecified: "·" };
// Attributes worth a glance beside a span's name (the rest open on click).
const GLANCE = ["gatehouse.outcome", "gatehouse.upstream", "http.response.status_code", "error.type"];

/** The timeline section for call `c`; it fills itself in. */
export function timeline(c) {
  const box = h("section", { class: "timeline", data: { testid: "trace-timeline" } },
    h("h3", {}, "Trace"), h("p", { class: "muted small" }, "Reading the span files …"));
  load(box, c, 0);
  return box;
}

async function load(box, c, attempt) {
  let page;
  try {
    page = await call("get_trace", { traceId: c.trace_id });
  } catch (e) {
    fill(box, h("h3", {}, "Trace"), notice("error", e.message));
    return;
  }
  if (attempt > 0 && !box.isConnected) return; // another call was opened meanwhile
  if (!page.trace) {
    // Spans reach the files about a second after a call: a fresh call gets a few more looks.
    const age = Date.now() - Date.parse(c.time);
    if (page.local_files && age < 8000 && attempt < 8) {
      setTimeout(() => load(box, c, attempt + 1), 1000);
      return;
    }
    fill(box, h("h3", {}, "Trace"), missing(page));
    return;
  }
  fill(box, ...render(page.trace));
}

function missing(page) {
  return h("div", { class: "notice info", data: { testid: "trace-missing" } },
    page.local_files
      ? ["No spans of this call are in ", pathText(page.traces_dir),
        `. Span files are kept for ${page.retention_days} days ([history] retention_days), so older calls have none; nor do calls made while tracing was off.`]
      : ["This call's spans were not written: span files are off (",
        h("code", {}, "[traces] local_files = false"),
        " in config.toml). Its trace id still ties the history, the logs and your OpenTelemetry collector together."]);
}

function flatten(nodes, depth, out) {
  for (const n of nodes) {
    out.push({ node: n, depth });
    flatten(n.children, depth + 1, out);
  }
  return out;
}

function render(trace) {
  const total = Math.max(trace.duration_ms, 0.001);
  const rows = flatten(trace.roots, 0, []);
  const pct = (ms) => `${Math.min(100, Math.max(0, (ms / total) * 100)).toFixed(2)}%`;
  const outside = trace.roots.some((r) => r.parent_span_id);
  return [
    h("h3", {}, "Trace"),
    h("p", { class: "muted small" }, `${trace.span_count} spans over ${latency(trace.duration_ms)}. Select a span for its attributes.`),
    h("p", { class: "legend muted small" },
      h("span", {}, h("span", { class: "kind-badge server" }, "S"), " the call"),
      h("span", {}, h("span", { class: "kind-badge internal" }, "I"), " a step"),
      h("span", {}, h("span", { class: "kind-badge client" }, "C"), " a request it made")),
    h("div", { class: "waterfall", role: "list" },
      h("div", { class: "axis", "aria-hidden": "true" },
        h("span", {}, "0"), h("span", {}, latency(total / 2)), h("span", {}, latency(total))),
      rows.map(({ node, depth }) => spanRow(node, depth, pct))),
    outside ? h("p", { class: "muted small" }, "↑ The top span's parent is in the calling client's process: its own spans are in its trace, under the same trace id.") : null,
  ];
}

function spanRow(s, depth, pct) {
  const attrs = h("dl", { class: "span-attrs", hidden: true },
    Object.entries(s.attributes).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]));
  const glance = GLANCE.filter((k) => k in s.attributes).map((k) => `${k.split(".").pop()}=${s.attributes[k]}`);
  const row = h("div", {
    class: `span-row kind-${s.kind} status-${s.status}`,
    role: "listitem",
    tabindex: "0",
    title: `${s.name}: starts at +${latency(s.offset_ms)}, takes ${latency(s.duration_ms)}`,
    data: { testid: "span", name: s.name, kind: s.kind, status: s.status, depth: String(depth) },
  },
  h("div", { class: "span-line" },
    h("span", { class: "span-name" },
      h("span", { class: `kind-badge ${s.kind}`, title: s.kind }, KIND[s.kind] || "·"),
      h("span", { class: "mono label" }, s.name),
      s.status === "error" ? h("span", { class: "pill bad tiny" }, "error") : null,
      glance.length ? h("span", { class: "muted small glance" }, glance.join(" · ")) : null),
    h("span", { class: "span-time num" }, latency(s.duration_ms))),
  h("div", { class: "span-track" },
    h("div", { class: "span-bar" })),
  attrs);
  row.querySelector(".span-name").style.paddingLeft = `${depth * 14}px`;
  const bar = row.querySelector(".span-bar");
  bar.style.left = pct(s.offset_ms);
  bar.style.width = `max(2px, ${pct(s.duration_ms)})`;
  const toggle = () => { attrs.hidden = !attrs.hidden; row.classList.toggle("open", !attrs.hidden); };
  row.addEventListener("click", toggle);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
  return row;
}
