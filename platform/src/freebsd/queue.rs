//! The private kqueue that turns many process descriptors into one pollable descriptor.
//!
//! A process descriptor accepts only the kqueue filter `EVFILT_PROCDESC` (procdesc_kqfilter
//! answers `EINVAL` to `EVFILT_READ`, so `polling` and `async-io` cannot watch it). A kqueue
//! descriptor, though, is readable while it holds events (`filt_kqueue`), so one queue holds
//! an exit knote per child and is itself registered, once, in the reactor's poller.

use std::io;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::decide::{self, Kevent};
use super::ProcDesc;

/// A kqueue of child exits. Each knote's `udata` is the reactor's key of its child.
#[derive(Debug)]
pub struct ExitQueue {
    kq: OwnedFd,
}

/// Events read per `kevent` call while draining (64 bytes each, on the stack).
const BATCH: usize = 32;

impl ExitQueue {
    /// A new, empty queue.
    ///
    /// # Errors
    /// `EMFILE`, `ENFILE`, `ENOMEM`.
    #[doc(alias = "kqueue")]
    pub fn new() -> io::Result<ExitQueue> {
        // SAFETY: kqueue(2) takes no argument.
        let fd = unsafe { libc::kqueue() };
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        let kq = unsafe { OwnedFd::from_raw_fd(fd) };
        // A kqueue is not inherited by fork (kevent(2)); close-on-exec covers the rest (an
        // rfork sharing the descriptor table), as kqueuex(KQUEUE_CLOEXEC) would on 14.0+.
        rustix::io::fcntl_setfd(&kq, rustix::io::FdFlags::CLOEXEC)?;
        Ok(ExitQueue { kq })
    }

    /// Watches `child` for its exit, tagged `key`; again after a readiness that was not an
    /// exit, or after a reap that found the child still running.
    ///
    /// # Errors
    /// `ENOMEM`; `EBADF` if the descriptor is not a process descriptor.
    pub fn watch(&self, child: &ProcDesc, key: usize) -> io::Result<()> {
        let change =
            decide::watch_exit(child.as_raw_fd(), key).ok_or(io::ErrorKind::InvalidInput)?;
        // No event list: a failed change is reported as -1 and errno (kevent(2)).
        kevent(self.kq.as_fd(), &[to_libc(change)], &mut [])?;
        Ok(())
    }

    /// Reads every pending event without blocking and calls `hint` with the key of each
    /// child that may have exited. Exit knotes are one-shot: once read, they are gone.
    ///
    /// # Errors
    /// What `kevent(2)` reports (not `EINTR`, which is retried).
    pub fn drain(&self, hint: &mut dyn FnMut(usize)) -> io::Result<()> {
        loop {
            // SAFETY: `struct kevent` is plain data; all-zero is valid (a null udata).
            let mut events: [libc::kevent; BATCH] = unsafe { std::mem::zeroed() };
            let n = kevent(self.kq.as_fd(), &[], &mut events)?;
            for ev in events.iter().take(n) {
                if let Some(key) = decide::hinted_key(&from_libc(ev)) {
                    hint(key);
                }
            }
            if !decide::drain_again(n, BATCH) {
                return Ok(());
            }
        }
    }
}

impl AsFd for ExitQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.kq.as_fd()
    }
}

/// The wait status that the process descriptor `fd` holds, if its process has exited:
/// asked of a throw-away queue, where a new exit knote fires at once after the exit
/// (procdesc_kqops_event, on attach). `None` while the process runs.
pub(crate) fn exit_status(fd: BorrowedFd<'_>) -> io::Result<Option<i32>> {
    let queue = ExitQueue::new()?;
    let change = decide::watch_exit(fd.as_raw_fd(), 0).ok_or(io::ErrorKind::InvalidInput)?;
    // SAFETY: as in `drain`.
    let mut events: [libc::kevent; 1] = unsafe { std::mem::zeroed() };
    // Changes are applied before events are read, in the same call (kevent(2)).
    let n = kevent(queue.kq.as_fd(), &[to_libc(change)], &mut events)?;
    Ok(events
        .iter()
        .take(n)
        .find_map(|ev| decide::exit_status(&from_libc(ev))))
}

/// `kevent(2)` with a zero timeout: applies `changes`, then returns how many events it wrote
/// to `events`. Retries `EINTR`.
fn kevent(
    kq: BorrowedFd<'_>,
    changes: &[libc::kevent],
    events: &mut [libc::kevent],
) -> io::Result<usize> {
    let nchanges = libc::c_int::try_from(changes.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let nevents = libc::c_int::try_from(events.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: kevent(2) reads `nchanges` records from `changes` and writes at most
        // `nevents` records to `events`, both live slices of exactly those lengths; the
        // timeout points to a live timespec; `kq` is a kqueue descriptor we own.
        let n = unsafe {
            libc::kevent(
                kq.as_raw_fd(),
                changes.as_ptr(),
                nchanges,
                events.as_mut_ptr(),
                nevents,
                &zero,
            )
        };
        match usize::try_from(n) {
            Ok(n) => return Ok(n.min(events.len())),
            Err(_) if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(io::Error::last_os_error()),
        }
    }
}

fn to_libc(k: Kevent) -> libc::kevent {
    // SAFETY: as in `drain`.
    let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
    ev.ident = k.ident;
    ev.filter = k.filter;
    ev.flags = k.flags;
    ev.fflags = k.fflags;
    ev.data = k.data;
    // The key travels as an integer in a pointer-sized field; the kernel never dereferences
    // it, and nothing here does either (a pointer without provenance, as Miri prefers).
    ev.udata = std::ptr::null_mut::<u8>().wrapping_add(k.udata).cast();
    ev
}

fn from_libc(ev: &libc::kevent) -> Kevent {
    Kevent {
        ident: ev.ident,
        filter: ev.filter,
        flags: ev.flags,
        fflags: ev.fflags,
        data: ev.data,
        udata: ev.udata as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs under Miri with `--target x86_64-unknown-freebsd`: the conversion touches no
    /// kernel, and the key must survive the pointer-sized `udata` field.
    #[test]
    fn kevents_convert_both_ways() {
        for key in [0, 1, 4096, usize::MAX - 2] {
            let change = decide::watch_exit(9, key).unwrap();
            let raw = to_libc(change);
            assert_eq!((raw.ident, raw.filter), (9, libc::EVFILT_PROCDESC));
            assert_eq!((raw.flags, raw.fflags), (libc::EV_ADD, libc::NOTE_EXIT));
            assert_eq!(from_libc(&raw), change);
        }
    }
}
