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
use crate::backend::Process;

/// Adopts a mock child, as a dropped `Child` is.
fn watch(r: &'static Reactor, m: Box<Mock>) -> Arc<ChildState> {
    let state = ChildState::new(42, Instant::now(), crate::backend::Held::Boxed(m));
    r.adopt(&state).unwrap();
    state
}

fn key(state: &ChildState) -> usize {
    state.slot().key.expect("adopted")
}

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
    let state = watch(r, m);
    peer.write_all(b"x").unwrap();
    // Each readiness is seen (the byte stays unread), and the first three are not exits. From
    // the second on, the child is watched again only after a delay: polls in between see
    // nothing, so a child that stays readable without exiting cannot make the reactor spin.
    let started = Instant::now();
    for expected in 1..=3 {
        while polls.load(Ordering::SeqCst) < expected {
            r.poll_once(Some(Duration::from_secs(5))).unwrap();
        }
        assert_eq!(polls.load(Ordering::SeqCst), expected);
        assert!(state.exit().is_none());
        assert!(r.has_children());
    }
    assert!(started.elapsed() >= spurious_delay(2));
    while state.exit().is_none() {
        r.poll_once(Some(Duration::from_secs(5))).unwrap();
    }
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
    let state = watch(r, m);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let state = state.clone();
            std::thread::spawn(move || {
                futures_lite::future::block_on(crate::wait::exited(&state, r))
            })
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
    let state = watch(r, m);
    state.kill().unwrap();
    assert_eq!(killed.load(Ordering::SeqCst), 1);
    peer.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    assert!(state.exit().is_some());
    state.kill().unwrap();
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
    let state = watch(r, m);
    r.release(&state);
    assert!(!r.has_children());
    r.reap(&state);
    assert_eq!(
        polls.load(Ordering::SeqCst),
        0,
        "a released child is not polled"
    );
    assert!(
        state.exit().unwrap().is_err(),
        "its waiters are told it was released"
    );
}

/// A backend that watches its children through one source under `SHARED_KEY`, as FreeBSD's
/// kqueue of exits does: a socket the test makes readable, and the keys its "kernel" reports.
#[derive(Debug, Default)]
struct SharedSource {
    source: OnceLock<Registration<UnixStream>>,
    reported: Mutex<Vec<usize>>,
    drains: AtomicUsize,
}

impl Backend for SharedSource {
    fn spawn(&self, _: &mut Spec, _: Defaults) -> io::Result<crate::backend::Spawned> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn shared_ready(&self, hint: &mut dyn FnMut(usize)) -> io::Result<()> {
        use std::io::Read;
        self.drains.fetch_add(1, Ordering::SeqCst);
        let registration = self.source.get().expect("registered by the test");
        let mut buf = [0u8; 64];
        let _ = registration.get_ref().read(&mut buf);
        for key in std::mem::take(&mut *lock(&self.reported)) {
            hint(key);
        }
        registration.rearm(backend::SHARED_KEY)
    }
}

/// A reactor whose backend has a shared source, and the peer that makes it readable.
fn shared_reactor() -> (&'static Reactor, &'static SharedSource, UnixStream) {
    let backend: &'static SharedSource = Box::leak(Box::default());
    let r: &'static Reactor = Box::leak(Box::new(
        Reactor::new(backend, backend::test_info()).unwrap(),
    ));
    r.drivers.enter();
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let registration = Registration::new(&r.poller, ours, backend::SHARED_KEY).unwrap();
    backend.source.set(registration).unwrap();
    (r, backend, theirs)
}

#[test]
fn a_shared_source_names_the_children_to_reap() {
    let (r, backend, mut peer) = shared_reactor();
    // The children's own sources never become ready: only the shared one speaks for them.
    let (a, _a_peer, a_polls, _) = mock(0);
    let (b, _b_peer, b_polls, _) = mock(0);
    let a = watch(r, a);
    let b = watch(r, b);

    let (key_a, key_b) = (key(&a), key(&b));
    lock(&backend.reported).push(key_b);
    peer.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(backend.drains.load(Ordering::SeqCst), 1);
    assert_eq!(b.exit().unwrap().unwrap().status().code(), Some(7));
    assert!(
        a.exit().is_none(),
        "a child that was not named is not reaped"
    );
    assert_eq!(a_polls.load(Ordering::SeqCst), 0);

    // A stale key and a reaped child are only hints: ignored, nothing panics.
    lock(&backend.reported).extend([1000, key_b, key_a]);
    peer.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(a.exit().unwrap().unwrap().status().code(), Some(7));
    assert_eq!(b_polls.load(Ordering::SeqCst), 1, "reaped once");
    assert!(!r.has_children());

    // Drained and re-armed: quiet until the source speaks again.
    r.poll_once(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(backend.drains.load(Ordering::SeqCst), 2);
}

#[test]
fn a_shared_hint_that_is_not_an_exit_rearms_the_child() {
    let (r, backend, mut peer) = shared_reactor();
    let (m, _m_peer, polls, _) = mock(1);
    let state = watch(r, m);
    for expected in 1..=2 {
        lock(&backend.reported).push(key(&state));
        peer.write_all(b"x").unwrap();
        r.poll_once(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), expected);
    }
    assert_eq!(state.exit().unwrap().unwrap().status().code(), Some(7));
}

#[test]
fn a_backend_without_a_shared_source_ignores_its_key() {
    let r = reactor();
    let (m, _peer, polls, _) = mock(0);
    let state = watch(r, m);
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let _registration = Registration::new(&r.poller, ours, backend::SHARED_KEY).unwrap();
    theirs.write_all(b"x").unwrap();
    r.poll_once(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    assert!(state.exit().is_none());
}
