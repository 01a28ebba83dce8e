//! A connection's timer for one recurring deadline (the keep-alive idle limit, the wait for
//! a backend's response), armed once and moved only when it fires early. Deadlines that only
//! move forward (`last response + limit`, `request start + timeout`) then cost no timer
//! operation per request: the timer fires at the oldest deadline, finds the current one
//! later, and is re-armed for it.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;
use tokio::time::{sleep_until, Sleep};

#[derive(Default)]
pub struct LazyTimer(Option<Pin<Box<Sleep>>>);

impl LazyTimer {
    /// Runs `f` until `deadline`; None when the deadline passed first.
    pub async fn run<F: Future>(&mut self, deadline: Instant, f: F) -> Option<F::Output> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = self
            .0
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        tokio::pin!(f);
        loop {
            tokio::select! {
                biased;
                out = &mut f => return Some(out),
                () = timer.as_mut() => {
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    timer.as_mut().reset(deadline);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Tokio's timers have millisecond resolution, rounded up.
    fn near(elapsed: Duration, expected: Duration) {
        let slack = Duration::from_millis(5);
        assert!(
            elapsed >= expected && elapsed <= expected + slack,
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_current_deadline_not_an_older_one() {
        let mut timer = LazyTimer::default();
        let start = Instant::now();
        // Armed for start + 10 s by a first wait that finishes at once.
        assert_eq!(
            timer
                .run(start + Duration::from_secs(10), async { 1 })
                .await,
            Some(1)
        );
        // A later deadline: the timer fires early at 10 s, is re-armed and fires at 25 s.
        let later = start + Duration::from_secs(25);
        let t0 = tokio::time::Instant::now();
        let never = std::future::pending::<()>();
        assert_eq!(timer.run(later, never).await, None);
        near(t0.elapsed(), Duration::from_secs(25));
        // An earlier deadline than the armed one moves the timer back.
        let t1 = tokio::time::Instant::now();
        let sooner = t1.into_std() + Duration::from_secs(2);
        assert_eq!(timer.run(sooner, std::future::pending::<()>()).await, None);
        near(t1.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn work_done_in_time_is_returned() {
        let mut timer = LazyTimer::default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let work = async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            "done"
        };
        assert_eq!(timer.run(deadline, work).await, Some("done"));
    }
}
