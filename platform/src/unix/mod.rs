//! What every Unix spawn engine shares: the plan built before the child exists
//! ([`prepare`]) and the code that runs in the child between clone/fork and exec (`child`).

// The child side serves Linux's clone today; FreeBSD's pdfork joins it with issue #6.
#[cfg(target_os = "linux")]
mod child;
mod pid;
pub mod prepare;

pub use pid::{group_exists, leads_group, send_byte, signal_group_id, ChildPid};

#[cfg(target_os = "linux")]
pub(crate) use child::{exec_child, Failure, Step};
