//! Folder names as the server spells them. The config writes them with `/`
//! (`Billing/Processed`); a server has its own hierarchy separator and
//! personal namespace (RFC 2342): `Billing/Processed` on Exchange, Gmail
//! and Dovecot with `/`, `Billing.Processed` on Dovecot's Maildir++,
//! `INBOX.Billing.Processed` on Courier, cPanel and many hosted servers.
//! Names outside ASCII are sent in modified UTF-7 (RFC 3501 5.1.3).

/// What the server said of its folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The personal namespace's prefix (`""`, `"INBOX."`).
    pub prefix: String,
    /// The hierarchy separator; None for a flat server (no hierarchy).
    pub separator: Option<char>,
}

impl Layout {
    /// The name on the server of a folder written `a/b` in the config.
    pub fn server_name(&self, name: &str) -> String {
        let name = name.trim_matches('/');
        if name.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        let sep = self.separator.map(String::from).unwrap_or_else(|| "/".into());
        let joined = name.split('/').map(|p| utf7_imap::encode_utf7_imap(p.to_string())).collect::<Vec<_>>().join(&sep);
        // a name already under the prefix (`INBOX/Billing` on an `INBOX.` server) is not prefixed twice
        let prefix_as_written = self.prefix.trim_end_matches(self.separator.unwrap_or('/'));
        let under_prefix = !prefix_as_written.is_empty()
            && name.split('/').next().is_some_and(|first| first.eq_ignore_ascii_case(prefix_as_written));
        if under_prefix || self.prefix.is_empty() { joined } else { format!("{}{joined}", self.prefix) }
    }

    /// The names to create for `name`: each parent first, then the folder.
    pub fn with_parents(&self, name: &str) -> Vec<String> {
        let parts: Vec<&str> = name.trim_matches('/').split('/').collect();
        (1..=parts.len())
            .map(|n| self.server_name(&parts[..n].join("/")))
            .filter(|n| !n.eq_ignore_ascii_case("INBOX") && *n != self.prefix)
            .collect()
    }
}

/// The personal namespace of a `* NAMESPACE` response line: `* NAMESPACE
/// (("INBOX." ".")) NIL NIL` gives `("INBOX.", Some('.'))`; None when the line
/// has no personal namespace this reader understands.
pub fn parse_namespace(line: &str) -> Option<(String, Option<char>)> {
    let rest = line.trim().strip_prefix("* ")?;
    let rest = rest.get(..9).filter(|w| w.eq_ignore_ascii_case("NAMESPACE")).map(|_| rest[9..].trim_start())?;
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = quoted(rest)?;
    let rest = rest.trim_start();
    let separator = if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("NIL") {
        None
    } else {
        let (sep, _) = quoted(rest)?;
        let mut chars = sep.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => return None,
        }
    };
    Some((prefix, separator))
}

/// A quoted string at the start of `s` (with `\` escapes), and what follows.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(prefix: &str, sep: char) -> Layout {
        Layout { prefix: prefix.into(), separator: Some(sep) }
    }

    #[test]
    fn config_names_on_each_kind_of_server() {
        assert_eq!(layout("", '/').server_name("Billing/Processed"), "Billing/Processed");
        assert_eq!(layout("", '.').server_name("Billing/Processed"), "Billing.Processed");
        assert_eq!(layout("INBOX.", '.').server_name("Billing/Processed"), "INBOX.Billing.Processed");
        assert_eq!(layout("INBOX.", '.').server_name("INBOX"), "INBOX");
        assert_eq!(layout("INBOX.", '.').server_name("INBOX/Billing"), "INBOX.Billing");
        assert_eq!(layout("", '/').server_name("inbox"), "INBOX");
        assert_eq!(layout("", '.').server_name("Facturación/Revisión"), "Facturaci&APM-n.Revisi&APM-n");
        assert_eq!(
            layout("INBOX.", '.').with_parents("Billing/Review"),
            vec!["INBOX.Billing".to_string(), "INBOX.Billing.Review".to_string()]
        );
        assert_eq!(layout("", '/').with_parents("Processed"), vec!["Processed".to_string()]);
    }

    #[test]
    fn namespace_responses() {
        assert_eq!(parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL NIL"), Some(("".into(), Some('/'))));
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\n"),
            Some(("INBOX.".into(), Some('.')))
        );
        assert_eq!(parse_namespace("* namespace ((\"\" NIL)) NIL NIL"), Some(("".into(), None)));
        assert_eq!(parse_namespace("* NAMESPACE ((\"\" \"\\\\\")) NIL NIL"), Some(("".into(), Some('\\'))));
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(parse_namespace("* LIST () \"/\" INBOX"), None);
    }
}
