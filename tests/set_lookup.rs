//! `ChildSet::get_mut(pid)`/`remove(pid)` reach the member that holds the pid now, not one
//! reaped earlier whose pid the kernel gave to a newer member (issue 14 item 9). Needs root
//! (to steer pid allocation through /proc/sys/kernel/ns_last_pid); skips otherwise. Runs under
//! the default backend, and again, re-executed, under `CHILDFD_BACKEND=thread`.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use childfd::{ChildSet, Command};
use common::{block_on, children};

#[test]
fn a_recycled_pid_names_the_live_member() {
    if !common::can_steer_pids() {
        return;
    }
    println!("backend: {}", childfd::backend().unwrap());
    // Other processes on the machine may take the pid first: try a few times.
    for attempt in 1..=20 {
        let mut set = ChildSet::new();
        let pid = set.insert(Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap());
        // Reaped through the member itself: the set has not reported it yet.
        let status = block_on(set.get_mut(pid).unwrap().status()).unwrap();
        assert_eq!(status.code(), Some(4));
        common::next_pid_is(pid);
        let new = Command::new("sleep").arg("30").spawn().unwrap();
        if new.id() != pid {
            println!("attempt {attempt}: pid {pid} was taken by someone else");
            continue;
        }
        assert_eq!(set.insert(new), pid);
        assert_eq!(set.len(), 2);

        // The pid names the live member: it is the one signalled.
        let live = set.get_mut(pid).unwrap();
        assert_eq!(
            live.try_status().unwrap(),
            None,
            "the reaped member was found"
        );
        live.signal(15).unwrap();
        let status = block_on(live.status()).unwrap();
        assert_eq!(status.signal(), Some(15));
        assert!(
            !children().iter().any(|(p, _)| *p == pid),
            "{:?}",
            children()
        );

        // Both reaped now: the pid names the last inserted, which `remove` takes.
        let mut removed = set.remove(pid).unwrap();
        assert_eq!(removed.try_status().unwrap().unwrap().signal(), Some(15));
        // The first member is still reported, with its own status.
        let (reported, exit) = set.next_blocking().unwrap().unwrap();
        assert_eq!((reported, exit.status().code()), (pid, Some(4)));
        assert!(set.next_blocking().is_none());

        // And `remove` of a pid held by a live member after a reaped one takes the live one.
        let mut set = ChildSet::new();
        let pid = set.insert(Command::new("true").spawn().unwrap());
        block_on(set.get_mut(pid).unwrap().status()).unwrap();
        common::next_pid_is(pid);
        let new = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        if new.id() != pid {
            println!("attempt {attempt}: pid {pid} was taken by someone else");
            continue;
        }
        set.insert(new);
        let mut taken = set.remove(pid).unwrap();
        assert_eq!(taken.try_status().unwrap(), None, "took the reaped member");
        let (reported, exit) = set.next_blocking().unwrap().unwrap();
        assert_eq!((reported, exit.status().code()), (pid, Some(0)));
        drop(taken);
        assert!(common::eventually(Duration::from_secs(10), || children().is_empty()));

        if std::env::var_os("CHILDFD_BACKEND").is_none() {
            let (passed, text) = common::rerun(
                "a_recycled_pid_names_the_live_member",
                "CHILDFD_BACKEND",
                "thread",
                None,
            );
            assert!(passed, "under CHILDFD_BACKEND=thread: {text}");
        }
        return;
    }
    panic!("could not make a new child reuse a pid in 20 attempts");
}
