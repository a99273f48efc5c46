// The window's pages, in nav order. A page is a module exporting
// { id, title, mount(root, app), status(status)?, unmount()? }.
// To add a page: write pages/NAME.js and list it here.

import agents from "./agents.js";
import connections from "./connections.js";
import limits from "./limits.js";
import history from "./history.js";
import alerts from "./alerts.js";

export const PAGES = [agents, connections, limits, history, alerts];
