//! Refresh with failures injected: a real SQLite file, the mock keychain
//! shared by two `Accounts` (two processes), a fake clock, and a tiny
//! token endpoint on 127.0.0.1 that rotates single-use refresh tokens as
//! GitHub does and can lock the database while it answers, so recording the
//! refresh fails after the provider has already spent the old token.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::clock::{Clock, FakeClock, SharedClock, UnixMillis};
use crate::config::Config;
use crate::oauth::tokens::Tokens;
use crate::secrets::{Choice, Secrets};
use crate::store::testing::{TempStore, temp_store};
use crate::store::{ConnectionRow, Store};

/// What the token endpoint saw and does.
#[derive(Default)]
struct Endpoint {
    /// The one refresh token it accepts now (it rotates on every use).
    valid: String,
    /// Every refresh token presented, in order.
    presented: Vec<String>,
    /// Tokens issued so far (names the next ones).
    issued: usize,
    /// Before its next answer, lock the database (until the sender is dropped).
    lock_db: Option<(std::path::PathBuf, mpsc::Receiver<()>)>,
}

/// Serves `POST /token` (refresh_token grant) until the test ends.
async fn token_endpoint(state: Arc<Mutex<Endpoint>>) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let body = loop {
                let mut chunk = [0u8; 4096];
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_string());
                    }
                }
            };
            let Some(body) = body else { continue };
            let presented = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "refresh_token")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            let (answer, lock) = {
                let mut s = state.lock().unwrap();
                s.presented.push(presented.clone());
                let answer = if presented == s.valid {
                    s.issued += 1;
                    s.valid = format!("ghr_{}", s.issued);
                    serde_json::json!({"access_token": format!("ghu_{}", s.issued), "token_type": "bearer",
                        "expires_in": 3600, "refresh_token": s.valid})
                } else {
                    serde_json::json!({"error": "bad_refresh_token"})
                };
                (answer, s.lock_db.take())
            };
            if let Some((path, release)) = lock {
                // Another process takes the write lock and keeps it until the test says so.
                let (locked_tx, locked) = mpsc::channel();
                std::thread::spawn(move || {
                    let c = rusqlite::Connection::open(path).unwrap();
                    c.execute_batch("BEGIN IMMEDIATE").unwrap();
                    locked_tx.send(()).unwrap();
                    let _ = release.recv();
                    c.execute_batch("ROLLBACK").unwrap();
                });
                locked.recv().unwrap();
            }
            let body = answer.to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    url.parse().unwrap()
}

struct H {
    t: TempStore,
    clock: Arc<FakeClock>,
    secrets: Secrets,
    config: Arc<crate::config::OAuthConfig>,
    endpoint: Arc<Mutex<Endpoint>>,
}

impl H {
    /// A GitHub connection whose access token is due for refresh.
    async fn new() -> Self {
        let t = temp_store();
        let clock = Arc::new(FakeClock::new(UnixMillis(1_800_000_000_000)));
        let cred: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let secrets = Secrets::new(
            Choice::Only(StoreKind::Mock),
            Arc::new(move |_| Ok(cred.clone())),
        );
        let endpoint = Arc::new(Mutex::new(Endpoint {
            valid: "ghr_0".into(),
            ..Endpoint::default()
        }));
        let mut config = Config::defaults().oauth;
        config.github.token_url = token_endpoint(endpoint.clone()).await;
        let tokens = Tokens {
            access: Redacted::new("ghu_0".into()),
            refresh: Some(Redacted::new("ghr_0".into())),
            client_secret: None,
            account: None,
        };
        secrets
            .put(StoreKind::Mock, "github/k", tokens.to_record())
            .await
            .unwrap();
        let now = clock.now();
        t.store
            .save_connection(&ConnectionRow {
                provider: "github".into(),
                client_id: "gh-client".into(),
                scopes: vec!["repo".into()],
                expires: Some(now.plus(60_000)),
                refreshable: true,
                state: ConnectionState::Connected,
                state_reason: None,
                secret_store: StoreKind::Mock.name().into(),
                secret_key: "github/k".into(),
                generation: 0,
                connected: now,
                refreshed: None,
            })
            .unwrap();
        Self {
            t,
            clock,
            secrets,
            config: Arc::new(config),
            endpoint,
        }
    }

    /// One process's `Accounts`, whose store gives up on a lock after 200 ms.
    fn process(&self) -> Accounts {
        let store = Store::open_with(self.t.store.path(), Duration::from_millis(200)).unwrap();
        Accounts::new(
            store,
            self.secrets.clone(),
            self.config.clone(),
            self.clock.clone() as SharedClock,
        )
    }

    /// The next token request locks the database until the returned sender drops.
    fn lock_db_on_next_refresh(&self) -> mpsc::Sender<()> {
        let (tx, rx) = mpsc::channel();
        self.endpoint.lock().unwrap().lock_db = Some((self.t.store.path().to_path_buf(), rx));
        tx
    }

    fn presented(&self) -> Vec<String> {
        self.endpoint.lock().unwrap().presented.clone()
    }

    async fn token(&self, p: &Accounts) -> Result<String, AccessError> {
        let t = p.access_token(Provider::GitHub, None, &None).await?;
        Ok(t.token.expose().clone())
    }
}

#[tokio::test]
async fn a_refresh_whose_record_failed_is_not_undone_by_the_cache() {
    let h = H::new().await;
    let p = h.process();
    // Spent ghr_0 and got ghr_1 into the keychain, but the row could not be updated.
    let release = h.lock_db_on_next_refresh();
    let e = h.token(&p).await.unwrap_err();
    assert!(matches!(e, AccessError::Store(_)), "{e:?}");
    drop(release);
    // Its lease could not be released either: it expires by itself.
    h.clock.advance(LEASE_TTL_MS + 1);
    assert_eq!(h.token(&p).await.unwrap(), "ghu_2");
    assert_eq!(
        h.presented(),
        ["ghr_0", "ghr_1"],
        "the new refresh token was spent"
    );
}

#[tokio::test]
async fn inside_the_lease_the_tokens_come_from_the_keychain_not_the_cache() {
    let h = H::new().await;
    let (first, second) = (h.process(), h.process());
    // The first process holds generation 0's tokens in its cache.
    h.clock.advance(-3_600_000);
    assert_eq!(h.token(&first).await.unwrap(), "ghu_0");
    h.clock.advance(3_600_000);
    // The second refreshes, and its record fails: generation 0 still, new tokens in the keychain.
    let release = h.lock_db_on_next_refresh();
    assert!(h.token(&second).await.is_err());
    drop(release);
    h.clock.advance(LEASE_TTL_MS + 1);
    assert_eq!(h.token(&first).await.unwrap(), "ghu_2");
    assert_eq!(h.presented(), ["ghr_0", "ghr_1"]);
}

#[test]
fn the_lease_outlives_the_slowest_refresh() {
    let worst = 2 * crate::secrets::OP_TIMEOUT
        + super::super::endpoint::REQUEST_TIMEOUT
        + 3 * crate::store::DEFAULT_BUSY_WAIT;
    assert!(
        Duration::from_millis(LEASE_TTL_MS as u64) > worst,
        "{worst:?}"
    );
}
