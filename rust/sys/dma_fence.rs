// SPDX-License-Identifier: GPL-2.0

//! DMA fences (`struct dma_fence`) and reservation objects (`struct
//! dma_resv`) for Rust.
//!
//! C headers: [`include/linux/dma-fence.h`], [`include/linux/dma-resv.h`].
//!
//! - [`DmaFence`] is a `dma_fence` whose reference count [`ARef`] manages.
//! - [`DmaFenceCallback`] ties a `dma_fence_cb` to `Arc` ownership: adding a
//!   callback hands one reference of an `Arc<T>` to the fence, and exactly
//!   one of "the fence signals" ([`DmaFenceCallback::signalled`] receives
//!   it back) and "the callback is removed" ([`remove_callback`] drops it)
//!   gets it.
//! - [`for_each_resv_fence`] walks the fences of a `dma_resv` by usage
//!   without taking its lock.
//! - [`might_wait`] and [`Signalling`]: the lockdep annotations of
//!   dma_fence waits and signalling sections, for code that waits or
//!   signals on behalf of a `dma_fence` without calling `dma_fence_wait()`
//!   or `dma_fence_signal()` itself.
//!
//! Nothing here is specific to kds, so that it could be proposed on its
//! own; the static inline functions are wrapped in `c/kds_wrappers.c`.
//!
//! # Examples
//!
//! Out-of-tree code cannot run rustdoc tests; this shows the use.
//!
//! ```ignore
//! #[pin_data]
//! struct Wait {
//!     #[pin]
//!     cb: DmaFenceCb,
//!     #[pin]
//!     done: Completion,
//! }
//!
//! // SAFETY: `cb` is the `DmaFenceCb` at `CB_OFFSET`.
//! unsafe impl DmaFenceCallback for Wait {
//!     const CB_OFFSET: usize = core::mem::offset_of!(Wait, cb);
//!     fn signalled(this: Arc<Self>, fence: &DmaFence) {
//!         pr_info!("signalled, status {}\n", fence.status());
//!         this.done.complete_all();
//!     }
//! }
//!
//! // `fence: &DmaFence`, borrowed from a caller's reference.
//! let w = Arc::pin_init(
//!     pin_init!(Wait { cb <- DmaFenceCb::new(), done <- Completion::new() }),
//!     GFP_KERNEL,
//! )?;
//! if add_callback(fence, w.clone()).is_ok() {
//!     w.done.wait_for_completion();   // `Err`: signalled already
//! }
//! ```
//!
//! [`include/linux/dma-fence.h`]: srctree/include/linux/dma-fence.h
//! [`include/linux/dma-resv.h`]: srctree/include/linux/dma-resv.h

use crate::ffi::{
    kds_dma_fence_get, kds_dma_fence_is_signaled, kds_dma_fence_put, kds_dma_resv_iter_begin,
    kds_dma_resv_iter_end,
};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::sync::aref::{ARef, AlwaysRefCounted};
use kernel::sync::Arc;
use kernel::types::Opaque;

/// A `struct dma_fence`.
///
/// # Invariants
///
/// The wrapped `dma_fence` is initialised and alive: whoever has a
/// `&DmaFence` holds (or borrows) a reference to it.
#[repr(transparent)]
pub(crate) struct DmaFence(Opaque<bindings::dma_fence>);

// SAFETY: A `dma_fence` may be used and released from any thread; its
// reference count is atomic and its state is protected by its lock.
unsafe impl Send for DmaFence {}
// SAFETY: As above: shared access is synchronised by the C side.
unsafe impl Sync for DmaFence {}

// SAFETY: `dma_fence_get()` and `dma_fence_put()` maintain the reference
// count, and the fence lives while it is non-zero.
unsafe impl AlwaysRefCounted for DmaFence {
    fn inc_ref(&self) {
        // SAFETY: The fence is alive (type invariant).
        unsafe { kds_dma_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference to give up.
        unsafe { kds_dma_fence_put(obj.as_ptr().cast()) }
    }
}

impl DmaFence {
    /// Borrows a `dma_fence`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live `dma_fence` to which the caller holds a
    /// reference for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_fence) -> &'a DmaFence {
        // SAFETY: `DmaFence` is a transparent wrapper; the pointee is alive
        // for `'a` (function safety requirement).
        // INVARIANT: The caller holds a reference for as long as the
        // borrow lives.
        unsafe { &*ptr.cast::<DmaFence>() }
    }

    /// The `struct dma_fence` pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// A counted reference to this fence.
    pub(crate) fn to_owned(&self) -> ARef<DmaFence> {
        ARef::from(self)
    }

    /// Writes `dma_fence driver:timeline:seqno`.
    pub(crate) fn describe(&self, out: &mut dyn core::fmt::Write) {
        let mut s = crate::sys::fmt::StackStr::<96>::new();
        // SAFETY: `s.buf` is valid for `s.buf.len()` bytes of writes; the
        // fence is alive (`&self`), and the helper reads its names under
        // `rcu_read_lock()` as `dma_fence_driver_name()` requires.
        let n = unsafe {
            crate::ffi::kds_dma_fence_describe(
                s.buf.as_mut_ptr().cast(),
                s.buf.len(),
                self.as_raw(),
            )
        };
        s.len = (n.max(0) as usize).min(s.buf.len() - 1);
        let _ = out.write_str("dma_fence ");
        let _ = out.write_str(s.as_str());
    }

    /// Whether the fence has signalled (`dma_fence_is_signaled()`, which may
    /// signal it when its `signaled` operation says so).
    pub(crate) fn is_signaled(&self) -> bool {
        // SAFETY: The fence is alive (type invariant).
        unsafe { kds_dma_fence_is_signaled(self.as_raw()) }
    }

    /// 0 while pending, 1 when signalled, the error when signalled with one.
    pub(crate) fn status(&self) -> i32 {
        // SAFETY: The fence is alive (type invariant).
        unsafe { bindings::dma_fence_get_status(self.as_raw()) }
    }
}

/// A `struct dma_fence_cb`, to embed in a [`DmaFenceCallback`].
#[repr(C)]
#[pin_data]
pub(crate) struct DmaFenceCb {
    #[pin]
    cb: Opaque<bindings::dma_fence_cb>,
}

// SAFETY: Only the dma-fence core touches the callback, under the fence's
// lock, whichever thread adds it or runs it.
unsafe impl Send for DmaFenceCb {}
// SAFETY: As above.
unsafe impl Sync for DmaFenceCb {}

impl DmaFenceCb {
    /// An unused callback slot, which may be passed to [`remove_callback`]
    /// before it is ever added.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; an empty node and no
            // function is what `dma_fence_remove_callback()` expects of an
            // unused slot.
            cb <- Opaque::ffi_init(|slot: *mut bindings::dma_fence_cb| unsafe {
                bindings::INIT_LIST_HEAD(&raw mut (*slot).node);
                (*slot).func = None;
            }),
        })
    }
}

/// Types whose `Arc`s can be called back when a `dma_fence` signals.
///
/// # Safety
///
/// `CB_OFFSET` must be the offset in `Self` of a [`DmaFenceCb`] field that
/// nothing but this module uses.
pub(crate) unsafe trait DmaFenceCallback: Send + Sync + Sized + 'static {
    /// Offset of the `Opaque<bindings::dma_fence_cb>` field.
    const CB_OFFSET: usize;

    /// Called once, when the fence signals, with the reference that
    /// [`add_callback`] handed over. Runs in the signalling context, with
    /// the fence's lock held and interrupts disabled: it must not sleep,
    /// take the fence's lock or add or remove callbacks on it.
    fn signalled(this: Arc<Self>, fence: &DmaFence);
}

fn cb_ptr<T: DmaFenceCallback>(this: *const T) -> *mut bindings::dma_fence_cb {
    this.cast::<u8>()
        .wrapping_add(T::CB_OFFSET)
        .cast_mut()
        .cast::<bindings::dma_fence_cb>()
}

/// The `dma_fence_func_t` of every [`DmaFenceCallback`].
///
/// # Safety
///
/// Called by the dma-fence core only, for a callback [`add_callback`] added.
unsafe extern "C" fn trampoline<T: DmaFenceCallback>(
    fence: *mut bindings::dma_fence,
    cb: *mut bindings::dma_fence_cb,
) {
    // SAFETY: `cb` is the field at `CB_OFFSET` of a `T` whose `Arc`
    // reference `add_callback` leaked; the fence now gives it back, once.
    let this = unsafe { Arc::from_raw(cb.cast::<u8>().sub(T::CB_OFFSET).cast::<T>()) };
    // SAFETY: The fence is alive while it calls its callbacks.
    T::signalled(this, unsafe { DmaFence::from_raw(fence) });
}

/// Adds `this` as a callback of `fence`, handing the reference over.
/// Returns it back when the fence has already signalled.
pub(crate) fn add_callback<T: DmaFenceCallback>(
    fence: &DmaFence,
    this: Arc<T>,
) -> Result<(), Arc<T>> {
    let ptr = Arc::into_raw(this);
    // SAFETY: `fence` is alive; the callback slot is valid and unused (trait
    // safety requirement), and stays valid while the leaked reference keeps
    // `T` alive.
    let ret: c_int = unsafe {
        bindings::dma_fence_add_callback(fence.as_raw(), cb_ptr(ptr), Some(trampoline::<T>))
    };
    if ret == 0 {
        Ok(())
    } else {
        // SAFETY: The fence did not take the callback (it has signalled); the
        // reference is ours again.
        Err(unsafe { Arc::from_raw(ptr) })
    }
}

/// Removes `this` from `fence`'s callbacks if it is still there, dropping
/// the reference [`add_callback`] handed over; returns whether it did.
///
/// `this` must have been added to `fence` (successfully or not).
pub(crate) fn remove_callback<T: DmaFenceCallback>(fence: &DmaFence, this: &Arc<T>) -> bool {
    let ptr = Arc::as_ptr(this);
    // SAFETY: `fence` is alive and the callback slot belongs to it or was
    // initialised by a failed `dma_fence_add_callback()`.
    if unsafe { bindings::dma_fence_remove_callback(fence.as_raw(), cb_ptr(ptr)) } {
        // SAFETY: The callback will not run: the reference it held is ours.
        drop(unsafe { Arc::from_raw(ptr) });
        true
    } else {
        false
    }
}

/// Calls `f` on each fence of `resv` whose usage is at most `usage`, without
/// locking `resv`, until `f` fails. `f` may sleep.
///
/// If `resv` changes during the walk, the walk restarts and `f` may see a
/// fence again, or one that has just left `resv`.
///
/// # Safety
///
/// `resv` must be a live, initialised `dma_resv`.
pub(crate) unsafe fn for_each_resv_fence(
    resv: *mut bindings::dma_resv,
    usage: bindings::dma_resv_usage,
    mut f: impl FnMut(&DmaFence) -> Result,
) -> Result {
    let cursor = Opaque::<bindings::dma_resv_iter>::uninit();
    // SAFETY: `cursor` is valid for writes; `resv` is alive (function safety
    // requirement).
    unsafe { kds_dma_resv_iter_begin(cursor.get().cast(), resv.cast(), usage) };
    let mut res = Ok(());
    // SAFETY: The cursor was begun on a live `resv`.
    let mut fence = unsafe { bindings::dma_resv_iter_first_unlocked(cursor.get()) };
    while !fence.is_null() {
        // SAFETY: The cursor holds a reference to `fence` until it moves on.
        res = f(unsafe { DmaFence::from_raw(fence) });
        if res.is_err() {
            break;
        }
        // SAFETY: As above.
        fence = unsafe { bindings::dma_resv_iter_next_unlocked(cursor.get()) };
    }
    // SAFETY: The cursor was begun and is ended once.
    unsafe { kds_dma_resv_iter_end(cursor.get().cast()) };
    res
}

/// Tells lockdep that the caller waits for a `dma_fence`, as
/// `dma_fence_wait()` does (`__dma_fence_might_wait()`), without waiting.
/// A no-op without `CONFIG_LOCKDEP`.
pub(crate) fn might_wait() {
    if cfg!(CONFIG_LOCKDEP) {
        // SAFETY: Waits for the stub fence, which has signalled.
        unsafe { crate::ffi::kds_dma_might_wait() }
    }
}

/// A `dma_fence` signalling section (`dma_fence_begin_signalling()`),
/// closed when dropped.
pub(crate) struct Signalling(bool);

impl Signalling {
    /// Opens a section.
    pub(crate) fn begin() -> Self {
        // SAFETY: Always allowed; nesting is handled by the callee.
        Self(unsafe { crate::ffi::kds_dma_begin_signalling() })
    }

    /// A section that [`Signalling::begin`] opened in this context and
    /// that was kept open (`core::mem::forget`) since, with the cookie
    /// `false` (a cookie of `true` needs no closing and is not kept).
    pub(crate) fn opened() -> Self {
        Self(false)
    }

    /// Whether dropping this closes a section (it opened one rather than
    /// finding one open).
    pub(crate) fn needs_close(&self) -> bool {
        !self.0
    }
}

impl Drop for Signalling {
    fn drop(&mut self) {
        // SAFETY: The cookie of the section this opened, in this context.
        unsafe { crate::ffi::kds_dma_end_signalling(self.0) }
    }
}
