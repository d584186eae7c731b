//! The circuit breaker of one webhook endpoint, on one replica: after `failures` deliveries in
//! a row failed, the endpoint is *open* — none of its rows is claimed (they stay parked in the
//! outbox, their attempts unspent) — for a cool-down that doubles at every failed probe up to
//! a cap; then *half-open*: one row is tried as a probe. A delivery that succeeds closes it. So
//! an endpoint that is down costs one connection per cool-down instead of one per event, and
//! never holds the lanes of other endpoints (they have their own). Pure: time comes in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When to open and for how long (`[webhook_delivery] breaker_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failed deliveries in a row that open the breaker.
    pub failures: u32,
    /// The first cool-down; doubled after every failed probe, up to `max_open`.
    pub open: Duration,
    pub max_open: Duration,
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Deliveries flow; `failures` is the current run of failures.
    Closed { failures: u32 },
    /// Nothing is claimed before `until`; `cool_down` is the one that led here.
    Open { until: DateTime<Utc>, cool_down: Duration },
    /// One probe may go (`probing`: it is out); its outcome decides.
    HalfOpen { probing: bool, cool_down: Duration },
}

/// A change worth telling the operator about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened { cool_down: Duration },
    Closed,
}

/// One endpoint's breaker.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    state: State,
}

impl CircuitBreaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self { policy, state: State::Closed { failures: 0 } }
    }

    /// How many more deliveries may start now, with `in_flight` running and `concurrency`
    /// allowed: all the room when closed, none when open, one probe when half-open.
    pub fn room(&mut self, now: DateTime<Utc>, in_flight: usize, concurrency: usize) -> usize {
        if let State::Open { until, cool_down } = self.state
            && now >= until
        {
            self.state = State::HalfOpen { probing: false, cool_down };
        }
        match self.state {
            State::Closed { .. } => concurrency.saturating_sub(in_flight),
            State::Open { .. } | State::HalfOpen { probing: true, .. } => 0,
            // The probe goes alone: deliveries still out from before are waited for first.
            State::HalfOpen { probing: false, .. } => usize::from(in_flight == 0),
        }
    }

    /// `started` deliveries went out (a half-open breaker's probe among them).
    pub fn started(&mut self, started: usize) {
        if let State::HalfOpen { probing, .. } = &mut self.state
            && started > 0
        {
            *probing = true;
        }
    }

    /// A delivery succeeded: the endpoint answers, so it is closed again.
    pub fn succeeded(&mut self) -> Option<Transition> {
        let was_closed = matches!(self.state, State::Closed { .. });
        self.state = State::Closed { failures: 0 };
        (!was_closed).then_some(Transition::Closed)
    }

    /// A delivery failed at `now`.
    pub fn failed(&mut self, now: DateTime<Utc>) -> Option<Transition> {
        match self.state {
            State::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if failures < self.policy.failures {
                    self.state = State::Closed { failures };
                    return None;
                }
                Some(self.open(now, self.policy.open))
            }
            State::HalfOpen { probing: true, cool_down } => {
                let next = cool_down.saturating_mul(2).min(self.policy.max_open.max(self.policy.open));
                Some(self.open(now, next))
            }
            // Deliveries that were out when it opened: their failure is no news.
            State::Open { .. } | State::HalfOpen { probing: false, .. } => None,
        }
    }

    fn open(&mut self, now: DateTime<Utc>, cool_down: Duration) -> Transition {
        let until = now + chrono::Duration::from_std(cool_down).unwrap_or(chrono::Duration::hours(1));
        self.state = State::Open { until, cool_down };
        Transition::Opened { cool_down }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerPolicy { failures: 3, open: SECOND * 10, max_open: SECOND * 35 })
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + chrono::Duration::seconds(seconds)
    }

    #[test]
    fn closed_it_allows_the_concurrency_and_opens_after_failures_in_a_row() {
        let mut breaker = breaker();
        assert_eq!(breaker.room(at(0), 2, 8), 6);
        assert_eq!(breaker.failed(at(0)), None);
        assert_eq!(breaker.failed(at(0)), None);
        assert_eq!(breaker.succeeded(), None, "a success ends the run");
        assert_eq!(breaker.failed(at(0)), None);
        assert_eq!(breaker.failed(at(0)), None);
        assert_eq!(breaker.failed(at(1)), Some(Transition::Opened { cool_down: SECOND * 10 }));
        assert_eq!(breaker.failed(at(1)), None, "a late failure of a delivery already out is no news");
        assert_eq!(breaker.room(at(10), 0, 8), 0, "open for the whole cool-down");
    }

    #[test]
    fn half_open_it_sends_one_probe_whose_outcome_decides() {
        let mut breaker = breaker();
        for _ in 0..3 {
            breaker.failed(at(0));
        }
        assert_eq!(breaker.room(at(10), 1, 8), 0, "the probe waits for what is still out");
        assert_eq!(breaker.room(at(10), 0, 8), 1);
        breaker.started(1);
        assert_eq!(breaker.room(at(10), 1, 8), 0, "one probe at a time");
        // The probe fails: open again, twice as long, up to the cap.
        assert_eq!(breaker.failed(at(10)), Some(Transition::Opened { cool_down: SECOND * 20 }));
        assert_eq!(breaker.room(at(29), 0, 8), 0);
        assert_eq!(breaker.room(at(30), 0, 8), 1);
        breaker.started(1);
        assert_eq!(breaker.failed(at(30)), Some(Transition::Opened { cool_down: SECOND * 35 }));
        assert_eq!(breaker.room(at(65), 0, 8), 1);
        breaker.started(1);
        assert_eq!(breaker.failed(at(65)), Some(Transition::Opened { cool_down: SECOND * 35 }), "capped");
        assert_eq!(breaker.room(at(100), 0, 8), 1);
        breaker.started(1);
        // The probe is delivered: closed, the full concurrency back.
        assert_eq!(breaker.succeeded(), Some(Transition::Closed));
        assert_eq!(breaker.room(at(100), 0, 8), 8);
        assert_eq!(breaker.failed(at(100)), None, "the run starts over");
    }
}
