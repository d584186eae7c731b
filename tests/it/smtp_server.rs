//! A small SMTP receiver the tests start on 127.0.0.1 (RFC 5321's core: EHLO/HELO, MAIL, RCPT,
//! DATA with dot-unstuffing, RSET, NOOP, QUIT; no TLS, no AUTH). Keyward's real SMTP transport
//! talks to it over TCP. It can be told to refuse (`421` at the greeting, a transient failure),
//! and tests wait for mail to arrive, never for time to pass.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinHandle,
};

/// The longest a test waits for mail before failing (a guard against a hang, not a delay).
const MAIL_WAIT: Duration = Duration::from_secs(30);

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA as sent (headers + body, CRLF line ends, dot-unstuffed).
    pub data: String,
}

impl ReceivedMail {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let headers = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in headers.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// Every text part's decoded content, joined (quoted-printable and base64 undone).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut encoding = String::new();
        let mut in_headers = true;
        let mut part = String::new();
        let flush = |encoding: &str, part: &mut String, out: &mut String| {
            out.push_str(&decode(encoding, part));
            part.clear();
        };
        for line in self.data.split("\r\n") {
            if line.starts_with("--") {
                flush(&encoding, &mut part, &mut out);
                in_headers = true;
                encoding.clear();
                continue;
            }
            if in_headers {
                if line.is_empty() {
                    in_headers = false;
                } else if let Some(value) = line.strip_prefix("Content-Transfer-Encoding:") {
                    encoding = value.trim().to_ascii_lowercase();
                }
                continue;
            }
            part.push_str(line);
            part.push('\n');
        }
        flush(&encoding, &mut part, &mut out);
        out
    }
}

fn decode(encoding: &str, part: &str) -> String {
    match encoding {
        "base64" => {
            let joined: String = part.split_whitespace().collect();
            String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(joined).unwrap_or_default())
                .into_owned()
        }
        "quoted-printable" => {
            let mut bytes = Vec::new();
            let raw = part.replace("=\n", "");
            let mut chars = raw.as_bytes().iter().copied();
            while let Some(b) = chars.next() {
                if b == b'=' {
                    let hex: Vec<u8> = chars.by_ref().take(2).collect();
                    bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).unwrap());
                } else {
                    bytes.push(b);
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => part.to_owned(),
    }
}

#[derive(Default)]
struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
    refusing: AtomicBool,
}

/// A running receiver; stops when dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// On a given address (a port that was down before).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&serving)));
            }
        });
        Self { addr, shared, task }
    }

    /// The `email.smtp_url` that reaches it.
    pub fn url(&self) -> String {
        url_of(self.addr)
    }

    /// Answer `421` at the greeting (a relay that is up but refusing for now).
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Waits until at least `n` mails have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        tokio::time::timeout(MAIL_WAIT, async {
            loop {
                let arrived = self.shared.arrived.notified();
                let mails = self.mails();
                if mails.len() >= n {
                    return mails;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} mails did not arrive (got {})", self.mails().len()))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `smtp://<addr>?tls=none`.
pub fn url_of(addr: SocketAddr) -> String {
    format!("smtp://{addr}?tls=none")
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if shared.refusing.load(Ordering::SeqCst) {
        let _ = write.write_all(b"421 4.3.2 test relay refusing for now\r\n").await;
        return;
    }
    let reply = |text: &'static str| text.as_bytes();
    if write.write_all(reply("220 keyward-test ESMTP\r\n")).await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-keyward-test\r\n250 8BITMIME\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                from.clear();
                to.clear();
                b"250 ok\r\n"
            }
            "MAIL" => {
                from = address(&command);
                b"250 ok\r\n"
            }
            "RCPT" => {
                to.push(address(&command));
                b"250 ok\r\n"
            }
            "DATA" => {
                if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mail = ReceivedMail { from: std::mem::take(&mut from), to: std::mem::take(&mut to), data };
                shared.mails.lock().unwrap().push(mail);
                shared.arrived.notify_waiters();
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// The address in `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn address(command: &str) -> String {
    command.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}
