//! Linux process descriptors (pidfds).
//!
//! | feature | kernel |
//! |---|---|
//! | `pidfd_send_signal` | 5.1 |
//! | `pidfd_open` | 5.3 |
//! | `waitid(P_PIDFD, ...)` | 5.4 |

mod pidfd;

pub use pidfd::PidFd;
