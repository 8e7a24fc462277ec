//! The behaviours checked by std's own process tests (`library/std/src/process/tests.rs`) and
//! by async-process's `tests/std.rs`, through this crate's async API, against real processes.
#![cfg(unix)]

use std::collections::HashMap;
use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::future::Future;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use childfd::unix::CommandExt;
use childfd::{Child, Command, Output, Stdio};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt, FutureExt};

/// The variable `env_clear_and_capture` sets in this process while other tests run.
const CAPTURE_VAR: &str = "CHILDFD_TEST_CAPTURED_AT_SPAWN";

/// Runs `f`; a child or pipe that never finishes fails the test instead of hanging it.
fn run<T>(f: impl Future<Output = T>) -> T {
    future::block_on(f.or(async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    }))
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

fn output_of(cmd: &mut Command) -> Output {
    run(cmd.output()).unwrap()
}

/// Checks an exit code and what was collected of stdout and stderr.
fn check(out: &Output, code: i32, stdout: &str, stderr: &str) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let got = (out.status.code(), text(&out.stdout), text(&out.stderr));
    assert_eq!(got, (Some(code), stdout.into(), stderr.into()));
}

/// The stdout of a command that must succeed.
fn stdout_of(cmd: &mut Command) -> String {
    let out = output_of(cmd);
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Spawns `cmd` with the standard descriptors listed in `fds` (0, 1, 2) piped.
fn spawn_piped(cmd: &mut Command, fds: &[u8]) -> Child {
    for fd in fds {
        match fd {
            0 => cmd.stdin(Stdio::piped()),
            1 => cmd.stdout(Stdio::piped()),
            _ => cmd.stderr(Stdio::piped()),
        };
    }
    cmd.spawn().unwrap()
}

fn write_stdin(child: &mut Child, data: &[u8]) {
    run(child.stdin.as_mut().unwrap().write_all(data)).unwrap();
}

/// Takes the child's stdout and reads it to the end.
fn read_stdout(child: &mut Child) -> String {
    let mut out = String::new();
    run(child.stdout.take().unwrap().read_to_string(&mut out)).unwrap();
    out
}

fn code(child: &mut Child) -> Option<i32> {
    run(child.status()).unwrap().code()
}

/// The environment `env -0` sees when run by a command set up by `configure`.
fn env_of(configure: impl FnOnce(&mut Command)) -> HashMap<OsString, OsString> {
    let mut cmd = Command::new("env");
    configure(cmd.arg("-0"));
    let out = output_of(&mut cmd);
    assert!(out.status.success());
    let vars = out.stdout.split(|&b| b == 0).filter(|v| !v.is_empty());
    let os = |b: &[u8]| OsStr::from_bytes(b).to_owned();
    let var = |v: &[u8]| {
        let (k, v) = v.split_at(v.iter().position(|&b| b == b'=').unwrap());
        (os(k), os(&v[1..]))
    };
    vars.map(var).collect()
}

fn os(s: &str) -> OsString {
    s.into()
}

#[test]
fn exit_codes_and_spawn_failure() {
    let status = run(Command::new("true").spawn().unwrap().status()).unwrap();
    assert_eq!((status.success(), status.code()), (true, Some(0)));
    assert_eq!(run(Command::new("false").status()).unwrap().code(), Some(1));
    let missing = "if-this-is-a-binary-then-the-world-has-ended";
    let err = Command::new(missing).spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = run(Command::new(missing).status()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = run(Command::new("/no-binary-by-this-name").output()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    for n in [0, 1, 2, 3, 42, 100, 126, 127, 128, 200, 254, 255] {
        let script = format!("exit {n}");
        let status = run(sh(&script).status()).unwrap();
        assert_eq!(status.code(), Some(n), "{script}");
        assert_eq!((status.success(), status.signal()), (n == 0, None));
        assert_eq!(run(sh(&script).spawn().unwrap().status()).unwrap(), status);
        assert_eq!(output_of(&mut sh(&script)).status, status);
    }
}

#[test]
fn death_by_signal_is_reported() {
    // Signal numbers POSIX fixes on every Unix.
    let signals = [("HUP", 1), ("INT", 2), ("KILL", 9), ("TERM", 15)];
    for (name, number) in signals {
        let status = run(sh(&format!("kill -s {name} $$; exit 3")).status()).unwrap();
        assert_eq!(status.signal(), Some(number), "SIG{name}: {status:?}");
        assert_eq!((status.code(), status.success()), (None, false));
        assert!(!status.core_dumped());
    }
}

#[test]
fn kill() {
    // std's signal_reported_right: the child would wait for input forever.
    let mut child = spawn_piped(&mut sh("read a"), &[0]);
    child.kill().unwrap();
    let status = run(child.status()).unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    // Once reaped, killing again does nothing and the status stays.
    child.kill().unwrap();
    assert_eq!(run(child.status()).unwrap(), status);

    // Killing a child that exited by itself, reaped or not, is Ok and changes nothing.
    let mut child = sh("exit 3").spawn().unwrap();
    assert_eq!(code(&mut child), Some(3));
    child.kill().unwrap();
    assert_eq!(code(&mut child), Some(3));
    // This one has exited (its stdout closes at its exit) but may not be reaped yet.
    let mut child = spawn_piped(&mut sh("exit 4"), &[1]);
    assert_eq!(read_stdout(&mut child), "");
    child.kill().unwrap();
    assert_eq!(code(&mut child), Some(4));
}

#[test]
fn try_status_before_and_after_exit() {
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    assert_eq!(child.try_status().unwrap(), None);
    // try_status leaves stdin open, so cat keeps running.
    write_stdin(&mut child, b"ping");
    assert!(child.stdin.is_some());
    assert_eq!(child.try_status().unwrap(), None);
    drop(child.stdin.take());
    assert_eq!(read_stdout(&mut child), "ping");
    let status = run(async {
        loop {
            if let Some(status) = child.try_status().unwrap() {
                break status;
            }
            async_io::Timer::after(Duration::from_millis(2)).await;
        }
    });
    assert!(status.success());
    assert_eq!(child.try_status().unwrap(), Some(status));
    assert_eq!(run(child.status()).unwrap(), status);
}

#[test]
fn status_is_repeatable_cancel_safe_and_static() {
    let mut child = Command::new("false").spawn().unwrap();
    assert_eq!((code(&mut child), code(&mut child)), (Some(1), Some(1)));

    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    // A status future dropped before the exit loses nothing.
    assert!(run(future::poll_once(child.status())).is_none());
    let pending = child.status();
    child.kill().unwrap();
    drop(child); // the future does not borrow the child
    assert_eq!(run(pending).unwrap().signal(), Some(9));
}

#[test]
fn stdin_is_written_and_closed() {
    // std's stdin_works.
    let mut child = spawn_piped(&mut sh("read line; echo $$ $line"), &[0, 1]);
    write_stdin(&mut child, b"foobar");
    drop(child.stdin.take());
    let id = child.id(); // the pid, as the shell sees it
    assert_eq!(read_stdout(&mut child), format!("{id} foobar\n"));
    assert_eq!(code(&mut child), Some(0));
    // cat exits only once its stdin is closed: status() and output() close it.
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    write_stdin(&mut child, b"hello");
    let status = child.status();
    assert!(child.stdin.is_none());
    assert!(run(status).unwrap().success());
    assert_eq!(read_stdout(&mut child), "hello");
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    write_stdin(&mut child, b"world");
    check(&run(child.output()).unwrap(), 0, "world", "");
}

#[test]
fn pipe_through_cat_both_ways_at_once() {
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    let mut stdin = child.stdin.take().unwrap();
    let write = async move {
        stdin.write_all(&data).await?;
        stdin.flush().await.map(|()| data)
    };
    let mut echoed = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let (written, read) = run(future::zip(write, stdout.read_to_end(&mut echoed)));
    assert_eq!(read.unwrap(), echoed.len());
    assert!(echoed == written.unwrap(), "cat echoed other bytes");
    assert_eq!(code(&mut child), Some(0));
}

#[test]
fn large_output_on_both_pipes_does_not_deadlock() {
    const BIG: usize = 4 << 20;
    let check = |out: Output, script: &str| {
        assert!(out.status.success(), "{script}: {:?}", out.status);
        assert_eq!((out.stdout.len(), out.stderr.len()), (BIG, BIG), "{script}");
        assert!(out.stdout.chunks(4).all(|c| c == b"out\n"), "{script}");
        assert!(out.stderr.chunks(4).all(|c| c == b"err\n"), "{script}");
    };
    let out = format!("yes out | head -c {BIG}");
    let err = format!("yes err | head -c {BIG} >&2");
    // Each order blocks a parent that reads one pipe to the end before the other; the last
    // script writes both at once.
    for (a, sep, b) in [(&err, ";", &out), (&out, ";", &err), (&out, "&", &err)] {
        let script = format!("{a} {sep} {b}; wait");
        check(output_of(&mut sh(&script)), &script);
        let child = spawn_piped(&mut sh(&script), &[1, 2]);
        check(run(child.output()).unwrap(), &script);
    }
}

#[test]
fn output_collects_what_was_asked() {
    let out = output_of(&mut sh("echo foo; echo bar >&2; exit 3"));
    check(&out, 3, "foo\n", "bar\n");
    // std's test_process_output_error.
    let out = output_of(Command::new("mkdir").arg("./"));
    assert!(out.status.code().is_some_and(|c| c != 0));
    assert!(out.stdout.is_empty() && !out.stderr.is_empty());
    // A stream configured on the command wins over output()'s default.
    let mut cmd = sh("echo foo; echo bar >&2");
    check(&output_of(cmd.stdout(Stdio::null())), 0, "", "bar\n");
    // Child::output collects only the piped streams, and a command spawns again alike.
    cmd.stderr(Stdio::null());
    for _ in 0..2 {
        let out = run(spawn_piped(&mut cmd, &[1]).output()).unwrap();
        check(&out, 0, "foo\n", "");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn default_stdin_is_null_for_output_and_inherited_for_spawn() {
    let mut readlink = Command::new("readlink");
    readlink.arg("/proc/self/fd/0");
    assert_eq!(stdout_of(&mut readlink), "/dev/null\n");
    if let Ok(ours) = fs::read_link("/proc/self/fd/0") {
        let theirs = read_stdout(&mut spawn_piped(&mut readlink, &[1]));
        assert_eq!(theirs.trim_end(), ours.to_str().unwrap());
    }
}

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

    // std's test_capture_env_at_spawn: a variable set after the command was built is seen.
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
    std_cmd.env("FOO", "from-std").stdout(Stdio::null());
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
