//! FreeBSD: the child is born with its process descriptor (`pdfork`) and watched through a
//! private kqueue that holds one `EVFILT_PROCDESC`/`NOTE_EXIT` knote per child.
//!
//! # The kqueue in the reactor
//!
//! A process descriptor cannot be put in the poller itself: it accepts no kqueue filter but
//! `EVFILT_PROCDESC` (`EVFILT_READ` fails with `EINVAL`), and `poll` reports only `POLLHUP`.
//! So the process has one [`ExitQueue`], created by the first child's `register` and added
//! to the reactor's poller once, readable, under [`SHARED_KEY`]; each child adds a knote whose
//! `udata` is its own poller key. When the queue is readable the reactor calls
//! `shared_ready`, which
//! 1. drains the queue with zero-timeout `kevent` calls,
//! 2. hints each event's key: the reactor then reaps that child exactly as if its own key
//!    had been ready (a non-blocking `wait4`; a child found still running gets its knote
//!    added again by `rearm`),
//! 3. re-arms the queue's one-shot registration in the poller. An exit that fires between the
//!    last drain and the re-arm leaves the queue readable, and re-arming a readable
//!    descriptor reports it at once: no exit is lost.
//!
//! A knote needs no removal: it is one-shot once the exit fires, and closing the descriptor
//! (after the reap) deletes it. A stale hint (a key a newer child reuses) costs one
//! `wait4` that finds that child running, and re-adds its knote.
//!
//! # Dropped children
//!
//! - By default the reactor keeps the descriptor, reaps the child with `wait4` when it
//!   exits, and then closes the descriptor, as on Linux.
//! - With `kill_on_drop`, `Child`'s drop sends `SIGKILL` through `pdkill` first.
//! - With `reap_on_drop(false)` the reactor closes the descriptor at once. Closing it reaps a
//!   zombie (its status discarded) and hands a live child to init, which reaps it when it
//!   exits: no zombie is ever left, and, unlike `std` and Linux, nothing is left for the caller
//!   to wait for either.
//! - When this process exits its descriptors close: children keep running under init, as a
//!   `std` child outlives its parent.
//!
//! Children are created with `PD_DAEMON` unless `kill_on_drop` is set: then the kernel kills
//! the child when its descriptor closes, even when this process dies without running any
//! destructor (pdfork(2)).
//!
//! Commands only `std` can spawn (converted from `std::process::Command`, or given an opaque
//! `std::process::Stdio`) get no descriptor: FreeBSD has no `pidfd_open`. They are watched by
//! the `thread` backend's helper thread, in the same reactor.

use std::io;
use std::sync::OnceLock;
use std::time::Instant;

use platform::freebsd::{ExitQueue, ProcDesc};
use platform::{ExitInfo, Registration};
use polling::Poller;

use super::{pipes, request, Backend, Process, Spawned, SHARED_KEY};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct ProcDescBackend;

/// The queue of this process's children, in the reactor's poller from its creation on.
#[derive(Debug)]
struct Shared {
    poller: &'static Poller,
    registration: Registration<ExitQueue>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The queue, created and added to `poller` by the first child. A failure (`EMFILE`) is not
/// kept: the next child tries again.
fn shared(poller: &'static Poller) -> io::Result<&'static ExitQueue> {
    if SHARED.get().is_none() {
        let queue = ExitQueue::new()?;
        let registration = Registration::new(poller, queue, SHARED_KEY).map_err(|(e, _)| e)?;
        // A racing first child may have won: ours is then dropped, deleted from the poller
        // before it is closed.
        let _ = SHARED.set(Shared {
            poller,
            registration,
        });
    }
    match SHARED.get() {
        Some(shared) if std::ptr::eq(shared.poller, poller) => Ok(shared.registration.get_ref()),
        _ => Err(io::Error::other(
            "childfd: the procdesc backend serves a single reactor",
        )),
    }
}

impl Backend for ProcDescBackend {
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        if spec.needs_std() {
            return super::thread::ThreadBackend.spawn(spec, defaults);
        }
        let at = Instant::now();
        let mut hooks = std::mem::take(&mut spec.unix.hooks);
        let kill_on_close = spec.kill_on_drop;
        let spawned = request(spec, defaults)
            .and_then(|req| platform::freebsd::spawn(&req, &mut hooks, kill_on_close));
        spec.unix.hooks = hooks;
        let spawned = spawned?;
        Ok(Spawned {
            pid: spawned.pid,
            at,
            process: super::Held::Boxed(Box::new(ProcDescProcess {
                procdesc: spawned.procdesc,
                watch: None,
            })),
            pipes: pipes(spawned.pipes),
        })
    }

    fn shared_ready(&self, hint: &mut dyn FnMut(usize)) -> io::Result<()> {
        let Some(shared) = SHARED.get() else {
            return Ok(());
        };
        let drained = shared.registration.get_ref().drain(hint);
        let rearmed = shared.registration.rearm(SHARED_KEY);
        drained.and(rearmed)
    }
}

/// A child and its descriptor; once registered, its knote's queue and key.
#[derive(Debug)]
struct ProcDescProcess {
    procdesc: ProcDesc,
    watch: Option<(&'static ExitQueue, usize)>,
}

impl Process for ProcDescProcess {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        if self.watch.is_some() {
            return Err(io::Error::other("childfd: procdesc registered twice"));
        }
        let queue = shared(poller)?;
        queue.watch(&self.procdesc, key)?;
        self.watch = Some((queue, key));
        Ok(())
    }

    fn rearm(&self) -> io::Result<()> {
        match self.watch {
            Some((queue, key)) => queue.watch(&self.procdesc, key),
            None => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        self.procdesc.try_wait()
    }

    fn kill(&self) -> io::Result<()> {
        self.procdesc.kill().map(drop)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        match group {
            false => self.procdesc.send_signal(sig).map(drop),
            true => self.procdesc.send_signal_to_group(sig).map(drop),
        }
    }

    fn abort(self: Box<Self>) {
        let _ = self.procdesc.kill();
        let _ = self.procdesc.wait();
    }
}

#[cfg(test)]
mod tests;
