//! Key rotation publishes before it signs: `keyward keys rotate` adds a key that every replica's
//! JWKS shows at once and that signs only after `signing_key_reload_secs` + the JWKS max-age.
//! Two replicas, one reloading late: no token ever carries a kid that some replica's JWKS lacks,
//! nor one that a verifier caching a JWKS for its max-age could have missed. (Rotation used to
//! sign with the new key at once, so the replica that had not reloaded yet refused it.)

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use keyward::{
    RunningApp,
    pb::{self, auth_service_client::AuthServiceClient},
    service::JWKS_MAX_AGE,
};
use tonic::transport::Channel;

use crate::common::{Backend, TestServer, bearer, both_backends, get_session, register, rotate_with_cli};

both_backends!(no_token_carries_a_kid_a_replica_does_not_publish, rotating_now_signs_at_once);

struct Replica<'a> {
    name: &'static str,
    app: &'a RunningApp,
    auth: AuthServiceClient<Channel>,
}

impl Replica<'_> {
    async fn jwks(&self) -> JwkSet {
        reqwest::get(format!("http://{}/.well-known/jwks.json", self.app.local_addr()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A fresh access token from this replica, and the kid it carries.
    async fn issue(&mut self, session_token: &str) -> (String, String) {
        let refreshed =
            self.auth.refresh_session(bearer(pb::RefreshSessionRequest {}, session_token)).await.unwrap().into_inner();
        let token = refreshed.access_token.unwrap().token;
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        (token, kid)
    }
}

async fn no_token_carries_a_kid_a_replica_does_not_publish(backend: Backend) {
    let server = TestServer::start(backend).await;
    let second = server.start_replica().await;
    let mut auth = server.auth().await;
    let session = register(&mut auth, "rotation@example.com").await.session_token;
    let initial_kid = jsonwebtoken::decode_header(&get_access(&mut auth, &session).await).unwrap().kid.unwrap();
    let mut replicas = [
        Replica { name: "first", app: &server.app, auth },
        Replica {
            name: "second",
            app: &second,
            auth: AuthServiceClient::connect(format!("http://{}", second.local_addr())).await.unwrap(),
        },
    ];
    let reload_every = Duration::from_secs(server.config.signing_key_reload_secs);

    let new_kid = rotate_with_cli(&server, &[]);
    let rotated_at = server.clock.now();
    // The first replica reloads at once; the second as late as its reload interval allows.
    server.app.services().reload_signing_keys().await.unwrap();
    let mut second_reloaded = false;
    // When each kid was first in *every* replica's JWKS.
    let mut published_everywhere: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut signed_with_new = [false, false];
    for _ in 0..=20 {
        let now = server.clock.now();
        if !second_reloaded && now - rotated_at >= chrono::Duration::from_std(reload_every).unwrap() {
            second.services().reload_signing_keys().await.unwrap();
            second_reloaded = true;
        }
        server.app.services().reload_signing_keys().await.unwrap();
        let (first_jwks, second_jwks) = (replicas[0].jwks().await, replicas[1].jwks().await);
        for kid in first_jwks.keys.iter().filter_map(|key| key.common.key_id.clone()) {
            if second_jwks.find(&kid).is_some() {
                published_everywhere.entry(kid).or_insert(now);
            }
        }
        for (index, replica) in replicas.iter_mut().enumerate() {
            let (_, kid) = replica.issue(&session).await;
            for (other, jwks) in [("first", &first_jwks), ("second", &second_jwks)] {
                assert!(jwks.find(&kid).is_some(), "{} signed with {kid}, which {other}'s JWKS lacks", replica.name);
            }
            if kid != initial_kid {
                let since = now - published_everywhere[&kid];
                assert!(
                    since >= chrono::Duration::from_std(JWKS_MAX_AGE).unwrap(),
                    "{} signed with {kid} {since} after every replica published it: a verifier's cached JWKS may lack it",
                    replica.name
                );
                signed_with_new[index] = kid == new_kid;
            }
        }
        server.clock.advance(Duration::from_secs(10));
    }
    assert_eq!(signed_with_new, [true, true], "both replicas sign with the new key in the end");
    second.shutdown().await.unwrap();
    server.stop().await;
}

async fn get_access(auth: &mut AuthServiceClient<Channel>, session: &str) -> String {
    auth.refresh_session(bearer(pb::RefreshSessionRequest {}, session))
        .await
        .unwrap()
        .into_inner()
        .access_token
        .unwrap()
        .token
}

async fn rotating_now_signs_at_once(backend: Backend) {
    // One issuer for both replicas, as behind a load balancer.
    let server = TestServer::start_with(backend, |config| config.issuer = Some("https://id.example.com".into())).await;
    let second = server.start_replica().await;
    let mut auth = server.auth().await;
    let session = register(&mut auth, "emergency@example.com").await.session_token;
    let new_kid = rotate_with_cli(&server, &["--now"]);
    server.app.services().reload_signing_keys().await.unwrap();
    let token = get_access(&mut auth, &session).await;
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some(new_kid.as_str()));
    // The replica that has not reloaded yet loads the key when it first meets it.
    let mut other = AuthServiceClient::connect(format!("http://{}", second.local_addr())).await.unwrap();
    assert!(get_session(&mut other, &token).await.is_ok());
    second.shutdown().await.unwrap();
    server.stop().await;
}
