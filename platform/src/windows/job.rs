//! Windows jobs (issue 15): a job object per job.
//!
//! | step | call | note |
//! |---|---|---|
//! | create | `CreateJobObjectW(NULL, NULL)` | unnamed; closed with the `Job` (the kernel keeps it while a process is in it) |
//! | assign | `AssignProcessToJobObject` | while the child is still suspended (`CREATE_SUSPENDED`), so nothing it starts escapes |
//! | resume | `ResumeThread` on each thread of the child | std does not hand out the main thread's handle: its threads are found with a Toolhelp snapshot (a suspended new process has one) |
//! | kill | `TerminateJobObject(job, 1)` | exit code 1, as `TerminateProcess` in `Child::kill` |
//! | end, accounting | `QueryInformationJobObject` | `ActiveProcesses`, `TotalUserTime`, `TotalKernelTime` (basic accounting), `PeakJobMemoryUsed` (extended limits) |

use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, TerminateJobObject,
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
};
use windows_sys::Win32::System::Threading::{OpenThread, ResumeThread, THREAD_SUSPEND_RESUME};

/// `CREATE_SUSPENDED`, for `std`'s `creation_flags`.
pub const CREATE_SUSPENDED: u32 = windows_sys::Win32::System::Threading::CREATE_SUSPENDED;

/// A job object.
#[derive(Debug)]
pub struct Job(OwnedHandle);

/// What a job used, from the job object.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobAccounting {
    /// Processes of the job still running.
    pub active: u32,
    /// User time of every process that was in the job, in 100 ns ticks.
    pub user_ticks: u64,
    /// Kernel time, likewise.
    pub kernel_ticks: u64,
    /// The job's peak committed memory, in bytes.
    pub peak: u64,
}

impl Job {
    /// A new, unnamed job object.
    ///
    /// # Errors
    /// What `CreateJobObjectW` reports.
    pub fn new() -> io::Result<Job> {
        // SAFETY: both pointers may be null (default security, no name).
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a handle the call just created and that nothing else owns.
        Ok(Job(unsafe { OwnedHandle::from_raw_handle(handle) }))
    }

    /// Puts `process` in the job; what it starts from then on is in the job too.
    ///
    /// # Errors
    /// What `AssignProcessToJobObject` reports (`ERROR_ACCESS_DENIED` for a process already
    /// in a job that does not allow nesting, before Windows 8).
    pub fn assign(&self, process: BorrowedHandle<'_>) -> io::Result<()> {
        // SAFETY: two live handles, borrowed for the call.
        let ok =
            unsafe { AssignProcessToJobObject(self.0.as_raw_handle(), process.as_raw_handle()) };
        match ok {
            0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// Ends every process of the job, with exit code 1.
    ///
    /// # Errors
    /// What `TerminateJobObject` reports.
    pub fn terminate(&self) -> io::Result<()> {
        // SAFETY: a live job handle, borrowed for the call.
        match unsafe { TerminateJobObject(self.0.as_raw_handle(), 1) } {
            0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// The job's accounting now.
    ///
    /// # Errors
    /// What `QueryInformationJobObject` reports.
    pub fn accounting(&self) -> io::Result<JobAccounting> {
        let mut basic = JOBOBJECT_BASIC_ACCOUNTING_INFORMATION::default();
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        // SAFETY: a live job handle, and each buffer is the structure its class fills, with its
        // size.
        unsafe {
            if QueryInformationJobObject(
                self.0.as_raw_handle(),
                JobObjectBasicAccountingInformation,
                (&mut basic as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast(),
                std::mem::size_of_val(&basic) as u32,
                std::ptr::null_mut(),
            ) == 0
            {
                return Err(io::Error::last_os_error());
            }
            if QueryInformationJobObject(
                self.0.as_raw_handle(),
                JobObjectExtendedLimitInformation,
                (&mut limits as *mut JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of_val(&limits) as u32,
                std::ptr::null_mut(),
            ) == 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(JobAccounting {
            active: basic.ActiveProcesses,
            user_ticks: u64::try_from(basic.TotalUserTime).unwrap_or(0),
            kernel_ticks: u64::try_from(basic.TotalKernelTime).unwrap_or(0),
            peak: limits.PeakJobMemoryUsed as u64,
        })
    }
}

/// Resumes every thread of process `pid`: a process created with `CREATE_SUSPENDED`, whose
/// main thread `std` does not hand out. Returns how many were resumed.
///
/// # Errors
/// The snapshot or a thread could not be opened or resumed.
pub fn resume_process(pid: u32) -> io::Result<usize> {
    // SAFETY: a snapshot of every thread of the system (the process id is ignored for threads).
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a handle the call just created and that nothing else owns.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(snapshot) };
    let mut entry = THREADENTRY32 {
        dwSize: std::mem::size_of::<THREADENTRY32>() as u32,
        ..THREADENTRY32::default()
    };
    let mut resumed = 0;
    // SAFETY: the live snapshot, and an entry whose dwSize says its size.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle(), &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: OpenThread takes plain values.
            let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if thread.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: the thread handle just opened, closed right after.
            let count = unsafe { ResumeThread(thread) };
            let error = io::Error::last_os_error();
            // SAFETY: as above; nothing else owns it.
            unsafe { CloseHandle(thread) };
            if count == u32::MAX {
                return Err(error);
            }
            resumed += 1;
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle(), &mut entry) } != 0;
    }
    Ok(resumed)
}
