//! Network exchanges asked for by synchronous code (the trust stores' revocation checks, the
//! core's time-stamps): run on the service's runtime without blocking one of its workers
//! unannounced (`tokio::task::block_in_place`), or, outside a multi-threaded runtime
//! (start-up, administration, tests), on a thread of its own with a small runtime.

use std::future::Future;

/// The output of `exchange`, waited for from synchronous code; `Err` when no runtime could
/// be made for it, or it panicked.
pub fn wait_for<F>(exchange: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| handle.block_on(exchange)))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())
                        .map(|runtime| runtime.block_on(exchange))
                })
                .join()
                .unwrap_or_else(|_| Err("the exchange panicked".into()))
        }),
    }
}
