// How values read on screen: times, durations, statuses, budgets.

const STATUS_LABELS = {
  ok: "OK",
  business_error: "Tool error",
  system_error: "System error",
  rate_limited: "Rate limited",
  denied: "Denied",
  approval_pending: "Not approved in time",
};

/** "Rate limited" for `rate_limited`. */
export function statusLabel(s) {
  return STATUS_LABELS[s] || s;
}

/** The CSS class of a call status pill. */
export function statusTone(s) {
  if (s === "ok") return "good";
  if (s === "rate_limited" || s === "approval_pending" || s === "business_error") return "warn";
  return "bad";
}

/** Every call status, for filters. */
export const CALL_STATUSES = Object.keys(STATUS_LABELS);

/** "12 s ago", "3 min ago", "yesterday 14:02". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return dateTime(iso);
}

/** Local "2026-11-25 14:02:07". */
export function dateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Local "14:02:07", with the date when not today. */
export function clock(iso, now = new Date()) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  const full = dateTime(iso);
  return d.toDateString() === now.toDateString() ? full.slice(11) : full;
}

/** "0.4 ms", "12 ms", "1.2 s". */
export function latency(ms) {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A duration in ms as "3 s", "2 min", "1.5 h". */
export function span(ms) {
  const s = ms / 1000;
  if (s < 1) return `${Math.round(ms)} ms`;
  if (s < 90) return `${+s.toFixed(1)} s`;
  if (s < 5400) return `${+(s / 60).toFixed(1)} min`;
  if (s < 129600) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} days`;
}

const PERIOD_MS = { second: 1000, minute: 60000, hour: 3600000, day: 86400000 };

/** The periods, shortest first. */
export const PERIODS = Object.keys(PERIOD_MS);

/** "1 every 1 s" for 60/minute. */
export function refill(capacity, period) {
  return `+1 every ${span(PERIOD_MS[period] / capacity)}`;
}

/** "60 per minute". */
export function budgetText(capacity, period) {
  return `${capacity.toLocaleString()} per ${period}`;
}

/** A balance with at most one decimal: "59.3", "60". */
export function balance(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
