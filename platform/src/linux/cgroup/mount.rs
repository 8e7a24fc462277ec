//! Where this process's cgroup v2 is: never a hard-coded `/sys/fs/cgroup` (hybrid hosts mount
//! the v2 hierarchy at `/sys/fs/cgroup/unified`; containers may show only a subtree).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The cgroup v2 directory this process belongs to: the `0::` line of `/proc/self/cgroup`,
/// under the `cgroup2` mount found in `/proc/self/mountinfo` (never a hard-coded
/// `/sys/fs/cgroup`: hybrid hosts mount it at `/sys/fs/cgroup/unified`).
///
/// # Errors
/// `NotFound` when there is no cgroup v2 hierarchy, or this process's cgroup is not visible
/// under its mount; what reading `/proc` reports.
pub fn own_cgroup() -> io::Result<PathBuf> {
    let path = own_path()?;
    let (point, root) = mount()?;
    let rel = Path::new(&path)
        .strip_prefix(&root)
        .map_err(|_| not_found("this process's cgroup is not under the cgroup2 mount"))?;
    Ok(match rel.as_os_str().is_empty() {
        true => point,
        false => point.join(rel),
    })
}

/// The `0::` path of `/proc/self/cgroup`.
pub(super) fn own_path() -> io::Result<String> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
    cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
        .ok_or_else(|| not_found("no cgroup v2 line (0::) in /proc/self/cgroup"))
}

/// The first `cgroup2` mount: its mount point, and the cgroup it shows (its root field).
pub(super) fn mount() -> io::Result<(PathBuf, PathBuf)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    for line in mountinfo.lines() {
        let Some((mount, fs)) = line.split_once(" - ") else {
            continue;
        };
        if fs.split(' ').next() != Some("cgroup2") {
            continue;
        }
        // "id parent major:minor root mountpoint ..."
        let mut fields = mount.split(' ').skip(3);
        if let (Some(root), Some(point)) = (fields.next(), fields.next()) {
            return Ok((unescape(point), unescape(root)));
        }
    }
    Err(not_found("no cgroup2 mount in /proc/self/mountinfo"))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, proc(5)).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|_| bytes[i] == b'\\');
        match octal.and_then(|o| u8::from_str_radix(std::str::from_utf8(o).ok()?, 8).ok()) {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

fn not_found(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, what)
}

/// The path a member's `/proc/<pid>/cgroup` shows for `dir`: relative to the cgroup2 mount.
pub(super) fn proc_path(dir: &Path) -> Option<Vec<u8>> {
    let (point, root) = mount().ok()?;
    let below = dir.strip_prefix(&point).ok()?;
    let full = match below.as_os_str().is_empty() {
        true => root,
        false => root.join(below),
    };
    Some(full.as_os_str().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
        assert_eq!(unescape("/end\\04"), PathBuf::from("/end\\04"));
    }
}
