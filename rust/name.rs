// SPDX-License-Identifier: GPL-2.0

//! Names of kds objects, for messages, debugfs and tracepoints.
//!
//! A [`Name`] is the address of the code that made the object (shown as
//! `%ps`: the creator function, or a work item's function) until a user
//! names it; a user name is up to [`NAME_LEN`] - 1 bytes, kept inline so
//! that naming never allocates and works in any context.
//!
//! The bytes are four atomic words under a sequence count, as the kernel's
//! `seqcount_t` does: a rename bumps the count to odd, writes, and bumps it
//! to even again; a reader copies and retries if the count moved. Neither
//! side waits for the other for long: a writer that finds another writer
//! busy gives up (one of two racing renames wins, which is all either
//! could ask), and a reader that keeps losing (it interrupted the writer
//! on its own CPU) falls back to the creator's address.
//!
//! Cost: creating a name is four stores; reading one is a copy of 40
//! bytes, and formatting `%ps` when the user never named the object.

use crate::sys::fmt::{StackStr, Symbol};
use core::fmt::Write;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::barrier::{smp_mb, Read, Write as WriteOrder};

/// The longest name kept, with its NUL (`KDS_NAME_LEN`).
pub(crate) const NAME_LEN: usize = 32;

const WORDS: usize = NAME_LEN / 8;

/// How often a reader retries a copy that a rename disturbed.
const READ_TRIES: usize = 64;

/// A name as text: at most [`NAME_LEN`] - 1 bytes of a user name, or the
/// creator's symbol.
pub(crate) type NameStr = StackStr<80>;

/// The name of a kds object.
pub(crate) struct Name {
    ip: usize,
    seq: Atomic<u32>,
    words: [Atomic<u64>; WORDS],
}

impl Name {
    /// The name of an object that the code at `ip` made.
    pub(crate) const fn of_ip(ip: usize) -> Name {
        Name {
            ip,
            seq: Atomic::new(0),
            words: [const { Atomic::new(0) }; WORDS],
        }
    }

    /// The creator's address.
    pub(crate) fn ip(&self) -> usize {
        self.ip
    }

    /// Names the object `text`, cut to [`NAME_LEN`] - 1 bytes (empty: back
    /// to the creator's symbol). Any context; gives up (keeping the other
    /// name) if another rename is under way.
    pub(crate) fn set(&self, text: &[u8]) {
        let s = self.seq.load(ordering::Relaxed);
        if s & 1 != 0 || self.seq.cmpxchg(s, s | 1, ordering::Relaxed).is_err() {
            return;
        }
        smp_mb(WriteOrder);
        let mut bytes = [0u8; NAME_LEN];
        let n = text.len().min(NAME_LEN - 1);
        bytes[..n].copy_from_slice(&text[..n]);
        for (i, w) in self.words.iter().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            w.store(u64::from_ne_bytes(b), ordering::Relaxed);
        }
        // Even again, never 0 (which means "never named") when it wraps.
        let next = match s.wrapping_add(2) {
            0 => 2,
            n => n,
        };
        self.seq.store(next, ordering::Release);
    }

    /// Copies a user name into `out`; false when there is none (or the copy
    /// kept being disturbed).
    fn copy_user(&self, out: &mut [u8; NAME_LEN]) -> bool {
        for _ in 0..READ_TRIES {
            let s = self.seq.load(ordering::Acquire);
            if s == 0 {
                return false;
            }
            if s & 1 != 0 {
                core::hint::spin_loop();
                continue;
            }
            for (i, w) in self.words.iter().enumerate() {
                out[i * 8..i * 8 + 8].copy_from_slice(&w.load(ordering::Relaxed).to_ne_bytes());
            }
            smp_mb(Read);
            if self.seq.load(ordering::Relaxed) == s {
                return out[0] != 0;
            }
        }
        false
    }

    /// The name: the user's, or the creator's symbol.
    pub(crate) fn get(&self) -> NameStr {
        let mut s = NameStr::new();
        let mut user = [0u8; NAME_LEN];
        if self.copy_user(&mut user) {
            let n = user.iter().position(|&b| b == 0).unwrap_or(NAME_LEN - 1);
            s.push_bytes(&user[..n]);
        } else if self.ip != 0 {
            let _ = s.write_fmt(kernel::prelude::fmt!("{}", Symbol(self.ip)));
        }
        s
    }

    /// Whether a user named the object.
    pub(crate) fn is_user(&self) -> bool {
        let mut user = [0u8; NAME_LEN];
        self.copy_user(&mut user)
    }
}
