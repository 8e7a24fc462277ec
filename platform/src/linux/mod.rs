//! Linux process descriptors (pidfds).
//!
//! | feature | kernel |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD, ...)` | 5.4 |
//! | `CLONE_PIDFD` with legacy `clone` | 5.2 (ignored before) |

mod pidfd;
mod probe;
mod spawn;

pub use pidfd::PidFd;
pub use probe::{probe, Unavailable};
pub use spawn::{spawn, Spawned};
