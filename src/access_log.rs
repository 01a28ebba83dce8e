//! The access log writer: request workers hand finished lines to a bounded channel; one
//! background thread writes them. A full channel drops the line (counted) rather than
//! slowing requests down.

use prometheus::IntCounter;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

const QUEUE: usize = 65_536;

#[derive(Clone)]
pub struct AccessLogger {
    tx: SyncSender<String>,
    /// `tollgate_access_log_dropped_total`.
    dropped: IntCounter,
}

/// The receiving end, run by [`Writer::run`] on its own thread.
pub struct Writer {
    rx: Receiver<String>,
    path: String,
}

/// A logger and its writer for `path` ("-" is standard output); lines that find the queue full
/// are counted in `dropped`.
pub fn channel(path: &str, dropped: IntCounter) -> (AccessLogger, Writer) {
    let (tx, rx) = sync_channel(QUEUE);
    (
        AccessLogger { tx, dropped },
        Writer {
            rx,
            path: path.to_string(),
        },
    )
}

impl AccessLogger {
    pub fn send(&self, line: String) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(line) {
            self.dropped.inc();
        }
    }
}

impl Writer {
    /// Writes lines until every logger is dropped. Lines that arrive together are written
    /// together and flushed once.
    pub fn run(self) {
        let mut out: Box<dyn Write> = if self.path == "-" {
            Box::new(std::io::stdout())
        } else {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => {
                    log::error!("cannot open access log {}: {e}", self.path);
                    return;
                }
            }
        };
        while let Ok(line) = self.rx.recv() {
            let _ = out.write_all(line.as_bytes());
            while let Ok(more) = self.rx.try_recv() {
                let _ = out.write_all(more.as_bytes());
            }
            let _ = out.flush();
        }
    }
}
