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
//! Grants are counted down in [`ResourceSet::pending`], under the locks of
//! the resources concerned; whoever brings it to zero grants the set, after
//! dropping the lock: it wakes the `kds_waitall()` caller, completes the
//! set's fence if anyone asked for it, and runs (or queues) the set's
//! callback. Callbacks never run with a kds lock held.
//!
//! # Memory
//!
//! A set is one allocation: its links sit inside it, up to
//! [`INLINE_LINKS`] of them (a larger set has a second allocation for its
//! links), and its resources' queues are C lists through them, so queueing
//! allocates nothing. Its fence, two more allocations, is made only on the
//! first `kds_resource_set_fence()`. The locks are held without a guard
//! each ([`OrderScope::lock_held`]), so no buffer of guards either.
//!
//! A set's life: `PENDING` → `GRANTED` → `RUNNING` → `DONE` for one with a
//! callback, and `CANCELLED` from `PENDING` (released before it was
//! granted) or `GRANTED` (released before its callback started). The
//! transitions are `cmpxchg`es, so a release racing a grant either cancels
//! the set before it is granted or finds it granted, never both.

use crate::fence::class::{Builtin, Class};
use crate::fence::{Event, Fence, Kind, Signalling, Source};
use crate::ffi::GrantFn;
use crate::misuse::{misuse, Misuse};
use crate::name::{Name, NameStr};
use crate::sys::fmt::Text;
use crate::sys::list::{self, ListHead};
use crate::sys::raw_spinlock::{
    new_raw_spinlock_irq, raw_global_lock, OrderScope, OrderedRawSpinLock,
    OrderedRawSpinLockBackend, RawSpinLockIrq,
};
use crate::sys::registry::{registry, Cursor, Entry, Node};
use crate::sys::task::{sleep_until, Sleep, WakerSlot};
use crate::sys::trace;
use core::fmt::Write;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use kernel::alloc::flags::{GFP_ATOMIC, GFP_KERNEL};
use kernel::bindings;
use kernel::ffi::{c_long, c_void};
use kernel::list::TryNewListArc;
use kernel::list::{AtomicTracker, List, ListArc, ListLinks};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::lock::Guard;
use kernel::sync::{Arc, ArcBorrow, Completion};
use kernel::types::Opaque;
use kernel::workqueue::{Queue as WorkQueue, Work, WorkItem};

/// The `magic` of an initialised resource.
const RESOURCE_MAGIC: u32 = 0x6b64_7372;

/// The `magic` of a live resource set handle.
pub(crate) const SET_MAGIC: u32 = 0x6b64_7373;

/// The most resources in one set (`KDS_MAX_RESOURCES` in `include/kds.h`):
/// all of their locks are held at once while the set is queued.
pub(crate) const MAX_RESOURCES: usize = 256;

/// How many words `struct kds_resource` has after its lock (128 bytes on
/// every architecture); [`Resource`] must fit.
const RESOURCE_PRIVATE_WORDS: usize = 128 / core::mem::size_of::<usize>();

/// What a resource's lock protects.
#[pin_data]
struct Queue {
    /// The `entry` of each queued [`Link`], in arrival order.
    #[pin]
    list: ListHead,
    /// How many links in `list` are exclusive.
    exclusive: u32,
    /// How many links in `list` belong to synchronous sets (`kds_waitall()`).
    locked: u32,
}

impl Queue {
    /// The queued links, front to back.
    fn links(&self) -> impl Iterator<Item = &Link> {
        // SAFETY: Every entry on a queue is the `entry` of a live link
        // (type invariant of `Resource`), which stays queued while `self`
        // is borrowed.
        self.list.iter().map(|e| unsafe { Link::from_entry(e) })
    }
}

/// A resource, in memory its user provides (`struct kds_resource`).
///
/// # Invariants
///
/// - `magic` is [`RESOURCE_MAGIC`] from `kds_resource_init()` until a
///   successful `kds_resource_term()`; only then may the memory go, so a
///   resource outlives every [`Link`] in its queue.
/// - Every entry of `queue.list` is the `entry` of a [`Link`] of a live
///   [`ResourceSet`] whose `res` is this resource; the set is released
///   (and freed) only after its link has been unlinked, under this lock.
#[pin_data]
pub(crate) struct Resource {
    magic: Atomic<u32>,
    #[pin]
    queue: OrderedRawSpinLock<Queue>,
    name: Name,
    /// Its place among the resources ([`RESOURCES`]).
    reg: Node,
}

registry! {
    /// Every initialised resource, for diagnostics: added by
    /// `kds_resource_init()`, removed by `kds_resource_term()`.
    pub(crate) static RESOURCES: Registry<Resource>, backend ResourcesLock,
        class c"kds_resources", shards [RESOURCES0, RESOURCES1];
}

// SAFETY: A resource is shared by the CPUs that queue sets on it; its
// queue is only touched under its lock, and its other fields are atomic.
unsafe impl Send for Resource {}
// SAFETY: As above.
unsafe impl Sync for Resource {}

// SAFETY: `reg` is a `Node` field of `Resource`.
unsafe impl Entry for Resource {
    const OFFSET: usize = core::mem::offset_of!(Resource, reg);
}

/// `struct kds_resource` as C lays it out, which [`Resource`] must fit.
#[repr(C)]
struct CResource {
    lock: bindings::raw_spinlock_t,
    private: [usize; RESOURCE_PRIVATE_WORDS],
}

const _: () = assert!(core::mem::size_of::<Resource>() <= core::mem::size_of::<CResource>());
const _: () = assert!(core::mem::align_of::<Resource>() <= core::mem::align_of::<CResource>());

impl Resource {
    /// An initialiser of an empty resource, set up by the code at `ip`.
    pub(crate) fn new(ip: usize) -> impl PinInit<Self> {
        // INVARIANT: `magic` is `RESOURCE_MAGIC` from here until `term`
        // succeeds; the queue starts empty.
        pin_init!(Resource {
            magic: Atomic::new(RESOURCE_MAGIC),
            queue <- OrderedRawSpinLock::new(
                pin_init!(Queue {
                    list <- ListHead::new(),
                    exclusive: 0,
                    locked: 0,
                }),
                c"kds_resource",
                kernel::static_lock_class!(),
            ),
            name: Name::of_ip(ip),
            reg: Node::new(),
        })
    }

    /// Makes the resource visible to diagnostics.
    ///
    /// # Safety
    ///
    /// Once per initialisation, before any [`Resource::term`]; the
    /// resource stays where it is until `term` succeeds.
    pub(crate) unsafe fn register(&self) {
        // SAFETY: Function safety requirement.
        unsafe { RESOURCES.add(self) };
    }

    /// Whether the resource is registered (a live resource set up again
    /// would corrupt the registry): a walk, for the rare resource whose
    /// memory already holds the magic.
    pub(crate) fn is_registered(&self) -> bool {
        let mut cursor = Cursor::default();
        let mut found = false;
        while !cursor.done && !found {
            RESOURCES.walk(&mut cursor, 64, |r| found |= core::ptr::eq(r, self));
        }
        found
    }

    /// The resource's name.
    pub(crate) fn name(&self) -> NameStr {
        self.name.get()
    }

    /// Names the resource.
    pub(crate) fn set_name(&self, text: &[u8]) {
        self.name.set(text);
    }

    /// Writes the resource's queue, front to back, on one line each.
    fn describe_queue(&self, out: &mut dyn Write) {
        // Copied under the lock (names and all), written after it.
        let mut v: [(u64, NameStr, bool, bool); 16] =
            core::array::from_fn(|_| (0, NameStr::new(), false, false));
        let (mut n, mut total) = (0, 0);
        {
            let scope = OrderScope::begin();
            let q = self.lock(&scope);
            for l in q.links() {
                if n < v.len() {
                    let set = l.set();
                    v[n] = (set.id, set.name(), l.exclusive, l.is_granted());
                    n += 1;
                }
                total += 1;
            }
        }
        for (id, name, excl, granted) in &v[..n] {
            let role = if *granted { "holder:" } else { "waiter:" };
            let mode = if *excl { "exclusive" } else { "shared" };
            let _ = out.write_fmt(fmt!("  {} set {} \"{}\" {}\n", role, id, name, mode));
        }
        if total > n {
            let _ = out.write_fmt(fmt!("  ... {} more sets\n", total - n));
        }
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
        drop(q);
        drop(scope);
        // SAFETY: Resources are only ever added to `RESOURCES`.
        unsafe { RESOURCES.remove(self) };
        Ok(())
    }
}

/// Writes up to `max` resources and their queues to `out`; returns how
/// many it wrote and how many there are.
pub(crate) fn describe_all(out: &mut Text, max: usize) -> (usize, usize) {
    let mut cursor = Cursor::default();
    let mut shown = 0;
    while !cursor.done && shown < max {
        // One resource per lock hold: its queue is copied under its own
        // lock, inside the registry's.
        RESOURCES.walk(&mut cursor, 1, |r| {
            shown += 1;
            let _ = out.write_fmt(fmt!("resource \"{}\"\n", r.name()));
            r.describe_queue(out);
        });
    }
    (shown, RESOURCES.len())
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

/// One resource of one set: its entry in the resource's queue. It lives in
/// its set's [`LinkStore`].
///
/// # Invariants
///
/// Once its set is in its final place ([`ResourceSet::acquire`]), `set`
/// points to it and `entry` is initialised; from then on the link does not
/// move. `entry` is on `res`'s queue, or on no list.
struct Link {
    entry: Opaque<bindings::list_head>,
    res: ResPtr,
    exclusive: bool,
    /// 1 once granted (or ignored, see `KDS_FLAG_LOCKED_IGNORE`); only
    /// changed with the resource locked.
    granted: Atomic<u32>,
    /// The set this link belongs to.
    set: Atomic<*mut ResourceSet>,
}

impl Link {
    fn new(want: &Want) -> Self {
        Link {
            entry: Opaque::uninit(),
            res: want.res,
            exclusive: want.exclusive,
            granted: Atomic::new(0),
            set: Atomic::new(core::ptr::null_mut()),
        }
    }

    /// The link whose `entry` this is.
    ///
    /// # Safety
    ///
    /// `entry` is the `entry` of a [`Link`] that stays valid for `'a`.
    unsafe fn from_entry<'a>(entry: NonNull<bindings::list_head>) -> &'a Link {
        let off = core::mem::offset_of!(Link, entry);
        // SAFETY: `entry` is the `entry` field of a valid link (safety
        // requirement), `off` bytes into it.
        unsafe { &*entry.as_ptr().cast::<u8>().sub(off).cast::<Link>() }
    }

    /// The link's queue entry.
    fn entry(&self) -> *mut bindings::list_head {
        self.entry.get()
    }

    /// The link's set.
    fn set(&self) -> &ResourceSet {
        // SAFETY: `set` points to the set the link lives in (type
        // invariant), which outlives the link.
        unsafe { &*self.set.load(ordering::Relaxed) }
    }

    fn is_granted(&self) -> bool {
        self.granted.load(ordering::Relaxed) != 0
    }

    /// Grants the queued link (with its resource locked); a set whose last
    /// link this was goes onto `ready`.
    fn grant(&self, ready: &mut List<ResourceSet, 1>) {
        if self.granted.xchg(1, ordering::Relaxed) != 0 {
            return;
        }
        let set = self.set();
        // Full ordering: the grant that reaches zero must see everything
        // the previous holders of the set's other resources did before
        // their links were granted, under other resources' locks.
        if set.pending.fetch_sub(1, ordering::Full) == 1 {
            // SAFETY: The set is in an `Arc` (it was published with
            // `Arc::into_raw`), and alive: its link is queued, and its
            // holder unlinks every link, under the resources' locks, before
            // it drops its reference.
            let arc: Arc<ResourceSet> = unsafe { ArcBorrow::from_raw(set) }.into();
            // Only the one grant that reaches zero gets here, so the set is
            // in no ready list.
            if let Ok(l) = ListArc::try_from_arc(arc) {
                ready.push_back(l);
            }
        }
    }
}

/// Sets with up to this many resources keep their links inside the set:
/// acquiring one makes one allocation. Larger sets allocate their links
/// separately (a second allocation).
pub(crate) const INLINE_LINKS: usize = 8;

/// A set's links, sorted by resource address once built: inside the set
/// for up to [`INLINE_LINKS`], else in an array of their own.
///
/// # Invariants
///
/// With `heap` empty, the first `len` slots of `inline` hold links; else
/// `heap` holds them all and `len` is 0.
struct LinkStore {
    len: usize,
    inline: [MaybeUninit<Link>; INLINE_LINKS],
    heap: KVec<Link>,
}

// A link holds no resources of its own: nothing needs dropping, and the
// slots of `inline` may be forgotten.
const _: () = assert!(!core::mem::needs_drop::<Link>());

impl LinkStore {
    /// Room for `n` links.
    fn with_capacity(n: usize) -> Result<Self> {
        // INVARIANT: Empty.
        Ok(LinkStore {
            len: 0,
            inline: [const { MaybeUninit::uninit() }; INLINE_LINKS],
            heap: if n <= INLINE_LINKS {
                KVec::new()
            } else {
                KVec::with_capacity(n, GFP_KERNEL)?
            },
        })
    }

    /// Adds a link; fails with `ENOMEM` past the capacity (which never
    /// reallocates).
    fn push(&mut self, l: Link) -> Result {
        if self.heap.capacity() > 0 {
            return self.heap.push_within_capacity(l).map_err(|_| ENOMEM);
        }
        let slot = self.inline.get_mut(self.len).ok_or(ENOMEM)?;
        slot.write(l);
        // INVARIANT: The slot was just written.
        self.len += 1;
        Ok(())
    }

    fn as_slice(&self) -> &[Link] {
        if self.heap.capacity() > 0 {
            return &self.heap;
        }
        // SAFETY: The first `len` slots hold links (type invariant).
        unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast::<Link>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [Link] {
        if self.heap.capacity() > 0 {
            return &mut self.heap;
        }
        // SAFETY: As in `as_slice`; `&mut self` is exclusive.
        unsafe {
            core::slice::from_raw_parts_mut(self.inline.as_mut_ptr().cast::<Link>(), self.len)
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
    ready: List<ResourceSet, 1>,
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
    // SAFETY: Called once, before any use of `DIRECT` and `RESOURCES`.
    unsafe {
        DIRECT.init();
        RESOURCES.init();
    }
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
fn run_direct(this: Arc<ResourceSet>) {
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
    /// The class of the sets that use it.
    pub(crate) class: Class,
}

const PENDING: u32 = 0;
const GRANTED: u32 = 1;
const RUNNING: u32 = 2;
const DONE: u32 = 3;
const CANCELLED: u32 = 4;

/// `ResourceSet::phase`: not decided yet.
const BUILDING: u32 = 0;
/// `ResourceSet::phase`: the links were queued.
const QUEUED: u32 = 1;
/// `ResourceSet::phase`: refused; no link was queued.
const REFUSED: u32 = 2;
/// `ResourceSet::phase`: released before `acquire` decided; no link will
/// be queued.
const RELEASED: u32 = 3;

/// A resource set: one allocation (for up to [`INLINE_LINKS`] resources)
/// that holds its links, its state and what its grant wakes. Its driver
/// holds one reference, as the pointer `struct kds_resource_set *`
/// (from [`Arc::into_raw`]), until it releases the set.
///
/// # Invariants
///
/// - `magic` is [`SET_MAGIC`] until the set is released.
/// - Each of `links` is queued on its resource from [`ResourceSet::acquire`]
///   until [`ResourceSet::release`] unlinks it, if `phase` is `QUEUED`,
///   and never otherwise.
///
/// `#[repr(C)]`, for `magic` at offset 0, as in [`crate::domain::Domain`].
#[pin_data]
#[repr(C)]
pub(crate) struct ResourceSet {
    magic: Atomic<u32>,
    /// A number that names the set in diagnostics and traces.
    id: u64,
    name: Name,
    /// Links not granted yet.
    pending: Atomic<u32>,
    /// `PENDING`, `GRANTED`, `RUNNING`, `DONE` or `CANCELLED`.
    state: Atomic<u32>,
    /// Whether the links were queued: `BUILDING` until `acquire` decides
    /// (`QUEUED` or `REFUSED`) or a release comes first (`RELEASED`).
    phase: Atomic<u32>,
    /// Queued by `kds_waitall()` (counts towards `Queue::locked`).
    sync: bool,
    /// Whether `kds_resource_set_fence()` made the set's fence: until then
    /// a grant or a release need not lock `fence`.
    fence_made: Atomic<bool>,
    /// The task sleeping in `kds_waitall()` for the grant, once it sleeps.
    waiter: WakerSlot,
    callback: Option<UserCallback>,
    /// The set's fence, made on the first `kds_resource_set_fence()`.
    #[pin]
    fence: RawSpinLockIrq<FenceSlot>,
    #[pin]
    work: Work<ResourceSet>,
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
    links: LinkStore,
}

/// A set's fence, made only when asked for: most sets are never awaited
/// as fences, and a fence would be two more allocations per set.
struct FenceSlot {
    fence: Option<Arc<Fence>>,
    /// The event that keeps `fence` pending until the set is granted (0)
    /// or cancelled (`-ECANCELED`); taken by whoever changes `state` from
    /// `PENDING`.
    event: Option<Event>,
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
// whichever context runs the callback, as the C API documents; the links'
// pointers are to resources that outlive them and to the set itself; the
// rest is atomic or lock-protected.
unsafe impl Send for ResourceSet {}
// SAFETY: As above.
unsafe impl Sync for ResourceSet {}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<1> for ResourceSet { tracked_by tracker: AtomicTracker<1>; }
}
kernel::list::impl_list_item! {
    impl ListItem<1> for ResourceSet { using ListLinks { self.ready }; }
}
kernel::impl_has_work! {
    impl HasWork<Self> for ResourceSet { self.work }
}

impl WorkItem for ResourceSet {
    type Pointer = Arc<ResourceSet>;

    fn run(this: Arc<ResourceSet>) {
        this.run_callback();
    }
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

/// A set's fence waits for the set's grant: the source that says so.
struct Grant(Arc<ResourceSet>);

impl Source for Grant {
    fn key(&self) -> usize {
        self.0.source_key()
    }

    fn describe(&self, out: &mut dyn Write) {
        self.0.describe_wait(out);
    }
}

/// Sorts links by resource address, the global lock order: insertion sort,
/// O(n^2) for n up to [`MAX_RESOURCES`], and the fastest for the few
/// resources of a typical set. (`core`'s sorts end in a panic on an
/// inconsistent order, a call objtool does not know never returns.)
fn sort_by_address(links: &mut [Link]) {
    for i in 1..links.len() {
        let mut j = i;
        while j > 0 && links[j - 1].res.addr() > links[j].res.addr() {
            links.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Where [`ResourceSet::acquire`] puts a set for its driver.
pub(crate) trait Publish {
    /// Stores the set's address where the driver keeps it.
    fn publish(&self, set: *const ResourceSet);
    /// Takes the address back (leaving NULL); returns whether it was still
    /// there, i.e. nobody took it to release the set.
    fn take_back(&self) -> bool;
}

/// [`Publish`] for a set only its caller knows (`kds_waitall()`).
pub(crate) struct Unpublished;

impl Publish for Unpublished {
    fn publish(&self, _set: *const ResourceSet) {}
    fn take_back(&self) -> bool {
        true
    }
}

/// The outcome of [`ResourceSet::acquire`].
pub(crate) struct Acquired {
    /// The driver's reference to the queued set ([`Arc::into_raw`]), owned
    /// by whoever holds it now (the driver, through the pointer `publish`
    /// was given): a callback run on another CPU may release it at any
    /// time. NULL when it was released before it was queued.
    pub(crate) set: *const ResourceSet,
    /// A reference of the caller's own.
    pub(crate) core: Arc<ResourceSet>,
    /// Whether it was granted in the call; the caller must then call
    /// [`ResourceSet::grant_now`].
    pub(crate) granted: bool,
}

impl ResourceSet {
    /// Whether this is a live set (for pointers from C).
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic.load(ordering::Relaxed) == SET_MAGIC
    }

    /// The set's fence, made on the first call: it completes when the set
    /// is granted, or with `-ECANCELED` when the set is released first.
    /// Allocates with `GFP_ATOMIC` (any context); fails with `ENOMEM`.
    pub(crate) fn fence(&self) -> Result<Arc<Fence>> {
        if let Some(f) = &self.fence.lock().fence {
            return Ok(f.clone());
        }
        // Before the fence (and its source) can be seen, so that `release`
        // syncs with `describe_wait` on the slot's lock. Fully ordered
        // before the state is read below, as the state change is before
        // `finish_fence` reads the flag: either the changer sees the flag
        // (and locks the slot after us, or before, when we see its state),
        // or we see its state.
        self.fence_made.xchg(true, ordering::Full);
        let new = Fence::new_internal(self.class(), self.name.ip(), Kind::Set, GFP_ATOMIC)?;
        if self.name.is_user() {
            new.set_name(self.name().as_bytes());
        }
        // Whatever its class: a client holds a set as long as it likes.
        new.set_resource_set_taint();
        // What the fence waits for, for diagnostics; forgotten before the
        // event completes (which ends the cycle set -> fence -> source).
        // SAFETY: `self` is in an `Arc` (sets are made by `acquire` and
        // handed out with `Arc::into_raw`), and alive: the caller borrows it.
        let me: Arc<ResourceSet> = unsafe { ArcBorrow::from_raw(self) }.into();
        let src: Arc<dyn Source> = Arc::new(Grant(me), GFP_ATOMIC)?;
        new.add_source(src, GFP_ATOMIC)?;
        let keep = new.clone();
        let event = match Fence::add_event(&new) {
            Ok(e) => e,
            Err(e) => {
                new.forget_source(self.source_key());
                return Err(e);
            }
        };
        // Commit: the event alone keeps the fence pending.
        Fence::complete(new.as_arc_borrow(), 0)?;
        let (fence, finish) = {
            let mut slot = self.fence.lock();
            match &slot.fence {
                // Another caller made one first: ours goes unseen.
                Some(f) => (f.clone(), Some((event, 0))),
                None => {
                    slot.fence = Some(new.clone());
                    // Under the slot's lock: whoever changes `state` from
                    // `PENDING` takes the event under it afterwards, so it
                    // is either still `PENDING` here (and finds the event)
                    // or has taken the slot's lock already (and we see its
                    // state).
                    match self.state.load(ordering::Relaxed) {
                        PENDING => {
                            slot.event = Some(event);
                            (new, None)
                        }
                        CANCELLED => (new, Some((event, ECANCELED.to_errno()))),
                        _ => (new, Some((event, 0))),
                    }
                }
            }
        };
        if let Some((event, error)) = finish {
            // Ours went unseen, or the set is decided: no source to show.
            keep.forget_source(self.source_key());
            event.complete(error);
        }
        Ok(fence)
    }

    /// The key of the set's [`Grant`] source on its fence.
    fn source_key(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The set's name.
    pub(crate) fn name(&self) -> NameStr {
        self.name.get()
    }

    /// Names the set, and its fence if it has one.
    pub(crate) fn set_name(&self, text: &[u8]) {
        self.name.set(text);
        let f = self.fence.lock().fence.clone();
        if let Some(f) = f {
            f.set_name(text);
        }
    }

    /// Writes what the set waits for: each resource it is not granted yet,
    /// with the sets queued ahead of it there.
    pub(crate) fn describe_wait(&self, out: &mut dyn Write) {
        let _ = out.write_fmt(fmt!("set {} \"{}\"", self.id, self.name()));
        // Held throughout: `release` syncs with it before it unlinks the
        // set (so the resources stay alive while we look at them); under
        // it, `QUEUED` means the links are still queued.
        let _slot = self.fence.lock();
        if self.is_granted() || self.phase.load(ordering::Acquire) != QUEUED {
            let _ = out.write_str(" (not waiting)");
            return;
        }
        let _ = out.write_str(" waits for");
        for l in self.links.as_slice() {
            if l.is_granted() {
                continue;
            }
            let r = l.res.get();
            let mut ahead: [(u64, NameStr, bool); 4] =
                core::array::from_fn(|_| (0, NameStr::new(), false));
            let (mut n, mut more) = (0, 0);
            {
                let scope = OrderScope::begin();
                let q = r.lock(&scope);
                // The link is still queued (the caller keeps the set, and
                // it is not granted), so the resource is alive.
                for other in q.links() {
                    if core::ptr::eq(other, l) {
                        break;
                    }
                    if n < ahead.len() {
                        let s = other.set();
                        ahead[n] = (s.id, s.name(), other.is_granted());
                        n += 1;
                    } else {
                        more += 1;
                    }
                }
            }
            let mode = if l.exclusive { "exclusive" } else { "shared" };
            let _ = out.write_fmt(fmt!(" \"{}\" ({}) behind", r.name(), mode));
            for (id, name, granted) in &ahead[..n] {
                let state = if *granted { "holds it" } else { "waiting" };
                let _ = out.write_fmt(fmt!(" set {} \"{}\" ({})", id, name, state));
            }
            if more > 0 {
                let _ = out.write_fmt(fmt!(" and {} more", more));
            }
            let _ = out.write_str(";");
        }
    }

    /// Finishes the set's fence, if it has one, with `error`; called once,
    /// by whoever changed `state` from `PENDING`.
    fn finish_fence(&self, error: i32) {
        // After the fully ordered state change (see `fence`).
        if !self.fence_made.load(ordering::Relaxed) {
            return;
        }
        let (event, fence) = {
            let mut slot = self.fence.lock();
            (slot.event.take(), slot.fence.clone())
        };
        if let Some(f) = fence {
            f.forget_source(self.source_key());
        }
        if let Some(e) = event {
            e.complete(error);
        }
    }

    /// The set's class: its callback's, or kds's "kds_resource_set".
    pub(crate) fn class(&self) -> Class {
        match &self.callback {
            Some(cb) => cb.class,
            None => Class::builtin(Builtin::Set),
        }
    }

    /// Opens a signalling section of the set's class, and of its fence's
    /// if it has one (lockdep only).
    fn begin_signalling(&self) -> Signalling {
        let mut s = Signalling::new();
        if crate::sys::lockdep::enabled() {
            s.add_class(self.class());
            let fence = self.fence.lock().fence.clone();
            if let Some(f) = fence {
                s.add_fence(&f);
            }
        }
        s
    }

    /// Whether the set has been granted (and not released since).
    pub(crate) fn is_granted(&self) -> bool {
        matches!(self.state.load(ordering::Acquire), GRANTED | RUNNING | DONE)
    }

    /// Sleeps, interruptibly, for at most `timeout` jiffies until the set
    /// is granted (`kds_waitall()`).
    pub(crate) fn wait_granted(&self, timeout: c_long) -> Sleep {
        // Armed before the check in `sleep_until` (see `WakerSlot`).
        self.waiter.arm();
        let r = sleep_until(|| self.is_granted(), true, timeout);
        self.waiter.disarm();
        r
    }

    /// Grants the set: wakes its waiter, finishes its fence and runs or
    /// queues its callback. Called once, by whoever brought `pending` to
    /// zero, with no kds lock held; does nothing if the set was released
    /// first.
    fn grant(this: Arc<ResourceSet>) {
        if this
            .state
            .cmpxchg(PENDING, GRANTED, ordering::Full)
            .is_err()
        {
            return;
        }
        trace::set_grant(this.id);
        // Delivering the grant, a direct callback included, is a
        // signalling section of the set's class (lockdep only).
        let _section = this.begin_signalling();
        // After the fully ordered state change (see `WakerSlot`).
        this.waiter.wake();
        this.finish_fence(0);
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
        let section = self.begin_signalling();
        self.runner.store(
            kernel::task::Task::current_raw() as usize,
            ordering::Relaxed,
        );
        // SAFETY: The driver registered `func` for exactly this call, with
        // these arguments.
        unsafe { (cb.func)(cb.param, cb.extra) };
        drop(section);
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
                PENDING | GRANTED => match self.state.cmpxchg(s, CANCELLED, ordering::Full) {
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
            trace::set_cancel(self.id);
            // Never granted: the fence completes with -ECANCELED. A grant
            // racing with us fails its `cmpxchg` and touches nothing of the
            // driver's: the count can go. (Once `GRANTED`, the granter may
            // still be queueing the call on the driver's workqueue;
            // `run_callback` then finds the set released and drops it.)
            self.finish_fence(ECANCELED.to_errno());
            self.end_count();
        }
        // The callback will not run; nobody waits for `finished` (only a
        // running callback is waited for).
        false
    }

    /// Queues a set atomically on `n` resources, `want(i)` giving the i-th
    /// (or `None`, reported as misuse by the caller), on behalf of the C
    /// function `func` (for warnings).
    ///
    /// `publish.publish()` is called with the set's address before the set
    /// is queued, so that a callback run by another CPU finds it where the
    /// driver keeps it. From then on the driver may release the set through
    /// that pointer, on any thread, even before it is queued: then nothing
    /// is queued (the releaser drops the set), and this returns the set as
    /// not granted. If the set is refused, `publish.take_back()` takes the
    /// pointer back, and the driver's reference is dropped only if it was
    /// still there (if not, whoever took it releases the set).
    ///
    /// Allocates once for up to [`INLINE_LINKS`] resources, twice above.
    ///
    /// Fails with `EINVAL` for a resource named twice or not initialised,
    /// `EBUSY` for [`Locked::Fail`] when a synchronous set is on one of the
    /// resources and, in [`Mode::Try`], `EAGAIN` when the set cannot be
    /// granted at once (nothing is queued then), `ENOMEM`.
    pub(crate) fn acquire(
        n: usize,
        want: impl Fn(usize) -> Option<Want>,
        mode: Mode,
        callback: Option<UserCallback>,
        func: &CStr,
        publish: &dyn Publish,
        ip: usize,
    ) -> Result<Acquired> {
        if mode == Mode::Sync {
            // `kds_waitall()` waits for the class, granted at once or not.
            Class::builtin(Builtin::Set).map().might_wait();
        }
        if n == 0 || n > MAX_RESOURCES {
            misuse(Misuse::BadArgument, func);
            return Err(EINVAL);
        }
        let mut links = LinkStore::with_capacity(n)?;
        for i in 0..n {
            links.push(Link::new(&want(i).ok_or(EINVAL)?))?;
        }
        let sorted = links.as_mut_slice();
        sort_by_address(sorted);
        for i in 0..n {
            if !sorted[i].res.get().magic_ok() {
                misuse(Misuse::BadObject, func);
                return Err(EINVAL);
            }
            if i > 0 && sorted[i].res.addr() == sorted[i - 1].res.addr() {
                misuse(Misuse::Duplicate, func);
                return Err(EINVAL);
            }
        }

        let sync = matches!(mode, Mode::Sync | Mode::Try);
        // SAFETY: The driver keeps its `struct kds_callback` until
        // `kds_callback_term()`, which waits for this count.
        let count = callback
            .as_ref()
            .map(|cb| unsafe { CallCount::new(cb.owner) });
        let core = Arc::pin_init(
            try_pin_init!(ResourceSet {
                magic: Atomic::new(SET_MAGIC),
                id: crate::sys::percpu::next_id(),
                name: Name::of_ip(ip),
                pending: Atomic::new(n as u32),
                state: Atomic::new(PENDING),
                phase: Atomic::new(BUILDING),
                sync,
                waiter: WakerSlot::new(),
                fence_made: Atomic::new(false),
                callback,
                fence <- new_raw_spinlock_irq!(
                    FenceSlot {
                        fence: None,
                        event: None,
                    },
                    c"kds_set_fence"
                ),
                work <- kernel::new_work!("kds_set_callback"),
                ready <- ListLinks::new(),
                tracker <- AtomicTracker::new(),
                finished <- Completion::new(),
                runner: Atomic::new(0),
                count,
                links,
            }),
            GFP_KERNEL,
        )?;
        let me = Arc::as_ptr(&core).cast_mut();
        for l in core.links.as_slice() {
            // SAFETY: The link is on no list, and only we can reach it.
            unsafe { list::init_entry(l.entry()) };
            // INVARIANT: The set is in its final place, in the `Arc`; the
            // links are queued below, under their resources' locks, which
            // publish these stores.
            l.set.store(me, ordering::Relaxed);
        }
        // INVARIANT: `magic` is `SET_MAGIC`; the links are queued below,
        // all of them or (on failure) none.
        let set = Arc::into_raw(core.clone());
        publish.publish(set);

        let res = {
            let scope = OrderScope::begin();
            let links = core.links.as_slice();
            for l in links {
                // Address order: the global lock order of resources.
                scope.lock_held(&l.res.get().queue);
            }
            let refuse = {
                // Whether `l`'s queue refuses the set in `mode`.
                let queue = |l: &'_ Link| -> bool {
                    // SAFETY: Each resource was locked above, and each is
                    // in `links` once (duplicates were refused), so this
                    // guard, gone at once, is the only one.
                    let q = unsafe { scope.held(&l.res.get().queue) };
                    match mode {
                        Mode::Async(Locked::Fail) => q.locked > 0,
                        _ => !Self::grantable(&q, l.exclusive),
                    }
                };
                match mode {
                    Mode::Async(Locked::Fail) if links.iter().any(queue) => Some(EBUSY),
                    Mode::Try if links.iter().any(queue) => Some(EAGAIN),
                    _ => None,
                }
            };
            // The decision, against a release through the published
            // pointer: whichever of this and the releaser's exchange of
            // `phase` comes first wins. A releaser that finds `QUEUED`
            // unlinks the links; one that finds `BUILDING` leaves them to
            // us, and we queue nothing; one that finds `REFUSED` touches
            // no resource (the driver may free them once we return).
            let decided = match refuse {
                Some(_) => core.phase.cmpxchg(BUILDING, REFUSED, ordering::Full),
                None => core.phase.cmpxchg(BUILDING, QUEUED, ordering::Full),
            };
            let refuse = match decided {
                Ok(_) => refuse,
                Err(_) => Some(ECANCELED),
            };
            if refuse.is_none() {
                let excl = links.iter().any(|l| l.exclusive);
                trace::set_queue(core.id, core.name.ip(), links.len() as u32, excl);
            }
            let res = match refuse {
                Some(e) => Err(e),
                None => {
                    let mut granted = 0;
                    for l in links {
                        // SAFETY: As above; the previous guard is gone.
                        let mut q = unsafe { scope.held(&l.res.get().queue) };
                        let now = Self::grantable(&q, l.exclusive)
                            || (mode == Mode::Async(Locked::Ignore) && q.locked > 0);
                        if now {
                            l.granted.store(1, ordering::Relaxed);
                            granted += 1;
                        }
                        let q = q.as_mut().project();
                        *q.exclusive += u32::from(l.exclusive);
                        *q.locked += u32::from(sync);
                        // SAFETY: The link's entry is on no list, and stays
                        // valid while queued: `release` unlinks it under
                        // this lock before the set can go.
                        // INVARIANT: A link of a live set, on its resource.
                        unsafe { q.list.add_tail(l.entry()) };
                    }
                    // No other CPU can grant our links while we hold their
                    // locks, so this is the final count of this call.
                    // (Full ordering, as in `Link::grant`.)
                    Ok(core.pending.fetch_sub(granted, ordering::Full) == granted)
                }
            };
            for l in links {
                // SAFETY: Locked above, and no guard of it is live.
                unsafe { scope.unlock_held(&l.res.get().queue) };
            }
            res
        };
        match res {
            Ok(granted) => Ok(Acquired { set, core, granted }),
            // The releaser owns the driver's reference and drops it;
            // nothing was queued.
            Err(e) if e == ECANCELED => Ok(Acquired {
                set: core::ptr::null(),
                core,
                granted: false,
            }),
            Err(e) => {
                if publish.take_back() {
                    // SAFETY: `set` came from `Arc::into_raw` above and was
                    // never queued, and we took the only pointer to it back.
                    let set = unsafe { Arc::from_raw(set) };
                    set.magic.store(0, ordering::Relaxed);
                    // The count on the driver's callback goes with the set.
                    drop(set);
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
    pub(crate) fn grant_now(core: Arc<ResourceSet>) {
        ResourceSet::grant(core);
    }

    /// Releases the set through the driver's reference: a granted one gives
    /// its resources to the next waiters, a pending one is cancelled (its
    /// fence completes with `-ECANCELED` and its callback never runs). A
    /// callback that has not started yet will not run. With `sync`, a
    /// callback running on another task is waited for before the resources
    /// go to anyone else.
    pub(crate) fn release(this: Arc<ResourceSet>, sync: bool) {
        this.magic.store(0, ordering::Relaxed);
        if this.is_granted() {
            trace::set_release(this.id);
        }
        let running = this.cancel();
        if sync && running {
            // The callback still uses the resources: hand them on after.
            this.finished.wait_for_completion();
        }
        // Only a queued set's resources are touched: a refused set's may
        // be gone already, and a set released before `acquire` decided
        // will never be queued (see there).
        if this.phase.xchg(RELEASED, ordering::Full) != QUEUED {
            return;
        }
        if this.fence_made.load(ordering::Relaxed) {
            // Waits for a `describe_wait` that saw the set queued.
            drop(this.fence.lock());
        }
        let mut ready = List::<ResourceSet, 1>::new();
        // Interrupts go off once per batch of links, not once per link nor
        // for all of a large set; the locks are taken one at a time, so in
        // any order.
        for batch in this.links.as_slice().chunks(INLINE_LINKS) {
            let scope = OrderScope::begin();
            for l in batch {
                Self::unlink(&scope, l, this.sync, &mut ready);
            }
        }
        while let Some(s) = ready.pop_front() {
            ResourceSet::grant(s.into_arc());
        }
    }

    /// Takes `l`, a link of a set queued with `sync`, off its resource's
    /// queue (if it is on it); the sets that makes eligible go to `ready`.
    fn unlink(scope: &OrderScope, l: &Link, sync: bool, ready: &mut List<ResourceSet, 1>) {
        let mut q = l.res.get().lock(scope);
        // SAFETY: The entry was initialised once the set was in place;
        // its list is this queue (or none), which we hold.
        if !unsafe { list::entry_is_linked(l.entry()) } {
            return;
        }
        // SAFETY: On this queue, which we hold.
        unsafe { list::del_init(l.entry()) };
        let qp = q.as_mut().project();
        *qp.exclusive -= u32::from(l.exclusive);
        *qp.locked -= u32::from(sync);
        let front_waits = q.links().next().is_some_and(|f| !f.is_granted());
        if l.exclusive || front_waits {
            // The front link, or all shared links at the front.
            for (i, f) in q.links().enumerate() {
                if f.exclusive {
                    if i == 0 {
                        f.grant(ready);
                    }
                    break;
                }
                f.grant(ready);
            }
        }
    }
}
