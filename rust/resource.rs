// SPDX-License-Identifier: GPL-2.0

//! Resource sets: atomic shared/exclusive acquisition of many resources.
//!
//! A [`Resource`] lives in a driver's object (`struct kds_resource`). It
//! has a queue of [`Link`]s, one per resource set that asked for it, in
//! arrival order. A set is queued on all of its resources at once; it is
//! *granted* when each of its links is granted, and a link is granted when
//! it is first in its queue, or when it is shared and every link ahead of
//! it is shared. Releasing a set removes its links and grants the links
//! that become eligible, all the shared ones at the front in one pass.
//!
//! # Locking and deadlock freedom
//!
//! There is no global lock. Each resource has an [`OrderedRawSpinLock`];
//! a set is queued with the locks of all its resources held, taken in
//! address order inside one [`OrderScope`] (two-phase locking). Hence the
//! enqueues of any two sets that share a resource are ordered the same way
//! on every resource they share, and the "is queued behind" relation
//! follows one total order of enqueues: no two sets can wait for each
//! other, directly or through others. The earliest waiting set waits only
//! for granted sets, which are released in finite time by their holders;
//! then it is granted, and so on. Removing a link needs only its own
//! resource's lock: removal adds no order between sets.
//!
//! Grants are counted down in [`SetCore::pending`], under the locks of
//! the resources concerned; whoever brings it to zero grants the set, after
//! dropping the lock: it completes the set's fence and runs (or queues) the
//! set's callback. Callbacks never run with a kds lock held.
//!
//! A set's life: `PENDING` → `GRANTED` → `RUNNING` → `DONE` for one with a
//! callback, and `CANCELLED` from `PENDING` (released before it was
//! granted) or `GRANTED` (released before its callback started). The
//! transitions are `cmpxchg`es, so a release racing a grant either cancels
//! the set before it is granted or finds it granted, never both.

use crate::fence::{Event, Fence};
use crate::ffi::GrantFn;
use crate::misuse::{misuse, Misuse};
use crate::sys::raw_spinlock::{
    new_raw_spinlock_irq, raw_global_lock, OrderScope, OrderedRawSpinLock,
    OrderedRawSpinLockBackend, RawSpinLockIrq,
};
use core::ptr::NonNull;
use kernel::alloc::flags::GFP_KERNEL;
use kernel::bindings;
use kernel::ffi::c_void;
use kernel::list::TryNewListArc;
use kernel::list::{AtomicTracker, List, ListArc, ListLinks};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::lock::Guard;
use kernel::sync::{Arc, Completion};
use kernel::workqueue::{Queue as WorkQueue, Work, WorkItem};

/// The `magic` of an initialised resource.
const RESOURCE_MAGIC: u32 = 0x6b64_7372;

/// The `magic` of a live resource set handle.
pub(crate) const SET_MAGIC: u32 = 0x6b64_7373;

/// The most resources in one set (`KDS_MAX_RESOURCES` in `include/kds.h`):
/// all of their locks are held at once while the set is queued.
pub(crate) const MAX_RESOURCES: usize = 256;

/// How many words `struct kds_resource` has after its lock; [`Resource`]
/// must fit.
const RESOURCE_PRIVATE_WORDS: usize = 4;

const _: () = assert!(
    core::mem::size_of::<Resource>()
        <= core::mem::size_of::<bindings::raw_spinlock_t>()
            + RESOURCE_PRIVATE_WORDS * core::mem::size_of::<usize>()
);
const _: () = assert!(core::mem::align_of::<Resource>() <= core::mem::align_of::<usize>());

/// What a resource's lock protects.
struct Queue {
    /// Links in arrival order.
    list: List<Link>,
    /// How many links in `list` are exclusive.
    exclusive: u32,
    /// How many links in `list` belong to synchronous sets (`kds_waitall()`).
    locked: u32,
}

/// A resource, in memory its user provides (`struct kds_resource`).
///
/// # Invariants
///
/// `magic` is [`RESOURCE_MAGIC`] from `kds_resource_init()` until a
/// successful `kds_resource_term()`; only then may the memory go, so a
/// resource outlives every [`Link`] in its queue.
#[pin_data]
pub(crate) struct Resource {
    magic: Atomic<u32>,
    #[pin]
    queue: OrderedRawSpinLock<Queue>,
}

impl Resource {
    /// An initialiser of an empty resource.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: `magic` is `RESOURCE_MAGIC` from here until `term`
        // succeeds.
        pin_init!(Resource {
            magic: Atomic::new(RESOURCE_MAGIC),
            queue <- OrderedRawSpinLock::new(
                Queue {
                    list: List::new(),
                    exclusive: 0,
                    locked: 0,
                },
                c"kds_resource",
                kernel::static_lock_class!(),
            ),
        })
    }

    /// Whether `kds_resource_init()` initialised this resource and it has
    /// not been terminated.
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic.load(ordering::Relaxed) == RESOURCE_MAGIC
    }

    /// Locks the queue; only inside `_scope`, which keeps interrupts off.
    fn lock<'a>(&'a self, _scope: &'a OrderScope) -> Guard<'a, Queue, OrderedRawSpinLockBackend> {
        self.queue.lock()
    }

    /// Terminates the resource: fails with `EBUSY` while any set is queued
    /// on it (nothing changes then).
    pub(crate) fn term(&self) -> Result {
        let scope = OrderScope::begin();
        let q = self.lock(&scope);
        if !q.list.is_empty() {
            return Err(EBUSY);
        }
        self.magic.store(0, ordering::Relaxed);
        Ok(())
    }
}

/// A pointer to a [`Resource`] held by a [`Link`].
///
/// # Invariants
///
/// Points to a resource that stays initialised while the link is queued on
/// it (see [`Resource`]) and, before that, while the request is built.
#[derive(Clone, Copy)]
struct ResPtr(NonNull<Resource>);

impl ResPtr {
    fn get(&self) -> &Resource {
        // SAFETY: By the type invariant the resource is alive while a link
        // or request refers to it, which outlives this borrow.
        unsafe { self.0.as_ref() }
    }

    fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// One resource of one set: its entry in the resource's queue.
#[pin_data]
struct Link {
    #[pin]
    links: ListLinks<0>,
    set: Arc<SetCore>,
    res: ResPtr,
    exclusive: bool,
    /// 1 once granted (or ignored, see `KDS_FLAG_LOCKED_IGNORE`); only
    /// changed with the resource locked.
    granted: Atomic<u32>,
}

// SAFETY: `res` points to a resource whose shared state is lock-protected;
// everything else is `Send`.
unsafe impl Send for Link {}
// SAFETY: As above; `granted` is atomic.
unsafe impl Sync for Link {}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for Link { untracked; }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for Link { using ListLinks { self.links }; }
}

impl Link {
    fn is_granted(&self) -> bool {
        self.granted.load(ordering::Relaxed) != 0
    }

    /// Grants the link (with its resource locked); a set whose last link
    /// this was goes onto `ready`.
    fn grant(&self, ready: &mut List<SetCore, 1>) {
        if self.granted.xchg(1, ordering::Relaxed) != 0 {
            return;
        }
        // Full ordering: the grant that reaches zero must see everything
        // the previous holders of the set's other resources did before
        // their links were granted, under other resources' locks.
        if self.set.pending.fetch_sub(1, ordering::Full) == 1 {
            // Only the one grant that reaches zero gets here, so the set is
            // in no ready list.
            if let Ok(l) = ListArc::try_from_arc(self.set.clone()) {
                ready.push_back(l);
            }
        }
    }
}

/// How many contexts may run direct grant callbacks at once; past that,
/// direct callbacks are deferred to the workqueue of deferred direct
/// callbacks, as in hard IRQ.
const TRAMPOLINES: usize = 64;

/// A context that is running direct grant callbacks ([`run_direct`]).
struct Trampoline {
    /// The context's key ([`crate::sys::task::context_key`]); 0 when the slot
    /// is free.
    key: usize,
    /// Sets granted by releases (or immediate grants) made inside the
    /// callback that context is running: it runs them, in order, once that
    /// callback has returned.
    ready: List<SetCore, 1>,
}

/// Every context running direct grant callbacks.
pub(crate) struct Trampolines([Trampoline; TRAMPOLINES]);

/// A free trampoline slot.
const FREE: Trampoline = Trampoline {
    key: 0,
    ready: List::new(),
};

raw_global_lock! {
    /// The contexts running direct grant callbacks, each with the grants
    /// made inside its running callback.
    static DIRECT: Trampolines, backend DirectLock, class c"kds_direct"
        = Trampolines([FREE; TRAMPOLINES]);
}

/// Initialises resource sets; call once, from module init.
pub(crate) fn init() {
    // SAFETY: Called once, before any use of `DIRECT`.
    unsafe { DIRECT.init() };
}

/// Runs the direct callback of a set just granted in this context, on a
/// bounded stack.
///
/// A direct callback typically releases its own set, which grants the next
/// set on its resources, whose direct callback would run inside that
/// release, and so on: a chain of N sets would nest N deep. Instead, the
/// first context to run a direct callback registers itself in [`DIRECT`];
/// a grant made inside that callback (by a release or an immediate grant in
/// `kds_async_waitall()`) finds the registration and queues its set there;
/// and the registered context runs the queued sets one after another once
/// its callback has returned, as [`Fence`] completion processes its
/// waiters. The callbacks still run in the granting context, in grant
/// order; only their nesting is flattened.
fn run_direct(this: Arc<SetCore>) {
    let key = crate::sys::task::context_key();
    {
        let mut t = DIRECT.lock();
        if let Some(slot) = t.0.iter_mut().find(|s| s.key == key) {
            // Inside a direct callback of this context: run after it.
            match ListArc::try_from_arc(this) {
                Ok(l) => slot.ready.push_back(l),
                Err(this) => {
                    // Cannot happen: a set is granted once, and only a
                    // ready list holds it. Defer rather than nest.
                    drop(t);
                    let _ = crate::sys::workqueue::kds_direct_queue().enqueue(this);
                }
            }
            return;
        }
        match t.0.iter_mut().find(|s| s.key == 0) {
            Some(slot) => slot.key = key,
            None => {
                drop(t);
                let _ = crate::sys::workqueue::kds_direct_queue().enqueue(this);
                return;
            }
        }
    }
    let mut next = this;
    loop {
        next.run_callback();
        let mut t = DIRECT.lock();
        let Some(slot) = t.0.iter_mut().find(|s| s.key == key) else {
            // Cannot happen: only this context frees its slot.
            return;
        };
        match slot.ready.pop_front() {
            Some(l) => {
                drop(t);
                next = l.into_arc();
            }
            None => {
                slot.key = 0;
                return;
            }
        }
    }
}

/// What to do about a resource that a synchronous set holds or waits for
/// (`KDS_FLAG_LOCKED_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    /// Refuse the set with `EBUSY`.
    Fail,
    /// Do not wait for that resource (the link is queued, granted).
    Ignore,
    /// Wait as for any other set.
    Wait,
}

/// How a set is acquired.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `kds_async_waitall()`: queue it, call back on grant.
    Async(Locked),
    /// `kds_waitall()`: queue it and sleep.
    Sync,
    /// `kds_waitall()` with no timeout: grant it now or not at all.
    Try,
}

/// A driver's grant callback: `user_cb(param, extra)`.
pub(crate) struct UserCallback {
    pub(crate) func: GrantFn,
    pub(crate) param: *mut c_void,
    pub(crate) extra: *mut c_void,
    /// Run by whoever grants the set, rather than from `wq`.
    pub(crate) direct: bool,
    pub(crate) wq: *mut bindings::workqueue_struct,
    /// The `inflight` count of the driver's `struct kds_callback`: the
    /// sets that may still call it or queue on its workqueue (see
    /// [`CallCount`]).
    pub(crate) owner: *mut i32,
}

const PENDING: u32 = 0;
const GRANTED: u32 = 1;
const RUNNING: u32 = 2;
const DONE: u32 = 3;
const CANCELLED: u32 = 4;

/// The part of a resource set that grants, callbacks and the fence share.
#[pin_data]
pub(crate) struct SetCore {
    /// Links not granted yet.
    pending: Atomic<u32>,
    /// `PENDING`, `GRANTED`, `RUNNING`, `DONE` or `CANCELLED`.
    state: Atomic<u32>,
    /// Queued by `kds_waitall()` (counts towards `Queue::locked`).
    sync: bool,
    callback: Option<UserCallback>,
    /// Completes on grant, or with `-ECANCELED` on release before grant.
    fence: Arc<Fence>,
    #[pin]
    event: RawSpinLockIrq<Option<Event>>,
    #[pin]
    work: Work<SetCore>,
    #[pin]
    ready: ListLinks<1>,
    #[pin]
    tracker: AtomicTracker<1>,
    /// Completed once the callback has returned (never in hard IRQ).
    #[pin]
    finished: Completion,
    /// The task running the callback, while it runs.
    runner: Atomic<usize>,
    /// The set's count on its driver's `struct kds_callback`, if any.
    count: Option<CallCount>,
}

/// One count on a driver's `struct kds_callback`, which
/// `kds_callback_term()` waits to drop to zero before it returns (and the
/// driver frees it): taken when a set that uses the callback is created,
/// dropped once kds will never touch the callback for that set again:
/// after the call has returned, or once the set has been released before
/// the call started. Dropped at the latest with the set (sets that were
/// refused or never queued).
struct CallCount {
    owner: *mut i32,
    held: Atomic<bool>,
}

impl CallCount {
    /// Takes a count on `owner`.
    ///
    /// # Safety
    ///
    /// `owner` must be the `inflight` `atomic_t` of a `struct kds_callback`
    /// that its driver keeps until `kds_callback_term()` has returned.
    unsafe fn new(owner: *mut i32) -> Self {
        // SAFETY: `owner` is a live `atomic_t`, only accessed atomically
        // (function safety requirement).
        unsafe { Atomic::from_ptr(owner) }.add(1, ordering::Relaxed);
        CallCount {
            owner,
            held: Atomic::new(true),
        }
    }

    /// Drops the count, once; afterwards `owner` may be gone.
    fn end(&self) {
        // No wake-up: this runs in any context (hard IRQ included), and
        // `kds_callback_term()` polls; the release pairs with its acquire
        // read, after which the driver may free the callback.
        if self.held.xchg(false, ordering::Full) {
            // SAFETY: We held a count, so `kds_callback_term()` has not
            // returned and `owner` is live. The `&Atomic` does not outlive
            // the decrement in any use, as in `Arc`'s drop
            // (rust-lang/rust#55005).
            unsafe { Atomic::from_ptr(self.owner) }.fetch_sub(1, ordering::Release);
        }
    }
}

impl Drop for CallCount {
    fn drop(&mut self) {
        self.end();
    }
}

// SAFETY: The callback's pointers are the driver's, passed back to it from
// whichever context runs the callback, as the C API documents; the rest is
// atomic or lock-protected.
unsafe impl Send for SetCore {}
// SAFETY: As above.
unsafe impl Sync for SetCore {}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<1> for SetCore { tracked_by tracker: AtomicTracker<1>; }
}
kernel::list::impl_list_item! {
    impl ListItem<1> for SetCore { using ListLinks { self.ready }; }
}
kernel::impl_has_work! {
    impl HasWork<Self> for SetCore { self.work }
}

impl WorkItem for SetCore {
    type Pointer = Arc<SetCore>;

    fn run(this: Arc<SetCore>) {
        this.run_callback();
    }
}

impl SetCore {
    /// The set's fence.
    pub(crate) fn fence(&self) -> &Arc<Fence> {
        &self.fence
    }

    /// Grants the set: completes its fence and runs or queues its callback.
    /// Called once, by whoever brought `pending` to zero, with no kds lock
    /// held; does nothing if the set was released first.
    fn grant(this: Arc<SetCore>) {
        if this
            .state
            .cmpxchg(PENDING, GRANTED, ordering::Acquire)
            .is_err()
        {
            return;
        }
        let event = this.event.lock().take();
        if let Some(e) = event {
            e.complete(0);
        }
        let q = match &this.callback {
            None => return,
            Some(cb) if cb.direct && !crate::sys::task::in_hardirq() => {
                run_direct(this);
                return;
            }
            // In hard IRQ even a direct callback is deferred to kds's
            // workqueue: drivers' callbacks take `spinlock_t`s, which hard
            // IRQ context must not (they sleep on PREEMPT_RT), and waking
            // a `release_sync()` waiter with `complete_all()` is not
            // allowed there either.
            Some(cb) if cb.direct => crate::sys::workqueue::kds_direct_queue(),
            // SAFETY: `cb.wq` is the workqueue of a `struct kds_callback`
            // which its driver keeps until `kds_callback_term()`, and that
            // flushes it first.
            Some(cb) => unsafe { WorkQueue::from_raw(cb.wq) },
        };
        // A set is granted once, so its work is not queued yet.
        let _ = q.enqueue(this);
    }

    /// Runs the callback unless the set was released meanwhile.
    fn run_callback(&self) {
        let Some(cb) = &self.callback else {
            return;
        };
        if self
            .state
            .cmpxchg(GRANTED, RUNNING, ordering::Acquire)
            .is_err()
        {
            // Released after its grant: the call is never made.
            self.end_count();
            return;
        }
        self.runner.store(
            kernel::task::Task::current_raw() as usize,
            ordering::Relaxed,
        );
        // SAFETY: The driver registered `func` for exactly this call, with
        // these arguments.
        unsafe { (cb.func)(cb.param, cb.extra) };
        self.runner.store(0, ordering::Relaxed);
        self.state.store(DONE, ordering::Release);
        self.finished.complete_all();
        self.end_count();
    }

    /// Drops the set's count on its driver's `struct kds_callback`: kds
    /// will not touch that callback (nor its workqueue) for this set again.
    fn end_count(&self) {
        if let Some(c) = &self.count {
            c.end();
        }
    }

    /// Marks the set released. Returns whether its callback is running
    /// (on another task; the caller may wait for `finished`).
    fn cancel(&self) -> bool {
        let mut s = self.state.load(ordering::Relaxed);
        loop {
            match s {
                PENDING | GRANTED => match self.state.cmpxchg(s, CANCELLED, ordering::Acquire) {
                    Ok(_) => break,
                    Err(cur) => s = cur,
                },
                RUNNING => {
                    let me = kernel::task::Task::current_raw() as usize;
                    return self.runner.load(ordering::Relaxed) != me;
                }
                _ => return false,
            }
        }
        if s == PENDING {
            // Never granted: the fence completes with -ECANCELED. A grant
            // racing with us fails its `cmpxchg` and touches nothing of the
            // driver's: the count can go. (Once `GRANTED`, the granter may
            // still be queueing the call on the driver's workqueue;
            // `run_callback` then finds the set released and drops it.)
            let event = self.event.lock().take();
            drop(event);
            self.end_count();
        }
        // The callback will not run; nobody waits for `finished` (only a
        // running callback is waited for).
        false
    }
}

/// A resource set as its driver holds it (`struct kds_resource_set`).
///
/// # Invariants
///
/// `magic` is [`SET_MAGIC`] until the set is released. Each of `links` is
/// queued on its resource until [`ResourceSet::release`].
pub(crate) struct ResourceSet {
    magic: u32,
    core: Arc<SetCore>,
    links: KVec<Arc<Link>>,
}

/// One resource of a request: where it is, and whether it is wanted
/// exclusively.
pub(crate) struct Want {
    res: ResPtr,
    exclusive: bool,
}

impl Want {
    /// A wanted resource.
    ///
    /// # Safety
    ///
    /// `res` must point to an initialised resource that stays so until the
    /// set is released (or the request fails).
    pub(crate) unsafe fn new(res: NonNull<Resource>, exclusive: bool) -> Self {
        // INVARIANT: The caller guarantees the resource outlives the use.
        Want {
            res: ResPtr(res),
            exclusive,
        }
    }
}

/// Sorts a request by resource address, the global lock order: insertion
/// sort, O(n^2) for n up to [`MAX_RESOURCES`], and the fastest for the few
/// resources of a typical set. (`core`'s sorts end in a panic on an
/// inconsistent order, a call objtool does not know never returns.)
fn sort_by_address(wants: &mut [Want]) {
    for i in 1..wants.len() {
        let mut j = i;
        while j > 0 && wants[j - 1].res.addr() > wants[j].res.addr() {
            wants.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Where [`ResourceSet::acquire`] puts a set for its driver.
pub(crate) trait Publish {
    /// Stores the set's address where the driver keeps it.
    fn publish(&self, set: *mut ResourceSet);
    /// Takes the address back (leaving NULL); returns whether it was still
    /// there, i.e. nobody took it to release the set.
    fn take_back(&self) -> bool;
}

/// [`Publish`] for a set only its caller knows (`kds_waitall()`).
pub(crate) struct Unpublished;

impl Publish for Unpublished {
    fn publish(&self, _set: *mut ResourceSet) {}
    fn take_back(&self) -> bool {
        true
    }
}

/// The outcome of [`ResourceSet::acquire`].
pub(crate) struct Acquired {
    /// The queued set, owned by whoever holds it now (the driver, through
    /// the pointer `publish` was given): a callback run on another CPU may
    /// release it at any time. NULL when it was released before it was
    /// queued.
    pub(crate) set: *mut ResourceSet,
    /// The set's shared part.
    pub(crate) core: Arc<SetCore>,
    /// Whether it was granted in the call; the caller must then call
    /// [`ResourceSet::grant_now`].
    pub(crate) granted: bool,
}

impl ResourceSet {
    /// Whether this is a live set (for pointers from C).
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic == SET_MAGIC
    }

    /// The set's shared part.
    pub(crate) fn core(&self) -> &Arc<SetCore> {
        &self.core
    }

    /// Queues a set of `wants` atomically, on behalf of the C function
    /// `func` (for warnings).
    ///
    /// `publish.publish()` is called with the set's address before the set
    /// is queued, so that a callback run by another CPU finds it where the
    /// driver keeps it. From then on the driver may release the set through
    /// that pointer, on any thread, even before it is queued: then nothing
    /// is queued (the releaser frees the set), and this returns the set as
    /// not granted. If the set is refused, `publish.take_back()` takes the
    /// pointer back, and the set is freed only if it was still there (if
    /// not, whoever took it releases and frees it).
    ///
    /// Fails with `EINVAL` for a resource named twice or not initialised,
    /// `EBUSY` for [`Locked::Fail`] when a synchronous set is on one of the
    /// resources and, in [`Mode::Try`], `EAGAIN` when the set cannot be
    /// granted at once (nothing is queued then), `ENOMEM`.
    pub(crate) fn acquire(
        mut wants: KVec<Want>,
        mode: Mode,
        callback: Option<UserCallback>,
        func: &CStr,
        publish: &dyn Publish,
    ) -> Result<Acquired> {
        let n = wants.len();
        if n == 0 || n > MAX_RESOURCES {
            misuse(Misuse::BadArgument, func);
            return Err(EINVAL);
        }
        sort_by_address(&mut wants);
        for i in 0..n {
            if !wants[i].res.get().magic_ok() {
                misuse(Misuse::BadObject, func);
                return Err(EINVAL);
            }
            if i > 0 && wants[i].res.addr() == wants[i - 1].res.addr() {
                misuse(Misuse::Duplicate, func);
                return Err(EINVAL);
            }
        }

        let fence = Fence::new_internal(GFP_KERNEL)?;
        let event = Fence::add_event(&fence)?;
        // Commit: the event alone keeps the fence pending.
        Fence::complete(fence.as_arc_borrow(), 0)?;
        let sync = matches!(mode, Mode::Sync | Mode::Try);
        // SAFETY: The driver keeps its `struct kds_callback` until
        // `kds_callback_term()`, which waits for this count.
        let count = callback
            .as_ref()
            .map(|cb| unsafe { CallCount::new(cb.owner) });
        let core = Arc::pin_init(
            try_pin_init!(SetCore {
                pending: Atomic::new(n as u32),
                state: Atomic::new(PENDING),
                sync,
                callback,
                fence,
                event <- new_raw_spinlock_irq!(Some(event), c"kds_set_event"),
                work <- kernel::new_work!("kds_set_callback"),
                ready <- ListLinks::new(),
                tracker <- AtomicTracker::new(),
                finished <- Completion::new(),
                runner: Atomic::new(0),
                count,
            }),
            GFP_KERNEL,
        )?;
        let mut new_links = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut links = KVec::with_capacity(n, GFP_KERNEL)?;
        for w in wants.iter() {
            let set = core.clone();
            let l = ListArc::pin_init(
                try_pin_init!(Link {
                    links <- ListLinks::new(),
                    set,
                    res: w.res,
                    exclusive: w.exclusive,
                    granted: Atomic::new(0),
                }),
                GFP_KERNEL,
            )?;
            links.push(l.clone_arc(), GFP_KERNEL)?;
            new_links.push(l, GFP_KERNEL)?;
        }
        // Room for the guards, allocated before interrupts go off and freed
        // after they are back on (on PREEMPT_RT the allocator may not run
        // with them off). Outside the lock scope it is always empty, so its
        // element type carries no lifetime there.
        let guard_room =
            KVec::<Guard<'static, Queue, OrderedRawSpinLockBackend>>::with_capacity(n, GFP_KERNEL)?;
        // INVARIANT: `magic` is `SET_MAGIC`; the links are queued below,
        // all of them or (on failure) none, before anyone sees the set.
        let set = KBox::new(
            ResourceSet {
                magic: SET_MAGIC,
                core: core.clone(),
                links,
            },
            GFP_KERNEL,
        )?;
        let set = KBox::into_raw(set);
        publish.publish(set);

        let (res, guard_buf) = {
            let scope = OrderScope::begin();
            let (ptr, _, cap) = guard_room.into_raw_parts();
            // SAFETY: The parts of an empty vector of the same allocator and
            // element type (`Guard`'s layout does not depend on its
            // lifetime); the guards it will hold borrow `scope` and `wants`,
            // and it is emptied again before they go.
            let mut guards = unsafe { KVec::<Guard<'_, Queue, _>>::from_raw_parts(ptr, 0, cap) };
            let mut full = false;
            for w in wants.iter() {
                // Address order: the global lock order of resources.
                if guards
                    .push_within_capacity(w.res.get().lock(&scope))
                    .is_err()
                {
                    // Cannot happen: there is room for `n`.
                    full = true;
                }
            }
            let refuse = match mode {
                _ if full => Some(ENOMEM),
                // Released through the published pointer before it was
                // queued. A release cancels the set before it unlinks any
                // link under that link's resource lock, and we hold all of
                // them: a release that unlinked nothing yet either cancelled
                // before we locked (seen here) or will find our links.
                _ if core.state.load(ordering::Relaxed) == CANCELLED => Some(ECANCELED),
                Mode::Async(Locked::Fail) if guards.iter().any(|q| q.locked > 0) => Some(EBUSY),
                Mode::Try
                    if guards
                        .iter()
                        .zip(wants.iter())
                        .any(|(q, w)| !Self::grantable(q, w.exclusive)) =>
                {
                    Some(EAGAIN)
                }
                _ => None,
            };
            let res = match refuse {
                Some(e) => Err(e),
                None => {
                    let mut granted = 0;
                    for (q, l) in guards.iter_mut().zip(new_links.drain_all()) {
                        let now = Self::grantable(q, l.exclusive)
                            || (mode == Mode::Async(Locked::Ignore) && q.locked > 0);
                        if now {
                            l.granted.store(1, ordering::Relaxed);
                            granted += 1;
                        }
                        q.exclusive += u32::from(l.exclusive);
                        q.locked += u32::from(sync);
                        q.list.push_back(l);
                    }
                    // No other CPU can grant our links while we hold their
                    // locks, so this is the final count of this call.
                    // (Full ordering, as in `Link::grant`.)
                    Ok(core.pending.fetch_sub(granted, ordering::Full) == granted)
                }
            };
            // Unlock every resource while interrupts are still off; the
            // emptied vector's buffer is freed after the scope, because
            // on PREEMPT_RT kfree() may not run with interrupts off.
            guards.clear();
            let (ptr, _, cap) = guards.into_raw_parts();
            (
                res,
                (
                    ptr.cast::<Guard<'static, Queue, OrderedRawSpinLockBackend>>(),
                    cap,
                ),
            )
        };
        // SAFETY: The parts come from `into_raw_parts` of the vector just
        // emptied, with the same allocator and element type (`Guard`'s
        // layout does not depend on its lifetime); it holds no element.
        drop(unsafe {
            KVec::<Guard<'static, Queue, OrderedRawSpinLockBackend>>::from_raw_parts(
                guard_buf.0,
                0,
                guard_buf.1,
            )
        });
        match res {
            Ok(granted) => Ok(Acquired { set, core, granted }),
            // The releaser owns `set` and frees it; nothing was queued.
            Err(e) if e == ECANCELED => Ok(Acquired {
                set: core::ptr::null_mut(),
                core,
                granted: false,
            }),
            Err(e) => {
                if publish.take_back() {
                    // SAFETY: `set` came from `KBox::into_raw` above and was
                    // never queued, and we took the only pointer to it back.
                    drop(unsafe { KBox::from_raw(set) });
                }
                Err(e)
            }
        }
    }

    /// Whether a new link would be granted at once on a queue.
    fn grantable(q: &Queue, exclusive: bool) -> bool {
        q.list.is_empty() || (!exclusive && q.exclusive == 0)
    }

    /// Grants a set that [`ResourceSet::acquire`] reported granted.
    pub(crate) fn grant_now(core: Arc<SetCore>) {
        SetCore::grant(core);
    }

    /// Releases the set: a granted one gives its resources to the next
    /// waiters, a pending one is cancelled (its fence completes with
    /// `-ECANCELED` and its callback never runs). A callback that has not
    /// started yet will not run. With `sync`, a callback running on another
    /// task is waited for before the resources go to anyone else.
    pub(crate) fn release(self: KBox<Self>, sync: bool) {
        let running = self.core.cancel();
        if sync && running {
            // The callback still uses the resources: hand them on after.
            self.core.finished.wait_for_completion();
        }
        for l in self.links.iter() {
            Self::unlink(l);
        }
    }

    /// Takes `l` off its resource's queue and grants what that makes
    /// eligible.
    fn unlink(l: &Arc<Link>) {
        let mut ready = List::<SetCore, 1>::new();
        {
            let scope = OrderScope::begin();
            let mut q = l.res.get().lock(&scope);
            // SAFETY: A link is only ever queued on its own resource.
            let removed = unsafe { q.list.remove(l) };
            if removed.is_none() {
                return;
            }
            q.exclusive -= u32::from(l.exclusive);
            q.locked -= u32::from(l.set.sync);
            let front_waits = q.list.iter().next().is_some_and(|f| !f.is_granted());
            if l.exclusive || front_waits {
                // The front link, or all shared links at the front.
                for (i, f) in q.list.iter().enumerate() {
                    if f.exclusive {
                        if i == 0 {
                            f.grant(&mut ready);
                        }
                        break;
                    }
                    f.grant(&mut ready);
                }
            }
            // `removed` (a reference to `l`, which the caller still holds)
            // and the guard go here, the scope last.
            drop(removed);
        }
        while let Some(s) = ready.pop_front() {
            SetCore::grant(s.into_arc());
        }
    }
}

impl Drop for ResourceSet {
    fn drop(&mut self) {
        self.magic = 0;
    }
}
