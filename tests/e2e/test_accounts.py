"""End-to-end tests of the tray app's Connections and Alerts pages (run by
tests/e2e/run.sh under Xvfb in a D-Bus session): GitHub and Gmail are
connected from the window against a real OAuth2 server (npm
oauth2-mock-server, tests/fakes/server.mjs) with the tokens in a real
Secret Service (gnome-keyring); the "browser" is a script that captures the
URL the app opens and an HTTP client that follows the redirect to the app's
loopback callback. Alerts are produced by real `gatehouse serve` calls (bad
tokens, a drained budget). A locked keychain is explained on the page.
Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import re
import unittest

from selenium.webdriver.common.by import By

from accounts import BrowserCapture, Fakes, Keyring, PrivateBus, browse, session_keyring
from harness import App, Home, Notifications, RawSession, everything_upstream, need_tools, txt, wait_for

NOTIFICATIONS: Notifications | None = None
KEYRING: Keyring | None = None

LIMITS = """
[alerts]
check_every_seconds = 1   # the tests want alerts within seconds

[limits.tools."everything__echo"]
per_minute = 3
""" + everything_upstream()


def setUpModule():
    # Before any app: else D-Bus would start these on demand, printing nowhere
    # (dunst) or prompting for a password nobody types (gnome-keyring).
    global NOTIFICATIONS, KEYRING
    need_tools()
    KEYRING = session_keyring()
    NOTIFICATIONS = Notifications()


def tearDownModule():
    if NOTIFICATIONS:
        NOTIFICATIONS.stop()


def card(app: App, provider: str):
    return app.find(f"[data-testid=provider-{provider}]")


def state_of(app: App, provider: str) -> str:
    return card(app, provider).get_attribute("data-state")


class ConnectionsAndAlerts(unittest.TestCase):
    """One home pointed at the fakes; one app session whose browser is a capture script."""

    @classmethod
    def setUpClass(cls):
        need_tools()
        cls.fakes = Fakes()
        cls.browser = BrowserCapture()
        cls.home = Home(cls.fakes.config(device=True) + LIMITS)
        cls.token = cls.home.cli("agents", "add", "claude-desktop")["token"]
        cls.app = App(cls.home, GATEHOUSE_BROWSER=str(cls.browser.script))

    @classmethod
    def tearDownClass(cls):
        cls.app.quit()
        cls.fakes.stop()
        cls.browser.remove()
        cls.home.remove()

    def wait_state(self, provider: str, want: str, timeout: float = 20):
        self.app.wait_for(f"{provider} to be {want}", lambda d: state_of(self.app, provider) == want, timeout=timeout)

    def disconnect(self, provider: str):
        button = self.app.wait_css(f"[data-testid=disconnect-{provider}]")
        button.click()  # arms it
        self.app.wait_for("the confirm button", lambda d: "Confirm" in txt(d.find_element(By.CSS_SELECTOR, f"[data-testid=disconnect-{provider}]")))
        self.app.find(f"[data-testid=disconnect-{provider}]").click()
        self.wait_state(provider, "not_connected")

    def connect_in_browser(self, provider: str) -> str:
        """Clicks Connect; the capture script gets the URL, the page shows the same; the browser step runs."""
        seen = len(self.browser.urls())
        self.app.wait_css(f"[data-testid=connect-{provider}]").click()
        url = self.browser.next_url(seen)
        shown = self.app.wait_css("[data-testid=connect-url]")
        self.assertEqual(txt(shown), url, "the page shows the address it opened, to copy")
        self.assertIn("code_challenge_method=S256", url)
        return url

    def test_1_github_connects_with_a_device_code_and_disconnects(self):
        app = self.app
        app.go("connections")
        self.assertEqual(state_of(app, "github"), "not_connected")
        app.wait_css("[data-testid=connect-device-github]").click()
        code = txt(app.wait_css("[data-testid=device-code]"))
        self.assertRegex(code, r"^[0-9A-F]{4}-[0-9A-F]{4}$")
        self.assertIn(code, self.fakes.state()["pending_devices"])
        app.screenshot("connections-device")
        self.fakes.approve_devices()
        self.wait_state("github", "connected")
        self.assertEqual(txt(card(app, "github").find_element(By.CSS_SELECTOR, "[data-testid=account]")), "octocat")
        self.disconnect("github")
        self.assertEqual(self.home.cli("connections"), [])
        self.assertEqual(KEYRING.items([])["count"], 0, "disconnect deleted the keychain entry")
        # The app reads the config on every use: the browser flow's token endpoint from now on.
        self.home.config_path.write_text(self.fakes.config() + LIMITS)

    def test_2_github_and_gmail_connect_in_the_browser_and_no_token_is_shown_or_stored(self):
        app = self.app
        app.go("connections")
        url = self.connect_in_browser("github")
        app.screenshot("connections-signin")
        status, page = browse(url)
        self.assertEqual(status, 200, page)
        self.assertIn("close this tab", page)
        self.wait_state("github", "connected")
        github = card(app, "github")
        self.assertEqual(txt(github.find_element(By.CSS_SELECTOR, "[data-testid=account]")), "octocat")
        facts = txt(github)
        for shown in ("repo", "notifications", "expires in", "renewed automatically", "secret-service"):
            self.assertIn(shown, facts)

        status, page = browse(self.connect_in_browser("google"))
        self.assertEqual(status, 200, page)
        self.wait_state("google", "connected")
        self.assertEqual(txt(card(app, "google").find_element(By.CSS_SELECTOR, "[data-testid=account]")), "me@example.com")
        self.assertIn("gmail.readonly", txt(card(app, "google")))
        listed = {c["provider"]: c for c in self.home.cli("connections")}
        self.assertEqual(listed["github"]["keychain"], "secret-service")
        self.assertEqual(listed["google"]["account"], "me@example.com")
        app.wait_for("the keychain line", lambda d: "Secret Service" in txt(d.find_element(By.CSS_SELECTOR, "[data-testid=keychain]")))
        app.screenshot("connections")

        # The tokens are in the keychain, and nowhere on the page or on disk.
        # Issued so far: the device flow's pair (deleted at disconnect), then GitHub's and Gmail's.
        issued = self.fakes.issued()
        self.assertEqual(len(issued), 6, "six tokens")
        items = KEYRING.items(issued)
        self.assertEqual(items["count"], 2, "one keychain entry per connection")
        self.assertEqual(items["holds"], [False, False, True, True, True, True])
        page_text = app.page_text()
        disk = self.home.all_bytes()
        for token in issued:
            self.assertNotIn(token, page_text, "a token is on the page")
            self.assertNotIn(token.encode(), disk, "a token is on disk")

        self.disconnect("github")
        self.assertEqual([c["provider"] for c in self.home.cli("connections")], ["google"])
        self.assertEqual(KEYRING.items([])["count"], 1)

        # Google stops renewing: an agent's next Gmail call finds out, and the page says so, with why.
        self.fakes.set(reject_refresh=True)
        self.fakes.expire_access_tokens()
        s = RawSession(self.home, token=self.token, client="claude-desktop")
        try:
            r = s.call("gmail__search", {"query": "invoice"})
        finally:
            s.close()
        self.assertEqual(r["structuredContent"]["reason"], "reconnect_required", r)
        self.wait_state("google", "needs_reconnect")
        google = txt(card(app, "google"))
        self.assertIn("invalid_grant", google)
        self.assertIn("Reconnect", google)
        self.assertTrue(app.never_reloaded())

    def test_3_an_alert_opens_with_its_reason_a_badge_and_a_notification(self):
        app = self.app
        app.go("agents")
        # A burst of calls with a bad token, and a budget drained by a real agent.
        bad = RawSession(self.home, token="gth_" + "0" * 64, client="stale-laptop")
        try:
            for _ in range(5):
                r = bad.call("gatehouse__budgets")
                self.assertEqual(r["structuredContent"]["reason"], "bad_token", r)
        finally:
            bad.close()
        good = RawSession(self.home, token=self.token, client="claude-desktop")
        try:
            codes = [(good.call("everything__echo", {"message": "hi"}).get("structuredContent") or {}).get("code") for _ in range(4)]
            self.assertIn("rate_limited", codes)
        finally:
            good.close()
        # The app notices, evaluates the rules, badges the nav and notifies, before anyone opens the page.
        badge = app.wait_css("[data-testid=alerts-count]", timeout=20)
        app.wait_for("both alerts in the badge", lambda d: txt(d.find_element(By.CSS_SELECTOR, "[data-testid=alerts-count]")) == "2", timeout=20)
        self.assertTrue(badge)
        wait_for("a desktop notification", lambda: "Gatehouse alert" in NOTIFICATIONS.text(), timeout=15)
        app.go("alerts")
        auth = app.wait_css("[data-testid=alert][data-kind=auth_failures]")
        self.assertRegex(txt(auth), r"5 auth failures in the last 10 min \(bad_token\)")
        self.assertIn("stale-laptop", txt(auth))
        budget = app.wait_css("[data-testid=alert][data-kind=budget_exhausted]")
        self.assertIn('agent "claude-desktop" drained it', txt(budget))
        self.assertEqual(budget.get_attribute("data-state"), "open")
        app.screenshot("alerts")

    def test_4_dark_mode(self):
        app = self.app
        app.quit()
        type(self).app = App(self.home, GTK_THEME="Adwaita:dark", GATEHOUSE_BROWSER=str(self.browser.script))
        app = self.app
        app.go("connections")
        self.wait_state("google", "needs_reconnect")
        app.screenshot("dark-connections")
        app.go("alerts")
        app.wait_css("[data-testid=alert]")
        app.screenshot("dark-alerts")


class KeychainProblems(unittest.TestCase):
    def test_a_locked_keychain_and_a_missing_client_id_are_explained(self):
        need_tools()
        bus = PrivateBus()
        keyring = None
        home = Home('[secrets]\nstore = "secret-service"\n'
                    '[oauth.github]\nclient_id = "gh-client"\nauthorize_url = "http://127.0.0.1:9/authorize"\n'
                    'token_url = "http://127.0.0.1:9/token"\n')
        try:
            keyring = Keyring(bus.address, unlocked=False)
            app = App(home, DBUS_SESSION_BUS_ADDRESS=bus.address)
            try:
                app.go("connections")
                google = app.wait_css("[data-testid=provider-google]")
                self.assertIn("[oauth.google]", txt(google))
                self.assertIn("client_id", txt(google))
                self.assertFalse(google.find_element(By.CSS_SELECTOR, "[data-testid=connect-google]").is_enabled())
                app.find("[data-testid=connect-github]").click()
                error = app.wait_css("[data-testid=connect-error]", timeout=30)
                self.assertRegex(txt(error), r"Secret Service keyring is locked.*unlock it")
                self.assertIn("never falls back to a plaintext file", txt(error))
                app.screenshot("problem-keychain")
                self.assertEqual(home.cli("connections"), [])
                self.assertTrue(re.search(r"Not connected", txt(app.find("[data-testid=provider-github]"))))
            finally:
                app.quit()
        finally:
            if keyring:
                keyring.stop()
            bus.stop()
            home.remove()


if __name__ == "__main__":
    unittest.main(verbosity=2)
