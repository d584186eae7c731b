//! Per-client-address budgets: in-process token buckets (`governor`), one per named budget,
//! keyed by the client's throttle key. The general shape — a named budget, a key, a cost — is
//! what every anonymous entry point uses (Login, Register, passkey Start*, StartOAuth, and mailed
//! links per client address and per recipient). In process on purpose: a per-address budget only
//! has to make flooding expensive, so N replicas allowing N× the rate is acceptable, and a check
//! costs no database round trip. Counts that must hold across replicas (consecutive failures of
//! an account) live in the database instead: see `sign_in_guard.rs`.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{Quota, RateLimiter, clock::Clock as _, middleware::NoOpMiddleware, state::keyed::DashMapStateStore};

use super::Clock;
use crate::error::{Error, Result};

/// The service `Clock` as governor's clock, so buckets refill on the same time as everything
/// else in `service` (a test that moves the clock refills them too). Instants are the time since
/// the Unix epoch; should the wall clock step back, governor sees no time pass (stricter, never
/// looser).
#[derive(Debug, Clone)]
struct BucketClock(Clock);

impl governor::clock::Clock for BucketClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or(0);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

/// A keyed token-bucket limiter on the service clock.
type KeyedLimiter<K> = RateLimiter<K, DashMapStateStore<K>, BucketClock, NoOpMiddleware<Duration>>;

/// One per-client-address budget: a token bucket refilled at `per_minute`, holding `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub per_minute: u32,
    pub burst: u32,
}

/// Per-client-address budgets of the anonymous entry points (`[rate_limits]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Off when an edge in front of Keyward does per-client rate limiting. The per-account
    /// failure throttle stays on either way.
    pub enabled: bool,
    /// Login (one password check each).
    pub login: RateBudget,
    /// Register and StartPasskeySignUp: account creation, and the only answers that say an
    /// email is taken.
    pub register: RateBudget,
    /// StartPasskeyLogin and StartPasskeyRegistration (each writes a ceremony).
    pub passkey_start: RateBudget,
    /// StartOAuth (writes a ceremony, may fetch the provider's discovery document).
    pub oauth_start: RateBudget,
    /// Requests that mail a link (reset, magic link, verification), per client address.
    pub email_send: RateBudget,
    /// The same, per recipient address (whoever asks): mail to one inbox stays rare.
    pub email_address: RateBudget,
    /// Mailed one-time codes tried, per client address.
    pub email_code: RateBudget,
    /// Mailed one-time codes tried, per address the code was mailed to and client address.
    pub email_code_address: RateBudget,
    /// ResetPassword, per client address: each may estimate a new password's strength and hash
    /// it.
    pub password_reset: RateBudget,
}

impl RateLimits {
    /// Every budget with its setting, in `Budget`'s order (`Budget::index`): the one list the
    /// buckets, the pruning and the validation go through.
    pub fn budgets(&self) -> [(Budget, RateBudget); Budget::COUNT] {
        [
            (Budget::Login, self.login),
            (Budget::Register, self.register),
            (Budget::PasskeyStart, self.passkey_start),
            (Budget::OAuthStart, self.oauth_start),
            (Budget::EmailSend, self.email_send),
            (Budget::EmailAddress, self.email_address),
            (Budget::EmailCode, self.email_code),
            (Budget::EmailCodeAddress, self.email_code_address),
            (Budget::PasswordReset, self.password_reset),
        ]
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            login: RateBudget { per_minute: 30, burst: 10 },
            register: RateBudget { per_minute: 10, burst: 5 },
            passkey_start: RateBudget { per_minute: 60, burst: 30 },
            oauth_start: RateBudget { per_minute: 30, burst: 10 },
            email_send: RateBudget { per_minute: 10, burst: 5 },
            email_address: RateBudget { per_minute: 1, burst: 3 },
            email_code: RateBudget { per_minute: 10, burst: 10 },
            email_code_address: RateBudget { per_minute: 5, burst: 10 },
            password_reset: RateBudget { per_minute: 10, burst: 5 },
        }
    }
}

/// The named budgets. Each has its own bucket per client key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Login,
    Register,
    PasskeyStart,
    OAuthStart,
    /// Mailing a link, per client address.
    EmailSend,
    /// Mailing a link, per recipient address (keyed by the address, whoever asks).
    EmailAddress,
    /// Trying a mailed one-time code, per client address.
    EmailCode,
    /// Trying a mailed one-time code, per address it was mailed to and client address: a
    /// stranger's tries spend the stranger's budget, never the owner's.
    EmailCodeAddress,
    /// Setting a new password with a mailed proof, per client address.
    PasswordReset,
}

impl Budget {
    const COUNT: usize = 9;

    /// Position in `RateLimits::budgets` and in the buckets.
    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasskeyStart => "passkey_start",
            Self::OAuthStart => "oauth_start",
            Self::EmailSend => "email_send",
            Self::EmailAddress => "email_address",
            Self::EmailCode => "email_code",
            Self::EmailCodeAddress => "email_code_address",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// Every budget's buckets. Cheap to clone.
#[derive(Clone)]
pub struct Throttles {
    limiters: Option<Arc<Limiters>>,
    clock: BucketClock,
    metrics: crate::metrics::Metrics,
}

struct Limiters {
    /// One keyed bucket set per budget, at `Budget::index`.
    budgets: [KeyedLimiter<String>; Budget::COUNT],
    /// At most one log line per (budget, key) and minute about refusals: a flood must not
    /// become a flood of log lines.
    refusal_logs: KeyedLimiter<(Budget, String)>,
}

impl std::fmt::Debug for Throttles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttles").field("enabled", &self.limiters.is_some()).finish()
    }
}

fn quota(budget: RateBudget) -> Quota {
    let per_minute = NonZeroU32::new(budget.per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(budget.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl Throttles {
    pub fn new(config: &RateLimits, clock: &Clock) -> Self {
        let clock = BucketClock(clock.clone());
        let keyed = |quota: Quota| RateLimiter::dashmap_with_clock(quota, clock.clone());
        let limiters = config.enabled.then(|| {
            Arc::new(Limiters {
                budgets: config.budgets().map(|(_, budget)| keyed(quota(budget))),
                refusal_logs: RateLimiter::dashmap_with_clock(Quota::per_minute(NonZeroU32::MIN), clock.clone()),
            })
        });
        Self { limiters, clock, metrics: crate::metrics::Metrics::off() }
    }

    /// Counts refusals per budget in `metrics`.
    pub fn observed(self, metrics: &crate::metrics::Metrics) -> Self {
        Self { metrics: metrics.clone(), ..self }
    }

    /// Takes `cost` from `budget`'s bucket for `key`, or fails with `RateLimited` (saying when
    /// to retry) and takes nothing. Always passes when client budgets are off.
    /// A pass marks the request as having spent a budget (`crypto::work_budget`), whether or not
    /// budgets are on (when off, an edge in front spends them).
    pub fn check(&self, budget: Budget, key: &str, cost: u32) -> Result<()> {
        let Some(limiters) = &self.limiters else {
            crate::crypto::work_budget::spent();
            return Ok(());
        };
        let limiter = &limiters.budgets[budget.index()];
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        let key = key.to_owned();
        let retry_after = match limiter.check_key_n(&key, cost) {
            Ok(Ok(())) => {
                crate::crypto::work_budget::spent();
                return Ok(());
            }
            Ok(Err(not_until)) => not_until.wait_time_from(self.clock.now()),
            // More than the bucket can ever hold: never possible, say so plainly.
            Err(_) => Duration::from_secs(60),
        };
        if limiters.refusal_logs.check_key(&(budget, key.clone())).is_ok() {
            tracing::warn!(budget = budget.name(), client = %key, "client budget exhausted; refusing");
        }
        self.metrics.throttle_refused(budget.name());
        Err(Error::RateLimited { retry_after })
    }

    /// Drops buckets that are full again (nothing to remember), so memory tracks active clients.
    pub fn prune(&self) {
        let Some(limiters) = &self.limiters else { return };
        for limiter in &limiters.budgets {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiters.refusal_logs.retain_recent();
        limiters.refusal_logs.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_past_its_burst_per_key_and_says_when_to_retry() {
        let config = RateLimits { login: RateBudget { per_minute: 1, burst: 2 }, ..RateLimits::default() };
        let throttles = Throttles::new(&config, &Clock::default());
        assert!(throttles.check(Budget::Login, "192.0.2.1", 1).is_ok());
        assert!(throttles.check(Budget::Login, "192.0.2.1", 1).is_ok());
        match throttles.check(Budget::Login, "192.0.2.1", 1) {
            Err(Error::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO),
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert!(throttles.check(Budget::Login, "192.0.2.2", 1).is_ok(), "another client has its own bucket");
        assert!(throttles.check(Budget::Register, "192.0.2.1", 1).is_ok(), "another budget has its own bucket");
        let off = Throttles::new(&RateLimits { enabled: false, ..config }, &Clock::default());
        assert!((0..10).all(|_| off.check(Budget::Login, "192.0.2.1", 1).is_ok()));
    }

    #[test]
    fn budgets_are_listed_in_their_index_order() {
        let budgets = RateLimits::default().budgets();
        assert!(budgets.iter().enumerate().all(|(i, (budget, _))| budget.index() == i), "{budgets:?}");
    }

    #[test]
    fn buckets_refill_on_the_service_clock() {
        let config = RateLimits { login: RateBudget { per_minute: 1, burst: 1 }, ..RateLimits::default() };
        let clock = Clock::default();
        let throttles = Throttles::new(&config, &clock);
        assert!(throttles.check(Budget::Login, "192.0.2.1", 1).is_ok());
        let retry_after = match throttles.check(Budget::Login, "192.0.2.1", 1) {
            Err(Error::RateLimited { retry_after }) => retry_after,
            other => panic!("expected RateLimited, got {other:?}"),
        };
        assert!(retry_after <= Duration::from_secs(60), "one token a minute: {retry_after:?}");
        clock.advance(Duration::from_secs(61));
        assert!(throttles.check(Budget::Login, "192.0.2.1", 1).is_ok(), "a minute on the clock refills one token");
        assert!(throttles.check(Budget::Login, "192.0.2.1", 1).is_err(), "and only one");
    }
}
