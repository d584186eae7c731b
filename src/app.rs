//! Composition root: opens the store, builds the services and the router (gRPC + grpc-web +
//! HTTP, CORS, limits, logging), and serves on a listener until told to stop. No globals:
//! tests start as many apps as they like in one process.

mod email;
mod observe;
mod webhooks;

use std::{net::SocketAddr, time::Duration};

use http::{HeaderName, Method};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::server::HealthReporter;
use tonic_web::GrpcWebLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub mod private_files;
pub mod settings;

use crate::{
    config::Config,
    error::{Error, Result},
    grpc::{self, AdminApi, AuthApi, ClientAddressLayer, OAuthApi, PasskeyApi, UnaryEnvelopeLayer, VerificationApi},
    metrics::{Metrics, RpcMethods},
    pb::{
        self, admin_service_server::AdminServiceServer, auth_service_server::AuthServiceServer,
        o_auth_service_server::OAuthServiceServer, passkey_service_server::PasskeyServiceServer,
        verification_service_server::VerificationServiceServer,
    },
    service::{
        Clock, ServiceSettings, Services,
        email::{EMAIL_KIND, Mailer},
        outbox::RetryPolicy,
        webhooks::{LaneSettings, WebhookSender},
    },
    store::{Store, WEBHOOK_KIND},
    telemetry::RpcLayer,
    web,
};

/// Entry point for running Keyward in-process.
#[derive(Debug)]
pub struct App;

/// A Keyward server that is accepting connections.
#[derive(Debug)]
pub struct RunningApp {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    services: Services,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<()>>,
    background: JoinHandle<()>,
}

impl App {
    /// Opens the database (migrating it when configured), then serves on `listener`.
    pub async fn spawn(config: Config, listener: TcpListener) -> Result<RunningApp> {
        Self::spawn_with_clock(config, listener, Clock::default()).await
    }

    /// Like `spawn`, with a clock the caller can move (tests of expiry).
    pub async fn spawn_with_clock(mut config: Config, listener: TcpListener, clock: Clock) -> Result<RunningApp> {
        // `Config::load` validates too; a Config built in code (tests, embedding) is checked here.
        config.validate().map_err(|err| Error::Startup(err.to_string()))?;
        let local_addr = listener.local_addr().map_err(Error::internal)?;
        // Defaults derived from the address (issuer, passkey origin) use the one actually bound:
        // `--listen 127.0.0.1:0` becomes the real port.
        config.listen = local_addr;
        private_files::prepare(&config)?;
        let store = Store::connect_as(&settings::database(&config)).await?;
        if config.migrate_on_start {
            let started = std::time::Instant::now();
            let applied = store.migrate_up().await?;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::info!(applied, elapsed_ms, "database schema up to date");
        }
        let master_key = crate::master_key::resolve(&config, &store).await?;
        let store = store.with_master_key(master_key);
        // Rows an older Keyward wrote in clear are sealed now (idempotent, every start).
        let sealed = store.seal_plaintext_secrets().await?;
        if sealed.total() > 0 {
            tracing::info!(?sealed, "sealed secrets that were stored in clear");
        }
        let email = email::settings(&config)?;
        let mailer = Mailer::new(&email).map_err(Error::Startup)?;
        let mail_retry = email.retry;
        let webhooks = webhooks::settings(&config)?;
        let methods = served_methods()?;
        let metrics = observe::metrics(config.metrics_listen, methods.clone());
        let metrics_listener = match config.metrics_listen {
            Some(address) => Some(observe::bind(address).await?),
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok());
        let service_settings = ServiceSettings { metrics: metrics.clone(), ..settings::services(&config) };
        let services = Services::start(service_settings, store, clock, email).await?;
        let days = |days: u64| Duration::from_secs(days.saturating_mul(86_400));
        services.outbox().keep_dead_for(EMAIL_KIND, days(config.email.dead_retention_days));
        services.outbox().keep_dead_for(WEBHOOK_KIND, days(config.webhook_delivery.dead_retention_days));
        let senders = Senders {
            mailer: observe::Counted { inner: mailer, metrics: metrics.clone() },
            mail_retry,
            webhooks: webhooks::sender(&webhooks, &services)?
                .map(|(sender, retry)| (observe::Counted { inner: sender, metrics: metrics.clone() }, retry)),
        };
        let rpc = RpcLayer::new(methods, metrics.clone(), config.traces.is_some());
        let (routes, health) = router(&config, services.clone(), rpc).await?;

        let incoming =
            TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(Some(Duration::from_secs(60)));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::builder()
            .accept_http1(true)
            .timeout(Duration::from_secs(30))
            .concurrency_limit_per_connection(256)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .layer(cors_layer(&config))
            .add_routes(routes)
            // tonic ignores its own tcp_nodelay/keepalive settings for an incoming stream, so they
            // are set here: without TCP_NODELAY, Nagle's algorithm holds back the small frames
            // of every unary answer (measured with keyward-bench: ~3x lower GetSession throughput).
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            });
        let server =
            tokio::spawn(async move { server.await.map_err(|err| Error::internal(format_args!("server: {err}"))) });
        let observers = metrics_listener.map(|listener| (listener, metrics));
        let background = tokio::spawn(background_tasks(
            services.clone(),
            health,
            senders,
            observers,
            Intervals::from_config(&config),
        ));
        let passkey_origins = config.passkey_origins().join(", ");
        tracing::info!(
            %local_addr,
            database = if config.uses_sqlite() { "sqlite" } else { "postgres" },
            signin = %signin_url(&config).as_deref().unwrap_or("off"),
            rp_id = %config.rp_id,
            %passkey_origins,
            metrics = %metrics_addr.map_or_else(|| "off".to_owned(), |addr| format!("http://{addr}/metrics")),
            "keyward is serving"
        );
        Ok(RunningApp { local_addr, metrics_addr, services, stop, server, background })
    }
}

impl RunningApp {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served (None: metrics are off).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops accepting connections — at once, when this is called — and returns a future that
    /// lets in-flight calls finish, then closes the store.
    pub fn shutdown(self) -> impl Future<Output = Result<()>> {
        let _ = self.stop.send(());
        self.background.abort();
        self.services.end_watch_streams();
        let Self { server, services, .. } = self;
        async move {
            let result = server.await.map_err(|err| Error::internal(format_args!("server task: {err}")))?;
            services.store().clone().close().await?;
            result
        }
    }
}

/// Every gRPC method this server serves (`keyward.v1.AuthService/Login`, health, reflection): the
/// only values the per-method metrics and span names take.
fn served_methods() -> Result<RpcMethods> {
    use prost::Message;
    let mut names = vec![
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".to_owned(),
    ];
    for set in [pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        let set = prost_types::FileDescriptorSet::decode(set).map_err(Error::internal)?;
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    names.push(format!("{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    Ok(RpcMethods::new(names))
}

async fn router(config: &Config, services: Services, rpc: RpcLayer) -> Result<(Routes, HealthReporter)> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<AuthServiceServer<AuthApi>>().await;
    health.set_serving::<OAuthServiceServer<OAuthApi>>().await;
    health.set_serving::<PasskeyServiceServer<PasskeyApi>>().await;
    health.set_serving::<AdminServiceServer<AdminApi>>().await;
    health.set_serving::<VerificationServiceServer<VerificationApi>>().await;
    // Reflection in both protocol versions: grpcurl and most tools speak v1, while Python's
    // grpcio-reflection and several older tools only speak v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_error = |err| Error::internal(format_args!("reflection: {err}"));
    let reflection = reflection_builder().build_v1().map_err(reflection_error)?;
    let reflection_v1alpha = reflection_builder().build_v1alpha().map_err(reflection_error)?;
    let auth = AuthServiceServer::new(AuthApi::new(services.clone(), settings::cookies(config)))
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_request_bytes.max(64 * 1024));

    let passkeys = PasskeyServiceServer::new(PasskeyApi::new(services.clone(), settings::cookies(config)))
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_request_bytes.max(64 * 1024));
    let oauth = OAuthServiceServer::new(OAuthApi::new(services.clone(), settings::cookies(config)))
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_request_bytes.max(64 * 1024));
    let verification =
        VerificationServiceServer::new(VerificationApi::new(services.clone(), settings::cookies(config)))
            .max_decoding_message_size(config.max_request_bytes)
            .max_encoding_message_size(config.max_request_bytes.max(64 * 1024));

    let admin = AdminServiceServer::new(AdminApi::new(services.clone()))
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_request_bytes.max(64 * 1024));

    // grpc-web translation wraps only the gRPC routes: tonic-web answers any other HTTP/1.1
    // request with 400, and /healthz must work with curl.
    let grpc = Routes::new(auth)
        .add_service(passkeys)
        .add_service(oauth)
        .add_service(admin)
        .add_service(verification)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .into_axum_router()
        .layer(UnaryEnvelopeLayer::new(config.max_request_bytes))
        .layer(ClientAddressLayer::new(config.trusted_proxy_networks().map_err(Error::internal)?))
        .layer(rpc)
        .layer(GrpcWebLayer::new())
        // Before grpc-web translation: sees the cookies and the content type as the client sent
        // them.
        .layer(axum::middleware::from_fn_with_state(browser_policy(config), grpc::browser_guard))
        // Anything else that reaches the gRPC routes (an unknown path, a browser's GET) is not a
        // gRPC call: answered 404 here instead of tonic-web's bare 400.
        .layer(axum::middleware::from_fn(web::grpc_or_not_found));
    let web = web::router(
        services,
        web::RelatedOrigins::new(config.passkey_origins()),
        config.signin_page.then(|| {
            web::SigninPage::new(
                &config.cors_allowed_origins,
                &config.passkey_origins(),
                config.require_email_verification,
            )
            .with_branding(web::SigninBranding {
                product_name: config.signin.product_name.clone().unwrap_or_else(|| config.rp_name.clone()),
                logo_url: config.signin.logo_url.clone(),
                accent_color: config.signin.accent_color.clone(),
                support_url: config.signin.support_url.clone(),
            })
        }),
    );
    Ok((Routes::from(grpc.merge(web)), health))
}

/// Where to open the built-in sign-in page: on `localhost` when Keyward listens on a loopback or
/// unspecified address (passkeys need a domain, and `localhost` is a secure context), else on the
/// listen address. None when the page is off.
fn signin_url(config: &Config) -> Option<String> {
    let addr = config.listen;
    let authority = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    };
    config.signin_page.then(|| format!("http://{authority}/signin"))
}

/// What a request carrying the session cookie must look like (see `grpc::BrowserPolicy`).
fn browser_policy(config: &Config) -> grpc::BrowserPolicy {
    grpc::BrowserPolicy::new(settings::cookies(config).name(), config.cors_allowed_origins.clone())
}

/// Every service's status in `grpc.health.v1`, and the server's (""): a replica whose database
/// does not answer is NOT_SERVING, so load balancers route around it until it recovers.
async fn set_health(health: &HealthReporter, serving: bool) {
    let status = if serving { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
    for service in [
        "",
        "keyward.v1.AuthService",
        "keyward.v1.PasskeyService",
        "keyward.v1.OAuthService",
        "keyward.v1.AdminService",
        "keyward.v1.VerificationService",
    ] {
        health.set_service_status(service, status).await;
    }
}

/// CORS for grpc-web from browsers on other origins: only the configured origins, with
/// credentials (the session cookie), exposing the gRPC status headers to the page.
fn cors_layer(config: &Config) -> CorsLayer {
    let origins = config.cors_allowed_origins.iter().filter_map(|origin| origin.parse().ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(
            ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "authorization"]
                .map(HeaderName::from_static),
        )
        .expose_headers(["grpc-status", "grpc-message", "grpc-status-details-bin"].map(HeaderName::from_static))
        .max_age(Duration::from_secs(3600))
}

/// How often the database is checked for the health service.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Asks the database every second whether it answers, and flips `grpc.health.v1` when that
/// changes. Each check is bounded by the store's timeout.
async fn health_checks(services: Services, health: HealthReporter) {
    let mut tick = tokio::time::interval(HEALTH_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = true;
    loop {
        tick.tick().await;
        let reason = services.store().unavailable_reason().await;
        if reason.is_none() != serving {
            serving = reason.is_none();
            set_health(&health, serving).await;
            match reason {
                None => tracing::info!("database answers again: serving"),
                Some(reason) => tracing::warn!(reason, "database unavailable: not serving"),
            }
        }
    }
}

/// How often each piece of upkeep runs.
struct Intervals {
    key_reload: Duration,
    sweep: Duration,
    checkpoint: Duration,
}

impl Intervals {
    fn from_config(config: &Config) -> Self {
        Self {
            key_reload: Duration::from_secs(config.signing_key_reload_secs),
            sweep: Duration::from_secs(config.sweep_interval_secs),
            checkpoint: Duration::from_secs(config.sqlite_checkpoint_interval_secs),
        }
    }
}

/// The outbox's senders: mail always, webhooks when an endpoint is configured.
struct Senders {
    mailer: observe::Counted<Mailer>,
    mail_retry: RetryPolicy,
    webhooks: Option<(observe::Counted<WebhookSender>, LaneSettings)>,
}

/// Periodic upkeep: reload signing keys (rotation elsewhere), sweep expired rows, keep the
/// SQLite WAL small; and, in tasks of their own, the health check, the outbox's senders (mail and
/// webhooks), the session event feed and, when metrics are on, their listener and upkeep.
async fn background_tasks(
    services: Services,
    health: HealthReporter,
    senders: Senders,
    observers: Option<(TcpListener, Metrics)>,
    intervals: Intervals,
) {
    // The health check must keep running while upkeep waits on a database that hangs (that is
    // exactly when it has news). Its task lives in this set, so it ends when this future is
    // dropped (shutdown aborts it).
    let mut health_task = tokio::task::JoinSet::new();
    health_task.spawn(health_checks(services.clone(), health));
    let Senders { mailer, mail_retry, webhooks } = senders;
    let sender = services.clone();
    health_task.spawn(async move { sender.run_outbox(mailer, mail_retry).await });
    if let Some((webhooks, lanes)) = webhooks {
        let sender = services.clone();
        health_task.spawn(async move { sender.run_webhook_lanes(webhooks, lanes).await });
    }
    // The session event feed: the PostgreSQL listener that hears other replicas' commits, and
    // the reader that applies every event to this replica's caches.
    let listener = services.store().clone();
    health_task.spawn(async move { listener.listen_for_session_events().await });
    let follower = services.clone();
    health_task.spawn(async move { follower.follow_session_events().await });
    if let Some((listener, metrics)) = observers {
        health_task.spawn(observe::upkeep(services.clone(), metrics.clone()));
        health_task.spawn(observe::serve(listener, services.clone(), metrics));
    }
    let mut reload = tokio::time::interval(intervals.key_reload);
    let mut sweep = tokio::time::interval(intervals.sweep);
    let mut checkpoint = tokio::time::interval(intervals.checkpoint);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_checkpoint = None;
    loop {
        tokio::select! {
            _ = checkpoint.tick() => match services.store().maintain_wal(last_checkpoint).await {
                Ok(seen) => last_checkpoint = seen,
                Err(err) => tracing::warn!(error = %err, "WAL checkpoint failed"),
            },
            _ = reload.tick() => {
                if let Err(err) = services.reload_signing_keys().await {
                    tracing::warn!(error = %err, "reloading signing keys failed");
                }
            }
            _ = sweep.tick() => match services.sweep_expired().await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(swept, "expired sessions deleted"),
                Err(err) => tracing::warn!(error = %err, "sweeping expired sessions failed"),
            },
        }
    }
}
