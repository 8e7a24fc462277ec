//! Heap allocations per spawn and wait (issue 11 asks for at most 4 in all: met by blocking
//! waits; under async-io, async-io's own per-source allocations come on top). Measured with a
//! counting allocator, after a warm-up, so that what is made once per process or thread
//! (the reactor, the backend probe, the engine's per-thread buffers) does not count. Counts
//! are printed; only the spawn engine's own share, which runs on the calling thread alone,
//! is asserted here.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::ffi::OsString;

use platform::testing::CountingAlloc;
use platform::unix::prepare::SpawnRequest;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const RUNS: u64 = 100;

/// Spawns `program` (`true`) through the engine alone (`platform::linux::spawn`) and reaps
/// it.
fn engine_spawn_and_wait(program: &str, env: &BTreeMap<OsString, Option<OsString>>) {
    let req = request(program, env);
    let spawned = platform::linux::spawn(&req, &mut [], true).unwrap();
    let exit = spawned.pidfd.unwrap().wait().unwrap();
    assert!(exit.status.success());
}

fn request<'a>(
    program: &'a str,
    env: &'a BTreeMap<OsString, Option<OsString>>,
) -> SpawnRequest<'a> {
    SpawnRequest::new(program.as_ref(), &[], env)
}

/// Allocations per run of `f`, on this thread, after a warm-up.
fn per_run(f: impl FnMut()) -> f64 {
    CountingAlloc::per_run(RUNS, f)
}

#[test]
fn allocations_per_spawn_and_wait() {
    let no_env = BTreeMap::new();
    let engine = per_run(|| engine_spawn_and_wait("true", &no_env));
    let engine_path = per_run(|| engine_spawn_and_wait("/bin/true", &no_env));
    let mut env = BTreeMap::new();
    env.insert(
        OsString::from("CHILDFD_ALLOC_TEST"),
        Some(OsString::from("1")),
    );
    let engine_env = per_run(|| engine_spawn_and_wait("true", &env));

    // Through the public API, every thread counted (async-io's and the reactor's too).
    let total = |run: &dyn Fn()| CountingAlloc::per_run_total(RUNS, run);
    // One command spawned again and again, as a job runner does; building a `Command` is
    // std's (and counted apart).
    let command = std::cell::RefCell::new(childfd::Command::new("/bin/true"));
    let async_io = total(&|| {
        let mut child = command.borrow_mut().spawn().unwrap();
        assert!(async_io::block_on(child.status()).unwrap().success());
    });
    // A blocking wait makes every allocation on the calling thread: counted there alone, so
    // that a background thread's (async-io's, idling after the runs above) cannot blur it.
    let blocking = per_run(|| {
        let mut child = command.borrow_mut().spawn().unwrap();
        assert!(child.wait_blocking().unwrap().status().success());
    });
    let no_reactor = total(&|| {
        let mut child = command.borrow_mut().spawn().unwrap();
        assert!(futures_lite::future::block_on(child.status())
            .unwrap()
            .success());
    });
    let build = total(&|| drop(childfd::Command::new("/bin/true")));
    // The async-io floor: the engine's spawn, the pidfd awaited as an async-io source, then
    // waitid: what async-io itself allocates per watched child.
    let floor = total(&|| {
        let req = request("/bin/true", &no_env);
        let spawned = platform::linux::spawn(&req, &mut [], true).unwrap();
        let fd = std::sync::Arc::new(spawned.pidfd.unwrap());
        let source = async_io::Async::new_nonblocking(fd.clone()).unwrap();
        async_io::block_on(source.readable()).unwrap();
        drop(source);
        assert!(fd.try_wait().unwrap().unwrap().status.success());
    });
    println!(
        "allocations per spawn + wait of /bin/true through childfd::Command, all threads: \
         {async_io:.2} (async_io::block_on), {blocking:.2} (wait_blocking, on its thread), {no_reactor:.2} \
         (futures_lite's block_on); building the Command: {build:.2}; the async-io floor (engine \
         spawn, pidfd as an async-io source, waitid): {floor:.2}; spawn engine alone: {engine:.2} (`true`), \
         {engine_path:.2} (`/bin/true`), {engine_env:.2} (`true`, one variable set: std \
         copies the environment)"
    );
    // The engine's buffers and the child's stack are the thread's from the warm-up on; what
    // remains is std's copy of PATH, which it offers no other way to read under its lock.
    assert_eq!(engine_path, 0.0);
    // The crate's own share, with pidfds: the child's shared state and the pidfd's `Arc`
    // (which lets a waiter's watch outlive the reap safely); the backend's handle is kept
    // inline (issue 13). Under async-io, add what async-io allocates per watched source, which
    // its floor pays too. (The `thread` backend starts a helper thread per child: not this
    // budget.)
    let backend = childfd::backend().unwrap();
    if backend.name() == "pidfd" {
        assert!(blocking <= 2.0, "{blocking}");
        // async-io's own count varies by a fraction from run to run (whether a wake-up finds
        // its waker list allocated), in the floor as in the crate: compare the difference.
        assert!(
            async_io - floor <= 1.5,
            "{async_io} against the floor's {floor}"
        );
    } else {
        eprintln!("SKIP: the crate's allocation budget is for the pidfd backend, not {backend}");
    }
    assert!(engine <= 1.0, "{engine}");
}
