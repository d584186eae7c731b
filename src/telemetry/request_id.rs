//! The request id: minted once per gRPC call by the RPC layer (the one place that makes them),
//! carried in the call's span and log line, and readable anywhere on the call's task with
//! `RequestId::current()` — so an answer or a log line can name the call an operator should
//! look up.

use std::fmt;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// 96 random bits as 24 hex digits: unguessable and unique enough to find one call in the logs;
/// never derived from the request, so a caller cannot forge another call's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 12]);

impl RequestId {
    /// A fresh id (the RPC layer's; nothing else mints them).
    pub(super) fn mint() -> Self {
        use aws_lc_rs::rand::SecureRandom;
        let mut bytes = [0u8; 12];
        // The OS random source failing leaves zeros: the id is for finding log lines, and a
        // failed draw must not fail the call.
        let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes);
        Self(bytes)
    }

    /// The id of the call this task is serving, if it is serving one.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|id| *id).ok()
    }

    /// Runs `future` as the call with this id.
    pub(super) fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn current_inside_the_scope_only() {
        let id = RequestId::mint();
        assert_ne!(id, RequestId::mint());
        assert_eq!(id.to_string().len(), 24);
        assert_eq!(RequestId::current(), None);
        assert_eq!(id.scope(async { RequestId::current() }).await, Some(id));
    }
}
