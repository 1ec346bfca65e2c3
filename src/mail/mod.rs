//! Email: the transports (SMTP in production, `.eml` files by default, memory in tests),
//! rendering with askama in the resident's language, and the worker that schedules messages and
//! delivers the outbox. The outbox table itself is `models::outbox`: its rows are written inside
//! the transactions of the changes that cause them, by services that know nothing of mail.

pub mod ics;
mod relocated;
pub mod render;
pub mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (`SMTP_URL`: `smtp://`, `smtp://...?tls=required` for STARTTLS, or
    /// `smtps://` for TLS, with `user:password@` for credentials).
    Smtp(Box<SmtpTransport>),
    /// `.eml` files in a folder (the embedded default).
    File(PathBuf),
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<Vec<u8>>>>),
}

impl Transport {
    /// The transport the settings ask for.
    pub fn from_settings(smtp_url: Option<&str>, mail_dir: &str) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => Ok(Transport::Smtp(Box::new(
                SmtpTransport::from_url(url)
                    .context("SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    .build(),
            ))),
            None => {
                std::fs::create_dir_all(mail_dir)
                    .with_context(|| format!("cannot create the mail folder {mail_dir}"))?;
                Ok(Transport::File(PathBuf::from(mail_dir)))
            }
        }
    }

    /// Send one message; the error text is kept on the outbox row.
    pub fn send(&self, message: &Message) -> Result<(), String> {
        match self {
            Transport::Smtp(t) => t.send(message).map(|_| ()).map_err(|e| e.to_string()),
            Transport::File(dir) => FileTransport::new(dir)
                .send(message)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Memory(sent) => {
                sent.lock()
                    .map_err(|_| "mail store poisoned".to_string())?
                    .push(message.formatted());
                Ok(())
            }
        }
    }
}
