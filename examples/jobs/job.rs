//! One job's process: how it is spawned, where its output goes, and what it leaves running
//! in its process group.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use childfd::unix::CommandExt;
use childfd::{Child, Command, Stdio};
use smol::Timer;

/// Starts `sh -c CMD` as a job (`Command::job`: a cgroup where this process may make one,
/// else its process group), and the leader of a new process group, so that everything it
/// starts can be stopped at once and accounted for, with its output going to `log`. Dropping
/// the child kills what is left of the job.
pub(crate) fn spawn(cmd: &str, log: &Log) -> io::Result<Child> {
    let mut command = Command::new("sh");
    command
        .args(["-c", "--", cmd]) // `--`: CMD may start with `-`.
        .process_group(0)
        .job(true)
        .stdin(Stdio::null())
        .stdout(log.stdio()?)
        .stderr(log.stdio()?)
        .kill_on_drop(true);
    // A `File` or a `std::process::Stdio` passed as is would compile too, and silently take
    // std's slower spawn route: `childfd::Stdio` keeps the engine's.
    debug_assert!(
        format!("{command:#?}").contains("route: \"engine\""),
        "{command:#?}"
    );
    command.spawn()
}

/// The live (not zombie) processes of group `pgid`, waiting up to `patience` for them to go.
/// Read from `/proc`: empty where there is none.
pub(crate) async fn strays(pgid: u32, patience: Duration) -> Vec<u32> {
    let deadline = Instant::now() + patience;
    loop {
        let members = group_members(pgid);
        if members.is_empty() || Instant::now() >= deadline {
            return members;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
}

fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let member = |pid: u32| -> Option<u32> {
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
        let state = fields.next()?;
        let pgrp: u32 = fields.nth(1)?.parse().ok()?;
        (pgrp == pgid && state != "Z" && state != "X").then_some(pid)
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(member)
        .collect();
    pids.sort_unstable();
    pids
}

/// Where a job's stdout and stderr go: a file, not a pipe, so that a background process
/// that keeps the output open cannot make `jobs` wait for it. Unlinked at once.
pub(crate) struct Log(File);

impl Log {
    pub(crate) fn new(i: usize) -> io::Result<Log> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("childfd-jobs-{}-{i}-{nanos}.log", std::process::id());
        let path = std::env::temp_dir().join(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let _ = std::fs::remove_file(&path);
        Ok(Log(file))
    }

    /// A descriptor for the child; it shares this file's offset, so stdout and stderr
    /// interleave as they would on a terminal.
    fn stdio(&self) -> io::Result<Stdio> {
        Ok(self.0.try_clone()?.into())
    }

    /// The last `lines` lines written (from the last 16 KiB at most).
    pub(crate) fn tail(mut self, lines: usize) -> Vec<String> {
        let mut buf = Vec::new();
        let read = (|| {
            let len = self.0.seek(SeekFrom::End(0))?;
            self.0.seek(SeekFrom::Start(len.saturating_sub(16 << 10)))?;
            self.0.read_to_end(&mut buf)
        })();
        if read.is_err() {
            return vec!["(output lost)".to_string()];
        }
        let text = String::from_utf8_lossy(&buf);
        let all: Vec<&str> = text.lines().collect();
        let skip = all.len().saturating_sub(lines);
        all[skip..].iter().map(|l| l.to_string()).collect()
    }
}
