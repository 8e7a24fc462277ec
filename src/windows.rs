//! Windows-only additions to [`Command`] and [`Child`], as in `async_process::windows` and
//! `std::os::windows::process::CommandExt`.
//!
//! A Windows child is always spawned by `std` (see [`backend()`](crate::backend)), so these
//! settings go to `std`'s `Command` as they are.

use std::ffi::OsStr;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, RawHandle};
use std::os::windows::process::CommandExt as _;

use crate::{Child, Command};

/// Windows extensions to [`Command`]. Sealed: more methods may be added.
///
/// # Examples
/// ```no_run
/// use childfd::windows::CommandExt;
///
/// # futures_lite::future::block_on(async {
/// const CREATE_NO_WINDOW: u32 = 0x0800_0000;
/// // `cmd /C` does not follow the quoting rules std applies to `arg`.
/// let out = childfd::Command::new("cmd")
///     .creation_flags(CREATE_NO_WINDOW)
///     .raw_arg("/C echo \"quoted as typed\"")
///     .output()
///     .await?;
/// assert_eq!(out.stdout, b"\"quoted as typed\"\r\n");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub trait CommandExt: crate::sealed::Sealed {
    /// Sets the [process creation flags][1] passed to `CreateProcess`; std always adds
    /// `CREATE_UNICODE_ENVIRONMENT`.
    ///
    /// [1]: https://learn.microsoft.com/en-us/windows/win32/procthread/process-creation-flags
    fn creation_flags(&mut self, flags: u32) -> &mut Command;

    /// Appends `text_to_append_as_is` to the command line without quoting or escaping: for
    /// programs such as `cmd.exe /C` that do not parse it the `CommandLineToArgvW` way.
    fn raw_arg<S: AsRef<OsStr>>(&mut self, text_to_append_as_is: S) -> &mut Command;
}

impl crate::sealed::Sealed for Command {}

impl CommandExt for Command {
    fn creation_flags(&mut self, flags: u32) -> &mut Command {
        self.spec.std.creation_flags(flags);
        self.spec.creation_flags = flags;
        self
    }

    fn raw_arg<S: AsRef<OsStr>>(&mut self, text_to_append_as_is: S) -> &mut Command {
        self.spec.std.raw_arg(text_to_append_as_is);
        self
    }
}

/// The child's process handle: a duplicate owned by the `Child`, valid as long as it, also
/// after the exit (the reactor closes its own when it has read the status).
impl AsHandle for Child {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        self.handle.as_handle()
    }
}

impl AsRawHandle for Child {
    fn as_raw_handle(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }
}
