//! A server that greets without capabilities: a loopback relay in front of
//! the real Dovecot that takes the `[CAPABILITY …]` code out of its greeting
//! (`* OK [CAPABILITY IMAP4rev1 … AUTH=PLAIN] Dovecot ready.` becomes
//! `* OK Dovecot ready.`) and passes every other byte through unchanged, as
//! servers that do not advertise in the greeting behave.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct BareGreeting {
    pub port: u16,
    /// The greetings as the client received them.
    pub greetings: Arc<Mutex<Vec<String>>>,
}

fn copy(mut from: impl Read, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl BareGreeting {
    pub fn start(upstream_port: u16) -> BareGreeting {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let greetings = Arc::new(Mutex::new(Vec::new()));
        let seen = greetings.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else { continue };
                let mut from_server = BufReader::new(server.try_clone().unwrap());
                let mut greeting = String::new();
                if from_server.read_line(&mut greeting).is_err() {
                    continue;
                }
                let bare = match (greeting.find("[CAPABILITY "), greeting.find("] ")) {
                    (Some(a), Some(b)) if a < b => format!("{}{}", &greeting[..a], &greeting[b + 2..]),
                    _ => greeting.clone(),
                };
                seen.lock().unwrap().push(bare.clone());
                let mut to_client = client.try_clone().unwrap();
                if to_client.write_all(bare.as_bytes()).is_err() {
                    continue;
                }
                // the reader may already hold bytes after the greeting: it is the source from here on
                std::thread::spawn(move || copy(from_server, to_client));
                std::thread::spawn(move || copy(client, server));
            }
        });
        BareGreeting { port, greetings }
    }
}
