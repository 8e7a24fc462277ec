//! std's process tests, continued (see tests/std.rs): environment, working directory, the
//! Unix extensions, converting pipes and commands, and the builder's getters.
#![cfg(unix)]

mod common;
mod stdlike;

use std::collections::HashMap;
use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use childfd::unix::CommandExt;
use childfd::Command;
use futures_lite::AsyncReadExt;
use stdlike::*;

/// The variable `env_clear_and_capture` sets in this process while other tests run.
const CAPTURE_VAR: &str = "CHILDFD_TEST_CAPTURED_AT_SPAWN";

#[test]
fn env_inherited_set_and_removed() {
    let mut ours: HashMap<_, _> = env::vars_os().collect();
    let mut theirs = env_of(|_| {});
    ours.remove(OsStr::new(CAPTURE_VAR));
    theirs.remove(OsStr::new(CAPTURE_VAR));
    assert_eq!(theirs, ours);

    let (inherited, _) = env::vars_os()
        .find(|(k, _)| k != "PATH" && k != CAPTURE_VAR)
        .expect("no inherited variable to remove");
    let odd = OsString::from_vec(b"\xffnot-utf8".to_vec());
    let env = env_of(|cmd| {
        cmd.env("CHILDFD_A", "1").envs([("CHILDFD_B", "2")]);
        cmd.env("CHILDFD_A", "overridden").env("CHILDFD_ODD", &odd);
        cmd.env("CHILDFD_GONE", "x").env_remove("CHILDFD_GONE");
        cmd.env_remove(&inherited);
    });
    let get = |k: &str| env.get(OsStr::new(k)).cloned();
    assert_eq!(get("CHILDFD_A"), Some(os("overridden")));
    assert_eq!(get("CHILDFD_B"), Some(os("2")));
    assert_eq!(get("CHILDFD_ODD"), Some(odd));
    assert_eq!(get("CHILDFD_GONE"), None);
    assert_eq!(env.get(&inherited), None, "{inherited:?} was not removed");
    assert_eq!(get("PATH"), env::var_os("PATH"));
}

#[test]
fn env_clear_and_capture() {
    let path = env::var_os("PATH").unwrap();
    let env = env_of(|cmd| {
        cmd.env("CHILDFD_EARLY", "dropped").env_clear();
        cmd.env("RUN_TEST_NEW_ENV", "123").env("PATH", &path);
    });
    let expected = [(os("RUN_TEST_NEW_ENV"), os("123")), (os("PATH"), path)];
    assert_eq!(env, HashMap::from(expected));
}

const ALONE: &str = "CHILDFD_TEST_ALONE";

/// std's test_capture_env_at_spawn: a variable set after the command was built is seen.
///
/// `set_var` may not run while another thread reads the environment (its contract since Rust
/// 2024), and a spawn does read it (the child gets the parent's `environ`, as with
/// `posix_spawn`): the other tests of this file spawn in parallel threads, so this one runs in
/// a copy of this binary, alone.
#[test]
fn env_set_after_build_is_captured() {
    if std::env::var_os(ALONE).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "env_set_after_build_is_captured",
                "--exact",
                "--test-threads=1",
            ])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    let mut cmd = Command::new("env");
    cmd.env("RUN_TEST_NEW_ENV1", "123");
    env::set_var(CAPTURE_VAR, "456");
    let env = stdout_of(&mut cmd);
    env::remove_var(CAPTURE_VAR);
    let expected = ["RUN_TEST_NEW_ENV1=123".into(), format!("{CAPTURE_VAR}=456")];
    let found = expected.iter().all(|e| env.lines().any(|l| l == e));
    assert!(found, "{env}");
}

#[test]
fn current_dir() {
    assert_eq!(stdout_of(sh("pwd").current_dir("/")), "/\n");
    let dir = env::temp_dir().join(format!("childfd-std-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let shown = format!("{}\n", dir.display());
    assert_eq!(stdout_of(sh("pwd").current_dir(&dir)), shown);
    // A relative program path is resolved in the child's new directory (std on Unix). A
    // symlink, not a script, so that no writable descriptor can make exec fail with ETXTBSY.
    let _ = fs::remove_file(dir.join("my-sh"));
    std::os::unix::fs::symlink("/bin/sh", dir.join("my-sh")).unwrap();
    let mut relative = Command::new("./my-sh");
    relative.args(["-c", "pwd"]).current_dir(&dir);
    assert_eq!(stdout_of(&mut relative), shown);
    let err = Command::new("./my-sh").spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let mut missing = sh("true");
    missing.current_dir(dir.join("missing"));
    let err = missing.spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_command_ext() {
    let mut cmd = Command::new("sh");
    cmd.arg0("custom-zero").args(["-c", "echo $0"]);
    assert_eq!(cmd.get_program(), "sh");
    assert_eq!(stdout_of(&mut cmd), "custom-zero\n");
    if rustix::process::getuid().is_root() {
        let out = stdout_of(sh("id -u; id -g").uid(65534).gid(65534));
        assert_eq!(out, "65534\n65534\n");
    } else {
        let err = Command::new("true").uid(0).spawn().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    }
    // Refused before anything in this process is touched.
    let err = Command::new("echo").arg("a\0b").exec();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn exec_replaces_the_process() {
    // Runs again as a child of itself, which execs: a failed exec would reset this process's
    // SIGPIPE disposition and signal mask (std does that before execvp).
    if env::var_os("CHILDFD_TEST_EXEC").is_some() {
        let err = sh("echo replaced; exit 7").exec();
        panic!("exec failed: {err}");
    }
    let mut me = Command::new(env::current_exe().unwrap());
    me.args(["exec_replaces_the_process", "--exact", "--nocapture"]);
    let out = output_of(me.env("CHILDFD_TEST_EXEC", "1"));
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(out.stdout.ends_with(b"\nreplaced\n"), "{out:?}");
}

#[test]
fn into_stdio_chains_children() {
    let upper = || {
        let mut tr = Command::new("tr");
        tr.args(["a-z", "A-Z"]);
        tr
    };
    let mut echo = spawn_piped(Command::new("echo").arg("hello world"), &[1]);
    let stdio = run(echo.stdout.take().unwrap().into_stdio()).unwrap();
    assert_eq!(stdout_of(upper().stdin(stdio)), "HELLO WORLD\n");
    assert_eq!(code(&mut echo), Some(0));

    let mut oops = spawn_piped(&mut sh("echo oops >&2"), &[2]);
    let stdio = run(oops.stderr.take().unwrap().into_stdio()).unwrap();
    assert_eq!(stdout_of(upper().stdin(stdio)), "OOPS\n");

    // The other way round: a child's stdin becomes another's stdout.
    let mut tr = spawn_piped(&mut upper(), &[0, 1]);
    let stdio = run(tr.stdin.take().unwrap().into_stdio()).unwrap();
    let mut echo = Command::new("echo");
    assert_eq!(stdout_of(echo.arg("piped in").stdout(stdio)), "");
    drop(echo); // holds a copy of the pipe
    assert_eq!(read_stdout(&mut tr), "PIPED IN\n");
}

#[test]
fn pipes_convert_to_descriptors() {
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    let stdout = child.stdout.as_ref().unwrap();
    assert_eq!(stdout.as_fd().as_raw_fd(), stdout.as_raw_fd());
    let stdout: OwnedFd = child.stdout.take().unwrap().try_into().unwrap();
    let flags = rustix::fs::fcntl_getfl(&stdout).unwrap();
    assert!(flags.contains(rustix::fs::OFlags::NONBLOCK));
    write_stdin(&mut child, b"via fd");
    assert_eq!(code(&mut child), Some(0));
    // cat has exited: all it wrote is in the pipe, then end of file.
    let mut out = String::new();
    fs::File::from(stdout).read_to_string(&mut out).unwrap();
    assert_eq!(out, "via fd");
}

#[test]
fn from_std_command() {
    use std::os::unix::process::CommandExt as _;
    let mut std_cmd = std::process::Command::new("sh");
    std_cmd.args(["-c", "echo $FOO; pwd"]).current_dir("/");
    // std cannot report its stdio settings, so output() pipes stdout anyway.
    std_cmd
        .env("FOO", "from-std")
        .stdout(std::process::Stdio::null());
    assert_eq!(stdout_of(&mut Command::from(std_cmd)), "from-std\n/\n");
    if cfg!(target_os = "linux") {
        // Settings only std has are kept: here a new process group.
        let mut std_cmd = std::process::Command::new("cat");
        std_cmd.arg("/proc/self/stat").process_group(0);
        let mut child = spawn_piped(&mut Command::from(std_cmd), &[1]);
        let stat = read_stdout(&mut child);
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        assert_eq!(fields[2], child.id().to_string(), "pgrp in {stat}");
        assert_eq!(code(&mut child), Some(0));
    }
}

#[test]
fn debug_matches_std() {
    let mut simple = Command::new("echo");
    simple.arg("a b").arg("c");
    assert_eq!(format!("{simple:?}"), r#""echo" "a b" "c""#);
    let (mut std_cmd, mut ours) = (std::process::Command::new("p"), Command::new("p"));
    std_cmd.arg("x").env("K", "V").env_remove("GONE");
    ours.arg("x").env("K", "V").env_remove("GONE");
    std_cmd.current_dir("/");
    ours.current_dir("/");
    assert_eq!(format!("{ours:?}"), format!("{std_cmd:?}"));
    std_cmd.env_clear().env("K2", "V2");
    ours.env_clear().env("K2", "V2");
    assert_eq!(format!("{ours:?}"), format!("{std_cmd:?}"));
    let mut cmd = Command::new("p");
    let alternate = format!("{:#?}", cmd.kill_on_drop(true).reap_on_drop(false));
    assert!(alternate.contains("kill_on_drop: true"), "{alternate}");
    assert!(alternate.contains("reap_on_drop: false"), "{alternate}");
}

#[test]
fn getters() {
    let mut cmd = Command::new("echo");
    assert_eq!(cmd.get_program(), "echo");
    assert_eq!(cmd.get_current_dir(), None);
    assert_eq!((cmd.get_args().count(), cmd.get_envs().count()), (0, 0));
    cmd.args(["a", "b"]).arg("c").env("SET", "1");
    cmd.env_remove("REMOVED").current_dir("/tmp");
    assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
    let envs: HashMap<_, _> = cmd.get_envs().collect();
    let expected = [("SET", Some(OsStr::new("1"))), ("REMOVED", None)];
    assert_eq!(envs, expected.map(|(k, v)| (OsStr::new(k), v)).into());
    cmd.env_clear().env("AFTER", "2");
    let after = [(OsStr::new("AFTER"), Some(OsStr::new("2")))];
    assert_eq!(cmd.get_envs().collect::<Vec<_>>(), after);
}

#[test]
fn interior_nul_is_invalid_input() {
    let nul = "has-some-\0\0s-inside";
    let mut cmds: Vec<Command> = (0..5).map(|_| Command::new("echo")).collect();
    cmds[0] = Command::new(nul);
    cmds[1].arg(nul);
    cmds[2].current_dir(nul);
    cmds[3].env(nul, "value");
    cmds[4].env("key", nul);
    for (i, mut cmd) in cmds.into_iter().enumerate() {
        let err = cmd.spawn().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "case {i}");
    }
}

#[test]
fn kill_on_drop() {
    // output() owns the child: dropping it inside must not kill it early. (The children
    // sleep so that they are surely still running when output() is called.)
    let child = sh("sleep 0.2; exit 3").kill_on_drop(true).spawn().unwrap();
    assert_eq!(run(child.output()).unwrap().status.code(), Some(3));
    let out = output_of(sh("sleep 0.2; echo done; exit 4").kill_on_drop(true));
    check(&out, 4, "done\n", "");
    // Dropping the child kills it: only then does its stdout reach end of file.
    let mut sleep = Command::new("sleep");
    let mut child = spawn_piped(sleep.arg("1000").kill_on_drop(true), &[1]);
    let mut stdout = child.stdout.take().unwrap();
    drop(child);
    assert_eq!(run(stdout.read_to_end(&mut Vec::new())).unwrap(), 0);
}
