// SPDX-License-Identifier: GPL-2.0

//! Async domains: functions run asynchronously, with explicit dependencies.
//!
//! A work item ([`AsyncWork`]) made with `kds_async_work_create()` is two
//! fences and a function:
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
//! A work item made by `kds_async_schedule()` has no handle: no fence can
//! be put before or after it, and nobody can get its done fence. It is
//! named by its cookie alone, so when no barrier is pending it has no
//! fences at all and is one allocation, as `kernel/async.c`'s
//! `async_entry` is: it goes straight to the workqueue. Behind a pending
//! barrier, and in a deterministic domain (which orders each item after
//! the previous one's done fence), it has its fences like any item.
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

use crate::fence::class::Class;
use crate::fence::{Event, Fence, Kind, RawCb, Signalling};
use crate::ffi::{fence_cb_trampoline, AsyncFn, FenceCbHandler};
use crate::name::{Name, NameStr};
use crate::sys::fmt::{Symbol, Text};
use crate::sys::raw_spinlock::{new_raw_spinlock_irq, RawSpinLockIrq};
use crate::sys::trace;
use core::fmt::Write;
use kernel::alloc::flags::GFP_KERNEL;
use kernel::alloc::Flags;
use kernel::ffi::{c_long, c_void};
use kernel::list::{AtomicTracker, List, ListArc, ListLinks, TryNewListArc};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::{Arc, CondVar, CondVarTimeoutResult, Mutex, SpinLock};
use kernel::time::Jiffies;
use kernel::types::Opaque;
use kernel::workqueue::{Work, WorkItem};

/// The first field of every work item.
pub(crate) const WORK_MAGIC: u32 = 0x6b64_7377;
/// The first field of every domain.
pub(crate) const DOMAIN_MAGIC: u32 = 0x6b64_7364;

kernel::sync::global_lock! {
    // SAFETY: `init` initialises it in module init, before any use.
    unsafe(uninit) static DOMAINS: Mutex<KVec<Arc<Domain>>> = KVec::new();
}

/// Sets up the registry of domains; call once, from module init.
pub(crate) fn init() {
    // SAFETY: Once, from module init, before any use.
    unsafe { DOMAINS.init() };
}

/// Frees the registry's own memory; call once, from module exit, after
/// every domain has unregistered (the vector would outlive the module).
pub(crate) fn exit() {
    let v = core::mem::replace(&mut *DOMAINS.lock(), KVec::new());
    drop(v);
}

/// `KDS_ASYNC_DETERMINISTIC`: run one item at a time, in queue order.
pub(crate) const DETERMINISTIC: u32 = 1;

/// The fences of a work item with a handle (see the module
/// documentation).
struct Fences {
    /// Done when the work may run.
    gate: Arc<Fence>,
    /// Done when the function has returned (or was skipped).
    done: Arc<Fence>,
}

/// Cancels a gate that nothing will commit (its work item was never
/// queued), so that the fences awaiting it complete (with -ECANCELED)
/// rather than hang, and no fence is left pending with a waiter.
fn cancel_gate(gate: &Arc<Fence>) {
    let _ = gate.set_error(ECANCELED.to_errno());
    let _ = Fence::complete(gate.as_arc_borrow(), 0);
}

/// What a work item hands from its creation and queueing to its call.
#[derive(Default)]
struct Slots {
    /// The event of the done fence that the call itself completes.
    run: Option<Event>,
    /// The event of the domain's epoch this item holds while pending.
    epoch: Option<Event>,
    /// The domain it was queued in, until it has finished.
    domain: Option<Arc<Domain>>,
}

/// One asynchronous call.
///
/// # Invariants
///
/// - `magic` is [`WORK_MAGIC`].
/// - `cb` is registered at most once, by [`AsyncWork::queue`], holding one
///   reference to the work: on the gate of `fences`, or, without
///   `fences`, on a barrier placed while the item was being queued.
/// - `slots.run` holds an event of the done fence from creation until the
///   call, exactly when `fences` is `Some`.
///
/// `#[repr(C)]`: `magic` is at offset 0 in every kds object the C edge
/// checks, so reading it from an object of another type stays in bounds.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct AsyncWork {
    magic: u32,
    queued: Atomic<u32>,
    func: AsyncFn,
    data: *mut c_void,
    /// `None` for an item of `kds_async_schedule()`.
    fences: Option<Fences>,
    /// What the call needs, from queueing (and, for `run`, creation) on.
    #[pin]
    slots: RawSpinLockIrq<Slots>,
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
        let slots = core::mem::take(&mut *this.slots.lock());
        // The call and the completions that follow are a signalling
        // section of the domain's class, and of the done fence's and the
        // fences above it (lockdep only; see `include/kds.h`).
        let mut section = Signalling::new();
        if let Some(d) = &slots.domain {
            section.add_class(d.class);
        }
        if let Some(f) = &this.fences {
            section.add_fence(&f.done);
        }
        let go = match &this.fences {
            Some(f) => f.gate.status() > 0,
            // Nothing can cancel an item without fences.
            None => true,
        };
        let id = this.fence_id();
        let cookie = this.cookie.load(ordering::Relaxed);
        if go {
            trace::work_start(id, cookie, this.func as usize);
            // SAFETY: The driver registered `func` for this call, with
            // `data`; it runs in process context on kds's workqueue.
            unsafe { (this.func)(this.data, cookie) };
            trace::work_end(id, cookie, this.func as usize);
        }
        // `done` inherits the gate's error, if any, through its edge.
        if let Some(e) = slots.run {
            e.complete(0);
        }
        if let Some(e) = slots.epoch {
            e.complete(0);
        }
        if let Some(d) = slots.domain {
            d.finish(&this);
        }
        drop(section);
    }
}

// SAFETY: `CB_OFFSET` is the offset of `cb`, an `Opaque<RawCb>`, which has
// the layout of a `RawCb`.
unsafe impl FenceCbHandler for AsyncWork {
    const CB_OFFSET: usize = core::mem::offset_of!(AsyncWork, cb);

    /// The work item's gate (or barrier) is done: queue the work item.
    unsafe fn done(this: *mut Self) {
        // SAFETY: [`AsyncWork::call_back_on`] leaked a reference for this
        // call, which is taken back.
        let w = unsafe { Arc::from_raw(this) };
        // A work item is queued once: this cannot fail.
        let _ = crate::sys::workqueue::kds_queue().enqueue(w);
    }
}

impl AsyncWork {
    /// Creates a work item that calls `func(data, cookie)`, with a gate
    /// and a done fence (`kds_async_work_create()`).
    pub(crate) fn new(
        func: AsyncFn,
        data: *mut c_void,
        class: Class,
        flags: Flags,
    ) -> Result<Arc<AsyncWork>> {
        let gate = Fence::new_internal(class, func as usize, Kind::Gate, flags)?;
        let done = Fence::new_internal(class, func as usize, Kind::Work, flags)?;
        if !Fence::await_fence(&done, &gate, flags)? {
            return Err(EINVAL);
        }
        let run = Fence::add_event(&done)?;
        Fence::complete(done.as_arc_borrow(), 0)?;
        // Without the work item, nothing will commit the gate.
        let gate_ref = gate.clone();
        Self::alloc(func, data, Some((Fences { gate, done }, run)), flags)
            .inspect_err(|_| cancel_gate(&gate_ref))
    }

    /// Queues a call of `func(data, cookie)` in `d` and returns its cookie
    /// (`kds_async_schedule()`), or fails with `ENOMEM` and does not call
    /// it. The item has no fences (one allocation) unless the domain is
    /// deterministic or a barrier is pending: the items behind a barrier
    /// each wait on a gate of their own, retired one by one, rather than
    /// all on the barrier, whose callbacks run in one interrupts-off
    /// section.
    pub(crate) fn schedule(d: &Arc<Domain>, func: AsyncFn, data: *mut c_void) -> Result<u64> {
        let w = if d.flags & DETERMINISTIC != 0 || d.barrier_pending() {
            Self::new(func, data, d.class, GFP_KERNEL)?
        } else {
            Self::alloc(func, data, None, GFP_KERNEL)?
        };
        // Not ordered means cancelled: the caller must learn that the
        // function will not be called, as when the allocation fails.
        match Self::queue_ordered(&w, d)? {
            (cookie, true) => Ok(cookie),
            (_, false) => Err(ENOMEM),
        }
    }

    /// Allocates a work item, with its fences and the event of its done
    /// fence that the call completes, or none.
    fn alloc(
        func: AsyncFn,
        data: *mut c_void,
        fences: Option<(Fences, Event)>,
        flags: Flags,
    ) -> Result<Arc<AsyncWork>> {
        let (fences, run) = match fences {
            Some((f, e)) => (Some(f), Some(e)),
            None => (None, None),
        };
        // INVARIANT: `magic` is `WORK_MAGIC`; `cb` is not registered yet
        // (only `queue` registers it); `run` is there with `fences`.
        Arc::pin_init(
            try_pin_init!(AsyncWork {
                magic: WORK_MAGIC,
                func,
                data,
                fences,
                slots <- new_raw_spinlock_irq!(
                    Slots {
                        run,
                        ..Slots::default()
                    },
                    c"kds_async_slots"
                ),
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

    /// The id of the work item's done fence (0 without fences), for the
    /// trace.
    fn fence_id(&self) -> u64 {
        self.fences.as_ref().map_or(0, |f| f.done.id())
    }

    /// Names the work item: its fences.
    pub(crate) fn set_name(&self, text: &[u8]) {
        if let Some(f) = &self.fences {
            f.done.set_name(text);
            f.gate.set_name(text);
        }
    }

    /// Whether it has been queued.
    pub(crate) fn is_queued(&self) -> bool {
        self.queued.load(ordering::Relaxed) != 0
    }

    /// The fence that completes once the function has returned; `None`
    /// for an item of [`AsyncWork::schedule`].
    pub(crate) fn done(&self) -> Option<&Arc<Fence>> {
        self.fences.as_ref().map(|f| &f.done)
    }

    /// Runs the work only after `f` is done. Fails with `EBUSY` once
    /// queued, `EDEADLK` when `f` awaits this work, `ENOMEM`, `EINVAL`
    /// without fences.
    pub(crate) fn after(&self, f: &Fence, flags: Flags) -> Result<bool> {
        if self.is_queued() {
            return Err(EBUSY);
        }
        let fences = self.fences.as_ref().ok_or(EINVAL)?;
        Fence::await_fence(&fences.gate, f, flags)
    }

    /// Makes `f` await this work. Fails as [`Fence::await_fence`], and
    /// with `EINVAL` without fences.
    pub(crate) fn before(&self, f: &Arc<Fence>, flags: Flags) -> Result<bool> {
        let fences = self.fences.as_ref().ok_or(EINVAL)?;
        Fence::await_fence(f, &fences.done, flags)
    }

    /// Queues the work in `d`; returns its cookie. Fails with `EBUSY` when
    /// it was queued already. An item that could not be ordered behind the
    /// domain's barrier or previous item (no memory) is queued cancelled:
    /// its done fence completes with the error, and the function is not
    /// called.
    pub(crate) fn queue(this: &Arc<AsyncWork>, d: &Arc<Domain>) -> Result<u64> {
        Self::queue_ordered(this, d).map(|(cookie, _)| cookie)
    }

    /// [`AsyncWork::queue`], also returning whether the item was ordered
    /// (`false`: it was cancelled).
    fn queue_ordered(this: &Arc<AsyncWork>, d: &Arc<Domain>) -> Result<(u64, bool)> {
        if this.queued.cmpxchg(0, 1, ordering::Relaxed).is_err() {
            return Err(EBUSY);
        }
        let (cookie, epoch, barrier, prev) = {
            let mut st = d.state.lock();
            let cookie = st.next_cookie;
            st.next_cookie += 1;
            this.cookie.store(cookie, ordering::Relaxed);
            if let Ok(l) = ListArc::try_from_arc(this.clone()) {
                st.pending.push_back(l);
            }
            // The epoch is never done while it is current.
            let epoch = Fence::add_event(&st.epoch).ok();
            let prev = match &this.fences {
                Some(f) if d.flags & DETERMINISTIC != 0 => st.last.replace(f.done.clone()),
                _ => None,
            };
            (cookie, epoch, st.barrier.clone(), prev)
        };
        let id = this.fence_id();
        let mut dname = d.name();
        trace::work_queue(id, cookie, dname.as_cstr(), this.func as usize);
        // The epoch (a barrier, once closed) waits for this item through
        // an event, not an edge: it may wait indefinitely if the item may
        // (the dma_fence rules, see `crate::fence::rules`).
        let mut ordered = true;
        if let (Some(f), Some(ep)) = (&this.fences, epoch.as_ref().and_then(|e| e.fence())) {
            if let Some(t) = f.done.taint() {
                if let Err(e) = Fence::make_indefinite(ep, t, c"kds_async_queue", GFP_KERNEL) {
                    // An exported item behind the barrier would wait for
                    // this one: cancel this one.
                    let _ = f.gate.set_error(e.to_errno());
                    ordered = false;
                }
            }
        }
        // Nothing runs the work before the callback or enqueue below.
        {
            let mut slots = this.slots.lock();
            slots.domain = Some(d.clone());
            slots.epoch = epoch;
        }
        let Some(fences) = &this.fences else {
            // No gate, and no barrier was pending when `schedule` looked; if
            // one was placed since, wait for it with a callback on it.
            if barrier.is_some_and(|b| Self::call_back_on(this, &b)) {
                return Ok((cookie, true));
            }
            // A work item is queued once: this cannot fail.
            let _ = crate::sys::workqueue::kds_queue().enqueue(this.clone());
            return Ok((cookie, true));
        };
        // The gate inherits the barrier's error, if it ever carried one (a
        // barrier's epoch events complete without one); the previous item
        // of a deterministic domain only orders this one: its failure is
        // not this item's.
        let edges = [(barrier, true), (prev, false)];
        for (f, inherit) in edges {
            let Some(f) = f else { continue };
            let res = if inherit {
                Fence::await_fence(&fences.gate, &f, GFP_KERNEL)
            } else {
                Fence::await_order(&fences.gate, &f, GFP_KERNEL)
            };
            if let Err(e) = res {
                // Without the edge the order would not hold: cancel.
                let _ = fences.gate.set_error(e.to_errno());
                ordered = false;
            }
        }
        // The gate is pending until the commit below, so the callback is
        // added; if it were not, the work would never be queued.
        if !Self::call_back_on(this, &fences.gate) {
            let _ = crate::sys::workqueue::kds_queue().enqueue(this.clone());
        }
        Fence::complete(fences.gate.as_arc_borrow(), 0)?;
        Ok((cookie, ordered))
    }

    /// Registers `cb` on `f`, to queue the work once `f` is done; returns
    /// whether it was registered (`false`: `f` is done already).
    ///
    /// Called once per work item, by [`AsyncWork::queue`].
    fn call_back_on(this: &Arc<AsyncWork>, f: &Fence) -> bool {
        let leaked = Arc::into_raw(this.clone());
        // The pointer to `cb` comes from `leaked`, one to the whole work
        // item, which the callback gets back.
        // SAFETY: `leaked` points to the live work item.
        let cb = Opaque::cast_into(unsafe { &raw const (*leaked).cb });
        // SAFETY: `cb` is ours, pinned in the work item, and registered
        // only here, once (type invariant); `leaked` keeps the work alive
        // until the callback.
        if unsafe { f.add_callback(cb, fence_cb_trampoline::<AsyncWork>) }.is_err() {
            // SAFETY: `leaked` came from `Arc::into_raw` above, and the
            // callback was not registered.
            drop(unsafe { Arc::from_raw(leaked) });
            return false;
        }
        true
    }
}

#[pinned_drop]
impl PinnedDrop for AsyncWork {
    fn drop(self: Pin<&mut Self>) {
        let Some(f) = &self.fences else { return };
        if !self.is_queued() {
            cancel_gate(&f.gate);
        }
    }
}

/// A new epoch fence of a domain named `name`, pending until a barrier
/// closes it.
fn new_epoch(class: Class, name: &[u8]) -> Result<Arc<Fence>> {
    let epoch = Fence::new_internal(class, 0, Kind::Epoch, GFP_KERNEL)?;
    epoch.set_name(name);
    Ok(epoch)
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
///
/// `#[repr(C)]`, for `magic` at offset 0, as in [`AsyncWork`].
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct Domain {
    magic: u32,
    flags: u32,
    /// What the domain is for: its waits and its calls' sections.
    class: Class,
    /// For messages and diagnostics.
    name: Name,
    #[pin]
    state: SpinLock<DomainState>,
    #[pin]
    idle: CondVar,
    /// Held by [`Domain::barrier`]: one barrier at a time, so that the
    /// epoch and latest barrier it read stay current until it closes the
    /// epoch.
    #[pin]
    barriers: Mutex<()>,
}

impl Domain {
    /// Creates a domain named `name` (cut to [`NAME_MAX`] bytes).
    pub(crate) fn new(name: &CStr, flags: u32, class: Class) -> Result<Arc<Domain>> {
        let epoch = new_epoch(class, name.to_bytes())?;
        let dname = Name::of_ip(0);
        dname.set(name.to_bytes());
        // INVARIANT: `magic` is `DOMAIN_MAGIC`.
        Arc::pin_init(
            try_pin_init!(Domain {
                magic: DOMAIN_MAGIC,
                flags,
                class,
                name: dname,
                state <- kernel::new_spinlock!(DomainState {
                    pending: List::new(),
                    next_cookie: 1,
                    epoch,
                    barrier: None,
                    last: None,
                }, "kds_async_domain"),
                idle <- kernel::new_condvar!("kds_async_idle"),
                barriers <- kernel::new_mutex!((), "kds_async_barriers"),
            }),
            GFP_KERNEL,
        )
    }

    /// The domain's class.
    pub(crate) fn class(&self) -> Class {
        self.class
    }

    /// The domain's name, for messages.
    pub(crate) fn name(&self) -> NameStr {
        self.name.get()
    }

    /// Renames the domain.
    pub(crate) fn set_name(&self, text: &[u8]) {
        self.name.set(text);
    }

    /// Makes the domain visible to diagnostics, until [`Domain::unregister`].
    pub(crate) fn register(this: &Arc<Domain>) -> Result {
        DOMAINS
            .lock()
            .push(this.clone(), GFP_KERNEL)
            .map_err(|_| ENOMEM)
    }

    /// Hides the domain from diagnostics again.
    pub(crate) fn unregister(&self) {
        let gone = {
            let mut v = DOMAINS.lock();
            match v.iter().position(|d| core::ptr::eq(&**d, self)) {
                Some(i) => v.remove(i).ok(),
                None => None,
            }
        };
        drop(gone);
    }

    /// Writes the domain: its pending work by cookie, its barrier.
    fn describe(&self, out: &mut Text) {
        let mut items: [(u64, usize, u64, NameStr); 16] =
            core::array::from_fn(|_| (0, 0, 0, NameStr::new()));
        let (mut n, mut total) = (0, 0);
        let (next, barrier) = {
            let st = self.state.lock();
            for w in st.pending.iter() {
                if n < items.len() {
                    let (id, name) = match &w.fences {
                        Some(f) => (f.done.id(), f.done.name()),
                        None => (0, NameStr::new()),
                    };
                    items[n] = (w.cookie.load(ordering::Relaxed), w.func as usize, id, name);
                    n += 1;
                }
                total += 1;
            }
            let barrier = st.barrier.as_ref().map(|b| (b.id(), b.is_done()));
            (st.next_cookie, barrier)
        };
        let det = if self.flags & DETERMINISTIC != 0 {
            " deterministic"
        } else {
            ""
        };
        let _ = out.write_fmt(fmt!(
            "domain \"{}\"{} next_cookie={} pending={}\n",
            self.name(),
            det,
            next,
            total
        ));
        if let Some((id, done)) = barrier {
            let state = if done { "done" } else { "pending" };
            let _ = out.write_fmt(fmt!("  barrier: fence {} {}\n", id, state));
        }
        for (cookie, func, id, name) in &items[..n] {
            let _ = out.write_fmt(fmt!("  cookie {} {}", cookie, Symbol(*func)));
            if *id != 0 {
                let _ = out.write_fmt(fmt!(" fence {} \"{}\"", id, name));
            }
            let _ = out.write_str("\n");
        }
        if total > n {
            let _ = out.write_fmt(fmt!("  ... {} more\n", total - n));
        }
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
    /// has finished. Fails with `ENOMEM`, changing nothing: this barrier
    /// is then not placed, and every barrier before and after it still
    /// orders what it ordered.
    pub(crate) fn barrier(&self) -> Result {
        let _serial = self.barriers.lock();
        let next = new_epoch(self.class, self.name().as_bytes())?;
        let (epoch, prev) = {
            let st = self.state.lock();
            (st.epoch.clone(), st.barrier.clone())
        };
        // What can fail comes first: the epoch about to close awaits the
        // latest barrier while it is still current. Barriers are ordered,
        // not dependent (no error passes along this edge; a barrier
        // carries none anyway).
        if let Some(p) = prev {
            Fence::await_order(&epoch, &p, GFP_KERNEL)?;
        }
        {
            let mut st = self.state.lock();
            st.epoch = next;
            st.barrier = Some(epoch.clone());
        }
        Fence::complete(epoch.as_arc_borrow(), 0)
    }

    /// Whether the latest barrier is pending: work queued now would wait.
    fn barrier_pending(&self) -> bool {
        self.state
            .lock()
            .barrier
            .as_ref()
            .is_some_and(|b| !b.is_done())
    }

    /// The cookie the next queued item will get.
    pub(crate) fn next_cookie(&self) -> u64 {
        self.state.lock().next_cookie
    }

    /// Waits until every item queued before `cookie` has finished. If it
    /// has waited `slow` jiffies (0: never), calls `blame` once, with no
    /// lock held.
    pub(crate) fn synchronize_cookie(
        &self,
        cookie: u64,
        slow: c_long,
        blame: impl FnOnce(&Self, u64),
    ) {
        self.class.map().might_wait();
        // Until it blames: sleeps interruptibly, for what is left of
        // `slow` (a signal only ends the blame's chance, never the wait).
        let mut blame = (slow > 0).then_some(blame);
        let deadline = crate::sys::fmt::jiffies().wrapping_add(slow.unsigned_abs());
        let mut st = self.state.lock();
        loop {
            let lowest = st
                .pending
                .iter()
                .next()
                .map(|w| w.cookie.load(ordering::Relaxed));
            match lowest {
                Some(c) if c < cookie => {}
                _ => return,
            }
            if blame.is_none() {
                self.idle.wait(&mut st);
                continue;
            }
            let left = deadline.wrapping_sub(crate::sys::fmt::jiffies()) as isize;
            if left <= 0 {
                drop(st);
                if let Some(b) = blame.take() {
                    b(self, cookie);
                }
                st = self.state.lock();
                continue;
            }
            if let CondVarTimeoutResult::Signal { .. } = self
                .idle
                .wait_interruptible_timeout(&mut st, left.unsigned_abs() as Jiffies)
            {
                blame = None;
            }
        }
    }

    /// Writes the oldest work item queued before `cookie` that has not
    /// finished, and what it waits for (see [`crate::debug::frontier`]).
    pub(crate) fn describe_wait(&self, cookie: u64, out: &mut dyn Write, flags: Flags) -> Result {
        let oldest = {
            let st = self.state.lock();
            st.pending
                .iter()
                .next()
                .filter(|w| w.cookie.load(ordering::Relaxed) < cookie)
                .map(|w| {
                    (
                        w.cookie.load(ordering::Relaxed),
                        w.func as usize,
                        w.fences.as_ref().map(|f| f.done.clone()),
                    )
                })
        };
        let _ = out.write_fmt(fmt!("domain \"{}\"", self.name()));
        let Some((c, func, done)) = oldest else {
            let _ = out.write_str(": nothing pending\n");
            return Ok(());
        };
        let _ = out.write_fmt(fmt!(": cookie {} {}", c, Symbol(func)));
        match done {
            Some(f) => {
                let _ = out.write_str(":\n");
                crate::debug::frontier(&f, out, flags)
            }
            None => {
                let _ = out.write_str(" has not returned\n");
                Ok(())
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

/// Writes up to `max` domains to `out`; returns how many it wrote and how
/// many there are.
pub(crate) fn describe_all(out: &mut Text, max: usize) -> (usize, usize) {
    // Described under the registry's lock, without taking references: a
    // reference a reader dropped last would free the domain after
    // `kds_async_domain_destroy()` returned, when its class (the driver's)
    // may be gone. Each domain's own lock is taken briefly, inside.
    let v = DOMAINS.lock();
    let mut shown = 0;
    for d in v.iter().take(max) {
        d.describe(out);
        shown += 1;
    }
    (shown, v.len())
}
