//! A real SMTP server for the tests: it speaks enough ESMTP for lettre (EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT), keeps every message it accepts, and can be stopped and restarted on the
//! same port to play a mail server going down, or answer slowly to play a busy one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running sink.
pub struct Sink {
    pub port: u16,
    /// When each kept message was accepted, in the order of `messages`.
    pub accepted_at: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    handle: Option<JoinHandle<()>>,
}

impl Sink {
    /// Listen on `port` (0 for any free port), keeping messages in `messages`.
    pub fn start(port: u16, messages: Arc<Mutex<Vec<String>>>) -> Sink {
        Sink::start_slow(port, messages, Duration::ZERO)
    }

    /// As [`Sink::start`], waiting `delay` before accepting each message (a busy server).
    pub fn start_slow(port: u16, messages: Arc<Mutex<Vec<String>>>, delay: Duration) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("sink binds");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, store) = (stop.clone(), messages.clone());
        let accepted_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let times = accepted_at.clone();
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let tracked = open.clone();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Ok(s) = stream.try_clone() {
                            tracked.lock().unwrap().push(s);
                        }
                        let (store, times) = (store.clone(), times.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &store, &times, delay);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Sink {
            port,
            accepted_at,
            stop,
            open,
            handle: Some(handle),
        }
    }

    /// Go down: stop listening and drop every open connection (the port refuses connections
    /// until a new sink binds it).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    /// The SMTP URL of this sink (plain SMTP on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    stream: TcpStream,
    store: &Mutex<Vec<String>>,
    times: &Mutex<Vec<Instant>>,
    delay: Duration,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            out.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if cmd.starts_with("DATA") {
            out.write_all(b"354 end with .\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l),
                );
            }
            std::thread::sleep(delay);
            {
                let mut kept = store.lock().unwrap();
                kept.push(data);
                times.lock().unwrap().push(Instant::now());
            }
            out.write_all(b"250 queued\r\n")?;
        } else if cmd.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 ok\r\n")?;
        }
    }
}
