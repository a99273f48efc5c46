//! The real keychains, one per platform. On Linux, `auto` prefers the
//! Secret Service (found through `DBUS_SESSION_BUS_ADDRESS`) and falls back
//! to the kernel keyutils store only when no Secret Service answers. Keyutils
//! keys live in kernel memory: in a session keyring named `gatehouse` that
//! each thread using it joins (a process without a session keyring of its
//! own can't read back what it wrote), linked to the user's persistent
//! keyring so other processes find them. So they are lost at reboot, and
//! when the persistent keyring expires (`/proc/sys/kernel/keys/
//! persistent_keyring_expiry`, 3 days by default) while nothing uses them.

use std::sync::Arc;

use keyring_core::CredentialStore;

use super::{Opener, SecretsError, StoreKind};

/// What a user can do when no keychain answers, for error messages.
#[cfg(target_os = "linux")]
pub const FIX: &str = "Run Gatehouse inside a desktop session with a Secret Service (GNOME Keyring, KWallet, KeePassXC), \
     or start one (`gnome-keyring-daemon --start --components=secrets` on a D-Bus session bus); \
     or set [secrets] store = \"keyutils\" to use the kernel keyring (lost at reboot)";
/// What a user can do when no keychain answers, for error messages.
#[cfg(target_os = "macos")]
pub const FIX: &str = "Log in to a macOS session whose login Keychain is unlocked";
/// What a user can do when no keychain answers, for error messages.
#[cfg(target_os = "windows")]
pub const FIX: &str = "Run Gatehouse as a logged-in Windows user (Credential Manager)";
/// What a user can do when no keychain answers, for error messages.
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub const FIX: &str = "This platform has no supported keychain";

/// The keychains `auto` tries, in order.
pub fn auto_order() -> Vec<StoreKind> {
    if cfg!(target_os = "linux") {
        vec![StoreKind::SecretService, StoreKind::Keyutils]
    } else if cfg!(target_os = "macos") {
        vec![StoreKind::MacosKeychain]
    } else if cfg!(target_os = "windows") {
        vec![StoreKind::WindowsCredentialManager]
    } else {
        Vec::new()
    }
}

/// The keychain `auto` tries first (named in timeouts).
pub fn preferred() -> StoreKind {
    auto_order()
        .first()
        .copied()
        .unwrap_or(StoreKind::SecretService)
}

/// Readies the calling thread for `kind`. For keyutils: join the session
/// keyring named `gatehouse` (creating it if none is alive). Keyring
/// credentials are per thread, so every blocking call does this first.
pub fn prepare_thread(kind: StoreKind) -> Result<(), SecretsError> {
    #[cfg(target_os = "linux")]
    if kind == StoreKind::Keyutils {
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        let name = c"gatehouse";
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) reads a NUL-terminated
        // string that outlives the call and changes only this thread's credentials.
        let r =
            unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
        if r < 0 {
            return Err(unavailable(
                kind,
                format!(
                    "joining a session keyring failed: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
    }
    let _ = kind;
    Ok(())
}

/// Opens the real stores.
pub fn system_opener() -> Opener {
    Arc::new(open)
}

fn unavailable(kind: StoreKind, why: impl std::fmt::Display) -> SecretsError {
    SecretsError::Unavailable {
        detail: format!("{} can't be used: {why}", kind.describe()),
        fix: FIX.to_string(),
    }
}

fn open(kind: StoreKind) -> Result<Arc<CredentialStore>, SecretsError> {
    match kind {
        #[cfg(target_os = "linux")]
        StoreKind::SecretService => {
            if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
                return Err(unavailable(
                    kind,
                    "DBUS_SESSION_BUS_ADDRESS is not set (no D-Bus session bus)",
                ));
            }
            zbus_secret_service_keyring_store::Store::new()
                .map(|s| s as Arc<CredentialStore>)
                .map_err(|e| unavailable(kind, e))
        }
        #[cfg(target_os = "linux")]
        StoreKind::Keyutils => {
            let store = linux_keyutils_keyring_store::Store::new_with_configuration(
                &std::collections::HashMap::from([("service_no_divider", "true")]),
            )
            .map_err(|e| unavailable(kind, e))?;
            // Building an entry looks up the session and persistent keyrings:
            // a kernel without keyutils (or a sandbox forbidding it) fails here.
            keyring_core::api::CredentialStoreApi::build(
                store.as_ref(),
                super::SERVICE,
                "probe",
                None,
            )
            .map_err(|e| unavailable(kind, e))?;
            Ok(store)
        }
        #[cfg(target_os = "macos")]
        StoreKind::MacosKeychain => apple_native_keyring_store::keychain::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| unavailable(kind, e)),
        #[cfg(target_os = "windows")]
        StoreKind::WindowsCredentialManager => windows_native_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| unavailable(kind, e)),
        other => Err(unavailable(other, "it is not available on this platform")),
    }
}
