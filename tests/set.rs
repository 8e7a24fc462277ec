//! `ChildSet`: whichever child exits first, each exactly once, at scale; blocking and stream
//! forms; dropping the set.
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use childfd::{ChildSet, Command};
use common::{block_on, children, eventually};
use futures_lite::StreamExt;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

fn sleeper(secs: &str) -> childfd::Child {
    Command::new("sleep").arg(secs).spawn().unwrap()
}

#[test]
fn two_thousand_children_each_reported_once_in_exit_order() {
    // One descriptor per running child: make room for 2,000.
    let limit = getrlimit(Resource::Nofile);
    let wanted = 4096.min(limit.maximum.unwrap_or(4096));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let count = if wanted >= 4096 {
        2000
    } else {
        (wanted as usize - 64) / 2
    };

    let mut set = ChildSet::new();
    let mut expected = HashSet::new();
    let mut seed = 0x2545_f491_u32;
    for i in 0..count {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let tenths = seed % 10;
        let code = (i % 200) as i32;
        let child = Command::new("sh")
            .args(["-c", &format!("sleep 0.{tenths}; exit {code}")])
            .spawn()
            .unwrap();
        expected.insert((set.insert(child), code));
    }
    assert_eq!(set.len(), count);
    let mut seen = HashSet::new();
    block_on(async {
        while let Some(item) = set.next().await {
            let (pid, exit) = item.unwrap();
            assert_eq!(exit.pid(), pid);
            assert!(
                seen.insert((pid, exit.status().code().unwrap())),
                "{pid} twice"
            );
        }
    });
    assert_eq!(
        seen, expected,
        "every child reported once, with its own status"
    );
    assert!(set.is_empty());
    assert!(block_on(set.next()).is_none());
    let ours = |(pid, _): &(u32, char)| expected.iter().any(|(p, _)| p == pid);
    let left = || children().into_iter().filter(ours).collect::<Vec<_>>();
    assert!(
        eventually(Duration::from_secs(10), || left().is_empty()),
        "{:?}",
        left()
    );
}

#[test]
fn exits_come_in_the_order_they_happen() {
    let mut set = ChildSet::new();
    let slow = set.insert(sleeper("0.6"));
    let fast = set.insert(sleeper("0"));
    let middle = set.insert(sleeper("0.3"));
    let order: Vec<u32> = block_on((&mut set).map(|r| r.unwrap().0).collect());
    assert_eq!(order, [fast, middle, slow]);
}

#[test]
fn try_next_never_blocks_and_a_child_exited_before_insertion_is_reported() {
    let mut set = ChildSet::new();
    assert!(set.try_next().is_none(), "empty set");
    let mut done = Command::new("true").spawn().unwrap();
    block_on(done.status()).unwrap();
    let done_pid = set.insert(done);
    set.insert(
        Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    );
    let (pid, exit) = set.try_next().unwrap().unwrap();
    assert_eq!((pid, exit.status().code()), (done_pid, Some(0)));
    assert!(set.try_next().is_none(), "the sleeper is still running");
    assert_eq!(set.len(), 1);
}

#[test]
fn next_blocking_from_a_plain_thread() {
    let mut set = ChildSet::new();
    for code in [3, 4] {
        set.insert(
            Command::new("sh")
                .args(["-c", &format!("exit {code}")])
                .spawn()
                .unwrap(),
        );
    }
    let mut codes: Vec<i32> = std::thread::spawn(move || {
        std::iter::from_fn(|| set.next_blocking())
            .map(|r| r.unwrap().1.status().code().unwrap())
            .collect()
    })
    .join()
    .unwrap();
    codes.sort_unstable();
    assert_eq!(codes, [3, 4]);
}

#[test]
fn dropping_the_set_kills_kill_on_drop_members_and_reaps_all() {
    let mut set = ChildSet::new();
    let killed = set.insert(
        Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    );
    let finishing = set.insert(sleeper("0.1"));
    drop(set);
    let gone = |pid: u32| !children().iter().any(|(p, _)| *p == pid);
    assert!(
        eventually(Duration::from_secs(10), || gone(killed) && gone(finishing)),
        "{:?}",
        children()
    );
}

#[test]
fn members_can_be_reached_and_removed() {
    let mut set = ChildSet::new();
    let kept = set.insert(sleeper("30"));
    let taken = set.insert(Command::new("sh").args(["-c", "exit 2"]).spawn().unwrap());
    let mut child = set.remove(taken).unwrap();
    assert_eq!(block_on(child.status()).unwrap().code(), Some(2));
    assert!(set.remove(taken).is_none());
    set.get_mut(kept).unwrap().signal(15).unwrap();
    let (pid, exit) = block_on(set.next()).unwrap().unwrap();
    assert_eq!((pid, exit.shell_code()), (kept, 143));
    assert!(
        block_on(set.next()).is_none(),
        "the removed child is not reported"
    );
}
