//! Which signal numbers may be sent, and sending them by pid or process group.
//!
//! Any named signal, and the real-time ones the C library leaves to programs:
//! `SIGRTMIN..=SIGRTMAX` as it defines them at run time (signal(7): glibc keeps 32 and 33 for
//! its threads, musl 32 to 34, so `SIGRTMIN` is a function there). Every other number is
//! `EINVAL`, the kernel's answer for one out of range: the kept ones too, since a program that
//! sends them breaks its C library's threads. rustix's `Signal` covers only the named ones
//! (and its unchecked constructor forbids sending the kept ones), so the numbers go to the
//! system calls as they are, once checked here (issue 14).
//!
//! | | real-time signals |
//! |---|---|
//! | Linux | `SIGRTMIN()..=SIGRTMAX()` (glibc: 34 to 64) |
//! | FreeBSD | 65 to 126 (sys/signal.h; libthr and librt use 32 and 33, `SIGTHR` and `SIGLIBRT`) |
//! | macOS | none |

use std::io;

use rustix::process::Signal;

/// The real-time signals of this C library.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn realtime(sig: i32) -> bool {
    (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&sig)
}

/// The real-time signals of FreeBSD (sys/signal.h); the libc crate lacks the constants.
#[cfg(target_os = "freebsd")]
fn realtime(sig: i32) -> bool {
    (65..=126).contains(&sig)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn realtime(_: i32) -> bool {
    false
}

/// `sig` if this process may send it (see the module doc), else `EINVAL`. `0` is not a
/// signal: callers that accept it as "only check" handle it first.
///
/// # Errors
/// `EINVAL`.
pub(crate) fn checked(sig: i32) -> io::Result<i32> {
    match Signal::from_named_raw(sig).is_some() || realtime(sig) {
        true => Ok(sig),
        false => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

/// `kill(target, sig)` for a checked `sig`: a process if `target > 0`, the process group
/// `-target` if `target < 0`.
///
/// # Errors
/// `ESRCH`, `EPERM`; `EINVAL` for an unchecked `sig`.
pub(crate) fn kill(target: libc::pid_t, sig: i32) -> io::Result<()> {
    if target == 0 || target == libc::pid_t::MIN {
        // 0 would signal our own group; -MIN has no positive counterpart.
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill(2) takes plain integers.
    match unsafe { libc::kill(target, checked(sig)?) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_realtime_signals_pass_others_are_einval() {
        for sig in [libc::SIGHUP, libc::SIGKILL, libc::SIGTERM, libc::SIGUSR1] {
            assert_eq!(checked(sig).unwrap(), sig);
        }
        for sig in [-1, 0, 1000, i32::MAX, i32::MIN] {
            assert_eq!(checked(sig).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        }
        #[cfg(target_os = "linux")]
        {
            for sig in [libc::SIGRTMIN(), libc::SIGRTMIN() + 1, libc::SIGRTMAX()] {
                assert_eq!(checked(sig).unwrap(), sig);
            }
            assert!(checked(libc::SIGRTMAX() + 1).is_err());
            // The C library's own (glibc: 32 and 33).
            for sig in 32..libc::SIGRTMIN() {
                assert!(checked(sig).is_err(), "{sig}");
            }
        }
    }
}
