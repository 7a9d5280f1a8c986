// SPDX-License-Identifier: GPL-2.0

//! Kernel abstractions that kds needs and the 7.3 kernel crate lacks.
//!
//! Each file wraps one kernel facility safely, knows nothing of fences,
//! resource sets or domains, and could be proposed upstream on its own
//! (with its C helpers, which are in `c/kds_wrappers.c` here because an
//! out-of-tree module cannot add to `rust/helpers/`); [`workqueue`] is the
//! exception, kds's own queues. The core uses these and `kernel::` only
//! (`scripts/lint.sh layers` checks it; `Documentation/development.rst`
//! names the one exception).
//!
//! - [`raw_spinlock`]: `raw_spinlock_t` locks, safe in hard IRQ context
//!   and on PREEMPT_RT.
//! - [`list`]: a C `list_head` whose entries C code provides.
//! - [`dma_fence`]: `dma_fence` references and callbacks, `dma_resv`
//!   iteration.
//! - [`lockdep`]: lockdep maps as wait/signal annotations, as
//!   `dma_fence_begin_signalling()` uses its own.
//! - [`hrtimer`]: an hrtimer that owns an `Arc` while armed and is
//!   cancelled without waiting.
//! - [`task`]: execution contexts, sleeping until woken, reclaim scopes,
//!   the hard-IRQ work budget.
//! - [`module`]: references to kds.ko itself.
//! - [`percpu`]: per-CPU counters and ids.
//! - [`workqueue`]: kds's workqueues and frees deferred to them.
//! - [`registry`]: every live object of a kind, walked in chunks without
//!   references, for diagnostics.
//! - [`fmt`]: bounded text, `%ps`, jiffies.
//! - [`trace`]: kds's tracepoints (`c/kds_trace.h`).

pub(crate) mod dma_fence;
pub(crate) mod fmt;
pub(crate) mod hrtimer;
pub(crate) mod list;
pub(crate) mod lockdep;
pub(crate) mod module;
pub(crate) mod percpu;
pub(crate) mod raw_spinlock;
pub(crate) mod registry;
pub(crate) mod task;
pub(crate) mod trace;
pub(crate) mod workqueue;
