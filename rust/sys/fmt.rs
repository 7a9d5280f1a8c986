// SPDX-License-Identifier: GPL-2.0

//! Bounded text, for names and diagnostics: "%ps" of an address, a small
//! string on the stack, a text buffer that never grows while a lock is
//! held, and the time in jiffies.
//!
//! The kernel crate of 7.3 formats into `pr_*!` and into `CString`s (which
//! allocate as they grow). Diagnostics that kds writes with raw spinlocks
//! held must not allocate there (allocators take sleeping locks on
//! PREEMPT_RT), so [`Text`] allocates its capacity up front and cuts what
//! does not fit, saying so.
//!
//! # Examples
//!
//! ```ignore
//! let mut t = Text::with_capacity(4096, GFP_KERNEL)?;   // allocates here
//! let _g = lock.lock();
//! t.write_fmt(fmt!("{}\n", Symbol(ip)))?;              // never allocates
//! ```

use crate::ffi::{kds_jiffies, kds_jiffies_to_msecs, kds_snprint_sym};
use core::fmt;
use kernel::alloc::Flags;
use kernel::prelude::*;

/// An address, printed as the kernel's `%ps`: the symbol it is in, or the
/// address in hex.
#[derive(Clone, Copy)]
pub(crate) struct Symbol(pub(crate) usize);

impl kernel::fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = StackStr::<80>::new();
        // SAFETY: `s.buf` is valid for `s.buf.len()` bytes of writes;
        // `%ps` only reads kallsyms.
        let n = unsafe { kds_snprint_sym(s.buf.as_mut_ptr().cast(), s.buf.len(), self.0) };
        s.len = (n.max(0) as usize).min(s.buf.len() - 1);
        f.write_str(s.as_str())
    }
}

/// A string of at most `N - 1` bytes on the stack; writes beyond that are
/// cut (at a character boundary).
pub(crate) struct StackStr<const N: usize> {
    pub(crate) buf: [u8; N],
    pub(crate) len: usize,
}

impl<const N: usize> StackStr<N> {
    /// An empty string.
    pub(crate) const fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    /// The text (valid UTF-8 up to the cut, which keeps only whole
    /// characters; C strings that are not UTF-8 show as `?`).
    pub(crate) fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or("?"),
        }
    }

    /// The text as raw bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text followed by a NUL, for C (the buffer keeps one byte free).
    pub(crate) fn as_cstr(&mut self) -> &CStr {
        self.buf[self.len] = 0;
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"?")
    }

    /// Appends raw bytes, cut to the room left.
    pub(crate) fn push_bytes(&mut self, b: &[u8]) {
        let room = N - 1 - self.len;
        let n = b.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - 1 - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.push_bytes(&s.as_bytes()[..n]);
        Ok(())
    }
}

impl<const N: usize> kernel::fmt::Display for StackStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text buffer with a fixed capacity: writing never allocates; what does
/// not fit is dropped and [`Text::truncated`] says so.
pub(crate) struct Text {
    buf: KVVec<u8>,
    truncated: bool,
}

impl Text {
    /// An empty text of `cap` bytes, allocated now with `flags`
    /// (`kvmalloc()`: large texts need no contiguous pages).
    pub(crate) fn with_capacity(cap: usize, flags: Flags) -> Result<Text> {
        Ok(Text {
            buf: KVVec::with_capacity(cap, flags)?,
            truncated: false,
        })
    }

    /// Whether something written did not fit.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// The text written so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Gives the buffer away (for C, which frees it with `kvfree()`).
    pub(crate) fn into_vec(self) -> KVVec<u8> {
        self.buf
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.buf.push_within_capacity(b).is_err() {
                self.truncated = true;
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// The current time in jiffies.
pub(crate) fn jiffies() -> usize {
    // SAFETY: Reads `jiffies`.
    unsafe { kds_jiffies() as usize }
}

/// Milliseconds since `then` (jiffies).
pub(crate) fn msecs_since(then: usize) -> u32 {
    // SAFETY: Pure conversion.
    unsafe { kds_jiffies_to_msecs(jiffies().wrapping_sub(then)) }
}
