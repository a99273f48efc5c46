//! `Secrets`: the OS keychain, through `keyring-core`. OAuth tokens live here
//! and nowhere else: a keychain that is locked or absent is a clear error
//! naming what to do, never a fallback to a file. The store is passed in
//! (`Secrets::system` in the binary, a mock in unit tests); every call runs on
//! the blocking pool with a time limit, as the stores block on D-Bus or syscalls.

mod system;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use system::prepare_thread;
pub use system::system_opener;

use crate::telemetry::Redacted;

/// The keychain "service" every Gatehouse entry is filed under.
pub const SERVICE: &str = "gatehouse";

/// How long one keychain operation may take before it counts as unavailable
/// (a Secret Service waiting on an unlock prompt nobody answers, say).
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(15);

/// Which keychain holds (or will hold) a secret. Recorded beside each
/// connection, so a process always reads from the store it was written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// The freedesktop Secret Service over D-Bus (GNOME Keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel's keyutils (user session keyring): used where no Secret Service runs.
    Keyutils,
    /// The macOS login Keychain.
    MacosKeychain,
    /// The Windows Credential Manager.
    WindowsCredentialManager,
    /// `keyring_core::mock`: unit tests only.
    Mock,
}

impl StoreKind {
    /// The name used in config, the database and `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::SecretService => "secret-service",
            StoreKind::Keyutils => "keyutils",
            StoreKind::MacosKeychain => "macos-keychain",
            StoreKind::WindowsCredentialManager => "windows-credential-manager",
            StoreKind::Mock => "mock",
        }
    }

    /// The kind called `name`, if any.
    pub fn parse(name: &str) -> Option<StoreKind> {
        [
            StoreKind::SecretService,
            StoreKind::Keyutils,
            StoreKind::MacosKeychain,
            StoreKind::WindowsCredentialManager,
            StoreKind::Mock,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// A phrase for sentences: "the Secret Service keyring".
    pub fn describe(self) -> &'static str {
        match self {
            StoreKind::SecretService => "the Secret Service keyring",
            StoreKind::Keyutils => "the kernel keyutils keyring",
            StoreKind::MacosKeychain => "the macOS Keychain",
            StoreKind::WindowsCredentialManager => "the Windows Credential Manager",
            StoreKind::Mock => "the mock keychain",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which keychain new secrets go to: `[secrets] store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Choice {
    /// The platform's keychain; on Linux the Secret Service, or keyutils when none runs.
    #[default]
    Auto,
    /// This one, or an error.
    Only(StoreKind),
}

/// Why the keychain could not be used. Messages never hold a secret.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    /// No keychain can be reached at all.
    #[error("no OS keychain is available: {detail}. {fix}")]
    Unavailable {
        /// What was tried and how it failed.
        detail: String,
        /// What the user can do.
        fix: String,
    },
    /// The keychain is there but locked (or access was refused).
    #[error(
        "{} is locked or refused access ({detail}): unlock it (log in to your desktop session, or unlock the keyring in your keyring app) and try again; Gatehouse never falls back to a plaintext file",
        kind.describe()
    )]
    Locked {
        /// The keychain.
        kind: StoreKind,
        /// What it said.
        detail: String,
    },
    /// The keychain answered with an error.
    #[error("{} failed: {detail}", kind.describe())]
    Failed {
        /// The keychain.
        kind: StoreKind,
        /// What it said (never a stored value).
        detail: String,
    },
    /// The keychain did not answer in time.
    #[error("{} did not answer within {} s (is an unlock prompt waiting?)", kind.describe(), OP_TIMEOUT.as_secs())]
    TimedOut {
        /// The keychain.
        kind: StoreKind,
    },
}

/// Opens the credential store of one kind (the real ones, or a mock in tests).
pub type Opener =
    Arc<dyn Fn(StoreKind) -> Result<Arc<CredentialStore>, SecretsError> + Send + Sync>;

/// The keychain seam: which store new secrets go to, and how to open each.
#[derive(Clone)]
pub struct Secrets {
    choice: Choice,
    open: Opener,
    /// Stores opened so far (opening the Secret Service is a D-Bus handshake: do it once).
    opened: Arc<Mutex<HashMap<StoreKind, Arc<CredentialStore>>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("choice", &self.choice)
            .finish()
    }
}

impl Secrets {
    /// Secrets in stores made by `open`, new ones placed by `choice`.
    pub fn new(choice: Choice, open: Opener) -> Self {
        Self {
            choice,
            open,
            opened: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The OS keychain, as `[secrets] store` says.
    pub fn system(choice: Choice) -> Self {
        Self::new(choice, system_opener())
    }

    /// One in-memory mock store for every kind (unit tests).
    pub fn mock() -> Self {
        let store: Arc<CredentialStore> =
            keyring_core::mock::Store::new().expect("the mock store always builds");
        Self::new(
            Choice::Only(StoreKind::Mock),
            Arc::new(move |_| Ok(store.clone())),
        )
    }

    fn store(&self, kind: StoreKind) -> Result<Arc<CredentialStore>, SecretsError> {
        prepare_thread(kind)?;
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = opened.get(&kind) {
            return Ok(s.clone());
        }
        let s = (self.open)(kind)?;
        opened.insert(kind, s.clone());
        Ok(s)
    }

    /// Runs `f` on the blocking pool, bounded by `OP_TIMEOUT`.
    async fn blocking<T: Send + 'static>(
        &self,
        kind: StoreKind,
        f: impl FnOnce(Secrets) -> Result<T, SecretsError> + Send + 'static,
    ) -> Result<T, SecretsError> {
        let me = self.clone();
        match tokio::time::timeout(OP_TIMEOUT, tokio::task::spawn_blocking(move || f(me))).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(SecretsError::Failed {
                kind,
                detail: format!("internal error: {e}"),
            }),
            Err(_) => Err(SecretsError::TimedOut { kind }),
        }
    }

    /// The keychain new secrets go to. `Auto` on Linux takes the Secret
    /// Service when one answers on the session bus, else keyutils; a Secret
    /// Service that answers but is locked is an error, not a reason to fall back.
    pub async fn pick(&self) -> Result<StoreKind, SecretsError> {
        let choice = self.choice;
        let first = match choice {
            Choice::Only(k) => k,
            Choice::Auto => system::preferred(),
        };
        self.blocking(first, move |me| match choice {
            Choice::Only(k) => me.store(k).map(|_| k),
            Choice::Auto => {
                let mut tried = Vec::new();
                for k in system::auto_order() {
                    match me.store(k) {
                        Ok(_) => return Ok(k),
                        Err(e @ SecretsError::Locked { .. }) => return Err(e),
                        Err(e) => tried.push(e.to_string()),
                    }
                }
                Err(SecretsError::Unavailable {
                    detail: tried.join("; "),
                    fix: system::FIX.to_string(),
                })
            }
        })
        .await
    }

    /// Stores `value` under `key` in `kind`, replacing what was there.
    pub async fn put(
        &self,
        kind: StoreKind,
        key: &str,
        value: Redacted<String>,
    ) -> Result<(), SecretsError> {
        let key = key.to_string();
        self.blocking(kind, move |me| {
            let entry = me.entry(kind, &key)?;
            entry
                .set_password(value.expose())
                .map_err(|e| map_error(kind, e))
        })
        .await
    }

    /// The value under `key` in `kind`; `None` when there is none.
    pub async fn get(
        &self,
        kind: StoreKind,
        key: &str,
    ) -> Result<Option<Redacted<String>>, SecretsError> {
        let key = key.to_string();
        self.blocking(kind, move |me| {
            let entry = me.entry(kind, &key)?;
            match entry.get_password() {
                Ok(v) => Ok(Some(Redacted::new(v))),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(map_error(kind, e)),
            }
        })
        .await
    }

    /// Deletes the value under `key` in `kind`; deleting nothing is fine.
    pub async fn delete(&self, kind: StoreKind, key: &str) -> Result<(), SecretsError> {
        let key = key.to_string();
        self.blocking(kind, move |me| {
            let entry = me.entry(kind, &key)?;
            match entry.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(map_error(kind, e)),
            }
        })
        .await
    }

    /// Writes, reads back and deletes a probe entry in the keychain new
    /// secrets would go to (for `gatehouse doctor`).
    pub async fn check(&self) -> Result<StoreKind, SecretsError> {
        let kind = self.pick().await?;
        let key = format!("doctor-probe-{}", std::process::id());
        let probe = Redacted::new("probe".to_string());
        self.put(kind, &key, probe.clone()).await?;
        let back = self.get(kind, &key).await?;
        self.delete(kind, &key).await?;
        if back.as_ref() != Some(&probe) {
            return Err(SecretsError::Failed {
                kind,
                detail: "a probe entry written to it could not be read back".into(),
            });
        }
        Ok(kind)
    }

    fn entry(&self, kind: StoreKind, key: &str) -> Result<Entry, SecretsError> {
        let store = self.store(kind)?;
        store
            .build(SERVICE, key, None)
            .map_err(|e| map_error(kind, e))
    }
}

/// A keyring error as a `SecretsError`, without any stored bytes it may carry.
fn map_error(kind: StoreKind, e: keyring_core::Error) -> SecretsError {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(inner) => SecretsError::Locked {
            kind,
            detail: inner.to_string(),
        },
        K::PlatformFailure(inner) => SecretsError::Failed {
            kind,
            detail: inner.to_string(),
        },
        K::BadEncoding(_) | K::BadDataFormat(..) => SecretsError::Failed {
            kind,
            detail: "a stored entry is not in the expected format".into(),
        },
        K::NoEntry => SecretsError::Failed {
            kind,
            detail: "no such entry".into(),
        },
        K::Ambiguous(items) => SecretsError::Failed {
            kind,
            detail: format!(
                "{} entries match one name; remove the extra ones in your keyring app",
                items.len()
            ),
        },
        other => SecretsError::Failed {
            kind,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_and_deleting_twice_is_fine() {
        let s = Secrets::mock();
        let kind = s.pick().await.unwrap();
        assert_eq!(kind, StoreKind::Mock);
        assert_eq!(s.get(kind, "github/x").await.unwrap(), None);
        s.put(kind, "github/x", Redacted::new("v1".into()))
            .await
            .unwrap();
        s.put(kind, "github/x", Redacted::new("v2".into()))
            .await
            .unwrap();
        assert_eq!(
            s.get(kind, "github/x").await.unwrap().unwrap().expose(),
            "v2"
        );
        s.delete(kind, "github/x").await.unwrap();
        s.delete(kind, "github/x").await.unwrap();
        assert_eq!(s.get(kind, "github/x").await.unwrap(), None);
        assert_eq!(s.check().await.unwrap(), StoreKind::Mock);
    }

    #[tokio::test]
    async fn a_store_that_cannot_open_is_a_clear_error() {
        let s = Secrets::new(
            Choice::Only(StoreKind::SecretService),
            Arc::new(|k| {
                Err(SecretsError::Unavailable {
                    detail: format!("{k} not reachable"),
                    fix: "start one".into(),
                })
            }),
        );
        let e = s.pick().await.unwrap_err().to_string();
        assert!(
            e.contains("no OS keychain") && e.contains("start one"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_locked_store_says_so_and_keeps_no_value_in_the_message() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let s = Secrets::new(Choice::Only(StoreKind::Mock), {
            let store = store.clone();
            Arc::new(move |_| Ok(store.clone()))
        });
        let entry = store.build(SERVICE, "k", None).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(keyring_core::Error::NoStorageAccess(
            "collection is locked".into(),
        ));
        let e = s
            .put(
                StoreKind::Mock,
                "k",
                Redacted::new("ghr_secretvalue".into()),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, SecretsError::Locked { .. }));
        let text = e.to_string();
        assert!(
            text.contains("locked") && !text.contains("ghr_secretvalue"),
            "{text}"
        );
    }

    #[test]
    fn kinds_have_stable_names() {
        for k in [
            StoreKind::SecretService,
            StoreKind::Keyutils,
            StoreKind::Mock,
        ] {
            assert_eq!(StoreKind::parse(k.name()), Some(k));
        }
        assert_eq!(StoreKind::parse("plaintext"), None);
    }
}
