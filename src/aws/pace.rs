//! relink's share of Elastic Load Balancing's request budget. AWS throttles ELB's non-mutating
//! actions per account and region with one bucket of 40 tokens refilled at 10 a second, for version
//! 2 and classic load balancers each, and the account's people, consoles and tools draw on the same
//! bucket. Every ELB read relink makes waits for a token of its own, smaller bucket first
//! ([`ElbShare`]).

use crate::domain::config::ElbShare;
use governor::{clock::Clock, DefaultDirectRateLimiter, Quota};
use std::num::NonZeroU32;
use std::time::Duration;

/// The pace of one process's reads of one ELB API in one account and region.
#[derive(Debug)]
pub struct Pace {
    limiter: DefaultDirectRateLimiter,
    share: ElbShare,
}

impl Pace {
    /// A pace allowing `share` (a zero rate or burst counts as 1).
    pub fn new(share: ElbShare) -> Self {
        let per_second = NonZeroU32::new(share.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(share.burst).unwrap_or(NonZeroU32::MIN);
        Pace {
            limiter: DefaultDirectRateLimiter::direct(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            share,
        }
    }

    /// The share this pace allows.
    pub fn share(&self) -> ElbShare {
        self.share
    }

    /// Waits until the next request is within the share, then counts it.
    pub async fn ready(&self) {
        while let Some(wait) = self.wait() {
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "waiting for relink's share of the ELB budget"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a request and answers `None` when it is within the share; otherwise how long until
    /// it would be.
    fn wait(&self) -> Option<Duration> {
        let not_until = self.limiter.check().err()?;
        Some(not_until.wait_time_from(self.limiter.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_and_the_next_request_waits_for_the_refill() {
        let pace = Pace::new(ElbShare {
            per_second: 1,
            burst: 3,
        });
        for n in 1..=3 {
            assert_eq!(pace.wait(), None, "request {n} of the burst");
        }
        let wait = pace.wait().expect("the fourth request waits");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(wait > Duration::from_millis(500), "{wait:?}");
    }

    #[test]
    fn a_zero_share_still_lets_one_request_through() {
        let pace = Pace::new(ElbShare {
            per_second: 0,
            burst: 0,
        });
        assert_eq!(pace.wait(), None);
        assert!(pace.wait().is_some());
    }
}
