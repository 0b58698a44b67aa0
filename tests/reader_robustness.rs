//! Random, mutated and hostile messages: the reader never panics, answers
//! every input, and refuses oversized ones with a clear reason.

use billmail::reading::{MAX_MESSAGE_BYTES, ReadError, read};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(pick in 0usize..1000, cut in 0.0f64..1.0, flips in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..40)) {
        let all = corpus();
        let mut m = all[pick % all.len()].clone();
        for (at, b) in flips {
            let i = ((m.len() as f64) * at) as usize;
            if i < m.len() { m[i] = b; }
        }
        m.truncate(((m.len() as f64) * cut) as usize + 1);
        let _ = read(&m);
    }

    #[test]
    fn arbitrary_text_bodies_never_panic(body in "\\PC{0,2000}") {
        let msg = format!("From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}");
        prop_assert!(read(msg.as_bytes()).is_ok());
        let html = format!("From: a@b.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<div>{body}</div><table><tr><td>{body}");
        prop_assert!(read(html.as_bytes()).is_ok());
    }
}

#[test]
fn deep_nesting_and_huge_headers() {
    let mut msg =
        String::from("From: a@b.example\r\nSubject: nested\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 0..300 {
        msg.push_str(&format!("--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n", i + 1));
    }
    msg.push_str("--b300\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nSubject: inner\r\n\r\nPlease add 2 full-time users.\r\n");
    assert!(read(msg.as_bytes()).is_ok());

    let huge = format!(
        "From: a@b.example\r\nSubject: {}\r\nX-Long: {}\r\n\r\nhello",
        "s".repeat(1 << 20),
        "h ".repeat(1 << 19)
    );
    assert!(read(huge.as_bytes()).is_ok());
}

#[test]
fn a_20_mb_body_is_read_and_a_larger_message_refused() {
    let mut msg = String::from(
        "From: a@b.example\r\nSubject: big\r\nContent-Type: text/html\r\n\r\n<p>Please add two full-time users: Ann Lee, Bo Chen.</p>",
    );
    while msg.len() < 20 * 1024 * 1024 {
        msg.push_str("<div>filler text with 42 numbers and $5.00 in it</div>\r\n");
    }
    let r = read(msg.as_bytes()).unwrap();
    assert_eq!(r.from, "a@b.example");

    let too_big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
    let err = read(&too_big).unwrap_err();
    assert!(matches!(err, ReadError::TooLarge(_)));
    assert!(err.to_string().contains("limit"));
}
