//! The second net: a scanner for personal data and secrets (emails, phone
//! numbers, card numbers, bearer and API tokens, private keys) run over
//! anything Gatehouse keeps: argument summaries, error messages, upstream
//! stderr. What it finds is replaced by a marker naming the kind.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

struct Rule {
    marker: &'static str,
    re: Regex,
    /// A further check on a match (Luhn for cards, digit count for phones).
    check: fn(&str) -> bool,
}

fn always(_: &str) -> bool {
    true
}

fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn phone_digits(s: &str) -> bool {
    (9..=15).contains(&s.chars().filter(char::is_ascii_digit).count())
}

// Order matters: keys and tokens before the looser number patterns.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |marker, pattern: &str, check| Rule {
        marker,
        re: Regex::new(pattern).expect("valid PII pattern"),
        check,
    };
    vec![
        rule(
            "[private key]",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
            always,
        ),
        rule("[token]", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", always),
        rule(
            "[token]",
            concat!(
                r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|gth_[A-Za-z0-9_-]{16,}",
                r"|sk-[A-Za-z0-9_-]{16,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}",
                r"|ya29\.[A-Za-z0-9_-]{16,}|1//[A-Za-z0-9_-]{20,}",
                r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
            ),
            always,
        ),
        rule(
            "[token]",
            r"(?i)\b(?:api[_-]?key|access[_-]?token|refresh[_-]?token|secret|password|passwd)\s*[:=]\s*\S{6,}",
            always,
        ),
        rule(
            "[email]",
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            always,
        ),
        rule("[card]", r"\b\d(?:[ -]?\d){12,18}\b", luhn),
        rule("[phone]", r"(?:\+|\b)\d[\d ().-]{7,}\d\b", phone_digits),
    ]
});

/// `text` with every finding replaced by its marker (borrowed when clean).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if !rule.re.is_match(&out) {
            continue;
        }
        let replaced = rule
            .re
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                let m = &caps[0];
                if (rule.check)(m) {
                    rule.marker.to_string()
                } else {
                    m.to_string()
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// Whether `text` holds anything the scanner would replace.
pub fn has_pii(text: &str) -> bool {
    matches!(scrub(text), Cow::Owned(ref s) if s != text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind() {
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [email] now"),
            ("call +44 20 7946 0958 today", "call [phone] today"),
            ("card 4111 1111 1111 1111 ok", "card [card] ok"),
            ("card 4111-1111-1111-1111", "card [card]"),
            (
                "tok ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "tok [token]",
            ),
            (
                "Authorization: Bearer abc.def-123456",
                "Authorization: [token]",
            ),
            (
                "our gth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA token",
                "our [token] token",
            ),
            ("password=hunter2222", "[token]"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- after",
                "[private key] after",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(scrub(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_text_and_numbers_alone() {
        for clean in [
            "echo hello world",
            "took 1234 ms",
            "2026-11-24T17:51:55Z",
            "version 1.2.3",
            "id 4111111111111112", // fails Luhn: not a card, and 16 digits is no phone
        ] {
            assert_eq!(scrub(clean), clean);
            assert!(!has_pii(clean));
        }
    }
}
