//! Register, confirm the address, sign in and ask "who is this?" with the generated Rust client.
//!
//! Start a server (`cargo run --release -- serve`), then: `cargo run --example quickstart`.
//!
//! `require_email_verification` is on by default, so Register signs nobody in: it mails the
//! address a link and a six-digit code. A server with no `[email]` settings writes that mail to
//! `keyward-data/outbox/<id>.eml`; this example reads the code from there (pass another outbox
//! directory as the second argument) and confirms the address with VerifyEmail(email, code), as
//! a user typing the code into your app would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyward::pb::{
    GetSessionRequest, LoginRequest, RegisterRequest, VerifyEmailRequest, auth_service_client::AuthServiceClient,
    verification_service_client::VerificationServiceClient,
};
use tonic::Request;

const PASSWORD: &str = "violet-otter-lamp-93";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let outbox = PathBuf::from(std::env::args().nth(2).unwrap_or_else(|| "keyward-data/outbox".into()));
    let mut auth = AuthServiceClient::connect(url.clone()).await?;
    let mut verification = VerificationServiceClient::connect(url).await?;
    let email = format!("quickstart-{}@example.com", std::process::id());

    auth.register(RegisterRequest { email: email.clone(), password: PASSWORD.into(), name: "Ada".into() }).await?;
    let code = mailed_code(&outbox, &email).await?;
    verification.verify_email(VerifyEmailRequest { email: email.clone(), code, ..Default::default() }).await?;

    let signed_in = auth
        .login(LoginRequest { email, password: PASSWORD.into() })
        .await?
        .into_inner()
        .signed_in
        .ok_or("login answered without a session")?;

    let mut request = Request::new(GetSessionRequest::default());
    request.metadata_mut().insert("authorization", format!("Bearer {}", signed_in.session_token).parse()?);
    let session = auth.get_session(request).await?.into_inner();
    let user = session.user.ok_or("no user")?;
    let access_token = signed_in.access_token.ok_or("no access token")?.token;
    eprintln!("signed in as {} (user {}); access token {}…", user.email, user.id, &access_token[..24]);
    Ok(())
}

/// The code in the verification mail to `email`, once the server's sender has written it (mail
/// leaves from the outbox after Register answers, so it is waited for, up to ten seconds).
async fn mailed_code(outbox: &Path, email: &str) -> Result<String, Box<dyn std::error::Error>> {
    const MARK: &str = "code in the app: ";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
            // `<id>.eml.partial` is a file still being written.
            if entry.path().extension().is_none_or(|ext| ext != "eml") {
                continue;
            }
            let Ok(mail) = std::fs::read_to_string(entry.path()) else { continue };
            if !mail.lines().any(|line| line == format!("To: {email}")) {
                continue;
            }
            let code = mail.split(MARK).nth(1).map(|rest| rest.chars().take(6).collect::<String>());
            return code.filter(|code| code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| {
                format!("no code in {}: open it and finish with the link", entry.path().display()).into()
            });
        }
        if Instant::now() > deadline {
            let hint =
                "a server with an [email] relay mails it instead; give its outbox dir as the 2nd argument otherwise";
            return Err(format!("no mail to {email} in {} ({hint})", outbox.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
