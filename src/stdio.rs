//! What becomes of a child's standard stream.

use std::fmt;
use std::fs::File;
use std::io;

#[cfg(unix)]
use std::os::unix::io::{AsFd, OwnedFd};

/// Where a child's stdin, stdout or stderr goes: [`piped()`](Stdio::piped),
/// [`null()`](Stdio::null), [`inherit()`](Stdio::inherit), or any file, pipe or descriptor.
///
/// The same constructors and conversions as [`std::process::Stdio`]. It is a type of its own
/// because `std`'s `Stdio` cannot be inspected, and the spawn engine must know what each
/// stream is to create the child and its process descriptor in one system call.
///
/// # What a `std::process::Stdio` costs
/// [`Command::stdin`](crate::Command::stdin) and its siblings take this type or anything that
/// converts into a [`std::process::Stdio`] (see [`IntoStdio`]), so code written for `std` or
/// `async-process` compiles unchanged. But a `std::process::Stdio`, or a value passed as one
/// (a [`File`], an `OwnedFd`, `std`'s pipe ends, the `std::process::Stdio` that
/// [`ChildStdout::into_stdio`](crate::ChildStdout::into_stdio) returns), is opaque: on Linux
/// such a command is spawned by `std`, then watched through `pidfd_open` (on FreeBSD, by a
/// helper thread; macOS and Windows spawn through `std` anyway). It behaves the same, but
/// costs a second system call per spawn and a `fork`-style copy of the parent's memory where
/// `std` cannot use `posix_spawn`, is race-free only while nothing else in the program reaps
/// children, and cannot be combined with `unix::CommandExt`'s `groups`, `setsid` or
/// `pre_exec`. Wrap the value in this type (`Stdio::from(file)`) to stay on the engine;
/// `{:#?}` of a [`Command`](crate::Command) shows which route it takes.
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # futures_lite::future::block_on(async {
/// use childfd::{Command, Stdio};
///
/// // A file, converted to this crate's Stdio: spawned by the engine.
/// let file = std::fs::File::open("/dev/null")?;
/// let mut cmd = Command::new("cat");
/// cmd.stdin(Stdio::from(file)).stdout(Stdio::piped());
/// assert!(format!("{cmd:#?}").contains("route: \"engine\""));
/// assert_eq!(cmd.output().await?.stdout, b"");
///
/// // std's Stdio still works, through std's spawn.
/// let mut cmd = Command::new("echo");
/// cmd.arg("hi").stdout(std::process::Stdio::piped());
/// assert!(format!("{cmd:#?}").contains("std"));
/// assert_eq!(cmd.output().await?.stdout, b"hi\n");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct Stdio(pub(crate) Result<Kind, io::Error>);

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
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    /// use futures_lite::AsyncReadExt;
    ///
    /// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut out = String::new();
    /// child.stdout.take().unwrap().read_to_string(&mut out).await?;
    /// assert_eq!(out, "hi\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn piped() -> Stdio {
        Stdio(Ok(Kind::Piped))
    }

    /// The parent's own stream.
    pub fn inherit() -> Stdio {
        Stdio(Ok(Kind::Inherit))
    }

    /// `/dev/null` (`NUL` on Windows).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    ///
    /// let out = Command::new("cat").stdin(Stdio::null()).output().await?;
    /// assert_eq!(out.stdout, b"");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn null() -> Stdio {
        Stdio(Ok(Kind::Null))
    }

    pub(crate) fn opaque(stdio: std::process::Stdio) -> Stdio {
        Stdio(Ok(Kind::Std(stdio)))
    }

    /// A conversion that could not be completed: the spawn that uses it fails with `error`.
    pub(crate) fn failed(error: io::Error) -> Stdio {
        Stdio(Err(error))
    }

    #[cfg(unix)]
    fn dup(fd: std::os::unix::io::BorrowedFd<'_>) -> Stdio {
        match fd.try_clone_to_owned() {
            Ok(fd) => Stdio(Ok(Kind::Fd(fd))),
            Err(e) => Stdio::failed(e),
        }
    }
}

/// What [`Command::stdin`](crate::Command::stdin), [`stdout`](crate::Command::stdout) and
/// [`stderr`](crate::Command::stderr) accept: this crate's [`Stdio`] and pipe ends
/// ([`ChildStdout`](crate::ChildStdout)...), which the engine spawns, and anything that
/// converts into a [`std::process::Stdio`], which takes the `std` route (see [`Stdio`], "What
/// a `std::process::Stdio` costs").
///
/// Sealed: implemented for those types only. Code generic over `T: Into<std::process::Stdio>`
/// can pass its `T` on.
pub trait IntoStdio: Sealed {
    /// This crate's view of the stream.
    #[doc(hidden)]
    fn into_childfd_stdio(self) -> Stdio;
}

/// Nameable only inside the crate (the module is private): that is what seals [`IntoStdio`].
#[allow(unreachable_pub)]
pub trait Sealed {}

impl<T: Into<std::process::Stdio>> Sealed for T {}
impl<T: Into<std::process::Stdio>> IntoStdio for T {
    fn into_childfd_stdio(self) -> Stdio {
        Stdio::opaque(self.into())
    }
}

// No `From<Stdio> for std::process::Stdio`: with it, the blanket impl above would cover this
// type too, and every stream would be opaque.
impl Sealed for Stdio {}
impl IntoStdio for Stdio {
    fn into_childfd_stdio(self) -> Stdio {
        self
    }
}

impl From<std::process::Stdio> for Stdio {
    /// Opaque: a command given one is spawned by `std` (see [`Stdio`]).
    fn from(stdio: std::process::Stdio) -> Stdio {
        Stdio::opaque(stdio)
    }
}

#[cfg(unix)]
impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(Ok(Kind::Fd(fd)))
    }
}

/// Windows: any handle std accepts (a file, a pipe end, a console); spawned through `std`,
/// the only spawn route there.
#[cfg(windows)]
impl From<std::os::windows::io::OwnedHandle> for Stdio {
    fn from(handle: std::os::windows::io::OwnedHandle) -> Stdio {
        Stdio::opaque(handle.into())
    }
}

macro_rules! from_owned {
    ($($(#[$attr:meta])* $t:ty),*) => {$(
        $(#[$attr])*
        impl From<$t> for Stdio {
            fn from(io: $t) -> Stdio {
                #[cfg(unix)]
                return Stdio(Ok(crate::stdio::Kind::Fd(io.into())));
                #[cfg(not(unix))]
                return Stdio::opaque(io.into());
            }
        }
    )*};
}

from_owned!(
    File,
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr
);

/// `std::io::pipe()`'s ends (std 1.87; `childfd_std_pipe` is set by build.rs from the
/// compiler's version, so that the crate still builds with its MSRV, 1.74).
#[cfg(childfd_std_pipe)]
#[allow(clippy::incompatible_msrv)]
mod std_pipe {
    use super::Stdio;

    from_owned!(std::io::PipeReader, std::io::PipeWriter);
}

macro_rules! from_std_stream {
    ($($t:ty),*) => {$(
        /// The parent's stream (e.g. `cmd.stderr(io::stdout())` merges the child's error into
        /// the parent's output), as `std`'s. On Unix the descriptor is duplicated here; a
        /// failure (`EMFILE`) is reported by the spawn.
        impl From<$t> for Stdio {
            fn from(io: $t) -> Stdio {
                #[cfg(unix)]
                return Stdio::dup(io.as_fd());
                #[cfg(not(unix))]
                return Stdio::opaque(io.into());
            }
        }
    )*};
}

from_std_stream!(io::Stdout, io::Stderr);

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(Kind::Inherit) => f.write_str("Stdio::inherit()"),
            Ok(Kind::Null) => f.write_str("Stdio::null()"),
            Ok(Kind::Piped) => f.write_str("Stdio::piped()"),
            #[cfg(unix)]
            Ok(Kind::Fd(fd)) => write!(f, "Stdio::from({fd:?})"),
            Ok(Kind::Std(stdio)) => write!(f, "Stdio::from({stdio:?})"),
            Err(e) => write!(f, "Stdio(failed: {e})"),
        }
    }
}
