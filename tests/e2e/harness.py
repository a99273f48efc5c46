"""Helpers for the tray app's end-to-end tests: a Gatehouse home per test
class, the real `gatehouse` CLI and `serve`, the real app driven through
tauri-driver + WebKitWebDriver with Selenium, and a real notification
service (dunst). Every wait is bounded. Run through tests/e2e/run.sh, which
provides Xvfb and a D-Bus session.
"""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
GATEHOUSE = BIN / "gatehouse"
TRAY = BIN / "gatehouse-tray"
TAURI_DRIVER = ROOT / "tests" / ".tools" / "bin" / "tauri-driver"
WEBKIT_DRIVER = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
PYTHON = ROOT / "tests" / ".venv" / "bin" / "python"
MCP_CLIENT = ROOT / "tests" / "clients" / "mcp_client.py"
EVERYTHING = ROOT / "tests" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
SHOTS = ROOT / "docs" / "screenshots"

# A hung test prints where every thread is, then the run fails (tests/e2e/run.sh has an outer limit too).
faulthandler.dump_traceback_later(int(os.environ.get("E2E_HANG_SECONDS", "420")), exit=True)

# Planted in arguments; must never appear in the window (nor in any file).
CANARY_EMAIL = "jane.canary@example.com"
CANARY_TOKEN = "ghp_" + "Zq8" * 12
CANARY_CARD = "4111111111111111"
CANARIES = [CANARY_EMAIL, CANARY_TOKEN, CANARY_CARD]


def txt(el) -> str:
    """An element's text as the DOM has it (WebKitWebDriver's rendered text drops some of it)."""
    return el.get_property("textContent") or ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what: str, f: Callable[[], Any], timeout: float = 10.0, every: float = 0.1) -> Any:
    """Polls `f` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = f()
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Home:
    """One Gatehouse installation in a temp folder (GATEHOUSE_HOME)."""

    def __init__(self, config: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-e2e-"))
        if config is not None:
            self.config_path.write_text(config)

    @property
    def config_path(self) -> Path:
        return self.dir / "config.toml"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env["GATEHOUSE_HOME"] = str(self.dir)
        env.update(extra)
        return env

    def cli(self, *args: str) -> Any:
        """`gatehouse ARGS --json`, parsed; fails on a non-zero exit."""
        out = subprocess.run([str(GATEHOUSE), *args, "--json"], env=self.env(), capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"gatehouse {args} failed: {out.stderr}")
        return json.loads(out.stdout)

    def all_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.dir.rglob("*") if p.is_file())

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def everything_upstream() -> str:
    return f'[[upstream]]\nname = "everything"\ncommand = "node"\nargs = [{json.dumps(str(EVERYTHING))}, "stdio"]\n'


class McpClient:
    """The official Python MCP SDK (tests/clients/mcp_client.py) running `gatehouse serve`."""

    def __init__(self, home: Home, ops: list[dict], client_name: str, token: str | None = None):
        env_args = ["--env", f"GATEHOUSE_HOME={home.dir}"]
        if token:
            env_args += ["--env", f"GATEHOUSE_TOKEN={token}"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(PYTHON), str(MCP_CLIENT), "--mode", "legacy", "--client-name", client_name, "--timeout", "60",
             "--deadline", "90", "--stderr", "discard", *env_args, "--ops", json.dumps(ops), "--", str(GATEHOUSE), "serve"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self, timeout: float = 60) -> dict:
        out, err = self.proc.communicate(timeout=timeout)
        self.elapsed = time.monotonic() - self.started
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            raise AssertionError(f"mcp_client printed no JSON ({e}): {out!r} {err!r}") from e

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.communicate()


class RawSession:
    """`gatehouse serve` driven with raw JSON-RPC lines: one process across several calls."""

    def __init__(self, home: Home, token: str | None = None, client: str = "e2e-raw"):
        env = home.env(**({"GATEHOUSE_TOKEN": token} if token else {}))
        self.proc = subprocess.Popen([str(GATEHOUSE), "serve"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": client, "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict, timeout: float = 30) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("gatehouse serve closed its stdout")
            msg = json.loads(line)
            if msg.get("id") == rid:
                return msg
        raise AssertionError(f"no answer to {method} within {timeout} s")

    def call(self, tool: str, args: dict | None = None) -> dict:
        r = self.request("tools/call", {"name": tool, "arguments": args or {}})
        assert "result" in r, r
        return r["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


class Notifications:
    """dunst, a real notification service on this D-Bus session, printing what it gets."""

    def __init__(self):
        self.log = Path(tempfile.mkstemp(prefix="dunst-", suffix=".log")[1])
        self.file = self.log.open("w")
        self.proc = subprocess.Popen(["stdbuf", "-oL", "dunst", "-print"], stdout=self.file, stderr=subprocess.STDOUT)
        wait_for("dunst to own org.freedesktop.Notifications", self._owned, timeout=10)

    def _owned(self) -> bool:
        out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                              "string:org.freedesktop.Notifications"], capture_output=True, text=True)
        return "boolean true" in out.stdout

    def text(self) -> str:
        self.file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.file.close()


class App:
    """The real tray app in a WebDriver session, with its own GATEHOUSE_HOME (and `env`)."""

    # WebKitWebDriver has been seen to die while tauri-driver still accepts the
    # new-session request, which then never gets an answer: every WebDriver
    # command has a deadline, and a session that doesn't start is tried once more.
    COMMAND_TIMEOUT = 90
    ATTEMPTS = 2

    def __init__(self, home: Home, **env: str):
        self.home = home
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                self._start(home, env)
                return
            except Exception as e:  # noqa: BLE001 (a timeout may come from urllib3, a crash from selenium)
                log = self.driver_log.read_text(errors="replace")[-2000:] if hasattr(self, "driver_log") else ""
                self.quit()  # also stops an app left running, which would make the next launch exit
                if attempt == self.ATTEMPTS:
                    raise
                print(f"\ne2e: the app's WebDriver session did not start ({type(e).__name__}: {str(e)[:200]}); "
                      f"tauri-driver's log ends:\n{log}\ne2e: starting tauri-driver again", file=sys.stderr)
            except BaseException:
                self.quit()
                raise

    def _start(self, home: Home, env: dict[str, str]) -> None:
        self.driver = None
        self.port = free_port()
        native = free_port()
        self.driver_log = Path(tempfile.mkstemp(prefix="tauri-driver-", suffix=".log")[1])
        self.log_file = self.driver_log.open("w")
        self.tauri_driver = subprocess.Popen(
            [str(TAURI_DRIVER), "--port", str(self.port), "--native-port", str(native), "--native-driver", WEBKIT_DRIVER],
            env=home.env(**env), stdout=self.log_file, stderr=subprocess.STDOUT,
        )
        # tauri-driver forwards to WebKitWebDriver, which it starts: both must listen first.
        wait_for("tauri-driver to listen", lambda: listening(self.port), timeout=15)
        wait_for("WebKitWebDriver to listen", lambda: listening(native), timeout=15)
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": str(TRAY)})
        url = f"http://127.0.0.1:{self.port}"
        self.driver = webdriver.Remote(command_executor=url, options=opts,
                                       client_config=ClientConfig(remote_server_addr=url, timeout=self.COMMAND_TIMEOUT))
        self.driver.implicitly_wait(0)
        self.wait_for("the window to load", lambda d: d.execute_script("return document.getElementById('nav').children.length") >= 3)
        # Set once; still there later proves the page never reloaded.
        self.driver.execute_script("window.__e2eMarker = 'loaded-once';")

    def wait_for(self, what: str, cond: Callable, timeout: float = 10) -> Any:
        try:
            # The window re-renders lists as data changes: an element found a moment ago may be gone.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(cond)
        except TimeoutException as e:
            shot = Path(tempfile.gettempdir()) / f"gatehouse-e2e-failure-{int(time.time() * 1000)}.png"
            try:
                self.driver.save_screenshot(str(shot))
                page = self.driver.execute_script("return document.body.innerText")
            except Exception:  # noqa: BLE001
                page = "(page unavailable)"
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; screenshot {shot}; page text:\n{page}") from e

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_css(self, css: str, timeout: float = 10):
        return self.wait_for(f"`{css}`", lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0], timeout)

    def go(self, page: str) -> None:
        self.driver.execute_script("window.scrollTo(0, 0)")  # the sticky header would cover what a test clicks next
        self.find(f"[data-testid=nav-{page}]").click()
        self.wait_for(f"page {page}", lambda d: d.execute_script("return document.getElementById('page').dataset.page") == page)

    def never_reloaded(self) -> bool:
        return self.driver.execute_script("return window.__e2eMarker") == "loaded-once"

    def page_text(self) -> str:
        return self.driver.page_source + txt(self.find("body"))

    def mask(self, secret: str) -> None:
        """Replaces `secret` in every text on the page by its first 8 characters
        and dots, so a screenshot shows where a token is without holding it."""
        self.driver.execute_script(
            """
            const [secret, shown] = arguments;
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
              if (n.nodeValue.includes(secret)) n.nodeValue = n.nodeValue.split(secret).join(shown);
            }
            """,
            secret,
            secret[:8] + "\u2022" * 12,
        )
        assert secret not in self.page_text(), "the secret is still on the page"

    def screenshot(self, name: str, height: int | None = None) -> Path:
        """Saves docs/screenshots/NAME.png; `height` makes the window that tall for it."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        # Transient notices fade first, transitions (bars, new rows' highlight) settle,
        # and the pointer leaves whatever it last clicked (no hover highlight).
        self.wait_for("notices to fade", lambda d: not d.find_elements(By.CSS_SELECTOR, "#toasts .toast"), timeout=12)
        try:
            ActionChains(self.driver).move_to_element(self.find(".brand")).perform()
        except WebDriverException:
            pass
        size = self.driver.get_window_size()
        if height:
            self.driver.set_window_size(size["width"], height)
        time.sleep(1.1)
        try:
            if not self.driver.save_screenshot(str(path)):
                raise AssertionError(f"screenshot {name} failed")
        finally:
            if height:
                self.driver.set_window_size(size["width"], size["height"])
        return path

    def quit(self) -> None:
        try:
            if getattr(self, "driver", None):
                self.driver.quit()
        except WebDriverException:
            pass
        if getattr(self, "tauri_driver", None):
            self.tauri_driver.terminate()
            try:
                self.tauri_driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.tauri_driver.kill()
        if getattr(self, "log_file", None):
            self.log_file.close()
        stop_apps_of(self.home)


def apps_of(home: Home) -> list[int]:
    """The pids of the tray apps running with `home` as their GATEHOUSE_HOME."""
    want = f"GATEHOUSE_HOME={home.dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "exe")).name == TRAY.name and want in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return pids


def stop_apps_of(home: Home, grace: float = 10) -> None:
    """Waits up to `grace` s for `home`'s tray apps to exit, then kills them (by pid).
    A second app for the same home would only show the first one's window and exit."""
    deadline = time.monotonic() + grace
    while (pids := apps_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def need_tools() -> None:
    missing = [str(p) for p in (GATEHOUSE, TRAY, TAURI_DRIVER, PYTHON, EVERYTHING) if not Path(p).exists()]
    missing += [tool for tool in ("dunst", "node", "dbus-daemon", "dbus-send", "gnome-keyring-daemon") if not shutil.which(tool)]
    if missing:
        sys.exit(f"e2e: missing {', '.join(missing)}: run `bash tests/run.sh` (it builds and installs them)")
