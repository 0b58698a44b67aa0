//! Proof of origin: is a message really from the domain in its From?
//!
//! Two kinds of proof, as `[trust]` allows (interface.md):
//! - a DKIM signature billmail verifies itself (`verify_dkim`, see
//!   [`dkim`]), by a domain aligned with the From domain;
//! - an `Authentication-Results` header written by one of the organisation's
//!   own servers (`authserv_ids`), believed only when it stands above the
//!   `Received` line in which that server took the message in: everything
//!   below that line came with the message and may be forged.
//!
//! A `fail` for the From domain in a believed header wins over any pass.
//! This module is pure: the DNS lookups live in [`dkim`].

pub mod dkim;
pub mod results;

use mail_parser::{HeaderName, HeaderValue, Host, MessageParser, Protocol};

/// Whether a message is proven to come from its From domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Proven.
    Pass,
    /// Proven not to (a failed check): never acted on or answered.
    Fail,
    /// Nothing proves it either way.
    None,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::None => "none",
        }
    }
}

/// What is known of a message's origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub verdict: Verdict,
    /// How it was decided, in words for the review queue.
    pub detail: String,
}

impl Proof {
    pub fn pass(detail: impl Into<String>) -> Proof {
        Proof { verdict: Verdict::Pass, detail: detail.into() }
    }
    pub fn fail(detail: impl Into<String>) -> Proof {
        Proof { verdict: Verdict::Fail, detail: detail.into() }
    }
    pub fn none(detail: impl Into<String>) -> Proof {
        Proof { verdict: Verdict::None, detail: detail.into() }
    }
}

/// The organisational domain (the registrable one, by the public suffix
/// list): `mail.acme-dental.example` → `acme-dental.example`; a bare public
/// suffix (`example`, `co.uk`) has none.
pub fn org_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map(str::to_string)
}

/// DMARC's relaxed alignment: the same organisational domain.
pub fn aligned(a: &str, b: &str) -> bool {
    matches!((org_domain(a), org_domain(b)), (Some(x), Some(y)) if x == y)
}

/// The domain of a value that may be an address (`@d`, `x@d`) or a domain.
fn domain_of(v: &str) -> String {
    v.rsplit('@').next().unwrap_or(v).trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The From domain, when the message has exactly one From header holding
/// exactly one address; else why no proof can be about it.
pub fn sender_domain(raw: &[u8]) -> Result<String, String> {
    let msg = MessageParser::new().with_address_headers().parse_headers(raw).ok_or("no headers")?;
    let froms: Vec<_> = msg.headers().iter().filter(|h| h.name == HeaderName::From).collect();
    let [from] = froms.as_slice() else {
        return Err(format!("{} From headers: which sender is meant is not clear", froms.len()));
    };
    let addrs: Vec<_> = match &from.value {
        HeaderValue::Address(a) => a.iter().filter_map(|a| a.address.as_deref()).collect(),
        _ => Vec::new(),
    };
    match addrs.as_slice() {
        [one] => match one.rsplit_once('@') {
            Some((_, d)) if !d.is_empty() => Ok(d.to_ascii_lowercase()),
            _ => Err(format!("the From address {one:?} has no domain")),
        },
        _ => Err(format!("the From header holds {} addresses", addrs.len())),
    }
}

/// The trace headers in order from the top: `Received` (with the host
/// named after `by`, and whether it is the final local delivery step) and
/// `Authentication-Results` (raw, unfolded).
enum Trace {
    Received { by: Option<String>, local: bool },
    Results(String),
}

fn trace(raw: &[u8]) -> Vec<Trace> {
    let Some(msg) = MessageParser::new().header_received(HeaderName::Received).parse_headers(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for h in msg.headers() {
        if h.name == HeaderName::Received {
            let (by, local) = match &h.value {
                HeaderValue::Received(r) => (
                    r.by.as_ref().map(|b| match b {
                        Host::Name(n) => n.to_ascii_lowercase(),
                        Host::IpAddr(ip) => ip.to_string(),
                    }),
                    matches!(
                        r.with,
                        Some(
                            Protocol::LMTP
                                | Protocol::LMTPA
                                | Protocol::LMTPS
                                | Protocol::LMTPSA
                                | Protocol::UTF8LMTP
                                | Protocol::UTF8LMTPA
                                | Protocol::UTF8LMTPS
                                | Protocol::UTF8LMTPSA
                                | Protocol::Local
                        )
                    ),
                ),
                _ => (None, false),
            };
            out.push(Trace::Received { by, local });
        } else if h.name.as_str().eq_ignore_ascii_case("Authentication-Results") {
            let bytes = raw.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            let text = String::from_utf8_lossy(bytes).replace("\r\n", "").replace('\n', "");
            out.push(Trace::Results(text));
        }
    }
    out
}

/// What the organisation's own servers (`authserv_ids`) said of the From
/// domain, from the headers they wrote above the line where they took the
/// message in.
pub fn from_headers(raw: &[u8], authserv_ids: &[String], from_domain: &str) -> Proof {
    if authserv_ids.is_empty() {
        return Proof::none("no [trust] authserv_ids: no Authentication-Results header is believed");
    }
    let ours = |host: &str| authserv_ids.iter().any(|id| id.eq_ignore_ascii_case(host));
    let fields = trace(raw);
    // the top-most Received written by our server (not the final local
    // delivery step, which may carry any name): where it entered
    let entry = fields.iter().position(|f| matches!(f, Trace::Received { by: Some(b), local: false } if ours(b)));
    let Some(entry) = entry else {
        return Proof::none(format!(
            "no Received line from {} shows where the message entered, so its Authentication-Results cannot be told from forged ones",
            authserv_ids.join(", ")
        ));
    };
    let mut believed = Vec::new();
    for f in &fields[..entry] {
        let Trace::Results(text) = f else { continue };
        let Some(r) = results::parse(text) else { continue };
        if ours(&r.authserv_id) {
            believed.push(r);
        }
    }
    let (pass, fail) = judge(&believed, from_domain);
    match (fail, pass) {
        (Some(f), _) => Proof::fail(f),
        (None, Some(p)) => Proof::pass(p),
        (None, None) if believed.is_empty() => Proof::none(format!(
            "no Authentication-Results from {} above the line where it took the message in",
            authserv_ids.join(", ")
        )),
        (None, None) => {
            Proof::none(format!("the receiving server shows no DMARC or aligned DKIM pass for {from_domain}"))
        }
    }
}

/// What believed results say of `from_domain`: a pass (DMARC pass for it,
/// or DKIM pass aligned with it) and a fail (DMARC or aligned DKIM fail),
/// each in words.
pub fn judge(believed: &[results::Results], from_domain: &str) -> (Option<String>, Option<String>) {
    let mut pass = None;
    let mut fail = None;
    for r in believed {
        for ri in &r.results {
            let said = format!("{} says {}={}", r.authserv_id, ri.method, ri.result);
            match ri.method.as_str() {
                "dmarc" => {
                    let about = ri.prop("header.from").map(domain_of);
                    match (ri.result.as_str(), about.as_deref()) {
                        ("pass", Some(d)) if d == from_domain => pass = Some(format!("{said} for {d}")),
                        ("fail", None) => fail = Some(said),
                        ("fail", Some(d)) if d == from_domain => fail = Some(format!("{said} for {d}")),
                        _ => {}
                    }
                }
                "dkim" => {
                    let d = ri.prop("header.d").or(ri.prop("header.i")).map(domain_of);
                    match (ri.result.as_str(), d) {
                        ("pass", Some(d)) if aligned(&d, from_domain) => {
                            pass.get_or_insert(format!("{said} for {d}, aligned with {from_domain}"));
                        }
                        ("fail", Some(d)) if aligned(&d, from_domain) => fail = Some(format!("{said} for {d}")),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    (pass, fail)
}

/// The proofs together: a believed header's fail wins; then a signature
/// billmail verified, a believed header's pass, a pass carried by a listed
/// ARC sealer; then billmail's own failed check.
pub fn combine(headers: Proof, dkim: Option<Proof>, arc: Option<Proof>) -> Proof {
    if headers.verdict == Verdict::Fail {
        return headers;
    }
    let others = [dkim.clone(), Some(headers.clone()), arc.clone()];
    if let Some(p) = others.iter().flatten().find(|p| p.verdict == Verdict::Pass) {
        return p.clone();
    }
    let failed = dkim.is_some_and(|d| d.verdict == Verdict::Fail);
    let said: Vec<String> = others.into_iter().flatten().map(|p| p.detail).filter(|d| !d.is_empty()).collect();
    if failed { Proof::fail(said.join("; ")) } else { Proof::none(said.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &["mx.krgroup.example"];

    fn ids() -> Vec<String> {
        IDS.iter().map(|s| s.to_string()).collect()
    }

    fn judge(headers: &str) -> Proof {
        let raw = format!("{headers}From: Jane Doe <jane.doe@acme-dental.example>\r\nSubject: x\r\n\r\nbody\r\n");
        from_headers(raw.as_bytes(), &ids(), "acme-dental.example")
    }

    const ENTRY: &str = "Received: from mail.acme-dental.example (mail.acme-dental.example [203.0.113.5])\r\n\tby mx.krgroup.example (Postfix) with ESMTPS id 4Fk2\r\n\tfor <accounting@krgroup.example>; Mon, 16 Nov 2026 09:42:17 -0500\r\n";

    #[test]
    fn a_pass_from_our_server_above_its_entry_line_is_believed() {
        let p = judge(&format!(
            "Authentication-Results: mx.krgroup.example; dkim=pass header.d=acme-dental.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::Pass, "{p:?}");
        // the final delivery step above it changes nothing
        let p = judge(&format!(
            "Received: from mx.krgroup.example by imap.krgroup.example with LMTP id x; Mon, 16 Nov 2026 09:42:18 -0500\r\n\
             Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::Pass, "{p:?}");
        // DKIM of a subdomain is aligned
        let p = judge(&format!(
            "Authentication-Results: mx.krgroup.example; dkim=pass header.d=mail.acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::Pass, "{p:?}");
    }

    #[test]
    fn headers_that_came_with_the_message_are_not_believed() {
        // below the entry line: written by whoever sent it
        let p = judge(&format!(
            "{ENTRY}Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n"
        ));
        assert_eq!(p.verdict, Verdict::None, "{p:?}");
        // no entry line at all (delivered straight, or an MTA that adds none of ours)
        let p = judge("Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n");
        assert_eq!(p.verdict, Verdict::None, "{p:?}");
        // another server's results, above or not
        let p = judge(&format!(
            "Authentication-Results: evil.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::None, "{p:?}");
        // a forged entry line below the real one does not move it
        let p = judge(&format!(
            "{ENTRY}Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::None, "{p:?}");
        // nothing is believed without authserv_ids
        let raw = format!(
            "Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}From: a@acme-dental.example\r\n\r\n"
        );
        assert_eq!(from_headers(raw.as_bytes(), &[], "acme-dental.example").verdict, Verdict::None);
    }

    #[test]
    fn a_pass_must_be_for_the_from_domain_and_a_fail_wins() {
        for (header, verdict) in [
            // DMARC pass says nothing about which From: not believed
            ("mx.krgroup.example; dmarc=pass", "none"),
            ("mx.krgroup.example; dmarc=pass header.from=evil.example", "none"),
            // a suffix is not an organisational domain
            ("mx.krgroup.example; dkim=pass header.d=example", "none"),
            ("mx.krgroup.example; dkim=pass header.d=dental.example", "none"),
            (
                "mx.krgroup.example; dkim=pass header.d=mailer.example; dmarc=fail header.from=acme-dental.example",
                "fail",
            ),
            (
                "mx.krgroup.example; dmarc=pass header.from=acme-dental.example; dkim=fail header.d=acme-dental.example",
                "fail",
            ),
            ("mx.krgroup.example; dmarc=fail", "fail"),
            // quoted and commented text carries no results
            (
                "mx.krgroup.example; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=acme-dental.example x\"@evil.example; dmarc=fail header.from=acme-dental.example",
                "fail",
            ),
            (
                "mx.krgroup.example; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=acme-dental.example x\"@evil.example",
                "none",
            ),
            ("mx.krgroup.example; dkim=none (dmarc=pass header.from=acme-dental.example)", "none"),
        ] {
            let p = judge(&format!("Authentication-Results: {header}\r\n{ENTRY}"));
            assert_eq!(p.verdict.as_str(), verdict, "{header}: {p:?}");
        }
        // a fail in a second believed header wins too
        let p = judge(&format!(
            "Authentication-Results: mx.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n\
             Authentication-Results: mx.krgroup.example; dmarc=fail header.from=acme-dental.example\r\n{ENTRY}"
        ));
        assert_eq!(p.verdict, Verdict::Fail);
    }

    #[test]
    fn one_from_with_one_address() {
        assert_eq!(sender_domain(b"From: a@Acme.example\r\n\r\n"), Ok("acme.example".into()));
        assert!(sender_domain(b"From: a@acme.example\r\nFrom: b@evil.example\r\n\r\n").is_err());
        assert!(sender_domain(b"From: a@acme.example, b@evil.example\r\n\r\n").is_err());
        assert!(sender_domain(b"Subject: x\r\n\r\n").is_err());
    }

    #[test]
    fn organisational_domains() {
        assert_eq!(org_domain("mail.acme-dental.example").as_deref(), Some("acme-dental.example"));
        assert_eq!(org_domain("example"), None);
        assert!(aligned("bounces.acme.co.uk", "acme.co.uk"));
        assert!(!aligned("evil.co.uk", "acme.co.uk"));
        assert!(!aligned("co.uk", "acme.co.uk"));
    }

    #[test]
    fn combined() {
        let (p, f, n) = (Proof::pass("p"), Proof::fail("f"), Proof::none("n"));
        assert_eq!(combine(f.clone(), Some(p.clone()), None).verdict, Verdict::Fail);
        assert_eq!(combine(n.clone(), Some(p.clone()), None).verdict, Verdict::Pass);
        assert_eq!(combine(p.clone(), Some(f.clone()), None).verdict, Verdict::Pass);
        assert_eq!(combine(n.clone(), Some(f.clone()), None).verdict, Verdict::Fail);
        assert_eq!(combine(n.clone(), Some(n.clone()), None).verdict, Verdict::None);
        assert_eq!(combine(p.clone(), None, None).verdict, Verdict::Pass);
        // a listed sealer's pass stands for a signature a forwarder broke
        assert_eq!(combine(n.clone(), Some(f.clone()), Some(p.clone())).verdict, Verdict::Pass);
        assert_eq!(combine(f, None, Some(p)).verdict, Verdict::Fail);
        assert_eq!(combine(n.clone(), None, Some(n)).detail, "n; n");
    }
}
