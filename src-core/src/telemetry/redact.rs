//! Redaction: raw argument values never reach a log, the database or a span.
//! Strings become their length plus a keyed hash (HMAC-SHA256 with a
//! per-install key in a 0600 file, so a dictionary can't reverse an email's
//! hash); booleans, null and short integers stay; an integer of 7 or more
//! digits is treated as a string (it may be a card or phone number); values
//! a tool's schema lists in an `enum` stay. The PII scanner runs over the result.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::pii;

/// Never reaches a log, span, database, stdout or error. Debug and Display
/// print a marker; there is no Serialize. `expose` is the only way in, so
/// searching for it finds every reader.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a value that must stay unseen.
    pub fn new(v: T) -> Self {
        Self(v)
    }
    /// The value itself.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redacted(..)")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The redaction key could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the redaction key {path}: {reason}")]
pub struct KeyError {
    /// The key file.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// Top-level argument fields whose listed values may be kept as they are.
pub type SafeFields = HashMap<String, BTreeSet<String>>;

/// Values nested deeper than this are summarised as `"<depth>"`.
const MAX_DEPTH: usize = 8;
/// Arrays longer than this keep only their first elements.
const MAX_ITEMS: usize = 20;

/// Summarises arguments with the per-install key.
#[derive(Clone)]
pub struct Redactor {
    key: [u8; 32],
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(..)")
    }
}

impl Redactor {
    /// A redactor with a given key (tests, benchmarks).
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Loads the key at `path`, creating it (32 random bytes, mode 0600) if
    /// missing. Processes racing to create it all end up with the same key.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        for _ in 0..50 {
            match std::fs::read(path) {
                Ok(bytes) if bytes.len() == 32 => {
                    let mut key = [0u8; 32];
                    key.copy_from_slice(&bytes);
                    return Ok(Self { key });
                }
                // Another process is between create and write: wait for it.
                Ok(bytes) if bytes.is_empty() => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                Ok(bytes) => {
                    return Err(err(format!(
                        "it holds {} bytes, expected 32; move it away to create a new key \
                         (old history hashes will no longer match new ones)",
                        bytes.len()
                    )));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(err(e.to_string())),
            }
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| err(e.to_string()))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut f) => {
                    f.write_all(&key).map_err(|e| err(e.to_string()))?;
                    f.sync_all().map_err(|e| err(e.to_string()))?;
                    return Ok(Self { key });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(err(e.to_string())),
            }
        }
        Err(err(
            "it stayed empty; another process may have died writing it".into(),
        ))
    }

    /// The first 12 hex digits of HMAC-SHA256(key, text): equal values match
    /// across calls, without revealing them.
    pub fn hash(&self, text: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(text.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..6])
    }

    fn hidden(&self, kind: &str, text: &str) -> Value {
        Value::String(format!(
            "<{kind}:{} #{}>",
            text.chars().count(),
            self.hash(text)
        ))
    }

    /// `text` as `<str:LENGTH #HASH>`: for text that may quote argument
    /// values in forms a search for the values would miss (an upstream's
    /// error message, JSON-escaped or as a repr; a serde error). Equal texts
    /// match across records without being kept.
    pub fn marker(&self, text: &str) -> String {
        format!("<str:{} #{}>", text.chars().count(), self.hash(text))
    }

    /// A random key, for a process that keeps nothing it hashes (e.g. `doctor`
    /// starting upstreams): its markers can't be matched with anyone's.
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS has a random source");
        Self { key }
    }

    /// The summary of one tool call's arguments, safe to keep anywhere.
    pub fn summarize(&self, args: &Map<String, Value>, safe: &SafeFields) -> Value {
        let mut out = Map::new();
        for (k, v) in args {
            let kept = match (v, safe.get(k)) {
                (Value::String(s), Some(allowed)) if allowed.contains(s) => {
                    Value::String(pii::scrub(s).into_owned())
                }
                _ => self.value(v, 1),
            };
            out.insert(self.key(k), kept);
        }
        Value::Object(out)
    }

    fn key(&self, k: &str) -> String {
        if k.chars().count() > 64 || pii::has_pii(k) {
            format!("<key:{} #{}>", k.chars().count(), self.hash(k))
        } else {
            k.to_string()
        }
    }

    fn value(&self, v: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::String("<depth>".into());
        }
        match v {
            Value::Null | Value::Bool(_) => v.clone(),
            Value::Number(n) => {
                let text = n.to_string();
                if text.chars().filter(char::is_ascii_digit).count() < 7 {
                    v.clone()
                } else {
                    self.hidden("num", &text)
                }
            }
            Value::String(s) => self.hidden("str", s),
            Value::Array(items) => {
                let mut out: Vec<Value> = items
                    .iter()
                    .take(MAX_ITEMS)
                    .map(|i| self.value(i, depth + 1))
                    .collect();
                if items.len() > MAX_ITEMS {
                    out.push(Value::String(format!("<{} more>", items.len() - MAX_ITEMS)));
                }
                Value::Array(out)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.key(k), self.value(v, depth + 1)))
                    .collect(),
            ),
        }
    }

    /// `message` with PII scrubbed and every string argument value of at least
    /// 4 characters replaced by its hash marker: an upstream's error text often
    /// quotes what it was given.
    pub fn message(&self, message: &str, args: &Map<String, Value>) -> String {
        let mut values = Vec::new();
        collect_strings(&Value::Object(args.clone()), &mut values);
        values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = message.to_string();
        for s in values {
            if s.chars().count() >= 4 && out.contains(s.as_str()) {
                let marker = self.hidden("str", &s);
                out = out.replace(s.as_str(), marker.as_str().unwrap_or(""));
            }
        }
        let out = pii::scrub(&out).into_owned();
        truncate(&out, 500)
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// At most `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn r() -> Redactor {
        Redactor::with_key([7; 32])
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn strings_become_length_and_keyed_hash() {
        let s = r().summarize(&obj(json!({"to": "jane@example.com"})), &SafeFields::new());
        let text = s["to"].as_str().unwrap();
        assert!(text.starts_with("<str:16 #"), "{text}");
        assert!(!text.contains("jane"));
        // Same value, same hash; another key, another hash.
        assert_eq!(
            s,
            r().summarize(&obj(json!({"to": "jane@example.com"})), &SafeFields::new())
        );
        let other = Redactor::with_key([8; 32])
            .summarize(&obj(json!({"to": "jane@example.com"})), &SafeFields::new());
        assert_ne!(s, other);
    }

    #[test]
    fn booleans_null_and_short_numbers_stay_long_numbers_do_not() {
        let s = r().summarize(
            &obj(json!({"ok": true, "n": 42, "x": null, "f": 1.5, "card": 4111111111111111u64, "phone": 4915112345678u64})),
            &SafeFields::new(),
        );
        assert_eq!(s["ok"], json!(true));
        assert_eq!(s["n"], json!(42));
        assert_eq!(s["x"], json!(null));
        assert_eq!(s["f"], json!(1.5));
        assert!(s["card"].as_str().unwrap().starts_with("<num:16 #"));
        assert!(s["phone"].as_str().unwrap().starts_with("<num:13 #"));
    }

    #[test]
    fn enum_values_the_schema_lists_may_stay() {
        let safe = SafeFields::from([(
            "state".to_string(),
            BTreeSet::from(["open".to_string(), "closed".to_string()]),
        )]);
        let s = r().summarize(&obj(json!({"state": "open", "title": "open"})), &safe);
        assert_eq!(s["state"], json!("open"));
        assert!(s["title"].as_str().unwrap().starts_with("<str:4"));
        // A value outside the enum is hashed like any string.
        let s = r().summarize(&obj(json!({"state": "jane@example.com"})), &safe);
        assert!(s["state"].as_str().unwrap().starts_with("<str:"));
    }

    #[test]
    fn nested_values_and_pii_keys_are_hidden() {
        let s = r().summarize(
            &obj(json!({"m": {"jane@example.com": ["secret", 1]}})),
            &SafeFields::new(),
        );
        let text = s.to_string();
        assert!(!text.contains("jane") && !text.contains("secret"), "{text}");
        assert!(text.contains("<key:16 #"));
    }

    #[test]
    fn messages_lose_argument_values_and_pii() {
        let args = obj(json!({"path": "/home/ann/plans.txt", "n": 12345678}));
        let m = r().message(
            "cannot open /home/ann/plans.txt (id 12345678) for bob@example.com",
            &args,
        );
        assert!(
            !m.contains("plans") && !m.contains("12345678") && !m.contains("bob@"),
            "{m}"
        );
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let a = Redactor::load_or_create(&path).unwrap();
        let b = Redactor::load_or_create(&path).unwrap();
        assert_eq!(a.hash("x"), b.hash("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(Redactor::load_or_create(&path).is_err());
    }
}
