"""Looks inside the Secret Service on DBUS_SESSION_BUS_ADDRESS (the test's own
gnome-keyring) for Gatehouse's entries, independently of Gatehouse.

Usage: keyring_items.py '["token1", "token2"]'
Prints {"count": N, "holds": [bool, ...]}: how many Gatehouse entries exist
(probes excluded) and whether any entry's secret contains each token. It
never prints a secret.
"""
import json
import sys

import secretstorage

tokens = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
conn = secretstorage.dbus_init()
out = {"count": 0, "holds": [False] * len(tokens)}
for item in secretstorage.search_items(conn, {"service": "gatehouse"}):
    if item.get_attributes().get("username", "").startswith("doctor-probe"):
        continue
    out["count"] += 1
    if item.is_locked():
        continue
    secret = item.get_secret().decode("utf-8", "replace")
    for i, t in enumerate(tokens):
        if t in secret:
            out["holds"][i] = True
print(json.dumps(out))
