//! What every Unix spawn engine shares: the plan built before the child exists
//! ([`prepare`]), the code that runs in the child between clone/fork and exec (`child`), and
//! the parent's side of a fork-style spawn (`fork`).

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod child;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub(crate) mod fork;
mod forked;
mod pid;
mod poll;
pub mod prepare;
pub(crate) mod signal;
mod strings;

pub use forked::fork_identity;
pub use pid::{
    group_exists, group_has_running_members, leads_group, send_byte, signal_group_id, ChildPid,
};
pub use poll::wait_readable;

#[cfg(target_os = "linux")]
pub(crate) use child::{exec_child, Failure};
