//! A child's descriptor (pidfd) or handle, first on its own, then in the reactor's poller: the
//! state every descriptor backend keeps, written once.

use std::io;

use polling::Poller;

/// What platform's `Registration` types offer, on Unix (descriptors) and Windows (handles).
pub(crate) trait Registered<S>: Sized {
    fn register(poller: &'static Poller, source: S, key: usize) -> Result<Self, (io::Error, S)>;
    fn rearm(&self, key: usize) -> io::Result<()>;
    fn source(&self) -> &S;
}

#[cfg(unix)]
impl<S: std::os::unix::io::AsFd> Registered<S> for platform::Registration<S> {
    fn register(poller: &'static Poller, source: S, key: usize) -> Result<Self, (io::Error, S)> {
        platform::Registration::new(poller, source, key)
    }
    fn rearm(&self, key: usize) -> io::Result<()> {
        platform::Registration::rearm(self, key)
    }
    fn source(&self) -> &S {
        self.get_ref()
    }
}

#[cfg(windows)]
impl<S: std::os::windows::io::AsHandle> Registered<S> for platform::windows::Registration<S> {
    fn register(poller: &'static Poller, source: S, key: usize) -> Result<Self, (io::Error, S)> {
        platform::windows::Registration::new(poller, source, key)
    }
    fn rearm(&self, key: usize) -> io::Result<()> {
        platform::windows::Registration::rearm(self, key)
    }
    fn source(&self) -> &S {
        self.get_ref()
    }
}

/// A source `S`, registered as `R` once the reactor knows its key.
#[derive(Debug)]
pub(crate) enum Watch<S, R> {
    Idle(S),
    Watched(R, usize),
    /// Only while `register` moves the source from one state to the other.
    Moving,
}

impl<S, R: Registered<S>> Watch<S, R> {
    pub(crate) fn source(&self) -> io::Result<&S> {
        match self {
            Watch::Idle(source) => Ok(source),
            Watch::Watched(registration, _) => Ok(registration.source()),
            Watch::Moving => Err(io::Error::other(
                "childfd: descriptor lost during registration",
            )),
        }
    }

    pub(crate) fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        match std::mem::replace(self, Watch::Moving) {
            Watch::Idle(source) => match R::register(poller, source, key) {
                Ok(registration) => {
                    *self = Watch::Watched(registration, key);
                    Ok(())
                }
                Err((e, source)) => {
                    *self = Watch::Idle(source);
                    Err(e)
                }
            },
            other => {
                *self = other;
                Err(io::Error::other("childfd: descriptor registered twice"))
            }
        }
    }

    pub(crate) fn rearm(&self) -> io::Result<()> {
        match self {
            Watch::Watched(registration, key) => registration.rearm(*key),
            _ => Ok(()),
        }
    }
}
