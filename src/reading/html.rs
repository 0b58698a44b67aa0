//! HTML bodies to plain text: blocks become lines, table cells are joined
//! with " | ", list items get "- ", and text inside <blockquote> is marked
//! with "> " like a quoted plain-text reply.

/// Converts an HTML body to text with one line per block.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut line = String::new();
    let mut quote_depth = 0usize;
    let mut cell_in_row = 0usize;
    let mut skip_until: Option<&'static str> = None;
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut pending_space = false;

    let flush = |out: &mut String, line: &mut String, depth: usize| {
        let t = line.trim();
        if !t.is_empty() {
            for _ in 0..depth {
                out.push_str("> ");
            }
            out.push_str(t);
        }
        out.push('\n');
        line.clear();
    };

    while i < bytes.len() {
        if let Some(end_tag) = skip_until {
            match find_ci(&html[i..], end_tag) {
                Some(p) => {
                    i += p + end_tag.len();
                    skip_until = None;
                }
                None => break,
            }
            continue;
        }
        let c = bytes[i];
        if c == b'<' {
            if html[i..].starts_with("<!--") {
                i = html[i..].find("-->").map(|p| i + p + 3).unwrap_or(bytes.len());
                continue;
            }
            let end = match html[i..].find('>') {
                Some(p) => i + p,
                None => break,
            };
            let tag = &html[i + 1..end];
            i = end + 1;
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            match name.as_str() {
                "style" | "script" | "head" | "title" if !closing => {
                    skip_until = Some(match name.as_str() {
                        "style" => "</style>",
                        "script" => "</script>",
                        "head" => "</head>",
                        _ => "</title>",
                    });
                }
                "br" => {
                    flush(&mut out, &mut line, quote_depth);
                    pending_space = false;
                }
                "blockquote" => {
                    flush(&mut out, &mut line, quote_depth);
                    quote_depth = if closing { quote_depth.saturating_sub(1) } else { quote_depth + 1 };
                    pending_space = false;
                }
                "tr" => {
                    if !line.trim().is_empty() {
                        flush(&mut out, &mut line, quote_depth);
                    }
                    cell_in_row = 0;
                    pending_space = false;
                }
                "td" | "th" if !closing => {
                    if cell_in_row > 0 && !line.trim().is_empty() {
                        line.push_str(" | ");
                    }
                    cell_in_row += 1;
                    pending_space = false;
                }
                "li" if !closing => {
                    if !line.trim().is_empty() {
                        flush(&mut out, &mut line, quote_depth);
                    }
                    line.push_str("- ");
                    pending_space = false;
                }
                "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "ul" | "ol" | "hr" | "li" | "pre"
                | "section" | "article" | "header" | "footer" | "center" | "dd" | "dt" | "tbody" | "thead" => {
                    if !line.trim().is_empty() {
                        flush(&mut out, &mut line, quote_depth);
                    }
                    pending_space = false;
                }
                _ => {}
            }
            continue;
        }
        // text: up to the next tag
        let next = html[i..].find('<').map(|p| i + p).unwrap_or(bytes.len());
        let text = &html[i..next];
        i = next;
        for word_part in decode_entities(text).split_inclusive(char::is_whitespace) {
            let w = word_part.trim_end_matches(char::is_whitespace);
            let ended_ws = w.len() != word_part.len();
            if !w.is_empty() {
                if pending_space && !line.is_empty() && !line.ends_with(' ') {
                    line.push(' ');
                }
                line.push_str(w);
                pending_space = false;
            }
            if ended_ws {
                pending_space = true;
            }
        }
    }
    flush(&mut out, &mut line, quote_depth);
    // collapse runs of blank lines
    let mut result = String::with_capacity(out.len());
    let mut blank = 0;
    for l in super::text::lines(&out) {
        if l.trim().is_empty() || l.trim() == ">" {
            blank += 1;
            if blank > 1 {
                continue;
            }
            result.push('\n');
        } else {
            blank = 0;
            result.push_str(l);
            result.push('\n');
        }
    }
    result
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes HTML entities, every named one of HTML5 and numeric ones;
/// unknown ones are left as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    html_escape::decode_html_entities(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_tables_and_quotes() {
        let html = "<html><head><style>p{}</style></head><body><div>Hello,</div><div><br></div>\
            <table><tr><th>Name</th><th>Type</th></tr><tr><td>Dmitri Volkov</td><td>Full-time</td></tr></table>\
            <p>A&nbsp;&amp;&#39;B &lt;x&gt;</p><blockquote><div>quoted line</div></blockquote><ul><li>one</li><li>two</li></ul></body></html>";
        let t = to_text(html);
        assert_eq!(
            t,
            "Hello,\n\nName | Type\nDmitri Volkov | Full-time\nA &'B <x>\n\n> quoted line\n\n- one\n- two\n\n"
        );
    }
}
