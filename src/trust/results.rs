//! `Authentication-Results` (RFC 8601) read as the RFC writes it: comments
//! and quoted strings are not structure, so a `;` or `dmarc=pass` inside
//! `smtp.mailfrom="x;dmarc=pass"@evil.example` is part of a value, never a
//! result of its own. A header that does not follow the grammar (Microsoft
//! 365 writes one without an authserv-id) is not read at all.

/// One header: who wrote it and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Results {
    /// Lower-cased.
    pub authserv_id: String,
    pub results: Vec<Resinfo>,
}

/// `method=result reason=... ptype.property=value ...`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resinfo {
    /// Lower-cased, without a `/version`.
    pub method: String,
    /// Lower-cased.
    pub result: String,
    /// `ptype.property` lower-cased, with its value as written (quotes
    /// removed).
    pub props: Vec<(String, String)>,
}

impl Resinfo {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One word between whitespace, comments and `;`, with the place of its
/// first `=` that stood outside quotes.
#[derive(Debug, Default)]
struct Word {
    text: String,
    eq: Option<usize>,
    /// The last character was an unquoted `=`.
    ends_eq: bool,
    /// Part of it was a quoted string.
    quoted: bool,
}

impl Word {
    fn push(&mut self, c: char, quoted: bool) {
        if c == '=' && !quoted {
            if self.eq.is_none() {
                self.eq = Some(self.text.len());
            }
            self.ends_eq = true;
        } else {
            self.ends_eq = false;
        }
        self.quoted |= quoted;
        self.text.push(c);
    }
    fn starts_eq(&self) -> bool {
        self.eq == Some(0)
    }
    /// `a` `=` `b` written with spaces around the `=` are one word.
    fn join(&mut self, next: Word) {
        let offset = self.text.len();
        if self.eq.is_none() {
            self.eq = next.eq.map(|e| e + offset);
        }
        self.ends_eq = next.ends_eq;
        self.quoted |= next.quoted;
        self.text.push_str(&next.text);
    }
    fn split(&self) -> Option<(&str, &str)> {
        self.eq.map(|e| (&self.text[..e], &self.text[e + 1..]))
    }
}

/// Splits the header's value into clauses (at unquoted `;`) of words.
fn clauses(value: &str) -> Option<Vec<Vec<Word>>> {
    let mut out: Vec<Vec<Word>> = vec![Vec::new()];
    let mut word = Word::default();
    let mut chars = value.chars().peekable();
    let end_word = |word: &mut Word, out: &mut Vec<Vec<Word>>| {
        if !word.text.is_empty() || word.quoted {
            let w = std::mem::take(word);
            let clause = out.last_mut().expect("one clause at least");
            match clause.last_mut() {
                Some(prev) if prev.ends_eq || w.starts_eq() => prev.join(w),
                _ => clause.push(w),
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                // a comment, nested, with quoted-pairs: whitespace
                let mut depth = 1;
                while depth > 0 {
                    match chars.next()? {
                        '\\' => {
                            chars.next()?;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
                end_word(&mut word, &mut out);
            }
            '"' => loop {
                match chars.next()? {
                    '\\' => word.push(chars.next()?, true),
                    '"' => break,
                    q => word.push(q, true),
                }
            },
            ';' => {
                end_word(&mut word, &mut out);
                out.push(Vec::new());
            }
            c if c.is_whitespace() => end_word(&mut word, &mut out),
            ')' => return None,
            c => word.push(c, false),
        }
    }
    end_word(&mut word, &mut out);
    Some(out)
}

/// Reads one `Authentication-Results` value; `None` when it does not follow
/// RFC 8601.
pub fn parse(value: &str) -> Option<Results> {
    let mut clauses = clauses(value)?.into_iter();
    let head = clauses.next()?;
    let mut head = head.into_iter();
    let id = head.next()?;
    if id.eq.is_some() || id.text.is_empty() {
        return None;
    }
    match (head.next(), head.next()) {
        (None, _) => {}
        (Some(v), None) if !v.quoted && v.text.chars().all(|c| c.is_ascii_digit()) => {}
        _ => return None,
    }
    let mut results = Vec::new();
    for clause in clauses {
        let mut words = clause.into_iter();
        let first = words.next()?;
        if first.eq.is_none() && first.text.eq_ignore_ascii_case("none") && !first.quoted {
            if words.next().is_some() {
                return None;
            }
            continue;
        }
        let (method, result) = first.split()?;
        let method = method.split('/').next().unwrap_or("").trim().to_ascii_lowercase();
        let result = result.to_ascii_lowercase();
        if method.is_empty()
            || result.is_empty()
            || !method.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return None;
        }
        let mut props = Vec::new();
        for w in words {
            let (k, v) = w.split()?;
            let k = k.to_ascii_lowercase();
            if k == "reason" {
                continue;
            }
            if !k.contains('.') {
                return None;
            }
            props.push((k, v.to_string()));
        }
        results.push(Resinfo { method, result, props });
    }
    Some(Results { authserv_id: id.text.to_ascii_lowercase(), results })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Results {
        parse(v).unwrap_or_else(|| panic!("not read: {v}"))
    }

    #[test]
    fn results_with_comments_versions_and_spaces_around_equals() {
        let r = one(
            "mx1.krgroup.example 1; (checked at the edge)\r\n\tdkim = pass (2048-bit key) header.d=acme-dental.example header.b=Ab+/9x=; \
             spf=pass smtp.mailfrom=ap@acme-dental.example;\r\n dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=acme-dental.example",
        );
        assert_eq!(r.authserv_id, "mx1.krgroup.example");
        assert_eq!(r.results.len(), 3);
        assert_eq!((r.results[0].method.as_str(), r.results[0].result.as_str()), ("dkim", "pass"));
        assert_eq!(r.results[0].prop("header.d"), Some("acme-dental.example"));
        assert_eq!(r.results[0].prop("header.b"), Some("Ab+/9x="));
        assert_eq!(r.results[2].prop("header.from"), Some("acme-dental.example"));
    }

    #[test]
    fn a_quoted_local_part_cannot_carry_a_result_of_its_own() {
        let r = one(
            "mx.krgroup.example; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=acme-dental.example x\"@evil.example; dmarc=fail header.from=acme-dental.example",
        );
        assert_eq!(r.results.len(), 2);
        assert_eq!(
            r.results[0].prop("smtp.mailfrom"),
            Some("x;dmarc=pass header.from=acme-dental.example x@evil.example")
        );
        assert_eq!((r.results[1].method.as_str(), r.results[1].result.as_str()), ("dmarc", "fail"));
    }

    #[test]
    fn a_comment_cannot_carry_one_either() {
        let r = one(
            "mx.krgroup.example; dmarc=fail (dmarc=pass; header.from=acme-dental.example) header.from=acme-dental.example",
        );
        assert_eq!(r.results.len(), 1);
        assert_eq!(r.results[0].result, "fail");
        assert_eq!(r.results[0].prop("header.from"), Some("acme-dental.example"));
    }

    #[test]
    fn none_and_malformed_headers() {
        assert_eq!(one("mx.krgroup.example; none").results, vec![]);
        // Microsoft 365's own form has no authserv-id: not RFC 8601
        assert_eq!(
            parse("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=a.example; dkim=pass header.d=a.example"),
            None
        );
        assert_eq!(parse("mx.krgroup.example; dmarc=pass (unclosed"), None);
        assert_eq!(parse("mx.krgroup.example; dmarc=pass header.from=\"unclosed"), None);
        assert_eq!(parse("mx.krgroup.example; dmarc=pass junk"), None);
        assert_eq!(parse(""), None);
    }
}
