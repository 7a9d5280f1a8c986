// SPDX-License-Identifier: GPL-2.0

//! kds's workqueues, which the C side allocates at module init and
//! destroys (draining them) at module exit, and what is deferred to them
//! without allocating.
//!
//! - [`kds_queue`]: async work, deferred frees (`WQ_MEM_RECLAIM`).
//! - [`kds_direct_queue`]: at high priority, work on signalling paths:
//!   direct grant callbacks and the rest of a long completion handed over
//!   from hard IRQ, `dma_fence` waits and their timeouts
//!   (`WQ_MEM_RECLAIM | WQ_HIGHPRI`).
//! - [`kick_delayed_work`]: a delayed work item on [`kds_direct_queue`]
//!   runs now.
//! - [`kvfree_atomic`]: `kvfree()` in any context but NMI.
//! - [`queue_deferred_retire`]: kicks the one static work item that
//!   retires fences handed over from hard IRQ.
//!
//! Completion waiters have a third queue, used only by the C side.

use crate::ffi::{
    kds_direct_workqueue, kds_kick_delayed_work, kds_kvfree_atomic, kds_queue_deferred,
    kds_workqueue,
};
use kernel::bindings;
use kernel::ffi::c_void;
use kernel::workqueue::{DelayedWork, Queue};

/// kds's workqueue: async work, deferred frees.
pub(crate) fn kds_queue() -> &'static Queue {
    // SAFETY: `kds_workqueue()` is valid from module init to module exit,
    // and kds's code only runs in between.
    unsafe { Queue::from_raw(kds_workqueue()) }
}

/// kds's high-priority workqueue for work on signalling paths: direct
/// grant callbacks and the rest of a long completion deferred from hard
/// IRQ, `dma_fence` waits and their timeouts.
pub(crate) fn kds_direct_queue() -> &'static Queue {
    // SAFETY: As for `kds_queue()`.
    unsafe { Queue::from_raw(kds_direct_workqueue()) }
}

/// Makes a delayed work item on [`kds_direct_queue`] run now, whether it was
/// waiting for its delay or idle (`mod_delayed_work()`). Returns whether
/// it was pending already.
///
/// # Safety
///
/// When it returns false, the item was queued now, and the caller must
/// give the queue the reference that the item's `run` consumes (for an
/// `Arc` item: leak one with `Arc::into_raw`).
pub(crate) unsafe fn kick_delayed_work<T: ?Sized, const ID: u64>(
    work: &DelayedWork<T, ID>,
) -> bool {
    let dwork = core::ptr::from_ref(work)
        .cast_mut()
        .cast::<bindings::delayed_work>();
    // SAFETY: `DelayedWork` is a transparent, initialised `delayed_work`,
    // alive for the call; kds's queue is valid while kds code runs.
    unsafe { kds_kick_delayed_work(dwork) }
}

/// Frees `kvmalloc()` memory in any context but NMI: `kfree()` at once,
/// a `vmalloc()` buffer (which `vfree()` may sleep to free) from
/// [`kds_queue`], using the dead buffer itself as the work item, as
/// `vfree_atomic()` (not exported) does.
///
/// # Safety
///
/// `p` is NULL or a `kvmalloc()` buffer that nothing refers to any more.
pub(crate) unsafe fn kvfree_atomic(p: *const c_void) {
    // SAFETY: As required of the caller.
    unsafe { kds_kvfree_atomic(p) }
}

/// Queues the static work item that retires fences handed over from hard
/// IRQ (it calls `kds_fence_run_deferred`); callable in any context.
pub(crate) fn queue_deferred_retire() {
    // SAFETY: Queues a static work item; allowed in any context.
    unsafe { kds_queue_deferred() }
}
