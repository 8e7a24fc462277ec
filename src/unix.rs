//! Unix-only additions to [`Command`], as in `async_process::unix`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt as _;

use crate::Command;

/// Unix extensions to [`Command`]. Sealed: more methods may be added.
pub trait CommandExt: crate::sealed::Sealed {
    /// Runs the child as user `id` (`setuid` in the child; a failure fails the spawn).
    fn uid(&mut self, id: u32) -> &mut Command;

    /// Runs the child as group `id` (`setgid` in the child).
    fn gid(&mut self, id: u32) -> &mut Command;

    /// Sets `argv[0]` to something else than the program's path.
    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command;

    /// Replaces the current process with the command (`execvp`), without creating a child.
    /// Returns only on failure.
    fn exec(&mut self) -> io::Error;
}

impl crate::sealed::Sealed for Command {}

impl CommandExt for Command {
    fn uid(&mut self, id: u32) -> &mut Command {
        self.inner.uid(id);
        self
    }

    fn gid(&mut self, id: u32) -> &mut Command {
        self.inner.gid(id);
        self
    }

    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg0(arg);
        self
    }

    fn exec(&mut self) -> io::Error {
        self.inner.exec()
    }
}
