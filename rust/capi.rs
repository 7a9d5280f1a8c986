// SPDX-License-Identifier: GPL-2.0

//! The C API edge: everything between a C caller and the safe core.
//!
//! - [`fence`], [`resource`] and [`work`] hold the `#[no_mangle]`
//!   functions of `include/kds.h` (exported by `c/kds_exports.c` with
//!   `EXPORT_SYMBOL_GPL`), and [`version`] the module's version. Each
//!   checks its C arguments, converts them and calls the core; none holds
//!   logic of its own, and the core never calls back into them.
//! - This file: the C side's set-up and teardown, the mapping of a C caller's `gfp_t` to allocation
//!   [`Flags`], and the few entry points that kds's own C code calls
//!   (`kds_internal.h`).

pub(crate) mod fence;
pub(crate) mod resource;
pub(crate) mod version;
pub(crate) mod work;

use crate::fence::class::{Builtin, Class};
use crate::ffi::{
    kds_blame_jiffies, kds_blame_ms_get, kds_c_exit, kds_c_init, kds_debugfs_exit,
    kds_debugfs_init, kds_default_class, kds_live_enable,
};
use crate::sys::task::{gfp_has, MemallocScope};
use kernel::alloc::{flags, Flags};
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// Runs the C side's load-time checks of the ABI between the Rust core and
/// `include/kds.h`, and sets up what the C side owns.
pub(crate) fn init() -> Result {
    for which in [Builtin::Fence, Builtin::Set, Builtin::Async] {
        // SAFETY: Returns one of kds.ko's static classes, initialised at
        // build time (`c/kds_classes.c`), which outlive all of kds.
        let class = unsafe { Class::from_raw(kds_default_class(which as c_uint).cast()) };
        Class::set_builtin(which, class.ok_or(EINVAL)?);
    }
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

/// `kds.blame_ms` in jiffies; 0: never blame.
pub(crate) fn blame_jiffies() -> kernel::ffi::c_long {
    // SAFETY: Reads a module parameter.
    unsafe { kds_blame_jiffies() as kernel::ffi::c_long }
}

/// `kds.blame_ms`.
pub(crate) fn blame_ms() -> u32 {
    // SAFETY: Reads a module parameter.
    unsafe { kds_blame_ms_get() }
}

/// A wait of `timeout` jiffies cut for blame ([`blame_split`]).
pub(crate) struct BlameSplit {
    /// The first part, `kds.blame_ms`, after which the wait blames.
    pub(crate) first: kernel::ffi::c_long,
    /// The rest (all of an infinite wait).
    pub(crate) rest: kernel::ffi::c_long,
    timeout: kernel::ffi::c_long,
}

impl BlameSplit {
    /// What is left of the whole wait when its first part ended with
    /// `left` jiffies to go: all of an infinite one, as for an unblamed
    /// wait and `dma_fence_wait_timeout()`.
    pub(crate) fn left(&self, left: kernel::ffi::c_long) -> kernel::ffi::c_long {
        if self.timeout == kernel::task::MAX_SCHEDULE_TIMEOUT {
            self.timeout
        } else {
            left + self.rest
        }
    }

    /// `what` for the blame message: "`func`: waited N ms".
    pub(crate) fn what<'a>(func: &'a CStr) -> (&'a str, u32) {
        (func.to_str().unwrap_or("kds"), blame_ms())
    }
}

/// Cuts a wait of `timeout` jiffies for blame; `None` when it cannot last
/// `kds.blame_ms` (or that is 0).
pub(crate) fn blame_split(timeout: kernel::ffi::c_long) -> Option<BlameSplit> {
    let first = blame_jiffies();
    if first == 0 || timeout <= first {
        return None;
    }
    let rest = if timeout == kernel::task::MAX_SCHEDULE_TIMEOUT {
        timeout
    } else {
        timeout - first
    };
    Some(BlameSplit {
        first,
        rest,
        timeout,
    })
}

/// Creates (`true`, at the end of module init) or removes (`false`, at
/// the start of module exit, waiting for readers) `/sys/kernel/debug/kds`.
pub(crate) fn debugfs_enable(on: bool) {
    // SAFETY: Called from module init and exit only, in that order.
    unsafe {
        if on {
            kds_debugfs_init()
        } else {
            kds_debugfs_exit()
        }
    }
}

/// The text of a debugfs file (`enum kds_debugfs_file`), for
/// `c/kds_debugfs.c`: a buffer to free with `kvfree()`, its length in
/// `len`; NULL when out of memory.
///
/// # Safety
///
/// `len` is valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_debugfs_text(which: c_uint, len: *mut usize) -> *mut u8 {
    let text = match which {
        0 => crate::debug::fences_text(),
        1 => crate::debug::resources_text(),
        2 => crate::debug::domains_text(),
        _ => crate::debug::graph_text(),
    };
    let Ok(text) = text else {
        return core::ptr::null_mut();
    };
    let (ptr, n, _cap) = text.into_vec().into_raw_parts();
    // SAFETY: `len` is valid for writes (function safety requirement).
    unsafe { *len = n };
    ptr
}

/// `echo <id> > /sys/kernel/debug/kds/blame`.
#[no_mangle]
pub(crate) extern "C" fn kds_debugfs_blame(id: u64) {
    crate::debug::blame_id(id, format_args!("blame"));
}

/// Undoes [`init`]; waits for the C side's work to finish.
pub(crate) fn exit() {
    // SAFETY: Called once, from module exit, after a successful `init`.
    unsafe { kds_c_exit() }
}

/// Maps a C caller's `gfp_t` to allocation [`Flags`] by reclaim class:
/// `GFP_KERNEL` when it may reclaim directly (`__GFP_DIRECT_RECLAIM`),
/// `GFP_ATOMIC` when it may use reserves (`__GFP_HIGH`), `GFP_NOWAIT`
/// otherwise; `__GFP_NOWARN` is kept. The filesystem and I/O bits are
/// honoured by the [`Gfp`]'s reclaim scope instead.
fn gfp_flags(gfp: bindings::gfp_t) -> Flags {
    let base = if gfp_has(gfp, bindings::___GFP_DIRECT_RECLAIM_BIT) {
        flags::GFP_KERNEL
    } else if gfp_has(gfp, bindings::___GFP_HIGH_BIT) {
        flags::GFP_ATOMIC
    } else {
        flags::GFP_NOWAIT
    };
    if gfp_has(gfp, bindings::___GFP_NOWARN_BIT) {
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
/// I/O (`GFP_NOIO`), this holds a [`MemallocScope`] while it lives: every
/// allocation of the call, whatever its flags, then leaves those out, as
/// the caller asked.
pub(crate) struct Gfp {
    flags: Flags,
    _scope: MemallocScope,
}

impl Gfp {
    /// Opens the scope `gfp` asks for; it closes when this is dropped.
    pub(crate) fn new(gfp: bindings::gfp_t) -> Self {
        Gfp {
            flags: gfp_flags(gfp),
            _scope: MemallocScope::new(gfp),
        }
    }

    /// The allocation flags.
    pub(crate) fn flags(&self) -> Flags {
        self.flags
    }
}

/// Internal to `c/kds_exports.c`: what kds holds now, for
/// `/sys/module/kds/parameters/live`: live fences (but the default async
/// domain's own, which live as long as kds), graph nodes and edges.
///
/// # Safety
///
/// `n` must be valid for writing three `i64`s.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_live_counts(n: *mut i64) {
    let (fences, nodes, edges) = crate::fence::live_counts();
    let fences = fences - work::default_domain_fences();
    // SAFETY: `n` has room for three (function safety requirement).
    unsafe {
        *n = fences;
        *n.add(1) = nodes as i64;
        *n.add(2) = edges as i64;
    }
}

/// Internal to `c/kds_wrappers.c`: the static work item that retires the
/// fences handed over from hard IRQ, in process context.
#[no_mangle]
pub(crate) extern "C" fn kds_fence_run_deferred() {
    crate::fence::run_deferred();
}

/// Internal to `c/kds_dma_export.c`: takes one more of kds's own (not a
/// user's) references to `f`, for the core, which takes it back with
/// [`crate::fence::Fence::from_raw_ref`].
///
/// # Safety
///
/// `f` must be a live fence.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_ref_internal(
    f: *mut crate::fence::RawFence,
) -> *mut crate::fence::RawFence {
    // SAFETY: `f` came from `Arc::into_raw` and is live (function safety
    // requirement): borrowing it and cloning adds one count.
    let f = unsafe { ArcBorrow::from_raw(f.cast_const().cast::<crate::fence::Fence>()) };
    Arc::into_raw(Arc::from(f)).cast_mut().cast()
}

/// Internal to `c/kds_dma_export.c`: drops a reference
/// [`kds_fence_ref_internal`] took, which the core did not take over.
///
/// # Safety
///
/// `f` must come from [`kds_fence_ref_internal`], dropped once.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_unref_internal(f: *mut crate::fence::RawFence) {
    // SAFETY: Function safety requirement.
    drop(unsafe { crate::fence::Fence::from_raw_ref(f) });
}
