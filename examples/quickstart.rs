//! Register, sign in and ask "who is this?" with the generated Rust client.
//!
//! Start a server (`cargo run --release -- serve`), then: `cargo run --example quickstart`.

use keyward::pb::{GetSessionRequest, LoginRequest, RegisterRequest, auth_service_client::AuthServiceClient};
use tonic::Request;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let mut auth = AuthServiceClient::connect(url).await?;
    let email = format!("quickstart-{}@example.com", std::process::id());

    auth.register(RegisterRequest {
        email: email.clone(),
        password: "violet-otter-lamp-93".into(),
        name: "Ada".into(),
    })
    .await?;
    let signed_in = auth
        .login(LoginRequest { email, password: "violet-otter-lamp-93".into() })
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
