// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters and id allocation, for numbers that every CPU changes
//! often and that are read rarely.
//!
//! A global atomic that every CPU increments bounces its cache line
//! between them; the fence lifecycle did that twice per fence (a live
//! count and an id). [`Counter`] adds on the local CPU (`this_cpu_add()`)
//! and sums over the possible CPUs only when read, as `percpu_counter`'s
//! slow path does. [`next_id`] hands out ids from per-CPU blocks of 1,024
//! taken from one atomic: unique, increasing per CPU, not across CPUs.
//!
//! The kernel crate of 7.3 has no per-CPU variables; the C helpers (and
//! the per-CPU storage, a fixed set of counters) are in
//! `c/kds_wrappers.c`.
//!
//! # Examples
//!
//! ```ignore
//! static LIVE: Counter = Counter::FENCES;
//! LIVE.add(1);              // any context, no shared cache line
//! let n = LIVE.sum();       // exact once the adders are quiet
//! ```

use crate::ffi::{kds_next_id, kds_pcpu_add, kds_pcpu_sum};
use kernel::ffi::c_uint;

/// One of the per-CPU counters (`KDS_PCPU_*` in `kds_internal.h`).
#[derive(Clone, Copy)]
pub(crate) struct Counter(c_uint);

impl Counter {
    /// Live fences (`KDS_PCPU_FENCES`).
    pub(crate) const FENCES: Counter = Counter(0);

    /// Adds `delta` on the current CPU; any context.
    pub(crate) fn add(self, delta: i64) {
        // SAFETY: `self.0` is a valid counter index; `this_cpu_add()` is
        // safe in any context.
        unsafe { kds_pcpu_add(self.0, delta) }
    }

    /// The sum over every possible CPU: exact when no CPU adds meanwhile.
    pub(crate) fn sum(self) -> i64 {
        // SAFETY: `self.0` is a valid counter index; reading is always safe.
        unsafe { kds_pcpu_sum(self.0) }
    }
}

/// A new id: unique for the module's life, never 0; any context.
pub(crate) fn next_id() -> u64 {
    // SAFETY: Takes the next id of this CPU's block; safe in any context.
    unsafe { kds_next_id() }
}
