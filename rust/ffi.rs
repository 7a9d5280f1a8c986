// SPDX-License-Identifier: GPL-2.0

//! The C ABI between kds's Rust crate and its C files, in one place.
//!
//! - Every C function of `c/*.c` that the Rust side calls (prototypes in
//!   `kds_internal.h`; keep the two in sync). Each is wrapped, with its
//!   safety argument, by the one Rust file named above it; no other file
//!   calls them. None of them is a `kds_*` export: the core never calls
//!   the C API.
//! - The C function pointer types the API takes ([`RawCbFn`],
//!   [`AsyncFn`], [`GrantFn`]), so that the core names them without an
//!   ABI of its own.
//! - [`fence_cb_trampoline`], the C-ABI entry of fence callbacks that the
//!   core itself registers ([`FenceCbHandler`]).
//!
//! The `#[no_mangle]` functions C calls are defined at the C API edge
//! (`capi/`); the kernel abstractions in `sys/` keep their own
//! trampolines, so that each of those files stands alone.

use crate::fence::{RawCb, RawFence};
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

/// A `struct kds_fence_cb`'s function: `kds_fence_cb_fn`.
pub(crate) type RawCbFn = unsafe extern "C" fn(*mut RawFence, *mut RawCb);

/// An async work function: `kds_async_fn`, `fn(data, cookie)`.
pub(crate) type AsyncFn = unsafe extern "C" fn(*mut c_void, u64);

/// A resource set's grant callback: `kds_callback_fn`, `fn(param, extra)`.
pub(crate) type GrantFn = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// A fence callback that the core registers for itself: `Self` embeds a
/// [`RawCb`] at [`FenceCbHandler::CB_OFFSET`] and registers it with
/// [`fence_cb_trampoline::<Self>`].
///
/// # Safety
///
/// `CB_OFFSET` must be the offset of a [`RawCb`] field of `Self`.
pub(crate) unsafe trait FenceCbHandler {
    /// Offset of the [`RawCb`] in `Self`.
    const CB_OFFSET: usize;

    /// The fence is done. Runs in any context the fence completes in (hard
    /// IRQ included; interrupts off but on PREEMPT_RT), once.
    ///
    /// # Safety
    ///
    /// `this` is the `Self` whose [`RawCb`] was registered, valid for the
    /// whole call; once it returns, kds does not touch it again.
    unsafe fn done(this: *mut Self);
}

/// The C-ABI function of a [`FenceCbHandler`]'s [`RawCb`].
///
/// # Safety
///
/// `cb` must be the [`RawCb`] of a live `T`, registered with this function
/// for `T`.
pub(crate) unsafe extern "C" fn fence_cb_trampoline<T: FenceCbHandler>(
    _f: *mut RawFence,
    cb: *mut RawCb,
) {
    // SAFETY: `cb` is at `CB_OFFSET` in a live `T` (the trait's and this
    // function's safety requirements), so the result is in bounds.
    let this = unsafe { cb.byte_sub(T::CB_OFFSET) }.cast::<T>();
    // SAFETY: `this` is the registered, live `T` (safety requirement).
    unsafe { T::done(this) }
}

extern "C" {
    // Module set-up, the `live` parameter, misuse warnings (`capi.rs`).
    pub(crate) fn kds_c_init() -> c_int;
    pub(crate) fn kds_c_exit();
    pub(crate) fn kds_misuse(kind: c_uint, func: *const c_char);
    pub(crate) fn kds_live_enable(on: bool);

    // Contexts, sleeping, reclaim scopes, the hard-IRQ budget (`sys/task.rs`).
    pub(crate) fn kds_in_hardirq() -> bool;
    pub(crate) fn kds_irq_level() -> c_uint;
    pub(crate) fn kds_set_current_state(intr: bool);
    pub(crate) fn kds_set_current_running();
    pub(crate) fn kds_memalloc_begin(gfp: bindings::gfp_t) -> c_uint;
    pub(crate) fn kds_memalloc_end(token: c_uint);
    pub(crate) fn kds_hardirq_budget_begin(budget: usize) -> usize;
    pub(crate) fn kds_hardirq_budget_end();

    // Per-CPU counters and ids (`sys/percpu.rs`).
    pub(crate) fn kds_pcpu_add(idx: c_uint, delta: i64);
    pub(crate) fn kds_pcpu_sum(idx: c_uint) -> i64;
    pub(crate) fn kds_next_id() -> u64;

    // Text, the current CPU and jiffies (`sys/fmt.rs`, `sys/registry.rs`).
    pub(crate) fn kds_snprint_sym(buf: *mut c_char, len: usize, ip: c_ulong) -> c_int;
    pub(crate) fn kds_this_cpu() -> c_uint;
    pub(crate) fn kds_jiffies() -> c_ulong;
    pub(crate) fn kds_jiffies_to_msecs(j: c_ulong) -> c_uint;
    pub(crate) fn kds_dma_fence_describe(
        buf: *mut c_char,
        len: usize,
        dma: *mut bindings::dma_fence,
    ) -> c_int;

    // Module references (`sys/module.rs`).
    pub(crate) fn kds_module_get() -> bool;
    pub(crate) fn kds_module_put();

    // `list_head` (`sys/list.rs`).
    pub(crate) fn kds_list_del_init(entry: *mut bindings::list_head);
    pub(crate) fn kds_list_empty(head: *const bindings::list_head) -> bool;
    pub(crate) fn kds_list_splice_tail_init(
        list: *mut bindings::list_head,
        head: *mut bindings::list_head,
    );

    // `raw_spinlock_t` and ordered lock scopes (`sys/raw_spinlock.rs`).
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

    // `dma_fence` and `dma_resv` (`sys/dma_fence.rs`).
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

    // Waits for `dma_fence`s (`fence/dma.rs`).
    pub(crate) fn kds_dma_fence_timed_out(
        dma: *mut bindings::dma_fence,
        waiter: u64,
        name: *const c_char,
        timeout: usize,
    );
    pub(crate) fn kds_dma_fence_sources(
        dma: *mut bindings::dma_fence,
        out: *mut *mut RawFence,
        max: c_int,
        itself: *mut bool,
    ) -> c_int;

    // lockdep maps as wait/signal annotations (`sys/lockdep.rs`). A
    // `struct lockdep_map *` is passed as `void *`: without lockdep the
    // struct is empty (see `kds_raw_spin_lock_init`).
    pub(crate) fn kds_lockdep_might_wait(map: *mut c_void);
    pub(crate) fn kds_lockdep_begin_signalling(map: *mut c_void) -> bool;
    pub(crate) fn kds_lockdep_end_signalling(map: *mut c_void);
    pub(crate) fn kds_lockdep_enabled() -> bool;

    // dma_fence's own lockdep map (`sys/dma_fence.rs`).
    pub(crate) fn kds_dma_might_wait();
    pub(crate) fn kds_dma_begin_signalling() -> bool;
    pub(crate) fn kds_dma_end_signalling(cookie: bool);

    // Fence classes (`fence/class.rs`): `struct kds_fence_class *`.
    pub(crate) fn kds_default_class(which: c_uint) -> *mut c_void;

    // Trace events (`sys/trace.rs`).
    pub(crate) fn kds_trace_fence_create(id: u64, ip: c_ulong, cls: *const c_char);
    pub(crate) fn kds_trace_fence_name(id: u64, name: *const c_char);
    pub(crate) fn kds_trace_fence_await(waiter: u64, signaler: u64, kind: *const c_char);
    pub(crate) fn kds_trace_fence_complete(id: u64, error: c_int);
    pub(crate) fn kds_trace_fence_done(id: u64, status: c_int);
    pub(crate) fn kds_trace_fence_wait_start(id: u64);
    pub(crate) fn kds_trace_fence_wait_end(id: u64, ret: c_long);
    pub(crate) fn kds_trace_set_queue(set: u64, ip: c_ulong, nr: c_uint, exclusive_any: bool);
    pub(crate) fn kds_trace_set_grant(set: u64);
    pub(crate) fn kds_trace_set_release(set: u64);
    pub(crate) fn kds_trace_set_cancel(set: u64);
    pub(crate) fn kds_trace_work_queue(
        fence: u64,
        cookie: u64,
        domain: *const c_char,
        func: *mut c_void,
    );
    pub(crate) fn kds_trace_work_start(fence: u64, cookie: u64, func: *mut c_void);
    pub(crate) fn kds_trace_work_end(fence: u64, cookie: u64, func: *mut c_void);

    // debugfs and the blame parameter (`capi.rs`).
    pub(crate) fn kds_blame_jiffies() -> c_ulong;
    pub(crate) fn kds_blame_ms_get() -> c_uint;
    pub(crate) fn kds_debugfs_init();
    pub(crate) fn kds_debugfs_exit();

    // Workqueues, deferred frees and the deferred-retire work (`sys/workqueue.rs`).
    pub(crate) fn kds_workqueue() -> *mut bindings::workqueue_struct;
    pub(crate) fn kds_direct_workqueue() -> *mut bindings::workqueue_struct;
    pub(crate) fn kds_kick_delayed_work(dwork: *mut bindings::delayed_work) -> bool;
    pub(crate) fn kds_kvfree_atomic(p: *const c_void);
    pub(crate) fn kds_queue_deferred();
}
