//! Linux process descriptors (pidfds).
//!
//! | feature | kernel |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD, ...)` | 5.4 |
//! | `CLONE_PIDFD` with legacy `clone` | 5.2 (ignored before) |
//! | `clone3` with `CLONE_INTO_CGROUP` (jobs) | 5.7 |

pub mod cgroup;
mod pidfd;
mod probe;
mod spawn;

pub use pidfd::PidFd;
pub use probe::{probe, Unavailable};
pub use spawn::{clone3_refused, spawn, Spawned};
