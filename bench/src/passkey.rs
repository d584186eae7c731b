//! The passkey scenarios: sign-in (StartPasskeyLogin → assertion → FinishPasskeyLogin, each
//! caller with its own account and passkey, so counters never race) and registration (adding a
//! passkey to a signed-in account). The authenticator is the integration tests' software passkey
//! (webauthn-authenticator-rs's `SoftPasskey` plus a resident-key map), compiled in from
//! `tests/it/passkey_authenticator.rs` so the bench and the tests drive the server the same way
//! without the service depending on test code. Its CPU cost per ceremony is measured apart on
//! one thread and subtracted from the process's.

use std::time::Duration;

use keyward::pb::{
    FinishPasskeyLoginRequest, FinishPasskeyRegistrationRequest, StartPasskeyLoginRequest,
    StartPasskeyRegistrationRequest, passkey_service_client::PasskeyServiceClient,
};
use tonic::transport::Channel;

use crate::measure::{self, Outcome};

// The test file names its default origin through `crate::common`, as the test binary has it.
#[allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#[path = "../../tests/it/passkey_authenticator.rs"]
mod authenticator;

pub use authenticator::TestPasskey;

/// The origin the bench's authenticators run on; the bench server lists it in `rp_origins`.
pub const ORIGIN: &str = "http://localhost:8080";

/// Ceremonies timed on one thread to find the authenticator's own CPU cost.
const CALIBRATION_CEREMONIES: u32 = 200;

fn with_bearer<T>(message: T, session_token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {session_token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Registers a passkey for the account signed in with `session_token`; false if refused.
async fn add_passkey(
    passkeys: &mut PasskeyServiceClient<Channel>,
    authenticator: &mut TestPasskey,
    session_token: &str,
) -> bool {
    let Ok(start) =
        passkeys.start_passkey_registration(with_bearer(StartPasskeyRegistrationRequest {}, session_token)).await
    else {
        return false;
    };
    let start = start.into_inner();
    let credential_json = authenticator.create(&start.options_json);
    let finish = FinishPasskeyRegistrationRequest {
        ceremony_id: start.ceremony_id,
        credential_json,
        name: String::new(),
        revoke_other_sessions: false,
    };
    passkeys.finish_passkey_registration(with_bearer(finish, session_token)).await.is_ok()
}

/// One discoverable sign-in; false if any step was refused.
async fn sign_in(passkeys: &mut PasskeyServiceClient<Channel>, authenticator: &mut TestPasskey) -> bool {
    let Ok(start) = passkeys.start_passkey_login(StartPasskeyLoginRequest { email: String::new() }).await else {
        return false;
    };
    let start = start.into_inner();
    let credential_json = authenticator.get(&start.options_json);
    let finish = FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json };
    passkeys.finish_passkey_login(finish).await.is_ok()
}

/// The authenticator's CPU time per call of `step`, on one thread (milliseconds).
async fn calibrate(
    mut authenticator: TestPasskey,
    options_json: String,
    step: fn(&mut TestPasskey, &str) -> String,
) -> f64 {
    tokio::task::spawn_blocking(move || {
        let before = measure::thread_cpu_seconds();
        for _ in 0..CALIBRATION_CEREMONIES {
            std::hint::black_box(step(&mut authenticator, &options_json));
        }
        (measure::thread_cpu_seconds() - before) * 1e3 / f64::from(CALIBRATION_CEREMONIES)
    })
    .await
    .unwrap_or(0.0)
}

/// Passkey sign-in with one caller per session token (each account gets its own passkey first).
pub async fn sign_in_scenario(
    channel: &Channel,
    session_tokens: &[String],
    duration: Duration,
) -> anyhow::Result<Outcome> {
    sign_in_scenario_bracketed(channel, session_tokens, duration, || async {}).await
}

/// `sign_in_scenario`, awaiting `bracket` between the set-up and the timed part (for a
/// profiler, see `--only`).
pub async fn sign_in_scenario_bracketed<B: Future<Output = ()>>(
    channel: &Channel,
    session_tokens: &[String],
    duration: Duration,
    bracket: impl Fn() -> B,
) -> anyhow::Result<Outcome> {
    let mut callers = Vec::new();
    for token in session_tokens {
        let mut passkeys = PasskeyServiceClient::new(channel.clone());
        let mut authenticator = TestPasskey::at(ORIGIN);
        anyhow::ensure!(add_passkey(&mut passkeys, &mut authenticator, token).await, "could not register a passkey");
        callers.push((passkeys, authenticator));
    }
    // The client's share: one assertion per ceremony, against real options.
    let client_ms = {
        let (passkeys, _) = callers.first_mut().ok_or_else(|| anyhow::anyhow!("no callers"))?;
        let options =
            passkeys.start_passkey_login(StartPasskeyLoginRequest::default()).await?.into_inner().options_json;
        // A fresh authenticator with a credential of its own, so the callers' counters stay theirs.
        let mut fresh = TestPasskey::at(ORIGIN);
        anyhow::ensure!(add_passkey(passkeys, &mut fresh, &session_tokens[0]).await, "could not register a passkey");
        calibrate(fresh, options, |a, o| a.get(o)).await
    };
    bracket().await;
    let outcome =
        measure::run("passkey sign-in (Start → assertion → Finish)", duration, callers, |(mut p, mut a)| async move {
            let ok = sign_in(&mut p, &mut a).await;
            ((p, a), ok)
        })
        .await;
    Ok(outcome.less_client_cost(client_ms))
}

/// A caller adding passkeys: its authenticator and the accounts it may still add to.
struct Registrar {
    passkeys: PasskeyServiceClient<Channel>,
    authenticator: TestPasskey,
    /// (session token, passkeys added so far), current one last.
    accounts: Vec<(String, u64)>,
    per_account: u64,
}

/// Adding a passkey to a signed-in account: the callers share `session_tokens` out, each account
/// taking at most `per_account` passkeys (the server's cap) before its caller moves on.
pub async fn registration_scenario(
    channel: &Channel,
    session_tokens: Vec<String>,
    callers: usize,
    per_account: u64,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let mut registrars: Vec<Registrar> = (0..callers)
        .map(|_| Registrar {
            passkeys: PasskeyServiceClient::new(channel.clone()),
            authenticator: TestPasskey::at(ORIGIN),
            accounts: Vec::new(),
            per_account,
        })
        .collect();
    for (i, token) in session_tokens.into_iter().enumerate() {
        registrars[i % callers].accounts.push((token, 0));
    }
    let client_ms = {
        let registrar = registrars.first_mut().ok_or_else(|| anyhow::anyhow!("no callers"))?;
        let token = registrar.accounts.first().map(|(t, _)| t.clone()).unwrap_or_default();
        let start = registrar
            .passkeys
            .start_passkey_registration(with_bearer(StartPasskeyRegistrationRequest {}, &token))
            .await?
            .into_inner();
        calibrate(TestPasskey::at(ORIGIN), start.options_json, |a, o| a.create(o)).await
    };
    let outcome = measure::run("passkey registration (add to account)", duration, registrars, |mut r| async move {
        while r.accounts.last().is_some_and(|(_, added)| *added >= r.per_account) {
            r.accounts.pop();
        }
        let Some((token, added)) = r.accounts.last_mut() else {
            // Out of accounts: the setup made too few for this machine's pace (reported as failures).
            tokio::time::sleep(Duration::from_millis(10)).await;
            return (r, false);
        };
        let token = token.clone();
        let ok = add_passkey(&mut r.passkeys, &mut r.authenticator, &token).await;
        if ok {
            *added += 1;
        }
        (r, ok)
    })
    .await;
    Ok(outcome.less_client_cost(client_ms))
}
