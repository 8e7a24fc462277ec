//! Linux process descriptors (pidfds).
//!
//! | feature | kernel |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD, ...)` | 5.4 |
//! | `CLONE_PIDFD` with legacy `clone` | 5.2 (ignored before) |

mod pidfd;
mod spawn;

pub use pidfd::PidFd;
pub use spawn::{spawn, spawn_with_hooks, Spawned};
