//! A descriptor held in a [`Poller`], removed from it before the descriptor is closed.

use std::io;
use std::ops::Deref;
use std::os::unix::io::AsFd;

use polling::{Event, Poller};

/// Owns a descriptor while it is registered in a poller, in one-shot mode.
///
/// `Poller::add` is `unsafe` because the source must be deleted before it is closed; this type
/// is the one place that upholds it: the descriptor can only be dropped through `Drop`, which
/// deletes it first.
///
/// The poller is named by `P`: the process-wide reactor's `&'static Poller`, or an
/// `Arc<Poller>` for a poller of a shorter life (a `ChildSet`'s own), which the registration
/// keeps alive until it has deleted its descriptor.
#[derive(Debug)]
pub struct Registration<F: AsFd, P: Deref<Target = Poller> = &'static Poller> {
    /// # Invariant
    /// Registered in `poller` from `new` until `drop`; never closed before that.
    source: F,
    poller: P,
}

impl<F: AsFd, P: Deref<Target = Poller>> Registration<F, P> {
    /// Adds `source` to `poller` as readable, one-shot, under `key`.
    ///
    /// # Errors
    /// What `epoll_ctl(2)`/`kevent(2)` report, e.g. `ENOMEM`, `ENOSPC` (max_user_watches).
    /// On error, `source` is returned with it so the caller can still use (and close) it.
    pub fn new(poller: P, source: F, key: usize) -> Result<Self, (io::Error, F)> {
        // SAFETY: `source` moves into the returned value, whose `Drop` deletes it from `poller`
        // before the descriptor is dropped; on error nothing was added.
        match unsafe { poller.add(&source.as_fd(), Event::readable(key)) } {
            Ok(()) => Ok(Registration { source, poller }),
            Err(e) => Err((e, source)),
        }
    }

    /// Re-arms the one-shot interest after a readiness that turned out to be spurious.
    ///
    /// # Errors
    /// What `epoll_ctl(EPOLL_CTL_MOD)` reports.
    pub fn rearm(&self, key: usize) -> io::Result<()> {
        self.poller
            .modify(self.source.as_fd(), Event::readable(key))
    }

    /// The registered descriptor.
    pub fn get_ref(&self) -> &F {
        &self.source
    }
}

impl<F: AsFd, P: Deref<Target = Poller>> Drop for Registration<F, P> {
    fn drop(&mut self) {
        // Nothing useful can be done with an error here: the descriptor is closed right after,
        // which removes it from an epoll set anyway.
        let _ = self.poller.delete(self.source.as_fd());
    }
}
