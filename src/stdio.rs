//! What becomes of a child's standard stream.

use std::fmt;
use std::fs::File;

#[cfg(unix)]
use std::os::unix::io::OwnedFd;

/// Where a child's stdin, stdout or stderr goes: [`piped()`](Stdio::piped),
/// [`null()`](Stdio::null), [`inherit()`](Stdio::inherit), or any file, pipe or descriptor.
///
/// The same constructors as [`std::process::Stdio`], and it converts from it, so code written
/// for `std` or `async-process` compiles unchanged. It is a type of its own because `std`'s
/// `Stdio` cannot be inspected: to create the child and its descriptor in one system call,
/// the crate must know what each stream is. A `std::process::Stdio` passed in is opaque, so
/// that command is spawned by `std` instead (see [`Command`](crate::Command), "Spawn routes").
pub struct Stdio(pub(crate) Kind);

#[derive(Debug)]
pub(crate) enum Kind {
    Inherit,
    Null,
    Piped,
    #[cfg(unix)]
    Fd(OwnedFd),
    Std(std::process::Stdio),
}

impl Stdio {
    /// A new pipe; the parent's end appears in [`Child`](crate::Child)'s `stdin`, `stdout` or
    /// `stderr` field.
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }

    /// The parent's own stream.
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }

    /// `/dev/null` (`NUL` on Windows).
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }
}

impl From<std::process::Stdio> for Stdio {
    /// Opaque: a command given one is spawned by `std` (see [`Stdio`]).
    fn from(stdio: std::process::Stdio) -> Stdio {
        Stdio(Kind::Std(stdio))
    }
}

impl From<Stdio> for std::process::Stdio {
    fn from(stdio: Stdio) -> std::process::Stdio {
        match stdio.0 {
            Kind::Inherit => std::process::Stdio::inherit(),
            Kind::Null => std::process::Stdio::null(),
            Kind::Piped => std::process::Stdio::piped(),
            #[cfg(unix)]
            Kind::Fd(fd) => fd.into(),
            Kind::Std(stdio) => stdio,
        }
    }
}

#[cfg(unix)]
impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(Kind::Fd(fd))
    }
}

/// Windows: any handle std accepts (a file, a pipe end, a console); spawned through `std`,
/// the only spawn route there.
#[cfg(windows)]
impl From<std::os::windows::io::OwnedHandle> for Stdio {
    fn from(handle: std::os::windows::io::OwnedHandle) -> Stdio {
        Stdio(Kind::Std(handle.into()))
    }
}

impl From<File> for Stdio {
    fn from(file: File) -> Stdio {
        #[cfg(unix)]
        return Stdio(Kind::Fd(file.into()));
        #[cfg(not(unix))]
        return Stdio(Kind::Std(file.into()));
    }
}

macro_rules! from_std_pipe {
    ($($t:ty),*) => {$(
        impl From<$t> for Stdio {
            fn from(pipe: $t) -> Stdio {
                #[cfg(unix)]
                return Stdio(Kind::Fd(pipe.into()));
                #[cfg(not(unix))]
                return Stdio(Kind::Std(pipe.into()));
            }
        }
    )*};
}

from_std_pipe!(
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr
);

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Inherit => f.write_str("Stdio::inherit()"),
            Kind::Null => f.write_str("Stdio::null()"),
            Kind::Piped => f.write_str("Stdio::piped()"),
            #[cfg(unix)]
            Kind::Fd(fd) => write!(f, "Stdio::from({fd:?})"),
            Kind::Std(stdio) => write!(f, "Stdio::from({stdio:?})"),
        }
    }
}
