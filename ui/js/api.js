// The one door to the app's Rust side: `call` runs a command (src-core does
// the work), `on` listens to an event. A failed command rejects with one
// sentence saying what is wrong and how to fix it.

const tauri = window.__TAURI__;

/** Runs command `cmd` with `args`; resolves to its view. */
export async function call(cmd, args = {}) {
  if (!tauri) {
    throw new Error("This page only works inside the Gatehouse app.");
  }
  try {
    return await tauri.core.invoke(cmd, args);
  } catch (e) {
    throw new Error(typeof e === "string" ? e : (e && e.message) || String(e));
  }
}

/** Calls `fn(payload)` on every `event`; resolves to a function that stops listening. */
export async function on(event, fn) {
  if (!tauri) return () => {};
  return tauri.event.listen(event, (e) => fn(e.payload));
}

/** Events the Rust side sends. */
export const EVENTS = {
  status: "gatehouse://status",
  navigate: "gatehouse://navigate",
  connect: "gatehouse://connect",
};
