//! The load: callers through the balancer, each with an account and a passkey of its own (so
//! passkey counters never race), going round a fixed mix — GetSession, Login, a passkey sign-in,
//! a sign-up, the revocation of the session its Login made. Each call is retried or not as
//! docs/scaling.md decides per RPC; every answer is tallied by operation and status code, and
//! every acknowledged sign-up is kept to be signed in with afterwards.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use keyward::pb::{
    FinishPasskeyLoginRequest, FinishPasskeyRegistrationRequest, GetSessionRequest, LoginRequest, RegisterRequest,
    RevokeSessionRequest, StartPasskeyLoginRequest, StartPasskeyRegistrationRequest,
    auth_service_client::AuthServiceClient, passkey_service_client::PasskeyServiceClient,
};
use tokio::sync::watch;
use tonic::{Code, Request, Status, transport::Channel};

use crate::{
    authenticator::TestPasskey,
    retry::{self, Retried},
};

pub const PASSWORD: &str = "violet-otter-lamp-93";
/// The origin the callers' authenticators run on (the replicas list it in `rp_origins`).
pub const ORIGIN: &str = "http://localhost:8080";

/// An account a sign-up was acknowledged for.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    /// When the acknowledgement arrived.
    pub at: Instant,
}

/// What one operation came to: calls, failures by code, retries, the slowest call.
#[derive(Debug, Default, Clone)]
pub struct OpStats {
    pub ok: u64,
    pub failed: BTreeMap<String, u64>,
    /// Failures that were not UNAVAILABLE with RetryInfo (the outage answer).
    pub failed_otherwise: u64,
    /// The first message of each such failure's code, for the report.
    pub otherwise_examples: BTreeMap<String, String>,
    pub retried_calls: u64,
    pub slowest: Duration,
}

/// Everything the callers saw in one run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ops: BTreeMap<&'static str, OpStats>,
    pub sign_ups: Vec<Account>,
    /// When the last call ended, and when the first write after `mark` succeeded.
    pub first_write_after_mark: Option<Instant>,
}

impl Tally {
    pub fn calls(&self) -> u64 {
        self.ops.values().map(|op| op.ok + op.failed.values().sum::<u64>()).sum()
    }

    pub fn failures(&self, op: &str) -> u64 {
        self.ops.get(op).map_or(0, |op| op.failed.values().sum())
    }

    fn merge(&mut self, other: Tally) {
        for (name, op) in other.ops {
            let mine = self.ops.entry(name).or_default();
            mine.ok += op.ok;
            for (code, n) in op.failed {
                *mine.failed.entry(code).or_default() += n;
            }
            mine.failed_otherwise += op.failed_otherwise;
            for (code, message) in op.otherwise_examples {
                mine.otherwise_examples.entry(code).or_insert(message);
            }
            mine.retried_calls += op.retried_calls;
            mine.slowest = mine.slowest.max(op.slowest);
        }
        self.sign_ups.extend(other.sign_ups);
        self.first_write_after_mark = match (self.first_write_after_mark, other.first_write_after_mark) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn record<T>(&mut self, op: &'static str, started: Instant, call: &Retried<T>) {
        let stats = self.ops.entry(op).or_default();
        stats.slowest = stats.slowest.max(started.elapsed());
        if call.attempts > 1 {
            stats.retried_calls += 1;
        }
        match &call.result {
            Ok(_) => stats.ok += 1,
            Err(status) => {
                *stats.failed.entry(format!("{:?}", status.code())).or_default() += 1;
                if !retry::is_outage_answer(status) {
                    stats.failed_otherwise += 1;
                    let code = format!("{:?}", status.code());
                    stats.otherwise_examples.entry(code).or_insert_with(|| status.message().to_owned());
                }
            }
        }
    }
}

fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// One caller: its account, its passkey and its clients (over its own connection).
pub struct Caller {
    id: usize,
    email: String,
    auth: AuthServiceClient<Channel>,
    passkeys: PasskeyServiceClient<Channel>,
    authenticator: TestPasskey,
    /// A session kept for GetSession.
    session_token: String,
    sign_ups: u64,
    run: String,
}

impl Caller {
    /// Signs a new account up through `channel` and gives it a passkey.
    pub async fn new(id: usize, run: &str, channel: Channel) -> anyhow::Result<Self> {
        let email = format!("caller{id}-{run}@cluster.test");
        let mut auth = AuthServiceClient::new(channel.clone());
        let request = RegisterRequest { email: email.clone(), password: PASSWORD.into(), name: String::new() };
        let signed_in = auth.register(request).await?.into_inner().signed_in;
        let session_token = signed_in.map(|s| s.session_token).unwrap_or_default();
        let mut passkeys = PasskeyServiceClient::new(channel);
        let mut authenticator = TestPasskey::at(ORIGIN);
        let start = passkeys
            .start_passkey_registration(bearer(StartPasskeyRegistrationRequest {}, &session_token))
            .await?
            .into_inner();
        let credential_json = authenticator.create(&start.options_json);
        let finish = FinishPasskeyRegistrationRequest {
            ceremony_id: start.ceremony_id,
            credential_json,
            name: String::new(),
            revoke_other_sessions: false,
        };
        passkeys.finish_passkey_registration(bearer(finish, &session_token)).await?;
        Ok(Self { id, email, auth, passkeys, authenticator, session_token, sign_ups: 0, run: run.to_owned() })
    }

    /// Goes round the mix until `stop` turns true; `mark` (once set) is the instant after which
    /// the first acknowledged write is noted.
    pub async fn run(mut self, stop: watch::Receiver<bool>, mark: watch::Receiver<Option<Instant>>) -> (Self, Tally) {
        let mut tally = Tally::default();
        while !*stop.borrow() {
            self.round(&mut tally, &mark).await;
        }
        (self, tally)
    }

    async fn round(&mut self, tally: &mut Tally, mark: &watch::Receiver<Option<Instant>>) {
        for _ in 0..3 {
            self.get_session(tally).await;
        }
        let login = self.login(tally).await;
        self.passkey_sign_in(tally).await;
        self.sign_up(tally, mark).await;
        if let Some((session_id, token)) = login {
            let started = Instant::now();
            let revoke = RevokeSessionRequest { session_id };
            let call = retry::once(self.auth.revoke_session(bearer(revoke, &token))).await;
            tally.record("RevokeSession", started, &call);
        }
    }

    async fn get_session(&mut self, tally: &mut Tally) {
        let started = Instant::now();
        let token = self.session_token.clone();
        let auth = self.auth.clone();
        let call = retry::idempotent(|| {
            let mut auth = auth.clone();
            let request = bearer(GetSessionRequest::default(), &token);
            async move { auth.get_session(request).await }
        })
        .await;
        tally.record("GetSession", started, &call);
    }

    /// Returns the new session's id and token.
    async fn login(&mut self, tally: &mut Tally) -> Option<(String, String)> {
        let started = Instant::now();
        let auth = self.auth.clone();
        let email = self.email.clone();
        let call = retry::idempotent(|| {
            let mut auth = auth.clone();
            let request = LoginRequest { email: email.clone(), password: PASSWORD.into() };
            async move { auth.login(request).await }
        })
        .await;
        tally.record("Login", started, &call);
        let signed_in = call.result.ok()?.into_inner().signed_in?;
        Some((signed_in.session?.id, signed_in.session_token))
    }

    /// Start is retried (a lost answer leaves only an unused ceremony); Finish is not (the
    /// ceremony is single-use): a failed Finish is the app starting over, as a browser would.
    async fn passkey_sign_in(&mut self, tally: &mut Tally) {
        let started = Instant::now();
        let passkeys = self.passkeys.clone();
        let call = retry::idempotent(|| {
            let mut passkeys = passkeys.clone();
            async move { passkeys.start_passkey_login(StartPasskeyLoginRequest::default()).await }
        })
        .await;
        tally.record("StartPasskeyLogin", started, &call);
        let Ok(start) = call.result else { return };
        let start = start.into_inner();
        let credential_json = self.authenticator.get(&start.options_json);
        let started = Instant::now();
        let finish = FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json };
        let call = retry::once(self.passkeys.finish_passkey_login(finish)).await;
        tally.record("FinishPasskeyLogin", started, &call);
    }

    /// Register is never retried: a repeat after a lost success would answer EMAIL_TAKEN to the
    /// caller whose account it is. Only acknowledged sign-ups are kept.
    async fn sign_up(&mut self, tally: &mut Tally, mark: &watch::Receiver<Option<Instant>>) {
        self.sign_ups += 1;
        let email = format!("c{}-{}-{}@cluster.test", self.id, self.sign_ups, self.run);
        let started = Instant::now();
        let request = RegisterRequest { email: email.clone(), password: PASSWORD.into(), name: String::new() };
        let call = retry::once(self.auth.register(request)).await;
        tally.record("Register", started, &call);
        if call.result.is_ok() {
            let at = Instant::now();
            if mark.borrow().is_some_and(|mark| mark <= started) && tally.first_write_after_mark.is_none() {
                tally.first_write_after_mark = Some(at);
            }
            tally.sign_ups.push(Account { email, at });
        }
    }
}

/// Runs `callers` until `stop` is set; returns them (for the next run) and the merged tally.
pub async fn run_all(
    callers: Vec<Caller>,
    stop: &watch::Sender<bool>,
    mark: &watch::Sender<Option<Instant>>,
) -> Vec<tokio::task::JoinHandle<(Caller, Tally)>> {
    callers.into_iter().map(|caller| tokio::spawn(caller.run(stop.subscribe(), mark.subscribe()))).collect()
}

/// Waits for the callers started by `run_all` and merges what they saw.
pub async fn collect(tasks: Vec<tokio::task::JoinHandle<(Caller, Tally)>>) -> anyhow::Result<(Vec<Caller>, Tally)> {
    let mut callers = Vec::new();
    let mut tally = Tally::default();
    for task in tasks {
        let (caller, seen) = task.await?;
        callers.push(caller);
        tally.merge(seen);
    }
    Ok((callers, tally))
}

/// Signs in with every account in `accounts` through `channel` (Login, retried as in the load);
/// returns the emails that could not.
pub async fn sign_in_all(channel: &Channel, accounts: &[Account]) -> Vec<String> {
    let accounts = Arc::new(accounts.to_vec());
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let (auth, accounts) = (AuthServiceClient::new(channel.clone()), Arc::clone(&accounts));
        tasks.push(tokio::spawn(async move {
            let mut lost = Vec::new();
            for account in accounts.iter().skip(chunk).step_by(8) {
                let call = retry::idempotent(|| {
                    let mut auth = auth.clone();
                    let request = LoginRequest { email: account.email.clone(), password: PASSWORD.into() };
                    async move { auth.login(request).await }
                })
                .await;
                if call.result.is_err() {
                    lost.push(account.email.clone());
                }
            }
            lost
        }));
    }
    let mut lost = Vec::new();
    for task in tasks {
        lost.extend(task.await.unwrap_or_default());
    }
    lost
}

/// GetSession with `token` on one replica: Ok(true) signed in, Ok(false) refused as signed out.
pub async fn session_alive(channel: &Channel, token: &str) -> Result<bool, Status> {
    let mut auth = AuthServiceClient::new(channel.clone());
    match auth.get_session(bearer(GetSessionRequest::default(), token)).await {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::Unauthenticated => Ok(false),
        Err(status) => Err(status),
    }
}
