//! The connections the server holds open (`DOSEWISE_MAX_CONNECTIONS`, `DOSEWISE_KEEP_ALIVE_MS`):
//! at its limit the server accepts no more until one closes, and the clients beyond it wait in
//! the listen queue and are answered, never refused; while more than half the limit is open,
//! answers close their connection; an idle connection closes after the keep-alive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with_settings, TestApp};

/// A server of two workers holding at most four connections (two each), idle ones kept
/// `keep_alive_ms` while at most two are open.
async fn four_connections(keep_alive_ms: u64) -> TestApp {
    spawn_app_with_settings(|s| {
        s.workers = 2;
        s.max_connections = 4;
        s.keep_alive_ms = keep_alive_ms;
    })
    .await
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Ask `stream` for `/healthz` and read the answer (head and a `Content-Length` body): its
/// status and whether it closes the connection.
fn health(stream: &mut TcpStream) -> (u16, bool) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).expect("an answer"),
            1,
            "closed early"
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    let closes = head.lines().any(|l| l.trim() == "connection: close");
    (head[9..12].parse().unwrap(), closes)
}

#[actix_web::test]
async fn a_client_beyond_the_connection_limit_waits_in_the_queue_until_an_idle_connection_closes() {
    // Two workers holding two connections each; idle connections kept 3 s while at most two
    // are open.
    let app = four_connections(3000).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let (idle, waited) = actix_web::web::block(move || {
        // Two answered connections, kept alive (two open: not crowded).
        let mut idle = [connect(port), connect(port)];
        for s in &mut idle {
            assert_eq!(health(s), (200, false), "kept alive below half the limit");
        }
        let t0 = Instant::now();
        // Two more that send nothing yet: the limit of four is reached.
        let silent = [connect(port), connect(port)];
        std::thread::sleep(Duration::from_millis(200));
        // A fifth client connects at once (the kernel queues it) but is served only when an
        // idle connection's keep-alive ends; three open then, so its answer closes.
        let mut fifth = connect(port);
        assert_eq!(
            health(&mut fifth),
            (200, true),
            "crowded: the answer closes"
        );
        let waited = t0.elapsed();
        drop(silent);
        (idle, waited)
    })
    .await
    .unwrap();
    assert!(
        waited >= Duration::from_millis(1500),
        "the fifth client was served after {waited:?}, before an idle connection closed: the \
         limit did not hold"
    );
    // The idle connections were closed by the server after their keep-alive.
    actix_web::web::block(move || {
        for mut s in idle {
            let mut byte = [0u8; 1];
            assert_eq!(
                s.read(&mut byte).unwrap(),
                0,
                "an idle connection stayed open"
            );
        }
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_server_holding_four_connections_answers_forty_clients_at_once_all_of_them() {
    let app = four_connections(200).await;
    // Forty clients, each with its own connection, kept (so their connections stay open until
    // the server's keep-alive closes them).
    let clients: Vec<reqwest::Client> = (0..40).map(|_| reqwest::Client::new()).collect();
    let answers = futures::future::join_all(clients.iter().map(|c| {
        let url = format!("{}/healthz", app.address);
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    }));
    let answers = tokio::time::timeout(Duration::from_secs(60), answers)
        .await
        .expect("every client answered within 60 s");
    let ok = answers.iter().filter(|a| matches!(a, Ok(200))).count();
    assert_eq!(ok, 40, "{answers:?}");
}
