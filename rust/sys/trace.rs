// SPDX-License-Identifier: GPL-2.0

//! Trace events: the Rust side of `c/kds_trace.h`.
//!
//! The events are defined in C with `TRACE_EVENT()` (`TRACE_SYSTEM kds`,
//! in `/sys/kernel/tracing/events/kds/`), because the 7.3 kernel crate
//! cannot define them in Rust. The `trace_*()` functions that
//! `TRACE_EVENT()` makes are static inlines, so `c/kds_trace.c` wraps each
//! in a plain function (`c/kds_trace_api.h`); this file declares those and
//! calls them through one safe function per event. Whether an event is
//! enabled is checked inside `trace_*()` (a static key): a disabled event
//! costs one call and that test.
//!
//! The events carry ids and names, never pointers to kds objects, so that
//! a trace joins the fence graph that debugfs prints; this file knows
//! nothing of fences, sets or domains beyond those numbers, and could be
//! posted upstream alone with its two C files, as an example of Rust
//! calling C-defined trace events. Strings are copied into the trace
//! buffer; addresses (a caller's return address, a work function) are only
//! printed, with `%pS` and `%ps`, when the trace is read.
//!
//! # Examples
//!
//! ```ignore
//! trace::fence_create(id, caller_ip, c"kds_fence");
//! trace::fence_await(waiter_id, signaler_id, AwaitKind::Fence);
//! trace::work_start(fence_id, cookie, func as usize);
//! ```

use kernel::ffi::{c_int, c_long, c_uint, c_void};
use kernel::prelude::*;
use kernel::str::CStrExt;

use crate::ffi::{
    kds_trace_fence_await, kds_trace_fence_complete, kds_trace_fence_create, kds_trace_fence_done,
    kds_trace_fence_name, kds_trace_fence_wait_end, kds_trace_fence_wait_start,
    kds_trace_set_cancel, kds_trace_set_grant, kds_trace_set_queue, kds_trace_set_release,
    kds_trace_work_end, kds_trace_work_queue, kds_trace_work_start,
};

/// What a fence awaits, the `kind` of [`fence_await`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AwaitKind {
    /// Another kds fence.
    Fence,
    /// A `dma_fence` (or a fence of a `dma_resv`).
    DmaFence,
    /// An hrtimer.
    Hrtimer,
    /// A `struct completion`.
    Completion,
    /// An external event, counted by the caller (`kds_fence_await()`).
    Event,
}

impl AwaitKind {
    /// The name the trace prints.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            AwaitKind::Fence => c"fence",
            AwaitKind::DmaFence => c"dma_fence",
            AwaitKind::Hrtimer => c"hrtimer",
            AwaitKind::Completion => c"completion",
            AwaitKind::Event => c"event",
        }
    }
}

/// `kds_fence_create`: fence `id` was created, of class `cls`, by the
/// function that returns to `ip`.
#[inline]
pub(crate) fn fence_create(id: u64, ip: usize, cls: &CStr) {
    // SAFETY: `cls` is NUL-terminated and valid for the call; the event
    // copies it and keeps no pointer. `ip` is only printed.
    unsafe { kds_trace_fence_create(id, ip, cls.as_char_ptr()) }
}

/// `kds_fence_name`: fence `id` (or the set or work item it is the fence
/// of) was named `name`.
#[inline]
pub(crate) fn fence_name(id: u64, name: &CStr) {
    // SAFETY: `name` is NUL-terminated and valid for the call; the event
    // copies it and keeps no pointer.
    unsafe { kds_trace_fence_name(id, name.as_char_ptr()) }
}

/// `kds_fence_await`: fence `waiter` awaits a source of `kind`; `signaler`
/// is the id of the kds fence awaited, 0 for a source that is not one.
#[inline]
pub(crate) fn fence_await(waiter: u64, signaler: u64, kind: AwaitKind) {
    // SAFETY: `kind.name()` is a static NUL-terminated string.
    unsafe { kds_trace_fence_await(waiter, signaler, kind.name().as_char_ptr()) }
}

/// `kds_fence_complete`: one event of fence `id` completed, with `error`
/// (a negative errno) or 0.
#[inline]
pub(crate) fn fence_complete(id: u64, error: c_int) {
    // SAFETY: The wrapper only records its arguments.
    unsafe { kds_trace_fence_complete(id, error) }
}

/// `kds_fence_done`: fence `id` is done; `status` as
/// `kds_fence_get_status()` returns it.
#[inline]
pub(crate) fn fence_done(id: u64, status: c_int) {
    // SAFETY: The wrapper only records its arguments.
    unsafe { kds_trace_fence_done(id, status) }
}

/// `kds_fence_wait_start`: the current task starts waiting for fence `id`.
#[inline]
pub(crate) fn fence_wait_start(id: u64) {
    // SAFETY: The wrapper only records its argument.
    unsafe { kds_trace_fence_wait_start(id) }
}

/// `kds_fence_wait_end`: the wait for fence `id` ended; `ret` as
/// `kds_fence_wait_timeout()` returns it.
#[inline]
pub(crate) fn fence_wait_end(id: u64, ret: c_long) {
    // SAFETY: The wrapper only records its arguments.
    unsafe { kds_trace_fence_wait_end(id, ret) }
}

/// `kds_set_queue`: resource set `set`, of `nr` resources, at least one of
/// them exclusive when `exclusive_any`, was queued by the function that
/// returns to `ip`.
#[inline]
pub(crate) fn set_queue(set: u64, ip: usize, nr: c_uint, exclusive_any: bool) {
    // SAFETY: The wrapper only records its arguments; `ip` is only printed.
    unsafe { kds_trace_set_queue(set, ip, nr, exclusive_any) }
}

/// `kds_set_grant`: resource set `set` was granted.
#[inline]
pub(crate) fn set_grant(set: u64) {
    // SAFETY: The wrapper only records its argument.
    unsafe { kds_trace_set_grant(set) }
}

/// `kds_set_release`: granted resource set `set` was released.
#[inline]
pub(crate) fn set_release(set: u64) {
    // SAFETY: The wrapper only records its argument.
    unsafe { kds_trace_set_release(set) }
}

/// `kds_set_cancel`: resource set `set` was released before it was granted.
#[inline]
pub(crate) fn set_cancel(set: u64) {
    // SAFETY: The wrapper only records its argument.
    unsafe { kds_trace_set_cancel(set) }
}

/// `kds_work_queue`: work calling the function at `func`, whose fence is
/// `fence` (0 for none), was queued to the domain named `domain` as
/// `cookie`.
#[inline]
pub(crate) fn work_queue(fence: u64, cookie: u64, domain: &CStr, func: usize) {
    // SAFETY: `domain` is NUL-terminated and valid for the call; the event
    // copies it and keeps no pointer. `func` is only printed, never called.
    unsafe { kds_trace_work_queue(fence, cookie, domain.as_char_ptr(), func as *mut c_void) }
}

/// `kds_work_start`: the function at `func` of work `cookie` (fence
/// `fence`, 0 for none) is called.
#[inline]
pub(crate) fn work_start(fence: u64, cookie: u64, func: usize) {
    // SAFETY: The wrapper only records its arguments; `func` is only
    // printed, never called.
    unsafe { kds_trace_work_start(fence, cookie, func as *mut c_void) }
}

/// `kds_work_end`: the function at `func` of work `cookie` (fence `fence`,
/// 0 for none) has returned.
#[inline]
pub(crate) fn work_end(fence: u64, cookie: u64, func: usize) {
    // SAFETY: The wrapper only records its arguments; `func` is only
    // printed, never called.
    unsafe { kds_trace_work_end(fence, cookie, func as *mut c_void) }
}
