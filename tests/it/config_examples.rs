//! The README's configuration examples are files (`examples/config/*.toml`), and the README shows
//! each verbatim under a `<!-- examples/config/NAME.toml -->` marker, so the two cannot drift. A
//! server starts with each file, and a passkey sign-up works from the origin users would open
//! the sign-in page on (Keyward's own on localhost, else `public_url`): an example that lists
//! origins without the page's own would disable passkeys on `/signin`.

use std::path::Path;

use keyward::{App, Config, config::Overrides, pb};

use crate::{
    common::{Backend, TestDb},
    passkey_authenticator::TestPasskey,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every example file, as (name, contents).
fn examples() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(root().join("examples/config"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_readme_shows_every_example_file_verbatim() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let files = examples();
    assert!(!files.is_empty());
    for (name, text) in &files {
        let shown = format!("<!-- examples/config/{name} -->\n```toml\n{text}```\n");
        assert!(readme.contains(&shown), "README.md must show examples/config/{name} verbatim under its marker");
    }
    let blocks = readme.matches("```toml\n").count();
    let marked = readme.matches(" -->\n```toml\n").count();
    assert_eq!(blocks, marked, "every TOML block in README.md is an example file with its marker");
    assert_eq!(blocks, files.len(), "every example file is shown once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_starts_with_each_example_and_passkeys_work_on_its_signin_origin() {
    for (name, text) in examples() {
        let db = TestDb::create(Backend::Sqlite).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // The examples use the default port; this server has another.
        let file = db.data_dir.join(&name);
        std::fs::write(&file, text.replace("50051", &address.port().to_string())).unwrap();
        let overrides = Overrides { listen: Some(address), data_dir: Some(db.data_dir.clone()) };
        let mut config = Config::load(Some(&file), overrides).unwrap_or_else(|err| panic!("{name}: {err}"));
        config.database_url = Some(db.url.clone());
        config.argon2_memory_kib = 256;
        config.argon2_iterations = 1;
        // About origins, not verification: the sign-up finishes without the mailed code.
        config.require_email_verification = false;
        let signin_origin = if config.rp_id == "localhost" {
            format!("http://localhost:{}", address.port())
        } else {
            config.public_url.clone().unwrap_or_else(|| panic!("{name}: a real domain needs public_url"))
        };
        let app = App::spawn(config, listener).await.unwrap_or_else(|err| panic!("{name}: {err}"));

        let mut passkeys =
            pb::passkey_service_client::PasskeyServiceClient::connect(format!("http://{address}")).await.unwrap();
        let started = passkeys
            .start_passkey_sign_up(pb::StartPasskeySignUpRequest {
                email: "example@example.com".into(),
                name: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let credential_json = TestPasskey::at(&signin_origin).create(&started.options_json);
        let finished = passkeys
            .finish_passkey_sign_up(pb::FinishPasskeySignUpRequest {
                ceremony_id: started.ceremony_id,
                credential_json,
                passkey_name: String::new(),
                code: String::new(),
            })
            .await
            .unwrap_or_else(|status| panic!("{name}: a passkey from {signin_origin} was refused: {status:?}"));
        assert!(finished.into_inner().signed_in.is_some(), "{name}");
        app.shutdown().await.unwrap();
    }
}
