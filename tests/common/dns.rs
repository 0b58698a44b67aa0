//! A real DNS server on loopback (Debian's dnsmasq) holding the TXT records
//! a test publishes, such as DKIM keys.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dns {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Dns {
    /// Serves `records` (name, text) and nothing else: any other name is
    /// refused, as an unknown key would be.
    pub fn start(records: &[(String, String)]) -> Dns {
        assert!(
            Command::new("dnsmasq").arg("--version").output().is_ok(),
            "dnsmasq is missing: scripts/test.sh installs it (apt-get install dnsmasq-base)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--pid-file=",
            "--user=root",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--log-facility={}", dir.path().join("dnsmasq.log").display()));
        for (name, text) in records {
            // a TXT string holds at most 255 bytes: a long key is several
            // (given as they are: dnsmasq keeps quotes on its command line)
            assert!(!text.contains(','), "a comma would split the record: {text}");
            let parts: Vec<String> =
                text.as_bytes().chunks(250).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            cmd.arg(format!("--txt-record={name},{}", parts.join(",")));
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("dnsmasq starts");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() || !answers(port, records.first().map(|r| r.0.as_str()))
        {
            assert!(start.elapsed() < Duration::from_secs(10), "dnsmasq did not come up on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Dns { port, child, _dir: dir }
    }
}

/// The server answers a UDP query for `name`'s TXT record (any answer).
fn answers(port: u16, name: Option<&str>) -> bool {
    let Some(name) = name else { return true };
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0x00, 0x00, 0x10, 0x00, 0x01]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 4096];
    sock.send_to(&q, ("127.0.0.1", port)).is_ok()
        && sock.recv(&mut buf).is_ok_and(|n| n > 12 && buf[..2] == [0x12, 0x34])
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RSA key made for the test (openssl), and its DKIM TXT record.
pub struct Key {
    /// PKCS#1 DER (what `openssl genpkey -outform DER` writes for RSA).
    pub private: Vec<u8>,
    /// `v=DKIM1; k=rsa; p=...`
    pub record: String,
}

impl Key {
    pub fn new() -> Key {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.der");
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        let k = key.to_str().unwrap();
        run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "DER", "-out", k]);
        let public = run(&["pkey", "-inform", "DER", "-in", k, "-pubout", "-outform", "DER"]);
        let record = format!("v=DKIM1; k=rsa; p={}", base64::engine::general_purpose::STANDARD.encode(public));
        Key { private: std::fs::read(&key).unwrap(), record }
    }
}
