"""Helpers for connecting accounts in the tray app's end-to-end tests: a
real Secret Service (gnome-keyring) on a D-Bus session bus, the OAuth fakes
of the black-box tests (tests/fakes/server.mjs: a real OAuth2 server from
npm, oauth2-mock-server, and GitHub/Gmail API doubles), a "browser" that is a
script capturing the URL the app opens (GATEHOUSE_BROWSER), and the
browser's step done by an HTTP client following the redirect to the app's
loopback callback. Every wait is bounded; every process is stopped by pid.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from harness import PYTHON, ROOT, wait_for

FAKES = ROOT / "tests" / "fakes" / "server.mjs"
KEYRING_ITEMS = ROOT / "tests" / "fakes" / "keyring_items.py"


def _bare_env(**extra: str) -> dict[str, str]:
    """An environment with no display: a keyring started from it can't show
    an unlock prompt (gcr-prompter), so a locked one says so at once."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")}
    env.update(extra)
    return env


def _owned(address: str, name: str) -> bool:
    out = subprocess.run(["dbus-send", f"--bus={address}", "--print-reply", "--dest=org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
                         capture_output=True, text=True, timeout=10)
    return "boolean true" in out.stdout


class Keyring:
    """gnome-keyring's Secret Service on the bus at `address` (default: this
    session's), its files in a temp folder; unlocked or left locked."""

    def __init__(self, address: str | None = None, unlocked: bool = True):
        self.address = address or os.environ["DBUS_SESSION_BUS_ADDRESS"]
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-e2e-keyring-"))
        run = self.dir / "run"
        run.mkdir(mode=0o700)
        env = _bare_env(DBUS_SESSION_BUS_ADDRESS=self.address, HOME=str(self.dir),
                        XDG_DATA_HOME=str(self.dir / "data"), XDG_RUNTIME_DIR=str(run))
        args = ["gnome-keyring-daemon", "--foreground", "--components=secrets"] + (["--unlock"] if unlocked else [])
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None
        if unlocked:
            self.proc.stdin.write(b"\n")  # the (empty) password, then EOF
        self.proc.stdin.close()
        wait_for("gnome-keyring to own org.freedesktop.secrets",
                 lambda: _owned(self.address, "org.freedesktop.secrets"), timeout=15)

    def items(self, tokens: list[str]) -> dict:
        """Gatehouse's entries, seen independently with Python's secretstorage:
        {"count": N, "holds": [bool per token]} (never a secret)."""
        out = subprocess.run([str(PYTHON), str(KEYRING_ITEMS), json.dumps(tokens)], capture_output=True, text=True,
                             env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"keyring_items.py failed: {out.stderr}")
        return json.loads(out.stdout)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


_SESSION_KEYRING: Keyring | None = None


def session_keyring() -> Keyring:
    """The unlocked Secret Service of this test session's bus, started once
    per run, before any app: otherwise the first program asking for one
    (WebKitGTK does) has D-Bus start gnome-keyring itself, locked, in the
    real home folder. Stopped when the run ends."""
    global _SESSION_KEYRING
    if _SESSION_KEYRING is None:
        _SESSION_KEYRING = Keyring()
        atexit.register(_SESSION_KEYRING.stop)
    return _SESSION_KEYRING


class PrivateBus:
    """A D-Bus session bus of its own, started without a display."""

    def __init__(self):
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], env=_bare_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            self.stop()
            raise AssertionError("dbus-daemon printed no address")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Fakes:
    """tests/fakes/server.mjs: one node process, stopped on `stop` (or when its stdin closes)."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", str(FAKES)], cwd=ROOT / "tests", stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once listening; node exits at once on failure
        if not line:
            self.stop()
            raise AssertionError("tests/fakes/server.mjs did not start")
        urls = json.loads(line)
        self.auth, self.github, self.gmail, self.control = urls["auth"], urls["github"], urls["gmail"], urls["control"]

    def config(self, device: bool = False) -> str:
        """[oauth] sections pointing both providers at the fakes. With
        `device`, GitHub's tokens come from the GitHub double's device-flow
        endpoint (the fake serves the two grants at two URLs)."""
        a, g, m = self.auth, self.github, self.gmail
        token = f"{g}/login/oauth/access_token" if device else f"{a}/token"
        return (f'[oauth]\ncallback_timeout_seconds = 60\n'
                f'[oauth.github]\nclient_id = "gh-client"\nclient_secret = "gh-client-secret"\n'
                f'authorize_url = "{a}/authorize"\ntoken_url = "{token}"\n'
                f'device_url = "{g}/login/device/code"\napi_base_url = "{g}"\n'
                f'[oauth.google]\nclient_id = "google-client"\nclient_secret = "google-client-secret"\n'
                f'authorize_url = "{a}/authorize"\ntoken_url = "{a}/token"\nrevoke_url = "{a}/revoke"\n'
                f'api_base_url = "{m}"\n')

    def _post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(f"{self.control}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.control}/state", timeout=10) as r:
            return json.loads(r.read())

    def issued(self) -> list[str]:
        """Every token string the authorization server issued so far."""
        return self.state()["issued"]

    def set(self, **config) -> None:
        """Changes knobs of the fakes (`state.config` in server.mjs)."""
        self._post("/config", config)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working at the APIs."""
        self._post("/expire_access_tokens", {})

    def approve_devices(self) -> None:
        """Approves every pending device code, as the user would on github.com."""
        self._post("/device/approve", {"deny": False})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


def browse(authorize_url: str) -> tuple[int, str]:
    """The user's browser: GET the authorization URL, follow its redirect to
    the app's loopback callback; returns the callback page's status and text."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(authorize_url, timeout=20)
        raise AssertionError("the authorization server did not redirect")
    except urllib.error.HTTPError as e:
        if e.code != 302:
            raise AssertionError(f"the authorization server answered {e.code}") from e
        callback = e.headers["Location"]
    assert callback.startswith("http://127.0.0.1:"), callback
    try:
        with urllib.request.urlopen(callback, timeout=20) as page:
            return page.status, page.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class BrowserCapture:
    """A GATEHOUSE_BROWSER script that records each URL the app opens."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-e2e-browser-"))
        self.log = self.dir / "opened.txt"
        self.log.touch()
        self.script = self.dir / "browser.sh"
        self.script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{self.log}'\n")
        self.script.chmod(0o755)

    def urls(self) -> list[str]:
        return [u for u in self.log.read_text().splitlines() if u]

    def next_url(self, seen: int, timeout: float = 15) -> str:
        """The first URL opened after `seen` were."""
        urls = wait_for("the app to open the browser", lambda: len(self.urls()) > seen and self.urls(), timeout=timeout)
        return urls[seen]

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
