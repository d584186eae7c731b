//! The bounded OS-thread pool that runs CPU-heavy work (argon2, zxcvbn) off the async runtime.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
    mpsc::{self, SyncSender, TrySendError},
};

use crate::error::{Error, Result};

/// Per-worker memory reused across jobs: argon2's working memory is tens of MiB, and allocating
/// it fresh for every hash costs page faults on each call.
#[derive(Default)]
pub struct Scratch {
    pub argon2_blocks: Vec<argon2::Block>,
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// A fixed set of OS threads for CPU-heavy auth work (password hashing, password-strength
/// estimation), with a bounded queue.
///
/// That work never runs on the async runtime, so GetSession and friends stay fast while logins
/// queue; when the queue is full, `run` fails at once with `HasherOverloaded` instead of letting
/// latency grow without bound. A job whose caller has gone away (a cancelled RPC) is skipped
/// when its turn comes, so a client that floods and cancels does not keep the workers busy.
/// Fairness between clients comes from the per-client budgets in front of every call that
/// queues here (`service::throttle`): one address cannot hold more of the queue than its budget.
/// Workers stop when the last `CpuPool` handle is dropped.
pub struct CpuPool {
    queue: SyncSender<Job>,
    /// Jobs queued or running.
    in_flight: Arc<AtomicUsize>,
    /// Jobs ever handed to the queue, a full queue's refusals included (for tests that must know
    /// a refused call queued nothing).
    queued_total: AtomicUsize,
    workers: usize,
    /// Jobs queued and not yet taken by a worker, and how long each waited (metrics).
    waiting: Arc<AtomicUsize>,
    wait: metrics::Histogram,
}

/// Counts a job out of `in_flight` when it ends, however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpuPool")
    }
}

impl CpuPool {
    /// Starts `workers` threads sharing a queue that holds at most `queue_depth` waiting jobs;
    /// with `low_priority`, at the lowest OS scheduling priority (nice 19 on Linux): a hash then
    /// runs whenever a core is free but yields it at once to the runtime's threads, so a
    /// saturated pool does not delay GetSession and other cheap calls, and logins still get
    /// every idle cycle.
    pub fn start(workers: usize, queue_depth: usize, low_priority: bool) -> Result<Self> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_depth);
        let jobs = Arc::new(Mutex::new(jobs));
        for index in 0..workers.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("keyward-cpu-{index}"))
                .spawn(move || {
                    if low_priority
                        && let Err(err) =
                            thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
                    {
                        tracing::warn!(error = ?err, "could not lower the hashing thread's priority");
                    }
                    let mut scratch = Scratch::default();
                    loop {
                        // The lock is held only while waiting for the next job, not while running it.
                        let next = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(&mut scratch),
                            Err(_) => return, // every sender dropped: shut down
                        }
                    }
                })
                .map_err(|err| Error::internal(format_args!("starting a hashing thread: {err}")))?;
        }
        Ok(Self {
            queue,
            in_flight: Arc::new(AtomicUsize::new(0)),
            queued_total: AtomicUsize::new(0),
            workers: workers.max(1),
            waiting: Arc::new(AtomicUsize::new(0)),
            wait: metrics::Histogram::noop(),
        })
    }

    /// Records each job's wait in the queue into `metrics`.
    pub fn observed(self, metrics: &crate::metrics::Metrics) -> Self {
        Self { wait: metrics.hash_pool_wait(), ..self }
    }

    /// The worker threads, and the jobs waiting for one (for the metrics).
    pub fn occupancy(&self) -> (usize, usize) {
        (self.workers, self.waiting.load(Ordering::Relaxed))
    }

    /// Jobs ever handed to the queue (see `queued_total`).
    pub fn jobs_queued(&self) -> usize {
        self.queued_total.load(Ordering::SeqCst)
    }

    /// Jobs queued or running right now (for tests that must know work is in the pool).
    pub fn jobs_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Queues `work` for a pool thread now, and returns a future of its result that waits
    /// without blocking the runtime. A full queue fails at once with `HasherOverloaded`; a
    /// request that spent no budget yet is refused (`work_budget`).
    pub fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&mut Scratch) -> T + Send + 'static,
    {
        let (reply, result) = tokio::sync::oneshot::channel();
        // A caller's job waits for its budget (`work_budget`): refused before it is queued.
        let queued = super::work_budget::require("a job on the hashing pool").and_then(|()| self.queue(work, reply));
        async move {
            queued?;
            result.await.map_err(|_| Error::internal("hashing job ended without a result"))
        }
    }

    /// Puts `work` on the queue, its result to go to `reply`.
    fn queue<T, F>(&self, work: F, reply: tokio::sync::oneshot::Sender<T>) -> Result<()>
    where
        T: Send + 'static,
        F: FnOnce(&mut Scratch) -> T + Send + 'static,
    {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.queued_total.fetch_add(1, Ordering::SeqCst);
        let in_flight = InFlight(Arc::clone(&self.in_flight));
        // Trace spans under the caller's: the wait in the queue, then the work on a worker.
        let (queued_at, waiting, wait) = (std::time::Instant::now(), Arc::clone(&self.waiting), self.wait.clone());
        let (caller_span, wait_span) = (tracing::Span::current(), tracing::info_span!("hash_pool.wait"));
        waiting.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move |scratch| {
            let _in_flight = in_flight;
            waiting.fetch_sub(1, Ordering::Relaxed);
            wait.record(queued_at.elapsed().as_secs_f64());
            drop(wait_span);
            let _working = tracing::info_span!(parent: &caller_span, "hash_pool.work").entered();
            // The caller went away while this waited (a cancelled RPC drops the future, and with
            // it the receiver): skip the work, nobody would see its result.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(work(scratch));
        });
        let queued = self.queue.try_send(job).inspect_err(|_| {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        });
        queued.map_err(|err| match err {
            TrySendError::Full(_) => Error::HasherOverloaded,
            TrySendError::Disconnected(_) => Error::internal("hashing pool is stopped"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        mpsc,
    };

    use super::*;

    #[tokio::test]
    async fn a_cancelled_job_is_skipped() {
        let pool = CpuPool::start(1, 4, false).unwrap();
        let (release, hold) = mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // Occupy the only worker until released, so the next jobs wait in the queue.
        let busy = pool.run(move |_| {
            let _ = started_tx.send(());
            hold.recv().ok();
        });
        let busy = tokio::spawn(busy);
        started.await.unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let cancelled = pool.run({
            let ran = Arc::clone(&ran);
            move |_| ran.store(true, Ordering::SeqCst)
        });
        let after = pool.run(|_| "after");
        drop(cancelled); // the RPC went away while its job was queued
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        // One worker, FIFO: the job behind the cancelled one finishing means its turn came.
        assert_eq!(after.await.unwrap(), "after");
        assert!(!ran.load(Ordering::SeqCst), "the cancelled job's work was skipped");
    }

    #[tokio::test]
    async fn full_queue_refuses_instead_of_waiting() {
        let pool = Arc::new(CpuPool::start(1, 1, false).unwrap());
        let (release, hold) = mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // Occupy the only worker until released.
        let busy = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                pool.run(move |_| {
                    let _ = started_tx.send(());
                    hold.recv().ok();
                })
                .await
            }
        });
        started.await.unwrap();
        // One job fits in the queue; the next is refused at once.
        let (queued_tx, queued_sent) = tokio::sync::oneshot::channel();
        let queued = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                let job = pool.run(|_| 7);
                let _ = queued_tx.send(());
                job.await
            }
        });
        queued_sent.await.unwrap();
        let refused = pool.run(|_| 8).await;
        assert!(matches!(refused, Err(Error::HasherOverloaded)), "{refused:?}");
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 7);
    }
}
