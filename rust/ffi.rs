// SPDX-License-Identifier: GPL-2.0

//! Every C function of `kds_exports.c` that the Rust side calls, in one
//! place (prototypes in `kds_internal.h`; keep the two in sync). Each is
//! wrapped, with its safety argument, by the one Rust file named above it;
//! no other file calls them.
//!
//! `kds_fence_wait_timeout` is the one `kds_*` export among them: the core
//! still sleeps on a fence through the C wait loop (issue 12 moves that
//! loop into Rust).

use crate::fence::RawFence;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

extern "C" {
    // Module set-up, misuse warnings, gfp classes, contexts (`cglue.rs`).
    pub(crate) fn kds_c_init() -> c_int;
    pub(crate) fn kds_c_exit();
    pub(crate) fn kds_misuse(kind: c_uint, func: *const c_char);
    pub(crate) fn kds_gfp_class(gfp: bindings::gfp_t) -> c_uint;
    pub(crate) fn kds_module_get() -> bool;
    pub(crate) fn kds_module_put();
    pub(crate) fn kds_in_hardirq() -> bool;
    pub(crate) fn kds_callback_call_begin(cb: *mut c_void);
    pub(crate) fn kds_callback_call_end(cb: *mut c_void);
    pub(crate) fn kds_memalloc_begin(gfp: bindings::gfp_t) -> c_uint;
    pub(crate) fn kds_memalloc_end(token: c_uint);
    pub(crate) fn kds_irq_level() -> c_uint;
    pub(crate) fn kds_live_enable(on: bool);

    // `raw_spinlock_t` and ordered lock scopes (`rawlock.rs`).
    // `key` is a `struct lock_class_key *`, passed opaquely: without
    // lockdep that struct is empty, and rustc rightly refuses a pointer to
    // a zero-sized type in a C signature (`improper_ctypes`).
    pub(crate) fn kds_raw_spin_lock_init(
        lock: *mut bindings::raw_spinlock_t,
        name: *const c_char,
        key: *mut c_void,
    );
    pub(crate) fn kds_raw_spin_lock_irqsave(lock: *mut bindings::raw_spinlock_t) -> c_ulong;
    pub(crate) fn kds_raw_spin_unlock_irqrestore(
        lock: *mut bindings::raw_spinlock_t,
        flags: c_ulong,
    );
    pub(crate) fn kds_raw_spin_trylock_irqsave(
        lock: *mut bindings::raw_spinlock_t,
        flags: *mut c_ulong,
    ) -> bool;
    pub(crate) fn kds_raw_spin_assert_held(lock: *mut bindings::raw_spinlock_t);
    pub(crate) fn kds_order_begin() -> c_ulong;
    pub(crate) fn kds_order_end(flags: c_ulong);
    pub(crate) fn kds_raw_spin_lock_ordered(lock: *mut bindings::raw_spinlock_t);
    pub(crate) fn kds_raw_spin_trylock_ordered(lock: *mut bindings::raw_spinlock_t) -> bool;
    pub(crate) fn kds_raw_spin_unlock(lock: *mut bindings::raw_spinlock_t);

    // `dma_fence` and `dma_resv` (`dma_fence.rs`).
    pub(crate) fn kds_dma_fence_get(fence: *mut bindings::dma_fence) -> *mut bindings::dma_fence;
    pub(crate) fn kds_dma_fence_put(fence: *mut bindings::dma_fence);
    pub(crate) fn kds_dma_fence_is_signaled(fence: *mut bindings::dma_fence) -> bool;
    // `dma_resv` and its iterator embed a structure that is empty in some
    // configurations, which Rust does not consider FFI-safe: pass them as
    // `void *`.
    pub(crate) fn kds_dma_resv_iter_begin(
        cursor: *mut c_void,
        resv: *mut c_void,
        usage: bindings::dma_resv_usage,
    );
    pub(crate) fn kds_dma_resv_iter_end(cursor: *mut c_void);

    // Waits for `dma_fence`s (`dma_wait.rs`).
    pub(crate) fn kds_kick_delayed_work(dwork: *mut bindings::delayed_work) -> bool;
    pub(crate) fn kds_dma_fence_timed_out(
        dma: *mut bindings::dma_fence,
        waiter: u64,
        timeout: usize,
    );
    pub(crate) fn kds_dma_fence_sources(
        dma: *mut bindings::dma_fence,
        out: *mut *mut RawFence,
        max: c_int,
        itself: *mut bool,
    ) -> c_int;

    // Workqueues (`queues.rs`).
    pub(crate) fn kds_workqueue() -> *mut bindings::workqueue_struct;
    pub(crate) fn kds_direct_workqueue() -> *mut bindings::workqueue_struct;

    // Fences (`fence.rs`).
    pub(crate) fn kds_kvfree_atomic(p: *const c_void);
    pub(crate) fn kds_queue_deferred();
    pub(crate) fn kds_hardirq_budget_begin(budget: usize) -> usize;
    pub(crate) fn kds_hardirq_budget_end();
    pub(crate) fn kds_fence_wait_timeout(
        f: *mut RawFence,
        intr: bool,
        timeout: kernel::ffi::c_long,
    ) -> kernel::ffi::c_long;
}
