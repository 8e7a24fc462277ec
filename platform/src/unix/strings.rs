//! The C strings a child needs (`argv`, `envp`, the program, its search path, the working
//! directory), in one byte buffer, and the pointer arrays into it, in one more: two buffers
//! per spawn, kept by each thread for its next spawn, so that a spawn in a steady state
//! allocates nothing here (issue 11). Every allocation is fallible: `ENOMEM`, never an abort
//! (issue 14).
// Only the spawn engines of Linux and FreeBSD build a plan.
#![cfg_attr(not(any(target_os = "linux", target_os = "freebsd")), allow(dead_code))]

use std::cell::Cell;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

/// Buffers larger than this (a huge environment or argument list) are freed after the
/// spawn rather than kept by the thread.
const KEEP_BYTES: usize = 128 * 1024;

std::thread_local! {
    /// This thread's buffers between spawns (empty while a spawn holds them).
    static CACHE: Cell<(Vec<u8>, Vec<*const libc::c_char>)> =
        const { Cell::new((Vec::new(), Vec::new())) };
}

fn enomem(_: std::collections::TryReserveError) -> io::Error {
    io::Error::from_raw_os_error(libc::ENOMEM)
}

fn nul_error() -> io::Error {
    // std's words for the same error.
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

/// NUL-terminated strings, appended in order, and the NULL-terminated pointer arrays made
/// from them once they are all in (the byte buffer never moves after that).
#[derive(Debug)]
pub(crate) struct Strings {
    bytes: Vec<u8>,
    pointers: Vec<*const libc::c_char>,
}

impl Strings {
    /// This thread's buffers, emptied, or new ones.
    pub(crate) fn take() -> Strings {
        let (mut bytes, mut pointers) = CACHE.try_with(Cell::take).unwrap_or_default();
        bytes.clear();
        pointers.clear();
        Strings { bytes, pointers }
    }

    /// Where the next string will start.
    pub(crate) fn offset(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the concatenation of `parts` and a NUL.
    ///
    /// # Errors
    /// `InvalidInput` if a part holds a NUL byte; `ENOMEM`.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        if parts.iter().any(|p| p.contains(&0)) {
            return Err(nul_error());
        }
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + 1;
        self.bytes.try_reserve(len).map_err(enomem)?;
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(0);
        Ok(())
    }

    /// Appends `key=value` and a NUL.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub(crate) fn push_var(&mut self, key: &OsStr, value: &OsStr) -> io::Result<()> {
        self.push(&[key.as_bytes(), b"=", value.as_bytes()])
    }

    /// The bytes of the string at `at`, without its NUL (empty if `at` is out of range).
    pub(crate) fn get(&self, at: usize) -> &[u8] {
        let tail = self.bytes.get(at..).unwrap_or_default();
        let len = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        tail.get(..len).unwrap_or_default()
    }

    /// A pointer to the C string at `at`. Valid while `self` lives, once every string is in.
    pub(crate) fn ptr(&self, at: usize) -> *const libc::c_char {
        self.bytes.as_ptr().wrapping_add(at).cast()
    }

    /// Reserves room for `count` more pointers (their arrays' NULLs included).
    ///
    /// # Errors
    /// `ENOMEM`.
    pub(crate) fn reserve_pointers(&mut self, count: usize) -> io::Result<()> {
        self.pointers.try_reserve(count).map_err(enomem)
    }

    /// Appends a NULL-terminated array of pointers to the `count` strings that start at
    /// `from`, and returns where the array starts. Call once every string is in.
    ///
    /// # Errors
    /// `ENOMEM`.
    pub(crate) fn push_array(&mut self, from: usize, count: usize) -> io::Result<usize> {
        self.reserve_pointers(count + 1)?;
        let start = self.pointers.len();
        let mut at = from;
        for _ in 0..count {
            self.pointers.push(self.ptr(at));
            at += self.get(at).len() + 1;
        }
        self.pointers.push(std::ptr::null());
        Ok(start)
    }

    /// The array [`push_array`](Self::push_array) put at `start`. Valid while `self` lives.
    pub(crate) fn array(&self, start: usize) -> *const *const libc::c_char {
        self.pointers.as_ptr().wrapping_add(start)
    }
}

impl Drop for Strings {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        let mut pointers = std::mem::take(&mut self.pointers);
        let size = bytes.capacity() + pointers.capacity() * std::mem::size_of::<usize>();
        if size <= KEEP_BYTES {
            // No pointer into the bytes may outlive this spawn.
            pointers.clear();
            let _ = CACHE.try_with(|c| c.set((bytes, pointers)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_arrays() {
        let mut s = Strings::take();
        s.push(&[b"echo"]).unwrap();
        s.push(&[b"a", b"b"]).unwrap();
        let env = s.offset();
        s.push_var(OsStr::new("K"), OsStr::new("v")).unwrap();
        assert_eq!(
            s.push(&[b"x\0y"]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let argv = s.push_array(0, 2).unwrap();
        let envp = s.push_array(env, 1).unwrap();
        assert_eq!(
            (s.get(0), s.get(5), s.get(env)),
            (&b"echo"[..], &b"ab"[..], &b"K=v"[..])
        );
        assert_eq!(s.get(1000), b"");
        // SAFETY: the arrays point into `s`, alive and complete.
        unsafe {
            let argv = std::slice::from_raw_parts(s.array(argv), 3);
            assert_eq!(std::ffi::CStr::from_ptr(argv[1]).to_bytes(), b"ab");
            assert!(argv[2].is_null());
            let envp = std::slice::from_raw_parts(s.array(envp), 2);
            assert_eq!(std::ffi::CStr::from_ptr(envp[0]).to_bytes(), b"K=v");
            assert!(envp[1].is_null());
        }
        let capacity = s.bytes.capacity();
        drop(s);
        // The next spawn on this thread gets the same buffers, emptied.
        let s = Strings::take();
        assert_eq!((s.offset(), s.bytes.capacity()), (0, capacity));
    }
}
