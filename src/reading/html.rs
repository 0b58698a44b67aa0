//! HTML bodies to plain text: blocks become lines, table cells are joined
//! with " | ", list items get "- ", and text inside <blockquote> is marked
//! with "> " like a quoted plain-text reply.

/// Converts an HTML body to text with one line per block.
///
/// One pass over the bytes with no allocation per tag or per word: this ran
/// at about 70,000 instructions per HTML part of the public corpus
/// (`callgrind` of `cargo bench --bench reader`, a tenth of the reader)
/// when each tag's name and each run of text was copied first.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut line = String::new();
    let mut quote_depth = 0usize;
    let mut cell_in_row = 0usize;
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
        if bytes[i] == b'<' {
            if bytes[i..].starts_with(b"<!--") {
                i = memchr::memmem::find(&bytes[i..], b"-->").map(|p| i + p + 3).unwrap_or(bytes.len());
                continue;
            }
            let end = match memchr::memchr(b'>', &bytes[i..]) {
                Some(p) => i + p,
                None => break,
            };
            let tag = &bytes[i + 1..end];
            i = end + 1;
            let closing = tag.first() == Some(&b'/');
            // the name in lower case, on the stack (no tag we act on is longer)
            let mut lower = [0u8; 10];
            let name = tag_name(tag);
            let name: &[u8] = match lower.get_mut(..name.len()) {
                Some(l) => {
                    l.copy_from_slice(name);
                    l.make_ascii_lowercase();
                    l
                }
                None => b"",
            };
            match name {
                b"style" | b"script" | b"head" | b"title" if !closing => {
                    let end_tag: &[u8] = match name {
                        b"style" => b"</style>",
                        b"script" => b"</script>",
                        b"head" => b"</head>",
                        _ => b"</title>",
                    };
                    match find_ci(&bytes[i..], end_tag) {
                        Some(p) => i += p + end_tag.len(),
                        None => break,
                    }
                }
                b"br" => {
                    flush(&mut out, &mut line, quote_depth);
                    pending_space = false;
                }
                b"blockquote" => {
                    flush(&mut out, &mut line, quote_depth);
                    quote_depth = if closing { quote_depth.saturating_sub(1) } else { quote_depth + 1 };
                    pending_space = false;
                }
                b"tr" => {
                    if !line.trim().is_empty() {
                        flush(&mut out, &mut line, quote_depth);
                    }
                    cell_in_row = 0;
                    pending_space = false;
                }
                b"td" | b"th" if !closing => {
                    if cell_in_row > 0 && !line.trim().is_empty() {
                        line.push_str(" | ");
                    }
                    cell_in_row += 1;
                    pending_space = false;
                }
                b"li" if !closing => {
                    if !line.trim().is_empty() {
                        flush(&mut out, &mut line, quote_depth);
                    }
                    line.push_str("- ");
                    pending_space = false;
                }
                b"p" | b"div" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"table" | b"ul" | b"ol" | b"hr"
                | b"li" | b"pre" | b"section" | b"article" | b"header" | b"footer" | b"center" | b"dd" | b"dt"
                | b"tbody" | b"thead" => {
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
        let next = memchr::memchr(b'<', &bytes[i..]).map(|p| i + p).unwrap_or(bytes.len());
        let text = decode_entities(&html[i..next]);
        i = next;
        // words joined by one space, whatever white space was between them
        for (k, word) in text.split(char::is_whitespace).enumerate() {
            if k > 0 {
                pending_space = true;
            }
            if !word.is_empty() {
                if pending_space && !line.is_empty() && !line.ends_with(' ') {
                    line.push(' ');
                }
                line.push_str(word);
                pending_space = false;
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

/// A tag's name: the letters and digits after `<` or `</`.
fn tag_name(tag: &[u8]) -> &[u8] {
    let tag = &tag[tag.iter().position(|&b| b != b'/').unwrap_or(tag.len())..];
    let n = tag.iter().position(|b| !b.is_ascii_alphanumeric()).unwrap_or(tag.len());
    &tag[..n]
}

/// Where `needle` (ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (first, rest) = needle.split_first()?;
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, hay)
        .find(|&i| hay[i + 1..].len() >= rest.len() && hay[i + 1..i + 1 + rest.len()].eq_ignore_ascii_case(rest))
}

/// Decodes HTML entities, every named one of HTML5 and numeric ones;
/// unknown ones are left as written.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    html_escape::decode_html_entities(s)
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
