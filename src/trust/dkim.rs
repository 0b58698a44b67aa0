//! DKIM and ARC checked by billmail itself (`[trust] verify_dkim`), with
//! the `mail-auth` crate and DNS: the system's resolver, or the servers in
//! `[trust] dns_servers`.
//!
//! A signature proves a message only when it verifies, its domain is aligned
//! with the From domain, it covers From, it covers the whole body (no `l=`:
//! text appended after the signed length would be unproven), and no header
//! it signed also appears unsigned (a second Subject above the signed one
//! would be read instead of it).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use mail_auth::hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, Error, MessageAuthenticator};

use super::{Proof, aligned, judge, results};

pub struct Dkim {
    authenticator: MessageAuthenticator,
}

impl Dkim {
    /// The verifier `[trust] verify_dkim` asks for, if it does.
    pub fn for_config(config: &crate::config::Config) -> Result<Option<Dkim>> {
        if config.trust.verify_dkim { Dkim::new(&config.trust.dns_servers).map(Some) } else { Ok(None) }
    }

    /// A verifier asking `servers` (UDP and TCP), or the system's resolver
    /// when there are none.
    pub fn new(servers: &[SocketAddr]) -> Result<Dkim> {
        let authenticator = if servers.is_empty() {
            MessageAuthenticator::new_system_conf().context("the system's DNS settings (/etc/resolv.conf)")?
        } else {
            let mut group = NameServerConfigGroup::with_capacity(servers.len());
            for s in servers {
                group.merge(NameServerConfigGroup::from_ips_clear(&[s.ip()], s.port(), true));
            }
            let mut opts = ResolverOpts::default();
            opts.attempts = 2;
            opts.timeout = std::time::Duration::from_secs(3);
            MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], group), opts)
                .context("the DNS servers in [trust] dns_servers")?
        };
        Ok(Dkim { authenticator })
    }

    /// What the message's DKIM signatures prove about `from_domain`.
    pub async fn verify(&self, raw: &[u8], from_domain: &str) -> Proof {
        let Some(msg) = AuthenticatedMessage::parse(raw) else {
            return Proof::none("DKIM: the message's headers could not be read");
        };
        if msg.dkim_headers.is_empty() {
            return Proof::none("no DKIM signature");
        }
        let outputs = self.authenticator.verify_dkim(&msg).await;
        let mut notes = Vec::new();
        let mut failed = None;
        for out in &outputs {
            let Some(sig) = out.signature() else {
                notes.push("a DKIM signature that could not be read".to_string());
                continue;
            };
            let d = sig.d.to_ascii_lowercase();
            if !aligned(&d, from_domain) {
                notes.push(format!("DKIM signature by {d}, not the From domain {from_domain}"));
                continue;
            }
            if sig.l > 0 {
                notes.push(format!("DKIM signature by {d} covers only the first {} bytes of the body (l=)", sig.l));
                continue;
            }
            if !sig.h.iter().any(|h| h.eq_ignore_ascii_case("from")) {
                notes.push(format!("DKIM signature by {d} does not cover From"));
                continue;
            }
            if let Some(name) = unsigned_copy(&msg, &sig.h) {
                notes.push(format!("DKIM signature by {d}: a {name} header stands outside what it signed"));
                continue;
            }
            match out.result() {
                DkimResult::Pass => return Proof::pass(format!("DKIM signature by {d} verified by billmail")),
                DkimResult::Fail(e) | DkimResult::Neutral(e @ Error::FailedBodyHashMatch) => {
                    failed = Some(format!("DKIM signature by {d} does not verify: {e}"));
                }
                DkimResult::Neutral(e) | DkimResult::PermError(e) | DkimResult::TempError(e) => {
                    notes.push(format!("DKIM signature by {d} could not be checked: {e}"));
                }
                DkimResult::None => notes.push(format!("DKIM signature by {d}: no result")),
            }
        }
        match failed {
            Some(f) => Proof::fail(f),
            None => Proof::none(notes.join("; ")),
        }
    }
}

impl Dkim {
    /// What an ARC chain proves about `from_domain`: when the chain
    /// verifies and its latest seal is by one of `sealers` (`[trust]
    /// arc_sealers`), that sealer's `ARC-Authentication-Results` stand for
    /// the message as it reached the sealer, before a forwarder changed it.
    /// None when there is no chain or no sealer is listed.
    pub async fn verify_arc(&self, raw: &[u8], from_domain: &str, sealers: &[String]) -> Option<Proof> {
        if sealers.is_empty() {
            return None;
        }
        let msg = AuthenticatedMessage::parse(raw)?;
        if msg.as_headers.is_empty() {
            return None;
        }
        let out = self.authenticator.verify_arc(&msg).await;
        if *out.result() != DkimResult::Pass {
            return Some(Proof::none(format!("the ARC chain does not verify ({:?})", out.result())));
        }
        let last = out.sets().last()?;
        let sealer = last.seal.header.d.to_ascii_lowercase();
        if !sealers.iter().any(|s| aligned(s, &sealer)) {
            return Some(Proof::none(format!("sealed (ARC) by {sealer}, not a listed sealer")));
        }
        // "i=N; authserv-id; results": the instance tag, then RFC 8601
        let text = String::from_utf8_lossy(last.results.value).replace("\r\n", "").replace('\n', "");
        let Some(parsed) = text.split_once(';').and_then(|(_, rest)| results::parse(rest)) else {
            return Some(Proof::none(format!("the ARC results sealed by {sealer} cannot be read")));
        };
        match judge(std::slice::from_ref(&parsed), from_domain) {
            (Some(pass), None) => Some(Proof::pass(format!("sealed (ARC) by {sealer}: {pass}"))),
            _ => Some(Proof::none(format!("the ARC results sealed by {sealer} show no pass for {from_domain}"))),
        }
    }
}

/// A header named in `h=` that appears in the message more often than it
/// was signed: the unsigned copy is the one a reader may see.
fn unsigned_copy(msg: &AuthenticatedMessage<'_>, signed: &[String]) -> Option<String> {
    let mut names: Vec<String> = signed.iter().map(|h| h.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names.into_iter().find(|name| {
        let signed_times = signed.iter().filter(|h| h.eq_ignore_ascii_case(name)).count();
        let present = msg.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).count();
        present > signed_times
    })
}
