//! What a reap returns: the wait status and the resource usage the kernel reported with it.
// The conversions serve the descriptor backends of Linux and FreeBSD.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

/// The result of reaping one child: the `Waitmsg` of Plan 9, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The child's process id.
    pub pid: u32,
    /// The status in `wait(2)` format, as `std` represents it.
    pub status: ExitStatus,
    /// Resource usage of the child (not of its own reaped descendants' sum, see
    /// `getrusage(2)`: `RUSAGE_CHILDREN` semantics apply to the reaped child only).
    /// `None` when the kernel did not report it (the status came from another source).
    pub usage: Option<Usage>,
}

/// CPU time and peak memory of a reaped child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Time spent in user mode.
    pub user: Duration,
    /// Time spent in the kernel on the child's behalf.
    pub system: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss: u64,
}

/// Bytes in one unit of `ru_maxrss`: KiB on Linux and the BSDs, bytes on Apple's systems
/// (their getrusage(2): "the maximum resident set size utilized (in bytes)").
#[cfg(unix)]
const MAXRSS_UNIT: u64 = if cfg!(any(target_os = "macos", target_os = "ios")) {
    1
} else {
    1024
};

#[cfg(unix)]
impl Usage {
    /// Converts a `struct rusage` (see [`MAXRSS_UNIT`]).
    pub(crate) fn from_rusage(ru: &libc::rusage) -> Usage {
        Usage {
            user: timeval(ru.ru_utime),
            system: timeval(ru.ru_stime),
            max_rss: u64::try_from(ru.ru_maxrss)
                .unwrap_or(0)
                .saturating_mul(MAXRSS_UNIT),
        }
    }
}

#[cfg(unix)]
fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0).min(999_999);
    Duration::new(secs, micros * 1000)
}

/// Rebuilds the `wait(2)` status word from the `si_code`/`si_status` pair `waitid(2)` reports,
/// the encoding glibc's `WIFEXITED` family and std's `ExitStatus::from_raw` expect.
///
/// Returns `None` for a code that is not an exit (stops and continues are never requested).
#[cfg(unix)]
pub(crate) fn wait_status(si_code: i32, si_status: i32) -> Option<ExitStatus> {
    let raw = match si_code {
        libc::CLD_EXITED => (si_status & 0xff) << 8,
        libc::CLD_KILLED => si_status & 0x7f,
        libc::CLD_DUMPED => (si_status & 0x7f) | 0x80,
        _ => return None,
    };
    Some(ExitStatus::from_raw(raw))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_round_trip() {
        for code in [0, 1, 7, 127, 255] {
            let st = wait_status(libc::CLD_EXITED, code).unwrap();
            assert_eq!(st.code(), Some(code));
            assert_eq!(st.signal(), None);
        }
    }

    #[test]
    fn signals_and_core_dumps() {
        let st = wait_status(libc::CLD_KILLED, libc::SIGKILL).unwrap();
        assert_eq!(
            (st.code(), st.signal(), st.core_dumped()),
            (None, Some(9), false)
        );
        let st = wait_status(libc::CLD_DUMPED, libc::SIGSEGV).unwrap();
        assert_eq!((st.signal(), st.core_dumped()), (Some(libc::SIGSEGV), true));
    }

    #[test]
    fn stops_are_not_exits() {
        assert_eq!(wait_status(libc::CLD_STOPPED, libc::SIGSTOP), None);
        assert_eq!(wait_status(libc::CLD_CONTINUED, libc::SIGCONT), None);
    }

    #[test]
    fn rusage_units() {
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        ru.ru_utime.tv_sec = 1;
        ru.ru_utime.tv_usec = 500_000;
        ru.ru_stime.tv_usec = 250;
        ru.ru_maxrss = 1580;
        let u = Usage::from_rusage(&ru);
        assert_eq!(u.user, Duration::from_millis(1500));
        assert_eq!(u.system, Duration::from_micros(250));
        #[cfg(not(any(target_os = "macos", target_os = "ios")))]
        assert_eq!(u.max_rss, 1580 * 1024);
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        assert_eq!(u.max_rss, 1580);
    }
}
