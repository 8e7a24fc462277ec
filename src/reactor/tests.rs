//! The reactor against a mock backend: readiness that is not an exit, and exits that are.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use platform::{ExitInfo, Registration};
use polling::Poller;

use super::*;

/// A "child" whose descriptor is a socket: writing to the peer makes it ready. It claims to
/// have exited only after `spurious` readiness events that were not exits.
#[derive(Debug)]
struct Mock {
    source: Option<UnixStream>,
    registration: Option<Registration<UnixStream>>,
    key: usize,
    polls: Arc<AtomicUsize>,
    spurious: usize,
    killed: Arc<AtomicUsize>,
}

impl Process for Mock {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        let source = self.source.take().expect("registered once");
        self.registration = Some(Registration::new(poller, source, key).map_err(|(e, _)| e)?);
        self.key = key;
        Ok(())
    }
    fn rearm(&self) -> io::Result<()> {
        self.registration
            .as_ref()
            .map_or(Ok(()), |r| r.rearm(self.key))
    }
    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        if self.polls.fetch_add(1, Ordering::SeqCst) < self.spurious {
            return Ok(None);
        }
        Ok(Some(ExitInfo {
            pid: 42,
            status: ExitStatus::from_raw(7 << 8),
            usage: None,
        }))
    }
    fn kill(&self) -> io::Result<()> {
        self.killed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn signal(&self, _: i32, _: bool) -> io::Result<()> {
        self.kill()
    }
    fn abort(self: Box<Self>) {}
}

/// The mock children are made by the tests themselves, never spawned.
#[derive(Debug)]
struct NoSpawn;

impl Backend for NoSpawn {
    fn spawn(&self, _: &mut Spec, _: Defaults) -> io::Result<crate::backend::Spawned> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

fn reactor() -> &'static Reactor {
    // A private reactor per test; its drivers count is raised so no thread is ever started.
    let r: &'static Reactor = Box::leak(Box::new(
        Reactor::new(&NoSpawn, backend::test_info()).unwrap(),
    ));
    r.drivers.enter();
    r
}

fn mock(spurious: usize) -> (Box<Mock>, UnixStream, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicUsize::new(0));
    let m = Mock {
        source: Some(ours),
        registration: None,
        key: 0,
        polls: polls.clone(),
        spurious,
        killed: killed.clone(),
    };
    (Box::new(m), theirs, polls, killed)
}

#[test]
fn spurious_readiness_rearms_and_a_later_exit_is_delivered() {
    let r = reactor();
    let (m, mut peer, polls, _) = mock(3);
    let state = r.watch(42, m, std::time::Instant::now()).unwrap();
    peer.write_all(b"x").unwrap();
    // Each poll sees readiness (the byte stays unread), and the first three are not exits.
    for expected in 1..=3 {
        r.poll_once(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), expected);
        assert!(state.exit().is_none());
        assert!(r.has_children());
    }
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    let exit = state.exit().unwrap().unwrap();
    assert_eq!(exit.status().code(), Some(7));
    assert!(!r.has_children(), "a reaped child leaves the reactor");
    // The descriptor was deregistered and closed at the reap: its peer sees a broken pipe,
    // and polling again reaps nothing more.
    assert_eq!(
        peer.write(b"y").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
    r.poll_once(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 4);
}

#[test]
fn waiters_all_get_the_same_exit() {
    let r = reactor();
    let (m, mut peer, _, _) = mock(0);
    let state = r.watch(42, m, std::time::Instant::now()).unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let state = state.clone();
            std::thread::spawn(move || futures_lite::future::block_on(state.wait(r)))
        })
        .collect();
    peer.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap().unwrap().status().code(), Some(7));
    }
}

#[test]
fn kill_after_reap_reaches_nobody() {
    let r = reactor();
    let (m, mut peer, _, killed) = mock(0);
    let state = r.watch(42, m, std::time::Instant::now()).unwrap();
    r.kill(&state).unwrap();
    assert_eq!(killed.load(Ordering::SeqCst), 1);
    peer.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    assert!(state.exit().is_some());
    r.kill(&state).unwrap();
    assert_eq!(
        killed.load(Ordering::SeqCst),
        1,
        "the process is gone after the reap"
    );
}

#[test]
fn a_stale_key_is_ignored() {
    let r = reactor();
    let (m, _peer, polls, _) = mock(0);
    let state = r.watch(42, m, std::time::Instant::now()).unwrap();
    r.forget(&state);
    assert!(!r.has_children());
    r.reap(&state);
    assert_eq!(
        polls.load(Ordering::SeqCst),
        0,
        "a forgotten child is not polled"
    );
    assert!(state.exit().is_none());
}
