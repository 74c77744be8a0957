//! Waiting from synchronous code (the trust stores' revocation checks, the core's time-stamps,
//! the PostgreSQL store's calls) without stalling a runtime unannounced: on a worker of a
//! multi-threaded runtime the wait is announced (`tokio::task::block_in_place`), so that the
//! runtime hands the worker's other tasks to another; on a thread that drives a current-thread
//! runtime (which can hand nothing over, and where `Handle::block_on` is refused) it is done on
//! a thread of its own; on any other thread (a plain one, a `spawn_blocking` one) it is done
//! there.

use std::future::Future;

use tokio::runtime::{Handle, RuntimeFlavor};

/// The output of `exchange`, waited for from synchronous code: run on the multi-threaded
/// runtime this thread belongs to, or, outside one (start-up, administration, tests), on a
/// small runtime of its own. `Err` when no runtime could be made for it, or it panicked.
pub fn wait_for<F>(exchange: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            wait_here(|| handle.block_on(exchange))
        }
        _ => wait_here(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .map(|runtime| runtime.block_on(exchange))
        })?,
    }
}

/// The output of `work`, synchronous code that waits (on a runtime, with `Handle::block_on`),
/// run where this thread may wait (see the module's doc). `Err` when it panicked on a thread
/// of its own.
pub fn wait_here<T: Send>(work: impl FnOnce() -> T + Send) -> Result<T, String> {
    match Handle::try_current().map(|current| current.runtime_flavor()) {
        Err(_) => Ok(work()),
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(work)),
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(work)
                .join()
                .map_err(|_| "the wait panicked".to_owned())
        }),
    }
}
