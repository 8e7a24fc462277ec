//! Unix-only additions to [`Command`], as in `async_process::unix` and
//! `std::os::unix::process::CommandExt`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt as _;

use crate::Command;

#[doc(inline)]
pub use platform::unix::prepare::PreExec;

/// Unix extensions to [`Command`]. Sealed: more methods may be added.
///
/// # Examples
/// ```
/// # futures_lite::future::block_on(async {
/// use childfd::unix::CommandExt;
///
/// // `$0` as given, in a process group of its own (which `signal_group` can reach):
/// // `kill -0 -$$` finds a group whose id is the shell's pid.
/// let out = childfd::Command::new("sh")
///     .arg0("worker")
///     .args(["-c", "echo $0; kill -0 -$$ && echo leader"])
///     .process_group(0)
///     .output()
///     .await?;
/// assert_eq!(out.stdout, b"worker\nleader\n");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub trait CommandExt: crate::sealed::Sealed {
    /// Runs the child as user `id` (`setuid` in the child; a failure fails the spawn). Unless
    /// [`groups`](CommandExt::groups) is set, supplementary groups are dropped when possible.
    fn uid(&mut self, id: u32) -> &mut Command;

    /// Runs the child as group `id` (`setgid` in the child).
    fn gid(&mut self, id: u32) -> &mut Command;

    /// Sets the child's supplementary groups (`setgroups` in the child).
    fn groups(&mut self, groups: &[u32]) -> &mut Command;

    /// Puts the child in process group `pgroup`, or in a new group it leads with `0`
    /// (`setpgid`). A group of its own lets [`Child::signal_group`](crate::Child::signal_group)
    /// reach everything the child starts.
    fn process_group(&mut self, pgroup: i32) -> &mut Command;

    /// Starts the child in a new session (`setsid`): a new process group too, and no
    /// controlling terminal. Cannot be combined with [`process_group`](CommandExt::process_group).
    fn setsid(&mut self, setsid: bool) -> &mut Command;

    /// Sets `argv[0]` to something else than the program's path.
    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command;

    /// Runs `hook` in the child after it is set up and before it execs. Such a command is
    /// spawned fork-style (its memory copied, not shared), which costs more in a large parent.
    ///
    /// `std` makes `pre_exec` itself `unsafe`; here the `unsafe` promise is made when creating
    /// the [`PreExec`], so this crate can forbid unsafe code.
    ///
    /// # Examples
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use childfd::unix::{CommandExt, PreExec};
    ///
    /// let mut cmd = childfd::Command::new("true");
    /// // SAFETY: the hook makes no allocation and takes no lock.
    /// cmd.pre_exec(unsafe { PreExec::new(|| Err(std::io::Error::from_raw_os_error(1))) });
    /// assert_eq!(cmd.status().await.unwrap_err().kind(), std::io::ErrorKind::PermissionDenied);
    /// # });
    /// ```
    fn pre_exec(&mut self, hook: PreExec) -> &mut Command;

    /// Replaces the current process with the command (`execvp`), without creating a child.
    /// Returns only on failure.
    fn exec(&mut self) -> io::Error;
}

impl crate::sealed::Sealed for Command {}

impl CommandExt for Command {
    fn uid(&mut self, id: u32) -> &mut Command {
        self.spec.std.uid(id);
        self.spec.unix.uid = Some(id);
        self
    }

    fn gid(&mut self, id: u32) -> &mut Command {
        self.spec.std.gid(id);
        self.spec.unix.gid = Some(id);
        self
    }

    fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.spec.unix.groups = Some(groups.to_vec());
        self
    }

    fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.spec.std.process_group(pgroup);
        self.spec.unix.pgroup = Some(pgroup);
        self
    }

    fn setsid(&mut self, setsid: bool) -> &mut Command {
        self.spec.unix.setsid = setsid;
        self
    }

    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.spec.std.arg0(arg.as_ref());
        self.spec.unix.arg0 = Some(arg.as_ref().to_owned());
        self
    }

    fn pre_exec(&mut self, hook: PreExec) -> &mut Command {
        self.spec.unix.hooks.push(hook);
        self
    }

    fn exec(&mut self) -> io::Error {
        match self.spec.std_command(crate::spec::Defaults::Inherit) {
            Ok(std) => std.exec(),
            Err(e) => e,
        }
    }
}
