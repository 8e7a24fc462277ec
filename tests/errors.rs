//! Bad input gives a clear `io::Error` of the right kind, and leaves no child behind.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;

use childfd::unix::CommandExt as _;
use childfd::Command;
use common::block_on;

fn spawn_error(cmd: &mut Command) -> std::io::Error {
    match cmd.spawn() {
        Ok(child) => panic!("spawned {child:?} from {cmd:?}"),
        Err(e) => e,
    }
}

#[test]
fn nul_bytes_are_invalid_input() {
    assert_eq!(
        spawn_error(&mut Command::new("tr\0ue")).kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        spawn_error(Command::new("true").arg("a\0b")).kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        spawn_error(Command::new("true").env("K\0", "v")).kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        spawn_error(Command::new("true").env("K", "v\0")).kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn missing_program_is_not_found() {
    let e = spawn_error(&mut Command::new("/nonexistent/childfd-no-such-program"));
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = spawn_error(
        Command::new("childfd-no-such-program-in-path").env("PATH", common::searchable_path()),
    );
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn not_executable_is_permission_denied() {
    let path = std::env::temp_dir().join(format!("childfd-noexec-{}", std::process::id()));
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = spawn_error(&mut Command::new(&path));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[test]
fn missing_cwd_is_not_found() {
    let e = spawn_error(Command::new("true").current_dir("/nonexistent/childfd-no-such-dir"));
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn errors_come_from_the_async_paths_too() {
    let e = block_on(Command::new("/nonexistent/x").status()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = block_on(Command::new("/nonexistent/x").output()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn killing_an_exited_or_reaped_child_is_ok() {
    let mut child = Command::new("true").spawn().unwrap();
    // Exited and reaped by the reactor: no descriptor left to signal through.
    assert!(block_on(child.status()).unwrap().success());
    child.kill().unwrap();
    child.kill().unwrap();
    assert_eq!(child.try_status().unwrap().map(|s| s.code()), Some(Some(0)));
}

/// Every failed step of a spawn carries its OS error, as `std`'s do: code that matches on
/// `raw_os_error()` behaves the same after switching (issue 12, item 5).
#[test]
fn spawn_step_failures_carry_the_os_error() {
    let raw = |cmd: &mut Command| spawn_error(cmd).raw_os_error();
    assert_eq!(
        raw(&mut Command::new("")),
        Some(libc::ENOENT),
        "empty program"
    );
    assert_eq!(
        raw(Command::new("true").current_dir("/nonexistent/childfd-no-such-dir")),
        Some(libc::ENOENT)
    );
    let path = std::env::temp_dir().join(format!("childfd-noexec-raw-{}", std::process::id()));
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let noexec = raw(&mut Command::new(&path));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(noexec, Some(libc::EACCES));
    // Process group 1 is init's, in another session.
    assert_eq!(
        raw(Command::new("true").process_group(1)),
        Some(libc::EPERM)
    );
    // Past NGROUPS_MAX (65536): EINVAL for root, EPERM for anyone else.
    let groups = vec![0u32; 70_000];
    let e = raw(Command::new("true").groups(&groups));
    assert!(e == Some(libc::EINVAL) || e == Some(libc::EPERM), "{e:?}");
    assert!(
        common::eventually(std::time::Duration::from_secs(5), || common::children()
            .is_empty()),
        "{:?}",
        common::children()
    );
}

const AS_NOBODY: &str = "CHILDFD_TEST_AS_NOBODY";

/// `setuid` and `setgid` refused to a user without the privilege: `EPERM`, as `std` says. In
/// a copy of this binary that drops to `nobody` (when run as root; else this user will do).
#[test]
fn setuid_and_setgid_failures_are_eperm() {
    if std::env::var_os(AS_NOBODY).is_none() {
        if !rustix::process::geteuid().is_root() {
            return setuid_and_setgid_checks();
        }
        let (passed, text) =
            common::rerun("setuid_and_setgid_failures_are_eperm", AS_NOBODY, "1", None);
        assert!(passed, "{text}");
        return;
    }
    platform::testing::become_user(65534).unwrap();
    setuid_and_setgid_checks();
}

fn setuid_and_setgid_checks() {
    use childfd::unix::CommandExt;
    let e = spawn_error(Command::new("true").uid(0));
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    let e = spawn_error(Command::new("true").gid(0));
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
}
