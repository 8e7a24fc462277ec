//! The API of [`tokio::process`](https://docs.rs/tokio/1/tokio/process/) on this crate's
//! engine (feature `tokio`; Unix and Windows). A tokio program switches by replacing
//! `tokio::process` with `childfd::tokio`:
//!
//! ```
//! # #[cfg(target_os = "linux")]
//! # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
//! use childfd::tokio::Command; // was: use tokio::process::Command;
//! use childfd::Stdio; // was: use std::process::Stdio;
//! use tokio::io::{AsyncBufReadExt, BufReader};
//!
//! let mut child = Command::new("sh").args(["-c", "echo one; echo two"]).stdout(Stdio::piped()).spawn()?;
//! let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
//! while let Some(line) = lines.next_line().await? {
//!     println!("{line}");
//! }
//! let exit = child.exited().await?; // an extra: CPU time, peak memory
//! assert!(exit.status().success());
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! # What changes underneath (Unix)
//! - The child is born with its pidfd (`clone(CLONE_PIDFD)`, see [`crate::Command`]), and no
//!   `SIGCHLD` handler is ever installed, not even for dropped children (tokio installs one
//!   for its orphan queue): a dropped [`Child`] is reaped by the crate's backstop reactor.
//! - [`Child::wait`] registers the pidfd in the current tokio runtime's I/O driver
//!   (`AsyncFd`), so the kernel wakes the runtime's own thread. Readiness is only a hint: the
//!   child is then reaped with a non-blocking `waitid` under its lock, as every other reaper
//!   of this crate does.
//! - Outside a runtime, in a runtime built without `enable_io`, once the runtime is shutting
//!   down, or on other backends, `wait` goes through the crate's own reactor (async-io's
//!   thread): slower by one thread hop, never a hang. On a current-thread runtime, a wait in
//!   its `block_on` body (`#[tokio::main(flavor = "current_thread")]`, `#[tokio::test]`) or a
//!   task is watched by tokio alone; one polled by another executor while the runtime is only
//!   entered (`rt.enter()`), where nothing may drive tokio's driver, is watched by both. To
//!   tell a `block_on` body apart cheaply, the first such wait of the process (Rust ≥ 1.83)
//!   runs an empty future in a runtime of its own on a short-lived thread, which exits at
//!   once: the only thread `childfd::tokio` starts.
//! - `ChildSet` (Unix: many children, whichever exits first) has its members' pidfds in an epoll
//!   of its own, which is the one descriptor registered in tokio's driver.
//! - Pipes are tokio's own `tokio::net::unix::pipe` types: they need a runtime with I/O, as
//!   tokio's do.
//!
//! # What changes underneath (Windows)
//! - The child is spawned by `std`, as everything on Windows in this crate (see
//!   `childfd::windows`); the `Child` keeps a duplicate of its process handle, so the exit
//!   code and times survive the exit and the id is not reused while the `Child` lives.
//! - [`Child::wait`] goes through the crate's reactor: the process handle is a waitable in
//!   polling's IOCP poller (a `RegisterWaitForSingleObject` wait, like tokio's own), and the
//!   reactor's thread wakes the task. tokio instead registers one wait per `wait` future whose
//!   callback completes a oneshot; both take one hop through the Win32 thread pool, ours one
//!   more through the reactor thread. It needs no runtime at all.
//! - Pipes are `tokio::fs::File`s over the `std` pipe ends: each read or write runs on the
//!   current runtime's blocking pool (`spawn_blocking`), as tokio's Windows pipes do (its
//!   internal `Blocking` adaptor is the same machinery as `fs::File`): writes are buffered
//!   and completed in the background, `flush`/`shutdown` wait for them, and
//!   `into_owned_handle` duplicates the handle if an operation is still in flight, all as in
//!   tokio. Spawning needs no runtime; reading or writing does, as with tokio.
//! - Tested under Wine only (ci/windows.sh: this crate's tokio tests and tokio's own process
//!   tests that build on Windows), not on a real Windows.
//!
//! # Differences from `tokio::process`
//! - Unix: `Command::pre_exec` takes a `childfd::unix::PreExec`, made by an `unsafe`
//!   constructor, instead of being an `unsafe fn` itself: this crate forbids `unsafe` code.
//! - `stdin`/`stdout`/`stderr` also take a [`childfd::Stdio`](crate::Stdio). On Unix a
//!   `std::process::Stdio` is opaque (even `piped()` cannot be told apart on stable Rust),
//!   so a command given one is spawned by `std`, then watched through `pidfd_open` (see
//!   "Spawn routes" on [`crate::Command`]): it works the same, costs more, and is race-free
//!   only while nothing else in the process reaps children. To stay on the engine, replace
//!   `use std::process::Stdio` with `use childfd::Stdio` too.
//! - [`Command::as_std_mut`] makes the command take the `std` route too (Unix), since the
//!   crate cannot see what was changed.
//! - Unix: a runtime built without `enable_io`: waiting works (through the crate's reactor); a
//!   spawn with a piped stream fails with an error instead of tokio's panic. tokio reports a
//!   runtime without I/O only by panicking, so the first wait in a runtime (or spawn with a
//!   pipe) installs a panic hook that delegates to the one set before and silences only the
//!   panics this module catches. A hook set later replaces it: the caught panic is then
//!   printed by that hook, but still caught.
//! - Unix: outside a runtime, a spawn with a piped stream panics as tokio's does, after
//!   killing and reaping the child; without pipes, spawning and waiting need no runtime.
//! - Windows: [`Child::wait`] may be polled outside any runtime (tokio's needs none either);
//!   a pending `wait` dropped before its `Child` leaves no wait registered behind it, where
//!   tokio's keeps its registration (and the waker it stored) until the `Child` is dropped.

mod child;
mod command;
mod pipes;
#[cfg(unix)]
mod set;
mod wait;

pub use child::Child;
pub use command::Command;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
#[cfg(unix)]
pub use set::ChildSet;

/// Runs `f`, turning a panic into `None` without printing it: tokio reports a runtime without
/// I/O only by panicking.
#[cfg(unix)]
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    use std::cell::Cell;
    use std::panic::{catch_unwind, set_hook, take_hook, AssertUnwindSafe};
    use std::sync::Once;

    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    static HOOK: Once = Once::new();
    if std::thread::panicking() {
        // `take_hook` panics on a panicking thread, and this would be a second panic.
        return None;
    }
    HOOK.call_once(|| {
        let previous = take_hook();
        set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.ok()
}

#[cfg(target_os = "linux")]
mod linux;

#[allow(dead_code)]
fn _assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Command>();
    both::<Child>();
    both::<ChildStdin>();
    both::<ChildStdout>();
    both::<ChildStderr>();
    // tokio's futures are `Send` and `Sync`; code that stores them may count on either.
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn wait(child: &mut Child) {
        send_sync(&child.wait());
        send_sync(&child.kill());
        send_sync(&child.exited());
    }
    let _ = wait;
}
