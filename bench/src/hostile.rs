//! The hostile scenario: GetSession latency idle, and again while one client floods Login with
//! wrong passwords on unknown emails and another floods StartPasskeyLogin, each on its own
//! connection at `--flood-rate` calls/s (open loop: an attacker's rate does not depend on how
//! fast it is answered), against the default abuse protection or without client budgets.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use keyward::pb::{
    LoginRequest, StartPasskeyLoginRequest, auth_service_client::AuthServiceClient,
    passkey_service_client::PasskeyServiceClient,
};
use tonic::transport::Channel;

use crate::{Bench, get_session_latency, measure::Outcome};

/// Tasks in each flood.
const FLOODERS: usize = 16;

/// What the hostile scenario saw: GetSession idle and under attack, and the floods' answers.
#[derive(Debug, serde::Serialize)]
pub struct Hostile {
    pub idle: Outcome,
    pub attacked: Outcome,
    pub flood_answers: BTreeMap<String, u64>,
}

pub async fn run(server: &Bench, duration: Duration, flood_rate: u32) -> anyhow::Result<Hostile> {
    let idle = get_session_latency("hostile: GetSession idle", server, duration).await;
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut floods = Vec::new();
    for flood in ["login", "passkey"] {
        // Each flood has its own connection, as a separate client would.
        let flood_channel = Channel::from_shared(server.url.clone())?.connect_lazy();
        for task in 0..FLOODERS {
            let (stop, answers, flood_channel) = (Arc::clone(&stop), Arc::clone(&answers), flood_channel.clone());
            floods.push(tokio::spawn(async move {
                let mut auth = AuthServiceClient::new(flood_channel.clone());
                let mut passkeys = PasskeyServiceClient::new(flood_channel);
                // Each task sends its share of the flood's rate.
                let mut pace = (flood_rate > 0).then(|| {
                    let period = Duration::from_secs_f64(FLOODERS as f64 / f64::from(flood_rate));
                    let mut interval = tokio::time::interval(period);
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    interval
                });
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(pace) = pace.as_mut() {
                        pace.tick().await;
                    }
                    n += 1;
                    let answer = if flood == "login" {
                        let email = format!("guess{task}-{n}@example.com");
                        auth.login(LoginRequest { email, password: "wrong-password-0".into() }).await.map(drop)
                    } else {
                        passkeys.start_passkey_login(StartPasskeyLoginRequest::default()).await.map(drop)
                    };
                    let label = match answer {
                        Ok(()) => format!("{flood}: OK"),
                        Err(status) => format!("{flood}: {:?}", status.code()),
                    };
                    *answers.lock().unwrap_or_else(PoisonError::into_inner).entry(label).or_default() += 1;
                }
            }));
        }
    }
    let attacked = get_session_latency("hostile: GetSession under attack", server, duration).await;
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        let _ = flood.await;
    }
    let flood_answers = answers.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(Hostile { idle, attacked, flood_answers })
}
