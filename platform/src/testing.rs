//! Test support, not an API: makes chosen system calls fail, to test the fallbacks.
//!
//! Both filters are irreversible and reach every thread of the process and its future
//! children (seccomp with `SECCOMP_FILTER_FLAG_TSYNC`): only for a throw-away process, a test
//! re-executing itself.

use std::io;

use libc::sock_filter;

/// The audit architecture seccomp reports for this target, if known here.
const AUDIT_ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0xC000_003E)
} else if cfg!(target_arch = "x86") {
    Some(0x4000_0003)
} else if cfg!(target_arch = "aarch64") {
    Some(0xC000_00B7)
} else {
    None
};

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Falls through when the accumulator equals `k`, else skips `jf` instructions.
fn unless_eq(k: u32, jf: u8) -> sock_filter {
    sock_filter {
        code: JEQ_K,
        jt: 0,
        jf,
        k,
    }
}

fn fail_with(errno: i32) -> sock_filter {
    stmt(
        RET_K,
        libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
    )
}

/// Makes each `(syscall number, errno)` fail with that errno.
///
/// Numbers ≥ 424 (the pidfd calls, `clone3`) are the same on every Linux architecture.
/// Never give `clone3` `EPERM`: glibc falls back to `clone` only on `ENOSYS`, so `std`'s
/// spawn would fail (../shared/research/ci.md §4, Docker's profile uses `ENOSYS`).
///
/// # Errors
/// `Unsupported` on an architecture without a known audit number; what `prctl` or `seccomp`
/// report (`ENOSYS` under qemu-user, `EINVAL` without seccomp filters).
pub fn deny_syscalls(rules: &[(u32, i32)]) -> io::Result<()> {
    let arch = AUDIT_ARCH.ok_or(io::ErrorKind::Unsupported)?;
    let n = u8::try_from(rules.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut prog = vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        unless_eq(arch, 2 * n + 1),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
    ];
    for &(nr, errno) in rules {
        prog.push(unless_eq(nr, 1));
        prog.push(fail_with(errno));
    }
    prog.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    install(&mut prog)
}

/// Makes `clone` fail with `errno` when its flags hold `CLONE_PIDFD`, and only then: a sandbox
/// that allows pidfds but not their creation at spawn.
///
/// # Errors
/// As [`deny_syscalls`].
pub fn deny_clone_pidfd(errno: i32) -> io::Result<()> {
    let arch = AUDIT_ARCH.ok_or(io::ErrorKind::Unsupported)?;
    let pidfd = libc::CLONE_PIDFD as u32;
    let mut prog = vec![
        stmt(LD_W_ABS, 4),                    // 0: seccomp_data.arch
        unless_eq(arch, 6),                   // 1: else allow (8)
        stmt(LD_W_ABS, 0),                    // 2: seccomp_data.nr
        unless_eq(libc::SYS_clone as u32, 4), // 3: else allow
        stmt(LD_W_ABS, 16),                   // 4: low word of args[0], the flags
        stmt(AND_K, pidfd),                   // 5
        unless_eq(pidfd, 1),                  // 6: else allow
        fail_with(errno),                     // 7
        stmt(RET_K, libc::SECCOMP_RET_ALLOW), // 8
    ];
    install(&mut prog)
}

fn install(prog: &mut [sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments; seccomp(2) reads `fprog`, which points to `prog`,
    // both alive for the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let ret = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        );
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A global allocator for test binaries: blocks of 32 KiB or more get a `mmap` of their own,
/// smaller ones come from the system allocator. Under [`limit_address_space`], a large
/// allocation then fails at once, as it does in a process whose heap has no room left, while
/// small ones are still served from the heap's free space; with the system allocator alone
/// the outcome would depend on what glibc's arenas happen to hold.
#[derive(Debug)]
pub struct MapLargeAllocs;

const LARGE: usize = 32 * 1024;

fn mapped(layout: std::alloc::Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= 4096
}

// SAFETY: large blocks are fresh private mappings of at least `size` bytes, page-aligned
// (which covers any `align` up to 4096), freed with the same size they were mapped with;
// everything else is forwarded to `System` unchanged.
unsafe impl std::alloc::GlobalAlloc for MapLargeAllocs {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if !mapped(layout) {
            // SAFETY: forwarded from the caller's contract.
            return unsafe { std::alloc::System.alloc(layout) };
        }
        // SAFETY: an anonymous private mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        if !mapped(layout) {
            // SAFETY: forwarded from the caller's contract: `ptr` came from `System`.
            return unsafe { std::alloc::System.dealloc(ptr, layout) };
        }
        // SAFETY: `ptr` is a mapping of `layout.size()` bytes made by `alloc` above.
        unsafe { libc::munmap(ptr.cast(), layout.size()) };
    }
}

/// An address-space cap set by [`limit_address_space`]; dropping it restores the previous
/// soft limit.
#[derive(Debug)]
pub struct AddressSpaceLimit(rustix::process::Rlimit);

impl Drop for AddressSpaceLimit {
    fn drop(&mut self) {
        // Raising the soft limit back up to the hard limit, which was not changed, needs no
        // privilege.
        let _ = rustix::process::setrlimit(rustix::process::Resource::As, self.0);
    }
}

/// Caps this process's address space (`RLIMIT_AS`) at its current size plus `headroom`
/// bytes, until the guard is dropped. See [`MapLargeAllocs`] for a test binary whose heap
/// allocations should meet the cap.
///
/// # Errors
/// What reading `/proc/self/statm` or `setrlimit` report.
pub fn limit_address_space(headroom: u64) -> io::Result<AddressSpaceLimit> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(io::ErrorKind::InvalidData)?;
    // SAFETY: sysconf takes an integer.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let old = getrlimit(Resource::As);
    let cap = pages * page_size + headroom;
    let cap = old.maximum.map_or(cap, |max| cap.min(max));
    setrlimit(
        Resource::As,
        Rlimit {
            current: Some(cap),
            maximum: old.maximum,
        },
    )?;
    Ok(AddressSpaceLimit(old))
}

/// Sets `SIGCHLD` to `SIG_IGN`: the kernel then reaps every child of this process as it
/// exits (wait(2), NOTES), the most thorough of foreign reapers. Irreversible for a test:
/// only for a throw-away process.
///
/// # Errors
/// What `sigaction` reports.
pub fn ignore_sigchld() -> io::Result<()> {
    // SAFETY: sigaction with a zeroed struct whose handler is SIG_IGN; no handler code.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        if libc::sigaction(libc::SIGCHLD, &ignore, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Drops this whole process to user and group `id` (`setgroups`, `setgid`, `setuid`, which
/// glibc applies to every thread), for good: only for a throw-away process.
///
/// # Errors
/// What the calls report (`EPERM` when not root).
pub fn become_user(id: u32) -> io::Result<()> {
    // SAFETY: plain system calls through libc, which keeps all threads' credentials equal.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(id) != 0
            || libc::setuid(id) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A global allocator for test binaries that counts allocations (`alloc`, `alloc_zeroed`,
/// `realloc`), in the whole process and on each thread, and forwards them to `System`.
#[derive(Debug)]
pub struct CountingAlloc;

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

std::thread_local! {
    static THREAD_ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl CountingAlloc {
    /// Allocations so far, by every thread.
    pub fn total() -> u64 {
        ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Allocations so far by the calling thread.
    pub fn this_thread() -> u64 {
        THREAD_ALLOCATIONS.try_with(|n| n.get()).unwrap_or(0)
    }

    /// Allocations per call of `f` on the calling thread, over `runs` calls after ten of
    /// warm-up (what is made once per process or thread is not counted).
    pub fn per_run(runs: u64, f: impl FnMut()) -> f64 {
        Self::per_run_of(CountingAlloc::this_thread, runs, f)
    }

    /// The same, counting every thread's allocations.
    pub fn per_run_total(runs: u64, f: impl FnMut()) -> f64 {
        Self::per_run_of(CountingAlloc::total, runs, f)
    }

    fn per_run_of(count: fn() -> u64, runs: u64, mut f: impl FnMut()) -> f64 {
        for _ in 0..10 {
            f();
        }
        let before = count();
        for _ in 0..runs {
            f();
        }
        (count() - before) as f64 / runs as f64
    }

    fn count() {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A const-initialised Cell has no destructor, so this never touches freed TLS.
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded to `System` with the caller's arguments; counting touches
// only an atomic and a thread-local Cell, and allocates nothing.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        CountingAlloc::count();
        // SAFETY: forwarded from the caller's contract.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        CountingAlloc::count();
        // SAFETY: forwarded from the caller's contract.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        CountingAlloc::count();
        // SAFETY: forwarded from the caller's contract.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}
