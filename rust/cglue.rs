// SPDX-License-Identifier: GPL-2.0

//! The C half of `kds.ko`, as seen from Rust.
//!
//! `kds_exports.c` (declared in `kds_internal.h`) provides these functions:
//! load-time ABI checks, the once-per-kind API misuse warnings (C's
//! `WARN_ONCE()`, which KUnit's warning suppression understands), and the
//! mapping of a C caller's `gfp_t` to allocation [`Flags`], module
//! references, reclaim scopes and contexts; this file wraps them safely.
//! Their prototypes are in [`crate::ffi`].

use crate::ffi::{
    kds_c_exit, kds_c_init, kds_callback_call_begin, kds_callback_call_end, kds_gfp_class,
    kds_in_hardirq, kds_irq_level, kds_live_enable, kds_memalloc_begin, kds_memalloc_end,
    kds_misuse, kds_module_get, kds_module_put,
};
use kernel::alloc::{flags, Flags};
use kernel::error::to_result;
use kernel::ffi::{c_uint, c_void};
use kernel::prelude::*;
use kernel::str::CStrExt;

/// Whether the caller runs in hard IRQ context (C's `in_hardirq()`).
pub(crate) fn in_hardirq() -> bool {
    // SAFETY: `kds_in_hardirq` only reads the preempt count.
    unsafe { kds_in_hardirq() }
}

/// The current context, as a non-zero key: the task, plus the interrupt
/// level it is at (a softirq or hard IRQ that interrupts a task is another
/// context than the task). Code that runs with the same key while a
/// context is inside some kds call of its own is nested in that call.
///
/// On PREEMPT_RT the task alone is the key: softirqs run in task context
/// there (at `local_bh_enable()`, even inside a callback that unlocks a
/// `spinlock_t`), so a softirq in a task is nested in whatever that task
/// was running; and kds is not called from hard IRQ there.
pub(crate) fn context_key() -> usize {
    let task = kernel::task::Task::current_raw() as usize;
    if cfg!(CONFIG_PREEMPT_RT) {
        return task;
    }
    // SAFETY: `kds_irq_level` only reads the preempt count.
    let level = unsafe { kds_irq_level() } as usize;
    // A `task_struct` is aligned to more than 4 bytes: its low bits are
    // free for the level (0 to 3).
    task | (level & 3)
}

/// Counts a call of a driver's grant callback that a grant started, for
/// `kds_callback_term()`; [`callback_call_end`] uncounts it.
///
/// # Safety
///
/// `cb` must be a `struct kds_callback` set up by `kds_callback_init()` and
/// not yet terminated.
pub(crate) unsafe fn callback_call_begin(cb: *mut c_void) {
    // SAFETY: `cb` is live (function safety requirement).
    unsafe { kds_callback_call_begin(cb) }
}

/// Uncounts a call [`callback_call_begin`] counted: it has returned, or
/// will never be made. Afterwards `cb` may be gone.
///
/// # Safety
///
/// As for [`callback_call_begin`], with one call counted on `cb`.
pub(crate) unsafe fn callback_call_end(cb: *mut c_void) {
    // SAFETY: `cb` is live until this call's count is dropped, which the C
    // side does last (function safety requirement).
    unsafe { kds_callback_call_end(cb) }
}

/// A reference to kds.ko, held by every source kds arms that can fire
/// later on its own (an hrtimer, a `dma_fence` callback and its timeout, a
/// completion waiter), from arming until it has fired or been cancelled.
/// So `rmmod kds` fails with `-EBUSY` while one is armed, and no source
/// ever runs kds code after the module is gone. (kds's own work items need
/// none: module exit flushes kds's workqueues.)
pub(crate) struct ModuleRef(());

impl ModuleRef {
    /// Takes a reference; fails with `ENODEV` while kds is being unloaded.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Always safe to call while kds code runs.
        if unsafe { kds_module_get() } {
            Ok(ModuleRef(()))
        } else {
            Err(ENODEV)
        }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: `self` holds the reference `new` took.
        unsafe { kds_module_put() }
    }
}

/// Runs the C side's load-time checks of the ABI between the Rust core and
/// `include/kds.h`, and sets up what the C side owns.
pub(crate) fn init() -> Result {
    // SAFETY: `kds_c_init` takes no arguments, touches no Rust state and may
    // be called from any sleepable context, such as module init.
    to_result(unsafe { kds_c_init() })
}

/// Lets `/sys/module/kds/parameters/live` read kds's counts (`true`, at the
/// end of module init) or stops it, waiting for a read in progress
/// (`false`, at the start of module exit).
pub(crate) fn live_enable(on: bool) {
    // SAFETY: Takes a C mutex; called from module init and exit only.
    unsafe { kds_live_enable(on) }
}

/// Undoes [`init`]; waits for the C side's work to finish.
pub(crate) fn exit() {
    // SAFETY: Called once, from module exit, after a successful `init`.
    unsafe { kds_c_exit() }
}

/// Ways a C caller can misuse the API. Each warns once (`WARN_ONCE`) in
/// `kds_exports.c`; the numbers are shared with it.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Misuse {
    /// A NULL pointer where an object is required.
    Null = 0,
    /// A pointer that is not to a live kds object of the expected type.
    BadObject = 1,
    /// An event added to a fence that is already done.
    AwaitDone = 2,
    /// More events completed than awaited.
    OverComplete = 3,
    /// An error that is not a negative errno.
    BadError = 4,
    /// An error set on a fence that is already done.
    ErrorAfterDone = 5,
    /// The last reference to a pending fence with waiters was dropped.
    ReleasedPending = 6,
    /// A callback without a function.
    NoCallback = 7,
    /// An argument outside what the function accepts (e.g. a clock).
    BadArgument = 8,
    /// The same resource twice in one resource set.
    Duplicate = 9,
    /// A resource terminated while resource sets are queued on it.
    Busy = 10,
    /// A work item queued (or changed) after it was queued.
    Requeue = 11,
    /// An event or error added to a fence that kds completes itself.
    Internal = 12,
}

/// Reports API misuse by a caller of `func`: a `WARN_ONCE` per kind.
pub(crate) fn misuse(kind: Misuse, func: &CStr) {
    // SAFETY: `func` is a valid NUL-terminated string; `kds_misuse` only
    // prints it.
    unsafe { kds_misuse(kind as c_uint, func.as_char_ptr()) }
}

/// Maps a C caller's `gfp_t` to allocation [`Flags`] by reclaim class:
/// `GFP_KERNEL` when it may reclaim directly, `GFP_ATOMIC` when it may use
/// reserves, `GFP_NOWAIT` otherwise; `__GFP_NOWARN` is kept.
fn gfp_flags(gfp: kernel::bindings::gfp_t) -> Flags {
    // SAFETY: `kds_gfp_class` only inspects its argument.
    let class = unsafe { kds_gfp_class(gfp) };
    let base = match class & 0xf {
        0 => flags::GFP_KERNEL,
        1 => flags::GFP_ATOMIC,
        _ => flags::GFP_NOWAIT,
    };
    if class & 0x10 != 0 {
        base | flags::__GFP_NOWARN
    } else {
        base
    }
}

/// A C caller's `gfp_t`, for the length of one API call: the allocation
/// [`Flags`] of its reclaim class, and the reclaim it rules out.
///
/// Rust's [`Flags`] have no `GFP_NOFS` or `GFP_NOIO`, and kds allocates
/// more than the caller's one object (graph pools, links, waits). So for a
/// caller that may reclaim but not through filesystems (`GFP_NOFS`) or
/// I/O (`GFP_NOIO`), this holds a `memalloc_nofs_save()` or
/// `memalloc_noio_save()` scope while it lives: every allocation of the
/// call, whatever its flags, then leaves those out, as the caller asked.
pub(crate) struct Gfp {
    flags: Flags,
    token: c_uint,
    /// The scope belongs to the task that opened it.
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl Gfp {
    /// Opens the scope `gfp` asks for; it closes when this is dropped.
    pub(crate) fn new(gfp: kernel::bindings::gfp_t) -> Self {
        Gfp {
            flags: gfp_flags(gfp),
            // SAFETY: Opens a scope on the current task, which `drop`
            // closes on the same task (this type is not `Send`).
            token: unsafe { kds_memalloc_begin(gfp) },
            _not_send: core::marker::PhantomData,
        }
    }

    /// The allocation flags.
    pub(crate) fn flags(&self) -> Flags {
        self.flags
    }
}

impl Drop for Gfp {
    fn drop(&mut self) {
        // SAFETY: `token` came from `kds_memalloc_begin` on this task.
        unsafe { kds_memalloc_end(self.token) }
    }
}
