//! The future of [`Child::wait`](super::Child::wait) and [`Child::exited`](super::Child::exited).
//!
//! Written by hand rather than as nested `async fn`s (issue 13): every layer of generated
//! state machine cost a poll function, a copy of its state when the caller boxes it, and room
//! for the largest of its awaits. Here one poll decides where the child is watched, and a
//! watch by tokio's driver holds the `AsyncFd` and nothing else: `poll_read_ready` keeps the
//! waker in the registration instead of a `readable()` future linked into its waiter list.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::reactor::Reactor;
use crate::state::ChildState;
use crate::{wait, Exit};

/// The crate's own wait, boxed: it is the rare path, and would otherwise size every wait.
type Fallback<'a> = Pin<Box<dyn Future<Output = io::Result<Exit>> + Send + Sync + 'a>>;

/// Waits until the child has been reaped, through tokio's I/O driver when the caller runs in
/// a runtime that has one, then hands the exit through `map`. Cancel-safe, as `wait::exited`;
/// once it has returned, it returns the same outcome again if polled.
pub(super) struct Exited<'a, T> {
    waiting: Waiting<'a>,
    map: fn(Exit) -> T,
}

/// What `Exited` does, apart from `map`: compiled once, not per output type.
struct Waiting<'a> {
    state: &'a Arc<ChildState>,
    reactor: &'static Reactor,
    /// Closed at the first poll, as tokio's `wait` does.
    stdin: &'a mut Option<super::ChildStdin>,
    /// Set once an exit is returned: tokio's `id()` is then `None`.
    waited: &'a mut bool,
    stage: Stage<'a>,
}

enum Stage<'a> {
    /// Not polled yet, or done.
    Start,
    /// Watched by tokio's driver alone: a scheduler turns it while this is pending.
    #[cfg(target_os = "linux")]
    Tokio(super::linux::Watch),
    /// A current-thread runtime only entered, polled by another executor: nothing may turn
    /// tokio's driver, so the crate's reactor watches too, and the first to see the exit wins.
    #[cfg(target_os = "linux")]
    Both(super::linux::Watch, Fallback<'a>),
    /// Outside a runtime, in one without I/O or shutting down, on other backends.
    Crate(Fallback<'a>),
}

impl<'a, T> Exited<'a, T> {
    pub(super) fn new(
        state: &'a Arc<ChildState>,
        reactor: &'static Reactor,
        stdin: &'a mut Option<super::ChildStdin>,
        waited: &'a mut bool,
        map: fn(Exit) -> T,
    ) -> Exited<'a, T> {
        Exited {
            waiting: Waiting {
                state,
                reactor,
                stdin,
                waited,
                stage: Stage::Start,
            },
            map,
        }
    }
}

impl<T> Future for Exited<'_, T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut();
        match this.waiting.poll(cx) {
            Poll::Ready(exit) => Poll::Ready(exit.map(this.map)),
            Poll::Pending => Poll::Pending,
        }
    }
}

// The common case, a wait in a task or a `block_on` body of a runtime with I/O, is kept to
// a few lines of code and every other stage is out of line: the parent runs this right after
// the child ran, with cold caches, and a spawn and wait's instruction footprint costs it more
// than its instruction count (issue 13).
impl<'a> Waiting<'a> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Exit>> {
        let exit = match &self.stage {
            Stage::Start => {
                if self.stdin.is_some() {
                    *self.stdin = None;
                }
                self.state.exit()
            }
            _ => None,
        };
        let Some(exit) = exit.or_else(|| self.poll_stage(cx)) else {
            return Poll::Pending;
        };
        // The watch goes first, with its descriptor: a caller that has the exit finds none
        // of its child's open.
        self.stage = Stage::Start;
        let exit = exit?;
        *self.waited = true;
        Poll::Ready(Ok(exit))
    }

    /// `None`: pending.
    fn poll_stage(&mut self, cx: &mut Context<'_>) -> Option<io::Result<Exit>> {
        #[cfg(target_os = "linux")]
        {
            if let Stage::Start = self.stage {
                if let Some(driven) = super::linux::runtime_here(cx.waker()) {
                    if let Err(e) = self.reactor.check_not_forked() {
                        return Some(Err(e));
                    }
                    if let Some(watch) = super::linux::Watch::new(self.state) {
                        self.stage = match driven {
                            true => Stage::Tokio(watch),
                            false => self.both(watch),
                        };
                    }
                }
            }
            if let Stage::Tokio(watch) = &mut self.stage {
                match watch.poll(cx, self.state, self.reactor) {
                    Poll::Pending => return None,
                    Poll::Ready(Some(exit)) => return Some(exit),
                    // tokio's driver failed: the runtime is shutting down.
                    Poll::Ready(None) => self.stage = Stage::Crate(self.crate_wait()),
                }
            }
        }
        self.poll_other(cx)
    }

    #[cfg(target_os = "linux")]
    #[cold]
    fn both(&self, watch: super::linux::Watch) -> Stage<'a> {
        Stage::Both(watch, self.crate_wait())
    }

    #[cold]
    fn crate_wait(&self) -> Fallback<'a> {
        Box::pin(wait::exited(self.state, self.reactor))
    }

    /// Every stage but tokio's driver alone.
    #[cold]
    #[inline(never)]
    fn poll_other(&mut self, cx: &mut Context<'_>) -> Option<io::Result<Exit>> {
        loop {
            match &mut self.stage {
                Stage::Start => self.stage = Stage::Crate(self.crate_wait()),
                #[cfg(target_os = "linux")]
                Stage::Tokio(_) => return self.poll_stage(cx),
                #[cfg(target_os = "linux")]
                Stage::Both(watch, fallback) => match watch.poll(cx, self.state, self.reactor) {
                    Poll::Ready(Some(exit)) => return Some(exit),
                    Poll::Ready(None) => {
                        let fallback = std::mem::replace(fallback, Box::pin(never()));
                        self.stage = Stage::Crate(fallback);
                    }
                    Poll::Pending => return ready(fallback.as_mut().poll(cx)),
                },
                Stage::Crate(fallback) => return ready(fallback.as_mut().poll(cx)),
            }
        }
    }
}

fn ready<T>(poll: Poll<T>) -> Option<T> {
    match poll {
        Poll::Ready(t) => Some(t),
        Poll::Pending => None,
    }
}

/// Only the other side of a race decides.
#[cfg(target_os = "linux")]
async fn never() -> io::Result<Exit> {
    std::future::pending().await
}
