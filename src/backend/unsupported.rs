//! Targets with neither Unix nor Windows process APIs: `spawn` says so instead of pretending.

use std::io;

use super::{Backend, Spawned};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct Unsupported;

impl Backend for Unsupported {
    fn spawn(&self, _spec: &mut Spec, _defaults: Defaults) -> io::Result<Spawned> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "childfd has no process-descriptor backend for this OS yet",
        ))
    }
}
