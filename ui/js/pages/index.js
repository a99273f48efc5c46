// The window's pages, in nav order. A page is a module exporting
// { id, title, mount(root, app), status(status)?, unmount()? }.
// To add a page (Connections, Alerts): write pages/NAME.js and list it here.

import agents from "./agents.js";
import limits from "./limits.js";
import history from "./history.js";

export const PAGES = [agents, limits, history];
