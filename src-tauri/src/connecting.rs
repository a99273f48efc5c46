//! The sign-ins in progress, one per provider: what cancels each, and the
//! page the user was sent to (so "open the browser again" reopens that page
//! without the window ever handing the app a URL to open). Starting a new
//! sign-in for a provider cancels the one before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatehouse::oauth::Provider;
use tokio::sync::Notify;

/// One sign-in in progress.
struct Flow {
    /// Which start this is (a finished older one must not remove a newer one).
    ticket: u64,
    /// Wakes the connect command, which then stops (its listener closes).
    cancel: Arc<Notify>,
    /// The authorization URL or device-flow page, once the flow gave one.
    page: Option<String>,
}

/// The sign-ins in progress (Tauri state).
#[derive(Default)]
pub struct Connecting {
    flows: Mutex<HashMap<Provider, Flow>>,
    next: Mutex<u64>,
}

/// A started sign-in: its ticket and what tells it to stop.
pub struct Started {
    /// Pass back to [`Connecting::finish`].
    pub ticket: u64,
    /// Notified when the user cancels (or starts over).
    pub cancel: Arc<Notify>,
}

impl Connecting {
    fn flows(&self) -> std::sync::MutexGuard<'_, HashMap<Provider, Flow>> {
        self.flows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new sign-in for `provider`, cancelling one in progress.
    pub fn start(&self, provider: Provider) -> Started {
        let ticket = {
            let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        let cancel = Arc::new(Notify::new());
        let old = self.flows().insert(
            provider,
            Flow {
                ticket,
                cancel: cancel.clone(),
                page: None,
            },
        );
        if let Some(old) = old {
            old.cancel.notify_one();
        }
        Started { ticket, cancel }
    }

    /// Remembers the page sign-in `ticket` sent the user to.
    pub fn set_page(&self, provider: Provider, ticket: u64, page: &str) {
        if let Some(f) = self
            .flows()
            .get_mut(&provider)
            .filter(|f| f.ticket == ticket)
        {
            f.page = Some(page.to_string());
        }
    }

    /// The page of the sign-in in progress for `provider`.
    pub fn page(&self, provider: Provider) -> Option<String> {
        self.flows().get(&provider).and_then(|f| f.page.clone())
    }

    /// Whether a sign-in for `provider` is in progress.
    pub fn active(&self, provider: Provider) -> bool {
        self.flows().contains_key(&provider)
    }

    /// Stops the sign-in in progress for `provider`; false when there was none.
    pub fn cancel(&self, provider: Provider) -> bool {
        match self.flows().remove(&provider) {
            Some(f) => {
                f.cancel.notify_one();
                true
            }
            None => false,
        }
    }

    /// Forgets sign-in `ticket` once it ended (a newer one stays).
    pub fn finish(&self, provider: Provider, ticket: u64) {
        let mut flows = self.flows();
        if flows.get(&provider).is_some_and(|f| f.ticket == ticket) {
            flows.remove(&provider);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_sign_in_cancels_the_old_one_and_the_old_one_finishing_leaves_the_new() {
        let c = Connecting::default();
        let first = c.start(Provider::GitHub);
        c.set_page(Provider::GitHub, first.ticket, "http://a/1");
        assert_eq!(c.page(Provider::GitHub).as_deref(), Some("http://a/1"));
        let second = c.start(Provider::GitHub);
        // The first was told to stop (a stored permit: it need not be waiting yet).
        let woke = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(1), first.cancel.notified())
                    .await
                    .is_ok()
            });
        assert!(woke);
        assert_eq!(
            c.page(Provider::GitHub),
            None,
            "the new one has no page yet"
        );
        c.set_page(Provider::GitHub, first.ticket, "http://stale");
        assert_eq!(c.page(Provider::GitHub), None);
        c.finish(Provider::GitHub, first.ticket);
        assert!(c.active(Provider::GitHub));
        assert!(!c.active(Provider::Google));
        assert!(c.cancel(Provider::GitHub));
        assert!(!c.cancel(Provider::GitHub));
        c.finish(Provider::GitHub, second.ticket);
    }
}
