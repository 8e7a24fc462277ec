//! The FreeBSD backend's decisions, as pure functions over plain integers.
//!
//! Nothing here calls the kernel: this file is compiled on every Unix for its unit tests (and
//! runs under Miri with `--target x86_64-unknown-freebsd`), so that only the thin layer of
//! system calls around it (`procdesc.rs`, `queue.rs`, `spawn.rs`) goes untested where no
//! FreeBSD machine runs. `libc` defines FreeBSD's constants only for FreeBSD, so they are
//! restated here, and a test on FreeBSD checks them against `libc`.
// Elsewhere than FreeBSD only the tests use these.
#![cfg_attr(not(target_os = "freebsd"), allow(dead_code))]

/// pdfork(2): the last close does not kill the child.
pub(crate) const PD_DAEMON: i32 = 0x1;
/// pdfork(2): the descriptor is close-on-exec (not the default, unlike a Linux pidfd).
pub(crate) const PD_CLOEXEC: i32 = 0x2;
/// kevent(2): the filter of process descriptors, the only one procdesc_kqfilter accepts.
pub(crate) const EVFILT_PROCDESC: i16 = -8;
/// kevent(2), `EVFILT_PROCDESC`: the process exited; `data` holds its wait status.
pub(crate) const NOTE_EXIT: u32 = 0x8000_0000;
pub(crate) const EV_ADD: u16 = 0x1;
pub(crate) const EV_ERROR: u16 = 0x4000;

/// The `pdfork` flags for a child. `PD_CLOEXEC` always: otherwise a sibling that execs later
/// inherits the descriptor, delays the last close and can signal our child.
///
/// `PD_DAEMON` unless the child must die with its descriptor: without it, closing the last
/// descriptor of a live child sends it `SIGKILL` (pdfork(2)), whether the close is ours or
/// the kernel's when this process exits. That is `kill_on_drop` enforced by the kernel, and
/// the wrong default for every other child, which `std` lets outlive its parent.
pub(crate) fn pdfork_flags(kill_on_close: bool) -> i32 {
    match kill_on_close {
        true => PD_CLOEXEC,
        false => PD_CLOEXEC | PD_DAEMON,
    }
}

/// The fields of a `struct kevent` this backend reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Kevent {
    pub(crate) ident: usize,
    pub(crate) filter: i16,
    pub(crate) flags: u16,
    pub(crate) fflags: u32,
    pub(crate) data: i64,
    /// The reactor's key of the child, carried through the kernel untouched.
    pub(crate) udata: usize,
}

/// The change that watches the process descriptor `fd` for the child's exit, tagged `key`.
///
/// Adding it again for the same descriptor only updates it (kevent(2), `EV_ADD`); added after
/// the exit, it fires at once (the attach test of procdesc_kqops_event sees `PDF_EXITED`).
/// The kernel makes the knote `EV_CLEAR`, and `EV_ONESHOT` once the exit fires. Closing the
/// descriptor deletes it (kevent(2): "Calling close() on a file descriptor will remove any
/// kevents that reference the descriptor").
pub(crate) fn watch_exit(fd: i32, key: usize) -> Option<Kevent> {
    Some(Kevent {
        ident: usize::try_from(fd).ok()?,
        filter: EVFILT_PROCDESC,
        flags: EV_ADD,
        fflags: NOTE_EXIT,
        data: 0,
        udata: key,
    })
}

/// The key of the child a drained event may be about. Every event this queue can hold is for
/// one of its knotes, and any of them (an exit, an error) is only a hint: the reactor then
/// asks the child itself, with a non-blocking reap. `None` for a filter it never registered.
pub(crate) fn hinted_key(ev: &Kevent) -> Option<usize> {
    (ev.filter == EVFILT_PROCDESC).then_some(ev.udata)
}

/// The wait status an exit event carries (kevent(2): "The exit status will be stored in
/// data"). `None` for anything else: an `EV_ERROR` event carries an errno in `data`.
pub(crate) fn exit_status(ev: &Kevent) -> Option<i32> {
    if ev.filter != EVFILT_PROCDESC || ev.flags & EV_ERROR != 0 || ev.fflags & NOTE_EXIT == 0 {
        return None;
    }
    i32::try_from(ev.data).ok()
}

/// Whether a drain must call `kevent` again: a full buffer may have left events in the queue.
pub(crate) fn drain_again(returned: usize, capacity: usize) -> bool {
    returned >= capacity
}

/// What the reap of a child should do next, from `pdkill(fd, 0)`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The process still exists (running, or a zombie): `wait4` on its pid, which the
    /// unreaped process still pins.
    WaitPid,
    /// The descriptor refers to no process any more (`ESRCH`: procdesc_find found
    /// `pd_proc == NULL`): someone else reaped it, and its pid may already name another
    /// process, so it must not be waited for by pid. Its status is still in the descriptor.
    Stolen,
    /// Another error: report it.
    Fail(i32),
}

/// Decides from `pdkill(fd, 0)` (`Ok` or the errno) whether a pid-based reap is safe.
pub(crate) fn probe(pdkill: Result<(), i32>, esrch: i32) -> Probe {
    match pdkill {
        Ok(()) => Probe::WaitPid,
        Err(e) if e == esrch => Probe::Stolen,
        Err(e) => Probe::Fail(e),
    }
}

/// What a `wait4(pid, ..., WNOHANG, ...)` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The child was reaped; the status word and rusage are filled in.
    Reaped,
    /// Still running (`0`, wait(2): "if WNOHANG is specified and there are no ... exited
    /// children, 0 is returned").
    Running,
    /// `EINTR`: try again.
    Again,
    /// `ECHILD`: the child was reaped by someone else between the probe and the wait.
    Stolen,
    /// Another error.
    Fail(i32),
    /// A pid that is not the one waited for: a kernel or libc this code does not understand.
    Unexpected(i32),
}

/// Reads `wait4`'s return value (and errno, if it returned -1).
pub(crate) fn waited(ret: i32, pid: i32, errno: i32, (eintr, echild): (i32, i32)) -> Waited {
    match ret {
        0 => Waited::Running,
        -1 if errno == eintr => Waited::Again,
        -1 if errno == echild => Waited::Stolen,
        -1 => Waited::Fail(errno),
        r if r == pid => Waited::Reaped,
        // wait4 with a positive pid reports that pid or nothing.
        r => Waited::Unexpected(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESRCH: i32 = 3;
    const EINTR: i32 = 4;
    const ECHILD: i32 = 10;

    #[test]
    fn pdfork_flags_keep_the_child_unless_killing_on_close() {
        assert_eq!(pdfork_flags(false), PD_CLOEXEC | PD_DAEMON);
        assert_eq!(pdfork_flags(true), PD_CLOEXEC);
        for kill in [false, true] {
            assert_ne!(pdfork_flags(kill) & PD_CLOEXEC, 0, "never inheritable");
        }
    }

    #[test]
    fn the_exit_knote_carries_the_key() {
        let ev = watch_exit(7, 42).unwrap();
        assert_eq!(
            (ev.ident, ev.filter, ev.flags),
            (7, EVFILT_PROCDESC, EV_ADD)
        );
        assert_eq!((ev.fflags, ev.udata), (NOTE_EXIT, 42));
        assert_eq!(watch_exit(-1, 42), None, "no descriptor, no knote");
        // Keys near the reserved ones pass through a pointer-sized field unchanged.
        assert_eq!(watch_exit(3, usize::MAX - 2).unwrap().udata, usize::MAX - 2);
    }

    #[test]
    fn every_procdesc_event_hints_its_key() {
        let exit = Kevent {
            ident: 7,
            filter: EVFILT_PROCDESC,
            flags: EV_ADD | 0x8000 | 0x10, // EV_EOF | EV_ONESHOT, as the kernel sets them
            fflags: NOTE_EXIT,
            data: 3 << 8,
            udata: 5,
        };
        assert_eq!(hinted_key(&exit), Some(5));
        let error = Kevent {
            flags: EV_ERROR,
            fflags: 0,
            data: 9, // EBADF
            ..exit
        };
        assert_eq!(hinted_key(&error), Some(5), "an error is a hint too");
        let foreign = Kevent {
            filter: -1, // EVFILT_READ
            ..exit
        };
        assert_eq!(hinted_key(&foreign), None);
    }

    #[test]
    fn only_an_exit_carries_a_status() {
        let exit = Kevent {
            filter: EVFILT_PROCDESC,
            fflags: NOTE_EXIT,
            data: 0x0900, // exited with 9
            ..Kevent::default()
        };
        assert_eq!(exit_status(&exit), Some(0x0900));
        let killed = Kevent { data: 9, ..exit };
        assert_eq!(exit_status(&killed), Some(9));
        let error = Kevent {
            flags: EV_ERROR,
            data: 22,
            ..exit
        };
        assert_eq!(exit_status(&error), None);
        let no_note = Kevent { fflags: 0, ..exit };
        assert_eq!(exit_status(&no_note), None);
        let huge = Kevent {
            data: i64::from(i32::MAX) + 1,
            ..exit
        };
        assert_eq!(exit_status(&huge), None);
    }

    #[test]
    fn a_full_buffer_is_drained_again() {
        assert!(drain_again(32, 32));
        assert!(!drain_again(31, 32));
        assert!(!drain_again(0, 32));
    }

    #[test]
    fn a_reaped_descriptor_is_never_waited_for_by_pid() {
        assert_eq!(probe(Ok(()), ESRCH), Probe::WaitPid);
        assert_eq!(probe(Err(ESRCH), ESRCH), Probe::Stolen);
        assert_eq!(probe(Err(1), ESRCH), Probe::Fail(1));
    }

    #[test]
    fn wait4_results() {
        let errnos = (EINTR, ECHILD);
        assert_eq!(waited(0, 77, 0, errnos), Waited::Running);
        assert_eq!(waited(77, 77, 0, errnos), Waited::Reaped);
        assert_eq!(waited(-1, 77, EINTR, errnos), Waited::Again);
        assert_eq!(waited(-1, 77, ECHILD, errnos), Waited::Stolen);
        assert_eq!(waited(-1, 77, 22, errnos), Waited::Fail(22));
        assert_eq!(waited(78, 77, 0, errnos), Waited::Unexpected(78));
    }

    /// The constants above are FreeBSD's own (sys/procdesc.h, sys/event.h, sys/errno.h).
    #[cfg(target_os = "freebsd")]
    #[test]
    fn constants_match_libc() {
        assert_eq!(PD_DAEMON, libc::PD_DAEMON);
        assert_eq!(PD_CLOEXEC, libc::PD_CLOEXEC);
        assert_eq!(EVFILT_PROCDESC, libc::EVFILT_PROCDESC);
        assert_eq!(NOTE_EXIT, libc::NOTE_EXIT);
        assert_eq!(EV_ADD, libc::EV_ADD);
        assert_eq!(EV_ERROR, libc::EV_ERROR);
        assert_eq!(0x8000 | 0x10, libc::EV_EOF | libc::EV_ONESHOT);
        assert_eq!(-1, libc::EVFILT_READ);
        assert_eq!(
            (ESRCH, EINTR, ECHILD),
            (libc::ESRCH, libc::EINTR, libc::ECHILD)
        );
    }
}
