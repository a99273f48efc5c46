//! A private, real Secret Service for one test: its own `dbus-daemon`
//! session bus and `gnome-keyring-daemon` in a temp folder, unlocked or
//! locked, stopped by pid on drop; and a look inside it with Python's
//! `secretstorage`, independent of Gatehouse.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::tests_dir;

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A private Secret Service: its own session bus and gnome-keyring, in its
/// own folder. Stopped (by pid) on drop.
pub struct Keyring {
    dir: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    /// `DBUS_SESSION_BUS_ADDRESS` of the private bus.
    pub address: String,
}

impl Keyring {
    /// A bus with an unlocked login keyring.
    pub fn unlocked() -> Self {
        let mut k = Self::bus_only();
        k.start_keyring(true);
        k
    }

    /// A bus with a keyring that stays locked (no password given, no prompt possible).
    pub fn locked() -> Self {
        let mut k = Self::bus_only();
        k.start_keyring(false);
        k
    }

    fn bus_only() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-keyring-")
            .tempdir()
            .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (apt dbus-daemon)");
        let stdout = bus.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dbus-daemon prints its address")
            .trim()
            .to_string();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("run"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        Self {
            dir,
            bus,
            keyring: None,
            address,
        }
    }

    fn start_keyring(&mut self, unlock: bool) {
        let mut c = Command::new("gnome-keyring-daemon");
        c.arg("--foreground").arg("--components=secrets");
        if unlock {
            c.arg("--unlock");
        }
        let mut child = c
            .env_clear()
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon is installed (apt gnome-keyring)");
        // --unlock reads the (empty) password from stdin: a newline, then EOF.
        let mut stdin = child.stdin.take().unwrap();
        if unlock {
            let _ = stdin.write_all(b"\n");
        }
        drop(stdin);
        self.keyring = Some(child);
        self.wait_for_service();
    }

    /// Restarts the keyring daemon without unlocking it (same stored keyrings).
    pub fn relock(&mut self) {
        if let Some(mut k) = self.keyring.take() {
            kill(&mut k);
        }
        self.wait_for_service_gone();
        self.start_keyring(false);
    }

    fn has_owner(&self) -> bool {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .output()
            .expect("dbus-send is installed (apt dbus-bin)");
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    fn wait_for_service(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.has_owner() {
            assert!(
                Instant::now() < deadline,
                "gnome-keyring did not take org.freedesktop.secrets within 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_service_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.has_owner() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The environment a process needs to reach this keyring.
    pub fn env(&self) -> [(&str, &str); 1] {
        [("DBUS_SESSION_BUS_ADDRESS", self.address.as_str())]
    }

    /// Gatehouse's entries in the keyring, seen by Python's secretstorage:
    /// how many, and which of `tokens` they hold.
    pub fn items(&self, tokens: &[String]) -> (u64, Vec<bool>) {
        let out = Command::new(crate::util::python())
            .arg(tests_dir().join("fakes/keyring_items.py"))
            .arg(serde_json::to_string(tokens).unwrap())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "keyring_items.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let holds = v["holds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        (v["count"].as_u64().unwrap(), holds)
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        if let Some(mut k) = self.keyring.take() {
            kill(&mut k);
        }
        kill(&mut self.bus);
    }
}
