//! Windows: a child is its process handle (from `std::process::Child`), watched through
//! polling's IOCP waitables.
//!
//! The handle keeps the process object, and so its id and exit code, alive until it is
//! closed: there is no zombie to reap and no pid to race with, but the handle must stay open
//! until the exit code and the usage below have been read.
//!
//! | step | call | note |
//! |---|---|---|
//! | readiness | `PollerIocpExt::add_waitable` | `RegisterWaitForSingleObject(WT_EXECUTEONLYONCE)` on the Win32 thread pool, whose callback posts an IOCP packet (polling's `iocp/mod.rs`) |
//! | exited? | `WaitForSingleObject(h, 0)` | not `GetExitCodeProcess` alone: a process may exit with 259 (`STILL_ACTIVE`) |
//! | status | `GetExitCodeProcess` | `ExitStatus::from_raw`, as `std::process::Child::try_wait` |
//! | usage | `GetProcessTimes`, `K32GetProcessMemoryInfo` | kernel32's psapi export (Windows 7+), so no psapi.dll import |
//! | kill | `TerminateProcess(h, 1)` | exit code 1, as `std::process::Child::kill` |

mod job;

pub use job::{resume_process, Job, JobAccounting, CREATE_SUSPENDED};
use std::io;
use std::mem::MaybeUninit;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle};
use std::os::windows::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use polling::os::iocp::PollerIocpExt;
use polling::{Event, PollMode, Poller};
use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, FILETIME, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, GetProcessTimes, TerminateProcess, WaitForSingleObject, INFINITE,
};

use crate::exit::{ExitInfo, Usage};

/// Owns a waitable handle while it is registered in a poller, in one-shot mode.
///
/// The Windows counterpart of the Unix `Registration`: `add_waitable` is `unsafe` because the
/// handle must be removed from the poller before it is closed (the thread pool would otherwise
/// wait on a closed, possibly reused, handle value). The handle can only be dropped through
/// `Drop`, which removes it first; no `&mut` access is given, so it cannot be swapped out.
#[derive(Debug)]
pub struct Registration<H: AsHandle> {
    /// # Invariant
    /// Registered in `poller` from `new` until `drop`; never closed before that.
    source: H,
    poller: &'static Poller,
}

impl<H: AsHandle> Registration<H> {
    /// Adds `source` to `poller`: readable under `key`, once, when the object is signalled
    /// (for a process: when it has exited).
    ///
    /// # Errors
    /// `RegisterWaitForSingleObject` failed, or the handle is already in the poller
    /// (`AlreadyExists`). On error `source` is returned with it, still open.
    pub fn new(poller: &'static Poller, source: H, key: usize) -> Result<Self, (io::Error, H)> {
        let raw = source.as_handle().as_raw_handle();
        // SAFETY: `source` moves into the returned value, whose `Drop` removes the handle from
        // `poller` before `source` (and so the handle) is dropped; on error nothing was added.
        match unsafe { poller.add_waitable(raw, Event::readable(key), PollMode::Oneshot) } {
            Ok(()) => Ok(Registration { source, poller }),
            Err(e) => Err((e, source)),
        }
    }

    /// Re-arms the one-shot interest after a readiness that was not an exit.
    ///
    /// # Errors
    /// `RegisterWaitForSingleObject` failed.
    pub fn rearm(&self, key: usize) -> io::Result<()> {
        self.poller.modify_waitable(
            self.source.as_handle(),
            Event::readable(key),
            PollMode::Oneshot,
        )
    }

    /// The registered handle's owner.
    pub fn get_ref(&self) -> &H {
        &self.source
    }
}

impl<H: AsHandle> Drop for Registration<H> {
    fn drop(&mut self) {
        // Only fails for a handle that is not registered, which `new` rules out.
        let _ = self.poller.remove_waitable(self.source.as_handle());
    }
}

/// Collects the exit of `process` (child id `pid`) if it has exited; never blocks.
///
/// The handle stays open: closing it is what releases the process object.
///
/// # Errors
/// What `WaitForSingleObject` or `GetExitCodeProcess` report (`ERROR_ACCESS_DENIED` for a
/// handle without `SYNCHRONIZE`/`PROCESS_QUERY_LIMITED_INFORMATION`; std's handles have both).
pub fn try_wait(process: BorrowedHandle<'_>, pid: u32) -> io::Result<Option<ExitInfo>> {
    match exited(process)? {
        true => exit_info(process, pid).map(Some),
        false => Ok(None),
    }
}

/// Whether the process object is signalled, i.e. the process has exited.
fn exited(process: BorrowedHandle<'_>) -> io::Result<bool> {
    // SAFETY: `process` is a valid, open handle for the lifetime of the borrow.
    match unsafe { WaitForSingleObject(process.as_raw_handle(), 0) } {
        WAIT_OBJECT_0 => Ok(true),
        WAIT_TIMEOUT => Ok(false),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Blocks until `process` has exited, then collects its exit. Only for error paths.
///
/// # Errors
/// As [`try_wait`].
pub fn wait(process: BorrowedHandle<'_>, pid: u32) -> io::Result<ExitInfo> {
    // SAFETY: `process` is a valid, open handle for the lifetime of the borrow.
    match unsafe { WaitForSingleObject(process.as_raw_handle(), INFINITE) } {
        WAIT_OBJECT_0 => exit_info(process, pid),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Ends `process` with exit code 1, as `std::process::Child::kill` does. `Ok` also when it
/// has already exited: the open handle pins the process object, so this can never reach
/// another process.
///
/// # Errors
/// What `TerminateProcess` reports for a process that is still running.
pub fn terminate(process: BorrowedHandle<'_>) -> io::Result<()> {
    // SAFETY: `process` is a valid, open handle for the lifetime of the borrow.
    if unsafe { TerminateProcess(process.as_raw_handle(), 1) } != 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    // Terminating a process that has already exited fails with ERROR_ACCESS_DENIED; std's
    // `Child::kill` turns that into `Ok` after checking the process really exited.
    if error.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32)
        && matches!(exited(process), Ok(true))
    {
        return Ok(());
    }
    Err(error)
}

/// The status and usage of a process known to have exited.
fn exit_info(process: BorrowedHandle<'_>, pid: u32) -> io::Result<ExitInfo> {
    let mut code = 0u32;
    // SAFETY: a valid handle, and a live out-pointer to a u32.
    if unsafe { GetExitCodeProcess(process.as_raw_handle(), &mut code) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ExitInfo {
        pid,
        status: ExitStatus::from_raw(code),
        usage: usage(process),
    })
}

/// CPU times and peak working set; `None` if the times cannot be read. A failing memory query
/// alone leaves `max_rss` at 0 (unknown), as `Exit::max_rss` documents.
fn usage(process: BorrowedHandle<'_>) -> Option<Usage> {
    let mut times = [MaybeUninit::<FILETIME>::zeroed(); 4];
    let [creation, exit, kernel, user] = &mut times;
    // SAFETY: a valid handle and four live, writable FILETIME out-pointers.
    let ok = unsafe {
        GetProcessTimes(
            process.as_raw_handle(),
            creation.as_mut_ptr(),
            exit.as_mut_ptr(),
            kernel.as_mut_ptr(),
            user.as_mut_ptr(),
        )
    };
    if ok == 0 {
        return None;
    }
    // SAFETY: zeroed, then filled by the call: FILETIME is two integers.
    let (kernel, user) = unsafe { (kernel.assume_init(), user.assume_init()) };

    let mut memory = MaybeUninit::<PROCESS_MEMORY_COUNTERS>::zeroed();
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    // SAFETY: a valid handle and a live out-pointer to a structure of `size` bytes.
    let ok = unsafe { K32GetProcessMemoryInfo(process.as_raw_handle(), memory.as_mut_ptr(), size) };
    let max_rss = match ok {
        0 => 0,
        // SAFETY: zeroed, then filled by the call: plain integers.
        _ => unsafe { memory.assume_init() }.PeakWorkingSetSize as u64,
    };
    Some(Usage {
        user: filetime(user),
        system: filetime(kernel),
        max_rss,
    })
}

/// A `FILETIME` used as a duration: 100-nanosecond ticks in two 32-bit halves.
fn filetime(ft: FILETIME) -> Duration {
    let ticks = (u64::from(ft.dwHighDateTime) << 32) | u64::from(ft.dwLowDateTime);
    Duration::new(ticks / 10_000_000, (ticks % 10_000_000) as u32 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_ticks() {
        let ft = |high, low| FILETIME {
            dwHighDateTime: high,
            dwLowDateTime: low,
        };
        assert_eq!(filetime(ft(0, 0)), Duration::ZERO);
        assert_eq!(filetime(ft(0, 15_000_000)), Duration::from_millis(1500));
        assert_eq!(filetime(ft(0, 1)), Duration::from_nanos(100));
        assert_eq!(filetime(ft(1, 0)), Duration::from_nanos((1u64 << 32) * 100));
    }
}
