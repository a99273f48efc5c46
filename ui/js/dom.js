// Building the page from data without innerHTML: text always goes in as
// text, so no value (an agent name, a tool name) can become markup.

/**
 * h("button", {class: "x", on: {click}, data: {testid: "y"}, title}, "text", child...)
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces everything inside `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A small message box: kind is "error", "warn", "ok" or "info". */
export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** Copies `text` to the clipboard; resolves true when it worked. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "offscreen", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    area.remove();
    return ok;
  }
}

/** A "Copy" button for `text()`, which says "Copied" for a moment. */
export function copyButton(text, label = "Copy") {
  const b = h("button", { type: "button", class: "secondary small", data: { testid: "copy" } }, label);
  b.addEventListener("click", async () => {
    const ok = await copy(text());
    b.textContent = ok ? "Copied" : "Select and copy by hand";
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

/** A file path that may break only after a "/" (never inside a name). */
export function pathText(path) {
  const parts = path.split(/(?<=\/)/);
  return h("span", { class: "path-text", title: path }, parts.flatMap((p, i) => (i ? [h("wbr"), p] : [p])));
}
