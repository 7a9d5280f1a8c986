// SPDX-License-Identifier: GPL-2.0

//! kds fences awaiting `dma_fence`s and `dma_resv`s.
//!
//! Each awaited `dma_fence` is one [`DmaWait`]: it owns an [`Event`] of the
//! kds fence and is shared, through an `Arc`, by a `dma_fence` callback and
//! a delayed work item on kds's workqueue:
//!
//! - the callback runs under the signalling driver's fence lock with
//!   interrupts off, so it does no more than move the work item to "run
//!   now" (`mod_delayed_work()`): completing a kds fence there could run a
//!   long chain of kds completions, and signal other `dma_fence`s (exports)
//!   whose locks share a lockdep class with the one held, inside a foreign
//!   driver's lock. `dma_fence_array` defers to irq_work for the same
//!   reason.
//! - the work item, armed with the timeout (or queued by the callback when
//!   there is none), completes the event: with the `dma_fence`'s error if it
//!   has signalled, else with `-ETIMEDOUT` after a rate-limited warning,
//!   and then removes the callback.
//!
//! Whoever takes the event first completes it; the other finds nothing to
//! do. Each of the two holds its own reference to the [`DmaWait`], so the
//! second to finish frees it, whichever order they come in.

use crate::fence::{Event, Fence, RawFence, Source};
use crate::ffi::{kds_dma_fence_sources, kds_dma_fence_timed_out};
use crate::sys::dma_fence::{self, DmaFence, DmaFenceCallback, DmaFenceCb};
use crate::sys::module::ModuleRef;
use crate::sys::raw_spinlock::{new_raw_spinlock_irq, RawSpinLockIrq};
use crate::sys::trace::{self, AwaitKind};
use crate::sys::workqueue::{kds_direct_queue, kick_delayed_work};
use kernel::alloc::Flags;
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::sync::Arc;
use kernel::workqueue::{DelayedWork, WorkItem};

/// One kds event waiting for one `dma_fence`.
#[pin_data]
pub(crate) struct DmaWait {
    #[pin]
    cb: DmaFenceCb,
    #[pin]
    work: DelayedWork<DmaWait>,
    #[pin]
    event: RawSpinLockIrq<Option<Event>>,
    dma: ARef<DmaFence>,
    /// Id of the waiting kds fence, for the timeout warning.
    waiter: u64,
    /// Jiffies, 0 for none.
    timeout: usize,
    /// Holds kds.ko while the callback or the timeout can still fire.
    _module: ModuleRef,
}

kernel::impl_has_delayed_work! {
    impl HasDelayedWork<Self> for DmaWait { self.work }
}

// SAFETY: `cb` is a `DmaFenceCb` used only by `dma_fence.rs`.
unsafe impl DmaFenceCallback for DmaWait {
    const CB_OFFSET: usize = core::mem::offset_of!(DmaWait, cb);

    fn signalled(this: Arc<Self>, _fence: &DmaFence) {
        Self::run_now(this);
    }
}

impl WorkItem for DmaWait {
    type Pointer = Arc<DmaWait>;

    fn run(this: Arc<DmaWait>) {
        let Some(event) = this.event.lock().take() else {
            return;
        };
        match this.dma.status() {
            0 => {
                if let Some(f) = event.fence() {
                    let mut name = f.name();
                    // SAFETY: `dma` is alive (we hold a reference); `name`
                    // is a C string.
                    unsafe {
                        kds_dma_fence_timed_out(
                            this.dma.as_raw(),
                            this.waiter,
                            name.as_cstr().as_char_ptr(),
                            this.timeout,
                        )
                    };
                    // What the waiter still waits for, the dma_fence among
                    // it (it is forgotten, and its event completes, only
                    // below).
                    crate::debug::blame(f, format_args!("fence {} blocked by", this.waiter));
                    f.forget_source(Arc::as_ptr(&this) as usize);
                }
                event.complete(ETIMEDOUT.to_errno());
                // Whether it is still registered or just ran, the callback's
                // reference is accounted for.
                dma_fence::remove_callback(&this.dma, &this);
            }
            status => {
                if let Some(f) = event.fence() {
                    f.forget_source(Arc::as_ptr(&this) as usize);
                }
                event.complete(status.min(0))
            }
        }
    }
}

impl Source for DmaWait {
    fn describe(&self, out: &mut dyn core::fmt::Write) {
        self.dma.describe(out);
    }
}

impl DmaWait {
    /// Makes the work item run now, handing it `this`: if it was already
    /// queued (the timeout), it has a reference of its own.
    fn run_now(this: Arc<Self>) {
        // SAFETY: When it was not pending, the queue gets the reference
        // `this` (leaked below).
        if unsafe { kick_delayed_work(&this.work) } {
            drop(this);
        } else {
            // Queued anew: the queue owns this reference until `run`.
            let _ = Arc::into_raw(this);
        }
    }

    /// A wait of `f` for `dma`, not armed yet: everything that can fail
    /// for want of memory, done before `f` changes.
    fn new(f: &Fence, dma: &DmaFence, timeout: usize, flags: Flags) -> Result<Arc<Self>> {
        let module = ModuleRef::new()?;
        Arc::pin_init(
            try_pin_init!(DmaWait {
                cb <- DmaFenceCb::new(),
                work <- kernel::new_delayed_work!("kds_dma_wait"),
                event <- new_raw_spinlock_irq!(None, c"kds_dma_wait"),
                dma: dma.to_owned(),
                waiter: f.id(),
                timeout,
                _module: module,
            }),
            flags,
        )
    }

    /// Makes `f` await the `dma_fence` of `w` (from [`DmaWait::new`]),
    /// completing with `-ETIMEDOUT` after its timeout (0: never).
    fn arm(w: Arc<Self>, f: &Arc<Fence>, flags: Flags) -> Result<bool> {
        // `w` was allocated before the event is added: a failure leaves the
        // fence as it was (dropping an event would complete it, -ECANCELED).
        f.add_source(w.clone(), flags)?;
        match Fence::add_event(f) {
            Ok(e) => *w.event.lock() = Some(e),
            Err(e) => {
                f.forget_source(Arc::as_ptr(&w) as usize);
                return Err(e);
            }
        }
        trace::fence_await(f.id(), 0, AwaitKind::DmaFence);
        let timeout = w.timeout;
        // On the high-priority queue: completing the event is on the
        // signalling path of every fence above it, exported ones included.
        if timeout != 0
            && kds_direct_queue()
                .enqueue_delayed(w.clone(), timeout)
                .is_err()
        {
            // A fresh work item cannot be queued already.
            return Err(EINVAL);
        }
        if let Err(w) = dma_fence::add_callback(&w.dma, w.clone()) {
            // Signalled meanwhile: complete from the work item all the same.
            Self::run_now(w);
        }
        Ok(true)
    }
}

/// The kds fences behind the unsignalled kds exports that `dma` is, or
/// that it holds as a `dma_fence_array` or `dma_fence_chain`; and whether
/// `dma` is an export itself.
fn kds_sources(dma: &DmaFence, flags: Flags) -> Result<(KVec<Arc<Fence>>, bool)> {
    let mut room = 4usize;
    loop {
        let mut raw = KVec::<*mut RawFence>::with_capacity(room, flags)?;
        let mut out = KVec::<Arc<Fence>>::with_capacity(room, flags)?;
        let mut itself = false;
        let max = c_int::try_from(room).map_err(|_| ENOMEM)?;
        // SAFETY: `dma` is alive; `raw` has room for `max` pointers, and
        // `itself` is valid for writes.
        let n = unsafe { kds_dma_fence_sources(dma.as_raw(), raw.as_mut_ptr(), max, &mut itself) };
        let n = usize::try_from(n).unwrap_or(0);
        for i in 0..n.min(room) {
            // SAFETY: The C side stored one of kds's own references (from
            // `kds_fence_ref_internal()`) in each of the first
            // `min(n, room)` slots, and hands it over.
            let f = unsafe { Fence::from_raw_ref(*raw.as_ptr().add(i)) };
            // Cannot fail: there is room for `room`.
            let _ = out.push_within_capacity(f);
        }
        if n <= room {
            return Ok((out, itself));
        }
        // More than there was room for (the rest were put): again.
        room = n;
    }
}

/// Makes `f` await `dma`.
///
/// The kds exports that `dma` is or holds are seen by cycle detection:
/// awaiting an export without a timeout awaits the kds fence behind it
/// directly; otherwise (a timeout, or a `dma_fence_array`, a
/// `dma_fence_chain` or a merged `sync_file` holding exports) a
/// [`DmaWait`] waits for `dma`, and the graph records that `f` waits for
/// each kds fence inside, so that an await closing a cycle through them
/// is refused. (For an array that signals on any of its fences this is
/// conservative: the cycle may be one that would not deadlock.)
pub(crate) fn await_dma_fence(
    f: &Arc<Fence>,
    dma: &DmaFence,
    timeout: usize,
    flags: Flags,
) -> Result<bool> {
    if dma.is_signaled() {
        f.inherit(dma.status());
        return Ok(false);
    }
    let (sources, itself) = kds_sources(dma, flags)?;
    if itself && timeout == 0 {
        if let Some(s) = sources.first() {
            return Fence::await_fence(f, s, flags);
        }
    }
    let w = DmaWait::new(f, dma, timeout, flags)?;
    Fence::order_after_all(f, &sources, flags)?;
    DmaWait::arm(w, f, flags)
}

/// Makes `f` await every fence of `resv` with usage at most `usage`.
///
/// # Safety
///
/// `resv` must be a live, initialised `dma_resv`.
pub(crate) unsafe fn await_dma_resv(
    f: &Arc<Fence>,
    resv: *mut bindings::dma_resv,
    usage: bindings::dma_resv_usage,
    timeout: usize,
    flags: Flags,
) -> Result<bool> {
    let mut added = false;
    // SAFETY: `resv` is alive (function safety requirement).
    unsafe {
        dma_fence::for_each_resv_fence(resv, usage, |dma| {
            added |= await_dma_fence(f, dma, timeout, flags)?;
            Ok(())
        })
    }?;
    Ok(added)
}
