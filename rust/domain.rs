// SPDX-License-Identifier: GPL-2.0

//! Async domains: functions run asynchronously, with explicit dependencies.
//!
//! A work item ([`AsyncWork`]) is two fences and a function:
//!
//! - its *gate* awaits every fence the work was put after
//!   (`kds_async_work_after()`), the domain's latest barrier and, in a
//!   deterministic domain, the work queued before it; queueing commits it;
//! - when the gate is done, a callback queues the work on kds's workqueue,
//!   never running it in the completing context;
//! - the work item calls the function unless the gate completed with an
//!   error (a cancelled prerequisite), then completes its *done* fence,
//!   which awaits the gate too (so it inherits that error, and cycle
//!   detection sees the path gate → done) and which fences the work was
//!   put before await (`kds_async_work_before()`).
//!
//! A [`Domain`] numbers the work queued in it (cookies), keeps the pending
//! items in cookie order for `synchronize_cookie()`, and implements
//! barriers with *epochs*: every queued item holds an event of the current
//! epoch fence; a barrier closes the epoch (which then completes when all
//! work queued before the barrier has finished, and after the previous
//! barrier) and later work awaits it.
//!
//! Work runs on kds's unbound workqueue (`WQ_MAX_ACTIVE` items at once,
//! 2048 on 7.3): a work function may sleep, or wait for other kds work,
//! and the workqueue starts another worker for the next item, so the pool
//! does not deadlock until that many items block at the same time.

pub(crate) mod resolver;

use crate::fence::{Event, Fence, RawCb};
use crate::ffi::{fence_cb_trampoline, AsyncFn, FenceCbHandler};
use crate::sys::raw_spinlock::{new_raw_spinlock_irq, RawSpinLockIrq};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::alloc::Flags;
use kernel::ffi::c_void;
use kernel::list::{AtomicTracker, List, ListArc, ListLinks, TryNewListArc};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::{Arc, CondVar, SpinLock};
use kernel::types::Opaque;
use kernel::workqueue::{Work, WorkItem};

/// The first field of every work item.
pub(crate) const WORK_MAGIC: u32 = 0x6b64_7377;
/// The first field of every domain.
pub(crate) const DOMAIN_MAGIC: u32 = 0x6b64_7364;

/// The longest domain name kept, in bytes.
const NAME_MAX: usize = 31;

/// `KDS_ASYNC_DETERMINISTIC`: run one item at a time, in queue order.
pub(crate) const DETERMINISTIC: u32 = 1;

/// One asynchronous call.
///
/// # Invariants
///
/// `magic` is [`WORK_MAGIC`]. `cb` is registered on `gate` at most once,
/// by [`AsyncWork::queue`], holding one reference to the work.
#[pin_data(PinnedDrop)]
pub(crate) struct AsyncWork {
    magic: u32,
    func: AsyncFn,
    data: *mut c_void,
    gate: Arc<Fence>,
    done: Arc<Fence>,
    /// The event of `done` that the call itself completes.
    #[pin]
    run: RawSpinLockIrq<Option<Event>>,
    /// The event of the domain's epoch this item holds while pending.
    #[pin]
    epoch: RawSpinLockIrq<Option<Event>>,
    /// The domain it was queued in, until it has finished.
    #[pin]
    domain: RawSpinLockIrq<Option<Arc<Domain>>>,
    queued: Atomic<u32>,
    cookie: Atomic<u64>,
    #[pin]
    cb: Opaque<RawCb>,
    #[pin]
    work: Work<AsyncWork>,
    #[pin]
    links: ListLinks<0>,
    #[pin]
    tracker: AtomicTracker<0>,
}

// SAFETY: `data` is the driver's, handed back to its function on a
// workqueue as documented; everything else is atomic or lock-protected.
unsafe impl Send for AsyncWork {}
// SAFETY: As above.
unsafe impl Sync for AsyncWork {}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for AsyncWork { tracked_by tracker: AtomicTracker<0>; }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for AsyncWork { using ListLinks { self.links }; }
}
kernel::impl_has_work! {
    impl HasWork<Self> for AsyncWork { self.work }
}

impl WorkItem for AsyncWork {
    type Pointer = Arc<AsyncWork>;

    fn run(this: Arc<AsyncWork>) {
        if this.gate.status() > 0 {
            // SAFETY: The driver registered `func` for this call, with
            // `data`; it runs in process context on kds's workqueue.
            unsafe { (this.func)(this.data, this.cookie.load(ordering::Relaxed)) };
        }
        // `done` inherits the gate's error, if any, through its edge.
        let run = this.run.lock().take();
        if let Some(e) = run {
            e.complete(0);
        }
        let epoch = this.epoch.lock().take();
        if let Some(e) = epoch {
            e.complete(0);
        }
        let domain = this.domain.lock().take();
        if let Some(d) = domain {
            d.finish(&this);
        }
    }
}

// SAFETY: `CB_OFFSET` is the offset of `cb`, an `Opaque<RawCb>`, which has
// the layout of a `RawCb`.
unsafe impl FenceCbHandler for AsyncWork {
    const CB_OFFSET: usize = core::mem::offset_of!(AsyncWork, cb);

    /// The work item's gate is done: queue the work item.
    unsafe fn done(this: *mut Self) {
        // SAFETY: [`AsyncWork::queue`] leaked a reference for this call,
        // which is taken back.
        let w = unsafe { Arc::from_raw(this) };
        // A work item is queued once: this cannot fail.
        let _ = crate::sys::workqueue::kds_queue().enqueue(w);
    }
}

impl AsyncWork {
    /// Creates a work item that calls `func(data, cookie)`.
    pub(crate) fn new(func: AsyncFn, data: *mut c_void, flags: Flags) -> Result<Arc<AsyncWork>> {
        let gate = Fence::new_internal(flags)?;
        let done = Fence::new_internal(flags)?;
        if !Fence::await_fence(&done, &gate, flags)? {
            return Err(EINVAL);
        }
        let run = Fence::add_event(&done)?;
        Fence::complete(done.as_arc_borrow(), 0)?;
        // INVARIANT: `magic` is `WORK_MAGIC`; `cb` is not registered yet
        // (only `queue` registers it).
        Arc::pin_init(
            try_pin_init!(AsyncWork {
                magic: WORK_MAGIC,
                func,
                data,
                gate,
                done,
                run <- new_raw_spinlock_irq!(Some(run), c"kds_async_run"),
                epoch <- new_raw_spinlock_irq!(None, c"kds_async_epoch"),
                domain <- new_raw_spinlock_irq!(None, c"kds_async_domain"),
                queued: Atomic::new(0),
                cookie: Atomic::new(0),
                // SAFETY: `slot` is valid for writes; an initialised,
                // unlinked list head is what an unregistered callback has.
                cb <- Opaque::ffi_init(|slot: *mut RawCb| unsafe {
                    kernel::bindings::INIT_LIST_HEAD(&raw mut (*slot).node);
                    (*slot).func = None;
                }),
                work <- kernel::new_work!("kds_async_work"),
                links <- ListLinks::new(),
                tracker <- AtomicTracker::new(),
            }),
            flags,
        )
    }

    /// Whether this is a work item (for pointers from C).
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic == WORK_MAGIC
    }

    /// Whether it has been queued.
    pub(crate) fn is_queued(&self) -> bool {
        self.queued.load(ordering::Relaxed) != 0
    }

    /// The fence that completes once the function has returned.
    pub(crate) fn done(&self) -> &Arc<Fence> {
        &self.done
    }

    /// Runs the work only after `f` is done. Fails with `EBUSY` once
    /// queued, `EDEADLK` when `f` awaits this work, `ENOMEM`.
    pub(crate) fn after(&self, f: &Fence, flags: Flags) -> Result<bool> {
        if self.is_queued() {
            return Err(EBUSY);
        }
        Fence::await_fence(&self.gate, f, flags)
    }

    /// Makes `f` await this work.
    pub(crate) fn before(&self, f: &Arc<Fence>, flags: Flags) -> Result<bool> {
        Fence::await_fence(f, &self.done, flags)
    }

    /// Queues the work in `d`; returns its cookie. Fails with `EBUSY` when
    /// it was queued already.
    pub(crate) fn queue(this: &Arc<AsyncWork>, d: &Arc<Domain>) -> Result<u64> {
        if this.queued.cmpxchg(0, 1, ordering::Relaxed).is_err() {
            return Err(EBUSY);
        }
        *this.domain.lock() = Some(d.clone());
        let (cookie, barrier, prev) = {
            let mut st = d.state.lock();
            let cookie = st.next_cookie;
            st.next_cookie += 1;
            this.cookie.store(cookie, ordering::Relaxed);
            if let Ok(l) = ListArc::try_from_arc(this.clone()) {
                st.pending.push_back(l);
            }
            // The epoch is never done while it is current.
            *this.epoch.lock() = Fence::add_event(&st.epoch).ok();
            let prev = if d.flags & DETERMINISTIC != 0 {
                st.last.replace(this.done.clone())
            } else {
                None
            };
            (cookie, st.barrier.clone(), prev)
        };
        // A barrier passes its error on (see `Domain::barrier`); the
        // previous item of a deterministic domain only orders this one: its
        // failure is not this item's.
        let edges = [(barrier, true), (prev, false)];
        for (f, inherit) in edges {
            let Some(f) = f else { continue };
            let res = if inherit {
                Fence::await_fence(&this.gate, &f, GFP_KERNEL)
            } else {
                Fence::await_order(&this.gate, &f, GFP_KERNEL)
            };
            if let Err(e) = res {
                // Without the edge the order would not hold: cancel.
                let _ = this.gate.set_error(e.to_errno());
            }
        }
        let leaked = Arc::into_raw(this.clone());
        // The pointer to `cb` comes from `leaked`, one to the whole work
        // item, which the callback gets back.
        // SAFETY: `leaked` points to the live work item.
        let cb = Opaque::cast_into(unsafe { &raw const (*leaked).cb });
        // SAFETY: `cb` is ours, pinned in the work item, and registered
        // only here; `leaked` keeps the work alive until the callback.
        if unsafe { this.gate.add_callback(cb, fence_cb_trampoline::<AsyncWork>) }.is_err() {
            // The gate is pending until the commit below, so this cannot
            // happen; give the reference back all the same.
            // SAFETY: `leaked` came from `Arc::into_raw` above.
            drop(unsafe { Arc::from_raw(leaked) });
        }
        Fence::complete(this.gate.as_arc_borrow(), 0)?;
        Ok(cookie)
    }
}

#[pinned_drop]
impl PinnedDrop for AsyncWork {
    fn drop(self: Pin<&mut Self>) {
        if !self.is_queued() {
            // Never queued: cancel it, so that fences awaiting it complete
            // (with -ECANCELED) rather than hang.
            let _ = self.gate.set_error(ECANCELED.to_errno());
            let _ = Fence::complete(self.gate.as_arc_borrow(), 0);
        }
    }
}

/// What a domain's lock protects.
struct DomainState {
    /// Queued items that have not finished, in cookie order.
    pending: List<AsyncWork>,
    next_cookie: u64,
    /// The current epoch: pending until a barrier closes it.
    epoch: Arc<Fence>,
    /// The latest barrier (a closed epoch).
    barrier: Option<Arc<Fence>>,
    /// Deterministic domains: the done fence of the last queued item.
    last: Option<Arc<Fence>>,
}

/// A domain of asynchronous work.
///
/// # Invariants
///
/// `magic` is [`DOMAIN_MAGIC`].
#[pin_data(PinnedDrop)]
pub(crate) struct Domain {
    magic: u32,
    flags: u32,
    /// For messages: the creator's name, its first [`NAME_MAX`] bytes,
    /// NUL-terminated.
    name: KVec<u8>,
    #[pin]
    state: SpinLock<DomainState>,
    #[pin]
    idle: CondVar,
}

impl Domain {
    /// Creates a domain named `name` (cut to [`NAME_MAX`] bytes).
    pub(crate) fn new(name: &CStr, flags: u32) -> Result<Arc<Domain>> {
        let epoch = Fence::new_internal(GFP_KERNEL)?;
        let bytes = name.to_bytes();
        let mut copy = KVec::with_capacity(NAME_MAX + 1, GFP_KERNEL)?;
        copy.extend_from_slice(&bytes[..bytes.len().min(NAME_MAX)], GFP_KERNEL)?;
        copy.push(0, GFP_KERNEL)?;
        let name = copy;
        // INVARIANT: `magic` is `DOMAIN_MAGIC`.
        Arc::pin_init(
            try_pin_init!(Domain {
                magic: DOMAIN_MAGIC,
                flags,
                name,
                state <- kernel::new_spinlock!(DomainState {
                    pending: List::new(),
                    next_cookie: 1,
                    epoch,
                    barrier: None,
                    last: None,
                }, "kds_async_domain"),
                idle <- kernel::new_condvar!("kds_async_idle"),
            }),
            GFP_KERNEL,
        )
    }

    /// The domain's name, for messages.
    pub(crate) fn name(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.name).unwrap_or(c"kds_async")
    }

    /// How many fences the domain itself holds (its epoch, its latest
    /// barrier, its last item's), apart from its items'.
    pub(crate) fn fences_held(&self) -> i64 {
        let st = self.state.lock();
        1 + i64::from(st.barrier.is_some()) + i64::from(st.last.is_some())
    }

    /// Whether this is a domain (for pointers from C).
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic == DOMAIN_MAGIC
    }

    /// A finished item leaves the pending list.
    fn finish(&self, w: &AsyncWork) {
        let removed = {
            let mut st = self.state.lock();
            // SAFETY: A work item is only ever on its own domain's list.
            unsafe { st.pending.remove(w) }
        };
        drop(removed);
        self.idle.notify_all();
    }

    /// Work queued after this starts only once all work queued before it
    /// has finished.
    pub(crate) fn barrier(&self) -> Result {
        let next = Fence::new_internal(GFP_KERNEL)?;
        let (closed, prev) = {
            let mut st = self.state.lock();
            let closed = core::mem::replace(&mut st.epoch, next);
            let prev = st.barrier.replace(closed.clone());
            (closed, prev)
        };
        // Barriers are ordered, not dependent: a barrier that failed (below)
        // fails the work behind it, but not the next barrier, nor the work
        // behind that one.
        let res = match prev {
            Some(p) => Fence::await_order(&closed, &p, GFP_KERNEL).map(|_| ()),
            None => Ok(()),
        };
        if let Err(e) = &res {
            // The barrier cannot order after the previous one: fail the
            // work behind it rather than run it too early.
            let _ = closed.set_error(e.to_errno());
        }
        Fence::complete(closed.as_arc_borrow(), 0)?;
        res
    }

    /// The cookie the next queued item will get.
    pub(crate) fn next_cookie(&self) -> u64 {
        self.state.lock().next_cookie
    }

    /// Waits until every item queued before `cookie` has finished.
    pub(crate) fn synchronize_cookie(&self, cookie: u64) {
        let mut st = self.state.lock();
        loop {
            let lowest = st
                .pending
                .iter()
                .next()
                .map(|w| w.cookie.load(ordering::Relaxed));
            match lowest {
                Some(c) if c < cookie => self.idle.wait(&mut st),
                _ => return,
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Domain {
    fn drop(self: Pin<&mut Self>) {
        // Every queued item holds a reference to its domain until it has
        // finished, so nothing is pending here. Close the last epoch.
        let epoch = self.state.lock().epoch.clone();
        let _ = Fence::complete(epoch.as_arc_borrow(), 0);
    }
}
