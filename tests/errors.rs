//! Bad input gives a clear `io::Error` of the right kind, and leaves no child behind.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;

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
