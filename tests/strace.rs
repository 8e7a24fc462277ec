//! `strace -f` shows what a spawn costs in system calls: one `clone` with `CLONE_PIDFD` per
//! child, and no `pidfd_open` of a child (the descriptor is born with it; the backend probe
//! opens one for the process itself, once). Needs `strace` (ci/setup.sh installs it) and the
//! pidfd backend; skips, saying so, otherwise.
#![cfg(target_os = "linux")]

mod common;

use childfd::{Command, Stdio};
use common::block_on;

const CHILD_MODE: &str = "CHILDFD_STRACE_CHILD";

#[test]
fn one_clone_with_clone_pidfd_per_spawn_and_no_pidfd_open() {
    if std::env::var_os(CHILD_MODE).is_some() {
        // Traced: three children, with and without pipes.
        for _ in 0..2 {
            assert!(block_on(Command::new("true").status()).unwrap().success());
        }
        let out = block_on(
            Command::new("echo")
                .arg("x")
                .stdout(Stdio::piped())
                .output(),
        );
        assert_eq!(out.unwrap().stdout, b"x\n");
        return;
    }
    let backend = childfd::backend().unwrap();
    if backend.name() != "pidfd" {
        common::skip(format_args!(
            "backend is {backend}, which spawns without CLONE_PIDFD"
        ));
        return;
    }
    let Ok(strace) = which("strace") else {
        common::skip(format_args!(
            "strace is not installed (apt-get install strace)"
        ));
        return;
    };
    let log = std::env::temp_dir().join(format!("childfd-strace-{}.log", std::process::id()));
    let status = std::process::Command::new(strace)
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=clone,clone3,fork,vfork,pidfd_open",
            "-o",
        ])
        .arg(&log)
        .arg(std::env::current_exe().unwrap())
        .args([
            "one_clone_with_clone_pidfd_per_spawn_and_no_pidfd_open",
            "--exact",
        ])
        .env(CHILD_MODE, "1")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let trace = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    if !status.success() && trace.contains("PTRACE") {
        common::skip(format_args!("ptrace is not permitted here"));
        return;
    }
    assert!(status.success(), "traced run failed:\n{trace}");
    let count = |pred: &dyn Fn(&str) -> bool| trace.lines().filter(|l| pred(l)).count();
    let spawns = count(&|l| l.contains(" clone(") && l.contains("CLONE_PIDFD"));
    assert_eq!(spawns, 3, "one clone(CLONE_PIDFD) per child:\n{trace}");
    assert!(
        count(&|l| l.contains("CLONE_VM")
            && l.contains("CLONE_VFORK")
            && l.contains("CLONE_PIDFD"))
            == 3,
        "vfork-style, sharing memory:\n{trace}"
    );
    let children: Vec<String> = trace
        .lines()
        .filter(|l| l.contains(" clone(") && l.contains("CLONE_PIDFD"))
        .filter_map(|l| l.rsplit("= ").next().map(str::to_owned))
        .collect();
    let opened = |l: &str| {
        children
            .iter()
            .any(|pid| l.contains(&format!("pidfd_open({pid},")))
    };
    assert_eq!(
        count(&|l| opened(l)),
        0,
        "no pidfd_open of a child:\n{trace}"
    );
    assert!(
        count(&|l| l.contains("pidfd_open(")) <= 1,
        "one probe at most:\n{trace}"
    );
    assert_eq!(
        count(&|l| l.contains("clone3(") && l.contains("CLONE_PIDFD")),
        0,
        "{trace}"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
