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
    state: &'a Arc<ChildState>,
    reactor: &'static Reactor,
    /// Closed at the first poll, as tokio's `wait` does.
    stdin: &'a mut Option<super::ChildStdin>,
    /// Set once an exit is returned: tokio's `id()` is then `None`.
    waited: &'a mut bool,
    map: fn(Exit) -> T,
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
            state,
            reactor,
            stdin,
            waited,
            map,
            stage: Stage::Start,
        }
    }

    fn crate_wait(&self) -> Fallback<'a> {
        Box::pin(wait::exited(self.state, self.reactor))
    }

    /// Where the child is watched, decided at the first poll, where the caller's runtime and
    /// waker are known.
    fn start(&self, cx: &Context<'_>) -> io::Result<Stage<'a>> {
        #[cfg(target_os = "linux")]
        if let Some(driven) = super::linux::runtime_here(cx.waker()) {
            self.reactor.check_not_forked()?;
            if let Some(watch) = super::linux::Watch::new(self.state) {
                return Ok(match driven {
                    true => Stage::Tokio(watch),
                    false => Stage::Both(watch, self.crate_wait()),
                });
            }
        }
        let _ = cx;
        Ok(Stage::Crate(self.crate_wait()))
    }

    /// Polls the stage, moving on to the next when one cannot go on (tokio's driver failed:
    /// the runtime is shutting down); `None`: pending.
    fn poll_stage(&mut self, cx: &mut Context<'_>) -> Option<io::Result<Exit>> {
        loop {
            let next = match &mut self.stage {
                Stage::Start => match self.start(cx) {
                    Ok(stage) => stage,
                    Err(e) => return Some(Err(e)),
                },
                #[cfg(target_os = "linux")]
                Stage::Tokio(watch) => match watch.poll(cx, self.state, self.reactor) {
                    Poll::Pending => return None,
                    Poll::Ready(Some(exit)) => return Some(exit),
                    Poll::Ready(None) => Stage::Crate(self.crate_wait()),
                },
                #[cfg(target_os = "linux")]
                Stage::Both(watch, fallback) => match watch.poll(cx, self.state, self.reactor) {
                    Poll::Ready(Some(exit)) => return Some(exit),
                    Poll::Ready(None) => {
                        Stage::Crate(std::mem::replace(fallback, Box::pin(never())))
                    }
                    Poll::Pending => return ready(fallback.as_mut().poll(cx)),
                },
                Stage::Crate(fallback) => return ready(fallback.as_mut().poll(cx)),
            };
            self.stage = next;
        }
    }
}

fn ready<T>(poll: Poll<T>) -> Option<T> {
    match poll {
        Poll::Ready(t) => Some(t),
        Poll::Pending => None,
    }
}

impl<T> Future for Exited<'_, T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut();
        let exit = match &this.stage {
            Stage::Start => {
                if this.stdin.is_some() {
                    *this.stdin = None;
                }
                this.state.exit()
            }
            _ => None,
        };
        let Some(exit) = exit.or_else(|| this.poll_stage(cx)) else {
            return Poll::Pending;
        };
        // The watch goes first, with its descriptor: a caller that has the exit finds none
        // of its child's open.
        this.stage = Stage::Start;
        let exit = exit?;
        *this.waited = true;
        Poll::Ready(Ok((this.map)(exit)))
    }
}

/// Only the other side of a race decides.
#[cfg(target_os = "linux")]
async fn never() -> io::Result<Exit> {
    std::future::pending().await
}
