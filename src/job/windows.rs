//! Windows: a job is a job object. The child is created suspended (`CREATE_SUSPENDED`, added
//! to the command's own creation flags), put in the job, then resumed, so nothing it starts
//! escapes. The end of the job is polled (`ActiveProcesses`, from 1 ms up to every 100 ms):
//! the job's completion port would need a port of its own in the reactor, and its messages
//! are "not guaranteed" (JOBOBJECT_ASSOCIATE_COMPLETION_PORT).

use std::io;
use std::os::windows::io::AsHandle;
use std::time::Duration;

use platform::windows::{resume_process, Job, CREATE_SUSPENDED};

use super::{usage_from, JobUsage, Spawned};
use crate::spec::Spec;

const MAX_POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct WinJob(Job);

pub(super) fn spawn(
    spec: &mut Spec,
    spawn: impl FnOnce(&mut Spec) -> io::Result<Spawned>,
) -> io::Result<(Spawned, WinJob)> {
    use std::os::windows::process::CommandExt;
    let job = Job::new()?;
    let flags = spec.creation_flags;
    spec.std.creation_flags(flags | CREATE_SUSPENDED);
    let out = spawn(spec);
    spec.std.creation_flags(flags);
    let out = out?;
    let (state, pipes) = &out;
    let placed = job
        .assign(pipes.handle.as_handle())
        .and_then(|()| resume_process(state.pid))
        .and_then(|n| match n {
            0 => Err(io::Error::other(
                "the suspended child has no thread to resume",
            )),
            _ => Ok(()),
        });
    if let Err(e) = placed {
        // Suspended or outside the job: not to be run. The backstop reaps it.
        let _ = state.kill();
        return Err(e);
    }
    Ok((out, WinJob(job)))
}

impl WinJob {
    pub(super) fn kill(&self) -> io::Result<()> {
        self.0.terminate()
    }

    pub(super) async fn until_empty(&self) -> io::Result<JobUsage> {
        let mut delay = Duration::from_millis(1);
        loop {
            let acc = self.0.accounting()?;
            if acc.active == 0 {
                return Ok(usage_from(
                    Duration::from_nanos(acc.user_ticks.saturating_mul(100)),
                    Duration::from_nanos(acc.kernel_ticks.saturating_mul(100)),
                    // Wine reports 0: unknown, not "nothing".
                    (acc.peak > 0).then_some(acc.peak),
                    false,
                ));
            }
            crate::aio::sleep(delay).await?;
            delay = (delay * 2).min(MAX_POLL);
        }
    }
}
