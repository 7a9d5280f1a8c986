// SPDX-License-Identifier: GPL-2.0

//! kds's workqueues, which the C side allocates at module init and
//! destroys (draining them) at module exit: one for async work, dma_fence
//! waits and their timeouts, and deferred frees; one, at high priority,
//! for work handed over from hard IRQ. (Completion waiters have a third,
//! used only by the C side.)

use crate::ffi::{kds_direct_workqueue, kds_workqueue};
use kernel::workqueue::Queue;

/// kds's workqueue: async work, dma_fence waits and their timeouts,
/// deferred frees.
pub(crate) fn kds_queue() -> &'static Queue {
    // SAFETY: `kds_workqueue()` is valid from module init to module exit,
    // and kds's code only runs in between.
    unsafe { Queue::from_raw(kds_workqueue()) }
}

/// kds's high-priority workqueue for work deferred from hard IRQ: direct
/// grant callbacks and the rest of a long completion.
pub(crate) fn kds_direct_queue() -> &'static Queue {
    // SAFETY: As for `kds_queue()`.
    unsafe { Queue::from_raw(kds_direct_workqueue()) }
}
