// SPDX-License-Identifier: GPL-2.0

//! lockdep maps as wait/signal annotations.
//!
//! A completion primitive cannot tell lockdep who will complete what a
//! thread waits for. `drivers/dma-buf/dma-fence.c` closes the gap with
//! one `struct lockdep_map` used as a lock that is never really taken: a
//! wait acquires and releases it (`__dma_fence_might_wait()`), and code
//! that leads to a signal holds it as a read trylock
//! (`dma_fence_begin_signalling()`). A lock held around a wait and taken
//! inside a signalling section then closes a cycle that lockdep reports.
//! [`WaitMap`] is that pattern for any map; [`Sections`] holds the
//! sections of several maps at once, released in reverse order.
//!
//! Without `CONFIG_LOCKDEP` every call is a no-op the compiler removes.
//!
//! # Examples
//!
//! ```ignore
//! // Waiting:
//! map.might_wait();
//! // Signalling:
//! let mut s = Sections::new();
//! s.begin(map);
//! complete_it();
//! drop(s);
//! ```

use crate::ffi::{
    kds_lockdep_begin_signalling, kds_lockdep_enabled, kds_lockdep_end_signalling,
    kds_lockdep_might_wait,
};
use core::ptr::NonNull;
use kernel::bindings;

/// Whether annotations are worth making: lockdep is built in and has not
/// turned itself off (it does after its first report).
pub(crate) fn enabled() -> bool {
    // SAFETY: Reads a global flag.
    cfg!(CONFIG_LOCKDEP) && unsafe { kds_lockdep_enabled() }
}

/// A `struct lockdep_map` used as a wait/signal annotation.
///
/// # Invariants
///
/// `0` points to an initialised `struct lockdep_map` (a static one, or one
/// set up with `lockdep_init_map()` and a static key) that outlives every
/// use of this value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitMap(NonNull<bindings::lockdep_map>);

// SAFETY: lockdep maps are used from any task; lockdep serialises itself.
unsafe impl Send for WaitMap {}
// SAFETY: As above.
unsafe impl Sync for WaitMap {}

impl WaitMap {
    /// Wraps a map.
    ///
    /// # Safety
    ///
    /// `map` must be initialised and outlive every use of the result.
    pub(crate) unsafe fn from_raw(map: NonNull<bindings::lockdep_map>) -> Self {
        // INVARIANT: The caller's promise.
        Self(map)
    }

    /// The caller is about to wait for what this map stands for (done or
    /// not: lockdep checks what could happen). Inside a section of the
    /// same map it first leaves it, so that the wait is recorded as the
    /// dependency it is, as `__dma_fence_might_wait()` does.
    pub(crate) fn might_wait(self) {
        if enabled() {
            // SAFETY: The map is initialised and alive (type invariant).
            unsafe { kds_lockdep_might_wait(self.0.as_ptr().cast()) }
        }
    }
}

/// How many maps one [`Sections`] holds at most.
pub(crate) const MAX_SECTIONS: usize = 8;

/// Signalling sections of up to [`MAX_SECTIONS`] maps, held until this is
/// dropped, then released in reverse order. A map already held by this
/// task, and every map in atomic context, is not acquired again (as with
/// `dma_fence_begin_signalling()`), nor is one past [`MAX_SECTIONS`].
///
/// # Invariants
///
/// The first `n` entries of `maps` are maps this task acquired, in order,
/// and has not released.
pub(crate) struct Sections {
    maps: [Option<WaitMap>; MAX_SECTIONS],
    n: usize,
}

impl Sections {
    /// No section yet.
    pub(crate) const fn new() -> Self {
        // INVARIANT: None held.
        Self {
            maps: [None; MAX_SECTIONS],
            n: 0,
        }
    }

    /// Opens a section of `map`, if lockdep is on, the task may sleep, no
    /// section of `map` is open and there is room.
    pub(crate) fn begin(&mut self, map: WaitMap) {
        if !enabled() || self.n == MAX_SECTIONS || self.maps[..self.n].contains(&Some(map)) {
            return;
        }
        // SAFETY: The map is initialised and alive (`WaitMap` invariant).
        if unsafe { kds_lockdep_begin_signalling(map.0.as_ptr().cast()) } {
            // INVARIANT: Acquired just now, after the others.
            self.maps[self.n] = Some(map);
            self.n += 1;
        }
    }

    /// The maps held, as C's `struct kds_signalling` keeps them; the
    /// sections stay open.
    pub(crate) fn into_raw(self) -> ([*mut bindings::lockdep_map; MAX_SECTIONS], usize) {
        let mut raw = [core::ptr::null_mut(); MAX_SECTIONS];
        for (r, m) in raw.iter_mut().zip(self.maps.iter()) {
            *r = m.map_or(core::ptr::null_mut(), |m| m.0.as_ptr());
        }
        let n = self.n;
        core::mem::forget(self);
        (raw, n)
    }

    /// Takes back what [`Sections::into_raw`] gave.
    ///
    /// # Safety
    ///
    /// `raw` and `n` must come from [`Sections::into_raw`] in this
    /// context, unchanged, and be taken back once.
    pub(crate) unsafe fn from_raw(
        raw: &[*mut bindings::lockdep_map; MAX_SECTIONS],
        n: usize,
    ) -> Self {
        let mut s = Self::new();
        for (m, r) in s.maps.iter_mut().zip(raw.iter()).take(n.min(MAX_SECTIONS)) {
            // SAFETY: `into_raw` stored live maps (caller's promise).
            *m = NonNull::new(*r).map(|p| unsafe { WaitMap::from_raw(p) });
        }
        // INVARIANT: The sections `into_raw` kept open (caller's promise).
        s.n = n.min(MAX_SECTIONS);
        s
    }
}

impl Drop for Sections {
    fn drop(&mut self) {
        while self.n > 0 {
            self.n -= 1;
            if let Some(m) = self.maps[self.n] {
                // SAFETY: Acquired by this task and not released (type
                // invariant); released in reverse order.
                unsafe { kds_lockdep_end_signalling(m.0.as_ptr().cast()) }
            }
        }
    }
}
