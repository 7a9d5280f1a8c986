// SPDX-License-Identifier: GPL-2.0

//! Fences: N:M completion.
//!
//! A [`Fence`] is done when every event it awaits has completed. Its
//! pending count starts at 1 (the creator's setup reference); each awaited
//! event adds one and each completed event, and the creator's commit,
//! removes one. At zero the fence is done: done is final, and the fence's
//! status (1, or the first error) never changes again.
//!
//! Events are counted ([`Fence::await_event`] / [`Fence::complete`], the C
//! API's `kds_fence_await()` / `kds_fence_complete()`), owned ([`Event`], a
//! token that completes its event exactly once, on [`Event::complete`] or
//! when dropped), or other fences ([`Fence::await_fence`]).
//!
//! When a fence is done:
//!
//! 1. its status is published (release), so that lockless readers
//!    ([`Fence::status`]) that see it done also see every write made before
//!    any of its events completed;
//! 2. its C callbacks (`struct kds_fence_cb`, see [`crate::capi::fence`]) run,
//!    with local interrupts disabled and no kds lock held;
//! 3. it leaves the dependency graph ([`crate::fence::order`]);
//! 4. every fence that awaited it retires one event, inheriting its error.
//!    Fences that become done this way are processed by the same loop, not
//!    by recursion, so a chain of any length completes on a bounded stack.
//!
//! Locking: one global [`RawSpinLockIrq`] for the graph (taken only by
//! fence-on-fence awaits and by fences that are in the graph when they are
//! done or released), and one per fence for its callbacks and waiters. The
//! graph lock nests outside fence locks. Both disable interrupts, so every
//! operation but the waits works from hard IRQ context.

pub(crate) mod class;
pub(crate) mod dma;
pub(crate) mod link;
pub(crate) mod order;
pub(crate) mod rules;
pub(crate) mod timer;

use crate::ffi::{fence_cb_trampoline, FenceCbHandler, RawCbFn};
use crate::misuse::{misuse, Misuse};
use crate::name::{Name, NameStr};
use crate::sys::fmt;
use crate::sys::list::{self, ListHead};
use crate::sys::percpu::{self, Counter};
use crate::sys::raw_spinlock::{new_raw_spinlock_irq, raw_global_lock, RawSpinLockIrq};
use crate::sys::registry::{registry, Entry, Node};
use crate::sys::task::{self, HardIrqBudget, Sleep, Waker};
use crate::sys::trace;
use crate::sys::workqueue;
use class::{Builtin, Class};
use core::ptr::{self, NonNull};
use kernel::alloc::{flags::GFP_KERNEL, Flags};
use kernel::bindings;
use kernel::ffi::c_long;
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::lock::GlobalGuard;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::Opaque;
use link::{Link, LinkList, RawLink};
use order::{Growth, Insert, Order, NIL};
pub(crate) use rules::{Signalling, Taint};

/// One event in [`Fence`]'s `pending` count (its low 32 bits).
const EVENT: u64 = 1;

/// One awaited fence in [`Fence`]'s `pending` count (its high 32 bits).
const EDGE: u64 = 1 << 32;

/// The first field of every fence; `kds_fence_*` refuse other pointers.
pub(crate) const FENCE_MAGIC: u32 = 0x6b64_7366;

/// What completes a fence.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Its users: `kds_fence_create()`.
    Plain,
    /// kds, when the resource set it belongs to is granted.
    Set,
    /// kds, when what a work item was put after is done (its gate).
    Gate,
    /// kds, when a work item's function has returned.
    Work,
    /// kds, when the work of a domain's epoch has finished (a barrier).
    Epoch,
}

impl Kind {
    /// What the kind is called in diagnostics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Plain => "fence",
            Kind::Set => "resource set",
            Kind::Gate => "work gate",
            Kind::Work => "work",
            Kind::Epoch => "barrier epoch",
        }
    }
}

/// How many fences exist: a per-CPU count, so that creating and freeing
/// fences on several CPUs shares no cache line.
const LIVE: Counter = Counter::FENCES;

/// The number of fences that exist: exact when none is being created or
/// freed meanwhile; while they are, a sum over CPUs may be off either way,
/// even below 0 (a fence counted on one CPU and uncounted on another
/// between the reads).
pub(crate) fn live_fences() -> i64 {
    LIVE.sum()
}

/// Something a fence waits for, other than a fence or a counted event: an
/// hrtimer, a `dma_fence`, a completion, a resource set's grant. Each
/// describes itself for diagnostics, and some can be cancelled once
/// nothing can observe the fence (see [`Fence::abandon`]).
pub(crate) trait Source: Send + Sync {
    /// Whether [`Source::cancel`] does anything.
    fn cancellable(&self) -> bool {
        false
    }

    /// Cancels the source if it has not fired; its event then completes
    /// with `-ECANCELED`. Must never wait.
    fn cancel(&self) {}

    /// The key [`Fence::forget_source`] finds it by: its own address
    /// unless it says otherwise.
    fn key(&self) -> usize {
        ptr::from_ref(self).cast::<u8>() as usize
    }

    /// Writes what it is, on one line without its end (for example
    /// `dma_fence i915:gt0:1234`). May take locks of its own (of a
    /// resource, never a fence's); called with none of kds's held.
    fn describe(&self, out: &mut dyn core::fmt::Write);
}

raw_global_lock! {
    /// The dependency graph: the edges between pending fences that could
    /// be on a cycle (see [`Fence::await_edge`]).
    pub(crate) static GRAPH: Order, backend GraphLock, class c"kds_graph" = Order::new();
}

registry! {
    /// The pending fences, for diagnostics: a fence is added when it is
    /// made and removes itself when it is done, or dropped.
    pub(crate) static FENCES: Registry<Fence>, backend FencesLock, class c"kds_fences",
        shards [FENCES0, FENCES1, FENCES2, FENCES3, FENCES4, FENCES5, FENCES6, FENCES7];
}

// SAFETY: `reg` is a `Node` field of `Fence`.
unsafe impl Entry for Fence {
    const OFFSET: usize = core::mem::offset_of!(Fence, reg);
}

/// Initialises the fence subsystem; call once, from module init.
pub(crate) fn init() {
    // SAFETY: Called once, before any use of `GRAPH`, `DEFERRED` and
    // `FENCES`.
    unsafe {
        GRAPH.init();
        DEFERRED.init();
        FENCES.init();
    }
    rules::init();
}

/// Frees the graph's memory; call once, from module exit, when no fence
/// is left.
pub(crate) fn exit() {
    let old = GRAPH.lock().take_all();
    drop(old);
}

/// Locks the graph with room for `nodes` more nodes and `edges` more edges,
/// allocating with `flags` (unlocked) when needed.
///
/// The graph's vectors come from `kvmalloc()`, which falls back to
/// `vmalloc()` above a page; `vmalloc()` must not run in hard IRQ (it
/// `BUG()`s), so there a growth above a page fails with `ENOMEM`. The
/// vectors a growth replaces are freed after the lock is dropped, and by a
/// caller that may not sleep (`flags` without `GFP_KERNEL`) with
/// `vfree_atomic()`: `vfree()` may sleep.
fn lock_graph(nodes: usize, edges: usize, flags: Flags) -> Result<GlobalGuard<GraphLock>> {
    loop {
        let g = GRAPH.lock();
        let Some(want) = g.shortfall(nodes, edges) else {
            return Ok(g);
        };
        drop(g);
        if Growth::largest_bytes(want) > kernel::page::PAGE_SIZE && crate::sys::task::in_hardirq() {
            return Err(ENOMEM);
        }
        let grown = Growth::alloc(want, flags)?;
        let old = GRAPH.lock().grow(grown);
        if flags.contains(GFP_KERNEL) {
            drop(old);
        } else {
            for p in old.into_buffers() {
                // SAFETY: `p` is NULL or a buffer `kvmalloc()` allocated
                // that nothing refers to any more (the graph replaced it).
                unsafe { workqueue::kvfree_atomic(p.cast()) };
            }
        }
    }
}

/// How many fences one interrupt retires (runs the callbacks of, and
/// propagates from) before kds hands the rest to its workqueue; a
/// completion nested in the callbacks of another in the same interrupt
/// retires only its own fence there.
pub(crate) const HARDIRQ_RETIRE_BUDGET: usize = 128;

/// Fences that are done but not yet retired, handed over from hard IRQ by
/// [`Fence::propagate`] to kds's workqueue, which retires them
/// ([`kds_fence_run_deferred`]). A list and one static work item, so that
/// the hand-over allocates nothing (the allocator's locks are not for
/// hard IRQ).
pub(crate) struct Deferred(LinkList);

raw_global_lock! {
    /// See [`Deferred`].
    static DEFERRED: Deferred, backend DeferredLock, class c"kds_fence_deferred"
        = Deferred(LinkList::new());
}

impl Deferred {
    /// Hands `ready` over to kds's workqueue.
    fn queue(mut ready: LinkList) {
        {
            let mut d = DEFERRED.lock();
            while let Some(e) = ready.pop() {
                d.0.push(e);
            }
        }
        workqueue::queue_deferred_retire();
    }
}

/// What kds holds now: live fences, graph nodes and graph edges.
pub(crate) fn live_counts() -> (i64, usize, usize) {
    let (nodes, edges) = GRAPH.lock().size();
    (LIVE.sum(), nodes, edges)
}

/// The work item of [`Deferred`]: retires every fence handed over, in
/// process context.
pub(crate) fn run_deferred() {
    let ready = DEFERRED.lock().0.take();
    Fence::propagate_from(LinkList::new(), 0, ready, usize::MAX);
}

/// What a fence's lock protects.
#[pin_data]
struct State {
    /// Set once, when the fence is done; from then on no callback or
    /// waiter is added.
    done: bool,
    /// Fences that await this one, each holding a reference to its waiter.
    waiters: LinkList,
    /// Set (for good) when a fence-on-fence edge into this fence is about
    /// to be added, or a graph-only one ([`Fence::order_after_all`]). From
    /// then on every edge on `waiters` is also an edge of [`GRAPH`]; until
    /// then none needs to be, because a fence that awaits no fence cannot
    /// be on a cycle. See [`Fence::await_edge`].
    awaits: bool,
    /// What the fence waits for besides fences and counted events, until
    /// each fires; grown unlocked ([`Fence::add_source`]).
    sources: KVec<Arc<dyn Source>>,
    /// The C callbacks, by their `node`s ([`RawCb`]); empty once `done`.
    #[pin]
    callbacks: ListHead,
}

/// A C callback (`struct kds_fence_cb`, laid out as in `include/kds.h`).
#[repr(C)]
pub(crate) struct RawCb {
    pub(crate) node: bindings::list_head,
    pub(crate) func: Option<RawCbFn>,
}

/// `struct kds_fence` as C sees it: opaque. A `*mut RawFence` is a
/// `*const Fence` obtained from [`Arc::into_raw`].
#[repr(C)]
pub(crate) struct RawFence {
    _opaque: [u8; 0],
}

/// A fence.
///
/// # Invariants
///
/// - `magic` is [`FENCE_MAGIC`].
/// - `pending` is 0 exactly when the fence is done, and it never rises
///   from 0; its low 32 bits count events (the setup reference, counted
///   and owned events), its high 32 bits fences awaited ([`EDGE`]), so
///   that completing more events than were added can never use up a count
///   that belongs to an awaited fence (whose link may be the caller's); `status` is non-zero exactly from the moment `pending` reached
///   0 and the fence was published as done, and never changes after that.
/// - `node` is [`NIL`] or the fence's node in [`GRAPH`]; it is only changed
///   with `GRAPH` locked.
///
/// `#[repr(C)]`, so that `magic` is at offset 0, where the C edge reads it
/// from whatever object a caller passes (as in [`Domain`] and the others);
/// the fields are ordered by size so that this adds no padding.
///
/// [`Domain`]: crate::domain::Domain
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct Fence {
    magic: u32,
    /// References held by users (the C API), as opposed to kds's own; an
    /// internal fence counts one more for kds, for its whole life.
    users: Atomic<i32>,
    error: Atomic<i32>,
    status: Atomic<i32>,
    node: Atomic<u32>,
    /// What completes the fence: its users ([`Kind::Plain`]), or kds
    /// itself (a resource set's or a work item's fence), when users may
    /// observe it and await it, but not add events or errors.
    kind: Kind,
    /// Set once a cancellable source was added ([`Fence::add_source`]):
    /// until then [`Fence::abandon`] has nothing to do.
    has_timers: Atomic<bool>,
    /// Set (for good) when the fence is exported as a `dma_fence`, under
    /// [`rules::RULES`] and the fence's lock ([`rules`]).
    exported: Atomic<bool>,
    /// Set, under [`rules::RULES`] and the fence's lock, while a walk of
    /// [`rules`] has checked the fence and not tainted it yet: no edge
    /// into it is added meanwhile.
    walking: Atomic<bool>,
    /// What the fence is for.
    class: Class,
    /// Why the fence may wait indefinitely ([`Taint`]), or 0; set for good,
    /// at creation or under [`rules::RULES`] and the fence's lock.
    taint: Atomic<u64>,
    /// A number that names the fence in messages, debugfs and traces.
    id: u64,
    /// Its name ([`crate::name`]).
    name: Name,
    /// When it was made, in jiffies.
    born: usize,
    /// Its place among the pending fences ([`FENCES`]).
    reg: Node,
    pending: Atomic<u64>,
    /// The context running this fence's callbacks
    /// ([`crate::sys::task::context_key`]), or 0.
    cb_ctx: Atomic<usize>,
    #[pin]
    state: RawSpinLockIrq<State>,
}

// SAFETY: All fields are atomics, lock-protected, or (`callbacks`) only
// touched with `state` locked.
unsafe impl Send for Fence {}
// SAFETY: As above: shared access is synchronised.
unsafe impl Sync for Fence {}

/// Whether `e` is an error number a fence may carry.
pub(crate) fn valid_error(e: i32) -> bool {
    (-(bindings::MAX_ERRNO as i32)..0).contains(&e)
}

impl Fence {
    /// Creates a pending fence with its setup reference (pending count 1),
    /// made by the code at `ip` (its default name).
    pub(crate) fn new(ip: usize, flags: Flags) -> Result<Arc<Fence>> {
        Self::create(Class::builtin(Builtin::Fence), ip, Kind::Plain, flags)
    }

    /// Creates a pending fence of `class`.
    pub(crate) fn with_class(class: Class, ip: usize, flags: Flags) -> Result<Arc<Fence>> {
        Self::create(class, ip, Kind::Plain, flags)
    }

    /// Creates a pending fence that kds completes itself, and that users
    /// may only observe (see [`Fence::is_internal`]). kds holds a user
    /// count on it for its whole life, so users' get/put pairs never make
    /// it look abandoned. `kind` says what completes it.
    pub(crate) fn new_internal(
        class: Class,
        ip: usize,
        kind: Kind,
        flags: Flags,
    ) -> Result<Arc<Fence>> {
        Self::create(class, ip, kind, flags)
    }

    fn create(class: Class, ip: usize, kind: Kind, flags: Flags) -> Result<Arc<Fence>> {
        let internal = kind != Kind::Plain;
        let id = percpu::next_id();
        let taint = Taint::of_class(class, id);
        let f = Arc::pin_init(
            try_pin_init!(Fence {
                magic: FENCE_MAGIC,
                id,
                name: Name::of_ip(ip),
                born: fmt::jiffies(),
                reg: Node::new(),
                kind,
                exported: Atomic::new(false),
                walking: Atomic::new(false),
                class,
                taint: Atomic::new(taint),
                users: Atomic::new(i32::from(internal)),
                pending: Atomic::new(EVENT),
                error: Atomic::new(0),
                status: Atomic::new(0),
                node: Atomic::new(NIL),
                cb_ctx: Atomic::new(0),
                has_timers: Atomic::new(false),
                state <- new_raw_spinlock_irq!(pin_init!(State {
                    done: false,
                    waiters: LinkList::new(),
                    awaits: false,
                    sources: KVec::new(),
                    callbacks <- ListHead::new(),
                }), c"kds_fence_state"),
            }),
            flags,
        )?;
        LIVE.add(1);
        // SAFETY: The fence is on no registry yet; it removes itself when
        // it is done or, at the latest, when it is dropped.
        unsafe { FENCES.add(&f) };
        trace::fence_create(id, ip, class.name());
        // INVARIANT: `magic` is set; pending (1) and status (0) agree; the
        // callback list is empty; `node` is `NIL`.
        Ok(f)
    }

    /// Takes back one of kds's own references, which kds's C code got
    /// from `kds_fence_ref_internal()` (see [`crate::fence::dma`]).
    ///
    /// # Safety
    ///
    /// `f` must come from `kds_fence_ref_internal()`, and be taken back
    /// once.
    pub(crate) unsafe fn from_raw_ref(f: *mut RawFence) -> Arc<Fence> {
        // SAFETY: `f` owns one count of an `Arc<Fence>` (function safety
        // requirement).
        unsafe { Arc::from_raw(f.cast_const().cast::<Fence>()) }
    }

    /// Whether kds completes this fence itself: a user may wait for it,
    /// await it and add callbacks, but not add events or set errors.
    pub(crate) fn is_internal(&self) -> bool {
        self.kind != Kind::Plain
    }

    /// The name of the fence's class.
    pub(crate) fn class_name(&self) -> &CStr {
        self.class.name()
    }

    /// What completes the fence.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The fence's name.
    pub(crate) fn name(&self) -> NameStr {
        self.name.get()
    }

    /// Names the fence `text` (cut to [`crate::name::NAME_LEN`] - 1 bytes).
    pub(crate) fn set_name(&self, text: &[u8]) {
        self.name.set(text);
        let mut n = self.name.get();
        trace::fence_name(self.id, n.as_cstr());
    }

    /// When the fence was made, in jiffies.
    pub(crate) fn born(&self) -> usize {
        self.born
    }

    /// Its pending count: counted events (the setup reference and owned
    /// events included) and awaited fences.
    pub(crate) fn pending_counts(&self) -> (u32, u32) {
        let p = self.pending.load(ordering::Relaxed);
        ((p & (EDGE - 1)) as u32, (p >> 32) as u32)
    }

    /// Calls `f` on each fence that awaits this one (its id), and on each
    /// of its sources, with the fence's lock held: `f` must be short.
    pub(crate) fn inspect(
        &self,
        mut waiter: impl FnMut(&Fence),
        mut source: impl FnMut(&Arc<dyn Source>),
    ) {
        let g = self.state.lock();
        for w in g.waiters.waiters() {
            waiter(w);
        }
        for t in g.sources.iter() {
            source(t);
        }
    }

    /// Counts one more user reference.
    pub(crate) fn user_get(&self) {
        self.users.add(1, ordering::Relaxed);
    }

    /// Counts one user reference less; returns whether it was the last.
    pub(crate) fn user_put(&self) -> bool {
        // Full: the last put sees everything earlier users did (such as
        // adding a timer, which `abandon` then checks without the lock).
        self.users.fetch_sub(1, ordering::Full) == 1
    }

    /// The last user reference is gone. If nothing can observe the fence
    /// any more (pending, no waiting fence, no callback), its cancellable
    /// sources are cancelled, so that it is freed now rather than when
    /// they would have fired.
    pub(crate) fn abandon(&self) {
        if self.is_done() || !self.has_timers.load(ordering::Relaxed) {
            // Done is final, and a fence that never had a cancellable
            // source has none to cancel: no lock needed.
            return;
        }
        // The cancellable sources leave the list a few at a time, as
        // clones (dropping the list's reference under the lock frees
        // nothing), and are cancelled unlocked: cancelling completes
        // events, which locks the fence. The others never leave the list,
        // so a source that forgets itself meanwhile always finds itself,
        // and nothing allocates.
        loop {
            let mut batch: [Option<Arc<dyn Source>>; 8] = Default::default();
            let mut n = 0;
            {
                let mut g = self.state.lock();
                if g.done || !g.callbacks.is_empty() || !g.waiters.is_empty() {
                    return;
                }
                g.as_mut().project().sources.retain(|t| {
                    if n < batch.len() && t.cancellable() {
                        batch[n] = Some(t.clone());
                        n += 1;
                        false
                    } else {
                        true
                    }
                });
            }
            for t in batch.iter().flatten() {
                t.cancel();
            }
            if n < batch.len() {
                return;
            }
        }
    }

    /// Adds a source, allocating room unlocked with `flags`.
    pub(crate) fn add_source(&self, t: Arc<dyn Source>, flags: Flags) -> Result {
        // Before the source can fire; the caller holds a user reference, so
        // the last put comes after this (see `user_put`).
        if t.cancellable() {
            self.has_timers.store(true, ordering::Relaxed);
        }
        let mut t = Some(t);
        loop {
            let cap = {
                let mut g = self.state.lock();
                let st = g.as_mut().project();
                match st.sources.push_within_capacity(t.take().ok_or(EINVAL)?) {
                    Ok(()) => return Ok(()),
                    Err(e) => t = Some(e.0),
                }
                st.sources.capacity()
            };
            let mut new = KVec::with_capacity((cap * 2).max(2), flags)?;
            let old = {
                let mut g = self.state.lock();
                let st = g.as_mut().project();
                if st.sources.capacity() == cap {
                    for x in st.sources.drain_all() {
                        if let Err(e) = new.push_within_capacity(x) {
                            // Cannot happen: `new` is bigger.
                            drop(e);
                        }
                    }
                    core::mem::swap(st.sources, &mut new);
                }
                new
            };
            // Freed unlocked.
            drop(old);
        }
    }

    /// Removes the source whose key is `key` (see [`Source::key`]), if
    /// there; it is dropped after the fence's lock.
    pub(crate) fn forget_source(&self, key: usize) {
        let gone = {
            let mut g = self.state.lock();
            let st = g.as_mut().project();
            match st.sources.iter().position(|t| t.key() == key) {
                Some(i) => st.sources.remove(i).ok(),
                None => None,
            }
        };
        drop(gone);
    }

    /// Whether this is a live fence (for pointers from C).
    pub(crate) fn magic_ok(&self) -> bool {
        self.magic == FENCE_MAGIC
    }

    /// The fence's id: unique for the life of the module.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// 0 while pending, 1 when done without error, the error when done
    /// with one. Acquire: a caller that sees the fence done sees what was
    /// written before its events completed.
    pub(crate) fn status(&self) -> i32 {
        self.status.load(ordering::Acquire)
    }

    /// Whether the fence is done.
    pub(crate) fn is_done(&self) -> bool {
        self.status() != 0
    }

    /// The error set so far (0 if none); final once the fence is done.
    pub(crate) fn error(&self) -> i32 {
        self.error.load(ordering::Relaxed)
    }

    /// Records `error` unless an error is already recorded (first wins).
    /// `error` must be a negative errno; 0 is ignored.
    fn inherit_error(&self, error: i32) {
        if error < 0 {
            let _ = self.error.cmpxchg(0, error, ordering::Relaxed);
        }
    }

    /// Inherits the status of a source that is done: 1 (or 0) means no
    /// error, a negative value is the error (first one wins).
    pub(crate) fn inherit(&self, status: i32) {
        self.inherit_error(status.min(0));
    }

    /// Sets the error the fence completes with (first one wins).
    ///
    /// Fails with `EINVAL` for a value that is not a negative errno, and for
    /// a fence that is already done.
    pub(crate) fn set_error(&self, error: i32) -> Result {
        if !valid_error(error) || self.is_done() {
            return Err(EINVAL);
        }
        self.inherit_error(error);
        Ok(())
    }

    /// Adds one counted event. Fails with `EINVAL` when the fence is done.
    pub(crate) fn await_event(&self) -> Result {
        self.add_pending(EVENT)
    }

    /// Adds one `unit` ([`EVENT`] or [`EDGE`]) to the pending count, unless
    /// the fence is done (`EINVAL`) or that count is full (`EOVERFLOW`).
    fn add_pending(&self, unit: u64) -> Result {
        let mut p = self.pending.load(ordering::Relaxed);
        loop {
            if p == 0 {
                return Err(EINVAL);
            }
            if Self::count_of(p, unit) == u64::from(u32::MAX) {
                return Err(EOVERFLOW);
            }
            match self.pending.cmpxchg(p, p + unit, ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(cur) => p = cur,
            }
        }
    }

    /// The count of `unit`s ([`EVENT`] or [`EDGE`]) in the pending value `p`.
    fn count_of(p: u64, unit: u64) -> u64 {
        if unit == EDGE {
            p >> 32
        } else {
            p & (EDGE - 1)
        }
    }

    /// Adds one owned event: the returned [`Event`] completes it.
    pub(crate) fn add_event(this: &Arc<Fence>) -> Result<Event> {
        this.await_event()?;
        Ok(Event {
            fence: Some(this.clone()),
        })
    }

    /// Retires one event, recording `error` first. Returns whether this
    /// made the fence done, or `EINVAL` when no event is left to retire
    /// (the fence is done, or only awaits fences).
    fn retire_one(&self, error: i32) -> Result<bool> {
        self.retire_pending(EVENT, error)
    }

    /// Retires one `unit` ([`EVENT`] or [`EDGE`]), recording `error`
    /// first; returns whether this made the fence done, or `EINVAL` when
    /// there is none of that unit to retire.
    ///
    /// Full ordering: the event's writes are ordered before the decrement,
    /// and the decrement that reaches zero is ordered after every earlier
    /// one, so the CPU that publishes the fence done has seen them all.
    fn retire_pending(&self, unit: u64, error: i32) -> Result<bool> {
        let mut p = self.pending.load(ordering::Relaxed);
        loop {
            if Self::count_of(p, unit) == 0 {
                return Err(EINVAL);
            }
            // The error must be recorded before the fence can be done.
            self.inherit_error(error);
            match self.pending.cmpxchg(p, p - unit, ordering::Full) {
                Ok(_) => return Ok(p == unit),
                Err(cur) => p = cur,
            }
        }
    }

    /// Completes one counted event (or commits the setup reference) with
    /// `error` (0 or a negative errno). Fails with `EINVAL`, changing
    /// nothing, when the fence is already done.
    ///
    /// `this` is borrowed: when the event makes the fence done, a reference
    /// of its own keeps the fence alive while it retires, because a callback
    /// may drop the caller's (the last one, if it was handed over).
    pub(crate) fn complete(this: ArcBorrow<'_, Fence>, error: i32) -> Result {
        // The event's completion and what it propagates are a signalling
        // section of the fence (lockdep only).
        let _section = this.begin_signalling();
        trace::fence_complete(this.id, error);
        if this.retire_one(error)? {
            let keep: Arc<Fence> = this.into();
            keep.run_done();
        }
        Ok(())
    }

    /// Makes `this` await `signaler`. Returns whether a dependency was
    /// added (`false`: `signaler` was already done, and its error was
    /// inherited).
    ///
    /// Fails with `EDEADLK` when `signaler` awaits `this`, directly or not
    /// (nothing changes), `EINVAL` when `this` is done, `ENOMEM`.
    pub(crate) fn await_fence(this: &Arc<Fence>, signaler: &Fence, flags: Flags) -> Result<bool> {
        Self::await_edge(this, signaler, true, None, flags)
    }

    /// Like [`Fence::await_fence`], with the caller's memory `link` for the
    /// dependency: nothing is allocated unless the graph must grow (an
    /// await that takes the graph lock, see `Documentation/fences.rst`).
    ///
    /// # Safety
    ///
    /// `link` must be valid for reads and writes of a [`RawLink`], and
    /// unused by anyone else until `this` is done if this returns
    /// `Ok(true)`; otherwise it is not used after this returns.
    pub(crate) unsafe fn await_fence_link(
        this: &Arc<Fence>,
        signaler: &Fence,
        link: NonNull<RawLink>,
        flags: Flags,
    ) -> Result<bool> {
        Self::await_edge(this, signaler, true, Some(link), flags)
    }

    /// Like [`Fence::await_fence`], but `this` does not inherit the error
    /// of `signaler`: it is only ordered after it. (A deterministic async
    /// domain runs its items in queue order; the order is not a data
    /// dependency, and one item's failure must not cancel the next.)
    pub(crate) fn await_order(this: &Arc<Fence>, signaler: &Fence, flags: Flags) -> Result<bool> {
        Self::await_edge(this, signaler, false, None, flags)
    }

    /// Adds the edge `signaler -> this`; see [`Fence::await_fence`].
    ///
    /// Cycle detection stays exact with most edges kept out of [`GRAPH`]
    /// (the argument is in `Documentation/fences.rst`). A cycle passes only
    /// through fences that await a fence, and every fence that does has
    /// `awaits` set, under its own lock, before the edge into it is added
    /// (invariant J: an edge out of a fence with `awaits` set is in the
    /// graph). An edge out of a fence without `awaits` is then on no cycle,
    /// now or later: it enters the graph when its fence's `awaits` is set,
    /// before the edge that could close a cycle through it is checked. Such
    /// an edge is added with the two fences' locks, one after the other,
    /// and no global lock: the fast path below. It needs `this` to keep J
    /// without work, that is to await a fence already or to have no waiters;
    /// and `signaler` not to await any fence, checked under the lock with
    /// which the edge is added, so that it cannot race with `signaler`'s
    /// `awaits` being set. Everything else takes the graph lock.
    ///
    /// `link`: the caller's memory for the edge (see
    /// [`Fence::await_fence_link`], whose safety requirement it meets), or
    /// `None` to allocate one with `flags`.
    fn await_edge(
        this: &Arc<Fence>,
        signaler: &Fence,
        inherit: bool,
        link: Option<NonNull<RawLink>>,
        flags: Flags,
    ) -> Result<bool> {
        let added = Self::add_edge(this, signaler, inherit, link, flags);
        if added == Ok(true) {
            trace::fence_await(this.id, signaler.id, trace::AwaitKind::Fence);
        }
        added
    }

    /// [`Fence::await_edge`], untraced.
    fn add_edge(
        this: &Arc<Fence>,
        signaler: &Fence,
        inherit: bool,
        link: Option<NonNull<RawLink>>,
        flags: Flags,
    ) -> Result<bool> {
        if this.is_done() {
            return Err(EINVAL);
        }
        if ptr::eq(&**this, signaler) {
            GRAPH.lock().count_cycle();
            return Err(EDEADLK);
        }
        if signaler.is_done() {
            this.inherit_from(signaler, inherit);
            return Ok(false);
        }
        let edge = match link {
            None => Link::new(this.clone(), inherit, flags)?,
            // SAFETY: The caller's link is valid and kds's until `this` is
            // done once it is on a list (pushed below, and only then does
            // this return `Ok(true)`); otherwise the `Link` is dropped
            // before this returns, which leaves the memory alone.
            Some(raw) => unsafe { Link::borrowed(raw, this.clone(), inherit) },
        };
        // The dma_fence rules: a fence that awaits one that may wait
        // indefinitely may too (see `rules`).
        if let Some(t) = signaler.taint() {
            Self::make_indefinite(this, t, c"kds_fence_await_fence", flags)?;
        }
        let fast = {
            let mut w = this.state.lock();
            if w.awaits || w.waiters.is_empty() {
                // Keeps J: nothing on `waiters` needs to enter the graph.
                *w.as_mut().project().awaits = true;
                true
            } else {
                false
            }
        };
        // Without the graph lock when `this` keeps J by itself; otherwise
        // its waiters enter the graph first.
        let mut graph = if fast {
            None
        } else {
            Some(Self::lock_graph_awaiting(this, 2, 1, flags)?)
        };
        loop {
            let mut st = signaler.state.lock();
            if st.done {
                drop(st);
                drop(graph);
                this.inherit_from(signaler, inherit);
                return Ok(false);
            }
            if signaler.walking.load(ordering::Relaxed) {
                // A walk of `rules` is tainting `signaler` and what awaits
                // it: wait for it to finish, so that it sees no new edge.
                drop(st);
                graph = None;
                drop(rules::RULES.lock());
                continue;
            }
            if this.taint().is_none() {
                if let Some(t) = signaler.taint() {
                    // Tainted since the check above: walk first, unlocked
                    // (the graph too: `RULES` is taken outside it).
                    drop(st);
                    graph = None;
                    Self::make_indefinite(this, t, c"kds_fence_await_fence", flags)?;
                    continue;
                }
            }
            if !st.awaits {
                // `signaler` awaits no fence, and cannot start to while we
                // hold its lock: the edge is on no cycle, and stays out of
                // the graph until `signaler`'s `awaits` is set (so it never
                // enters twice).
                this.add_pending(EDGE)?;
                st.as_mut().project().waiters.push(edge);
                return Ok(true);
            }
            let Some(g) = graph.as_mut() else {
                // `signaler` awaits: the edge goes into the graph, which
                // is locked before fence locks.
                drop(st);
                graph = Some(Self::lock_graph_awaiting(this, 2, 1, flags)?);
                continue;
            };
            let s = Self::graph_node(signaler, g)?;
            let w = Self::graph_node(this, g)?;
            let e = match g.add_edge(s, w)? {
                Insert::Cycle => return Err(EDEADLK),
                Insert::Added(e) => e,
            };
            if let Err(err) = this.add_pending(EDGE) {
                // `this` was completed meanwhile (the caller raced with
                // itself), or awaits 2^32 - 1 fences already.
                g.remove_edge(e);
                return Err(err);
            }
            st.as_mut().project().waiters.push(edge);
            return Ok(true);
        }
    }

    /// Inherits the error of `signaler`, which is done, if `inherit`.
    fn inherit_from(&self, signaler: &Fence, inherit: bool) {
        if inherit {
            self.inherit_error(signaler.error());
        }
    }

    /// Locks the graph with room for `nodes` more nodes and `edges` more
    /// edges, with `w`'s `awaits` set: the edges to its waiters enter the
    /// graph first if it was not (invariant J of [`Fence::await_edge`]).
    ///
    /// Fails with `ENOMEM`. (`EDEADLK`, with nothing changed, if an edge to
    /// one of `w`'s waiters could not enter the graph; that cannot happen:
    /// a fence whose `awaits` is clear has no edge into it in the graph, so
    /// no path there leads back to it.)
    fn lock_graph_awaiting(
        w: &Fence,
        nodes: usize,
        edges: usize,
        flags: Flags,
    ) -> Result<GlobalGuard<GraphLock>> {
        let mut k = 0;
        loop {
            let mut g = lock_graph(nodes + k + 1, edges + k, flags)?;
            let mut st = w.state.lock();
            if st.awaits {
                drop(st);
                return Ok(g);
            }
            let n = st.waiters.waiters().count();
            if n > k {
                // Waiters came meanwhile: more room, unlocked.
                k = n;
                continue;
            }
            if n > 0 {
                let wn = Self::graph_node(w, &mut g)?;
                let mut added = 0;
                let mut res = Ok(());
                for x in st.waiters.waiters() {
                    let xn = Self::graph_node(x, &mut g)?;
                    match g.add_edge(wn, xn) {
                        Ok(Insert::Added(_)) => added += 1,
                        Ok(Insert::Cycle) => res = Err(EDEADLK),
                        Err(e) => res = Err(e),
                    }
                    if res.is_err() {
                        break;
                    }
                }
                if let Err(e) = res {
                    // The edges just added are the newest out of `wn`, at
                    // the front of its list: take them back.
                    g.remove_out_edges(wn, added);
                    return Err(e);
                }
            }
            *st.as_mut().project().awaits = true;
            drop(st);
            return Ok(g);
        }
    }

    /// Records, for cycle detection only, that `this` waits for each of
    /// `signalers` through another mechanism (a `dma_fence` that carries
    /// their exports), without adding events: an await that would close a
    /// cycle through them is then refused too. The record goes when either
    /// end is done. Fails with `EDEADLK` when one of `signalers` awaits
    /// `this`, directly or not, and `ENOMEM`; nothing is recorded then.
    pub(crate) fn order_after_all(
        this: &Arc<Fence>,
        signalers: &[Arc<Fence>],
        flags: Flags,
    ) -> Result {
        if signalers.is_empty() || this.is_done() {
            return Ok(());
        }
        let n = signalers.len();
        let mut added = KVec::<u32>::with_capacity(n, flags)?;
        let mut g = Self::lock_graph_awaiting(this, n + 1, n, flags)?;
        let res = (|| {
            let w = Self::graph_node(this, &mut g)?;
            for s in signalers {
                if ptr::eq(&**s, &**this) {
                    g.count_cycle();
                    return Err(EDEADLK);
                }
                // Locked, so that `s` cannot leave the graph (done) before
                // the edge is in: its `leave_graph` then removes it.
                let st = s.state.lock();
                if st.done {
                    continue;
                }
                let sn = Self::graph_node(s, &mut g)?;
                match g.add_edge(sn, w)? {
                    Insert::Cycle => return Err(EDEADLK),
                    Insert::Added(e) => added.push_within_capacity(e).map_err(|_| ENOMEM)?,
                }
            }
            Ok(())
        })();
        if res.is_err() || this.is_done() {
            // Undo: either end may have left the graph meanwhile only by
            // taking `g`, which we hold, so these edges are still ours.
            for e in added.iter() {
                g.remove_edge(*e);
            }
        }
        res
    }

    /// The fence's graph node, added (last in the order) if it has none.
    fn graph_node(f: &Fence, g: &mut Order) -> Result<u32> {
        let n = f.node.load(ordering::Relaxed);
        if n != NIL {
            return Ok(n);
        }
        let n = g.add_node()?;
        f.node.store(n, ordering::Relaxed);
        Ok(n)
    }

    /// The graph, locked, if this fence is in it: a fence in the graph is
    /// published done and leaves it in one critical section, so that the
    /// graph never holds an edge out of a done fence that could make
    /// [`Fence::lock_graph_awaiting`] see a cycle that is not there. (An
    /// await racing with this fence's completion can still add its node
    /// after the check; [`Fence::leave_graph`] then removes it.)
    fn lock_graph_if_in(&self) -> Option<GlobalGuard<GraphLock>> {
        (self.node.load(ordering::Relaxed) != NIL).then(|| GRAPH.lock())
    }

    /// Leaves `graph` (this fence's, locked by [`Fence::lock_graph_if_in`]).
    fn leave_locked_graph(&self, graph: Option<&mut Order>) {
        if let Some(g) = graph {
            let n = self.node.xchg(NIL, ordering::Relaxed);
            if n != NIL {
                g.remove_node(n);
            }
        }
    }

    /// Leaves the graph, if in it.
    fn leave_graph(&self) {
        if self.node.load(ordering::Relaxed) == NIL {
            // Not in the graph, and only this fence's own await or done
            // path can put it there: nothing to do, no global lock taken.
            return;
        }
        let mut g = GRAPH.lock();
        let n = self.node.xchg(NIL, ordering::Relaxed);
        if n != NIL {
            g.remove_node(n);
        }
    }

    /// Sleeps until the fence is done, for at most `timeout` jiffies
    /// (`MAX_SCHEDULE_TIMEOUT`: no limit; it must not be negative),
    /// interruptibly with `intr`. Returns what `dma_fence_wait_timeout()`
    /// returns: the jiffies left (at least 1) when done, 1 when done and
    /// `timeout` is 0, 0 when it timed out, `-ERESTARTSYS` on a signal. It
    /// sleeps on a callback of its own, as `dma_fence_default_wait()` does.
    /// The caller must be allowed to sleep (the C API edge and every other
    /// caller say so with `might_sleep()`).
    pub(crate) fn wait_timeout(&self, intr: bool, timeout: c_long) -> c_long {
        self.might_wait();
        if self.is_done() {
            return timeout.max(1);
        }
        if timeout <= 0 {
            return 0;
        }
        let mut w = core::pin::pin!(SleepingWaiter {
            cb: Opaque::uninit(),
            task: Waker::current(),
        });
        // The waiter stays on this frame, unmoved (pinned), until it is
        // removed below, which waits for a call in progress. The pointer
        // to `cb` comes from one to the whole waiter, so that the callback
        // may reach `task` from it.
        // SAFETY: Only a raw pointer is made from the `&mut`, so nothing
        // moves; it points to the live waiter, and the field's pointer is
        // projected from it (keeping its provenance).
        let cb = unsafe {
            let whole: *mut SleepingWaiter = w.as_mut().get_unchecked_mut();
            Opaque::cast_into(&raw const (*whole).cb)
        };
        // SAFETY: `cb` is valid until `remove_callback` below has returned,
        // and nobody else uses it.
        let added = unsafe { self.add_callback(cb, fence_cb_trampoline::<SleepingWaiter>) };
        if added.is_err() {
            // Done meanwhile.
            return timeout;
        }
        // The callback publishes the fence done before it wakes us, and
        // `sleep_until` sets the task state before it checks.
        let ret = task::sleep_until(|| self.is_done(), intr, timeout);
        // SAFETY: `cb` was added above; a call in progress on another CPU
        // is waited for, so `w` may go when this returns.
        unsafe { self.remove_callback(cb) };
        match ret {
            Sleep::Done(left) => left,
            // Done between the last check and the removal: as C's
            // `dma_fence_default_wait()`, that counts as done.
            Sleep::TimedOut if self.is_done() => 1,
            Sleep::TimedOut => 0,
            Sleep::Interrupted => ERESTARTSYS.to_errno() as c_long,
        }
    }

    /// The fence's pointer as C sees it.
    pub(crate) fn as_raw(&self) -> *mut RawFence {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Publishes the fence done, runs its callbacks, leaves the graph, and
    /// returns its waiters and the error it was published with (0 for
    /// none), which the waiters inherit: one read, so that they agree with
    /// the fence's status. Called once, by whoever made `pending` reach 0.
    fn retire(&self) -> (LinkList, i32) {
        {
            // Most fences have no callbacks: publish them done without the
            // interrupt-off section and the context key that running
            // callbacks needs. (No `cb_ctx`: nobody can be removing a
            // callback of a run that has none.)
            let mut graph = self.lock_graph_if_in();
            let mut g = self.state.lock();
            if g.callbacks.is_empty() {
                let st = g.as_mut().project();
                let error = self.publish_status();
                *st.done = true;
                let waiters = st.waiters.take();
                self.leave_locked_graph(graph.as_deref_mut());
                drop(g);
                drop(graph);
                self.leave_graph();
                self.unregister();
                return (waiters, error);
            }
        }
        // Callbacks were added: again with interrupts off (the list may
        // have changed meanwhile; the fence is not done yet). The callbacks
        // run with interrupts off, so that no interrupt on this CPU can
        // come between them (a hard IRQ that removed a
        // callback of this run would wait for it for ever). Not on
        // PREEMPT_RT: there a callback may take `spinlock_t`s and free
        // memory, as dma_fence callbacks may, which needs interrupts on;
        // and kds is not called from hard IRQ there (see `include/kds.h`).
        let _irq = (!cfg!(CONFIG_PREEMPT_RT)).then(kernel::interrupt::local_interrupt_disable);
        pin_init::stack_pin_init!(let local = ListHead::new());
        let (waiters, error) = {
            let mut graph = self.lock_graph_if_in();
            let mut g = self.state.lock();
            let st = g.as_mut().project();
            let error = self.publish_status();
            *st.done = true;
            self.cb_ctx
                .store(crate::sys::task::context_key(), ordering::Relaxed);
            st.callbacks.splice_tail_init(local.as_mut());
            self.leave_locked_graph(graph.as_deref_mut());
            (st.waiters.take(), error)
        };
        // SAFETY: `local` holds the callbacks just taken, `RawCb`s that
        // their owners registered; no other context can reach them (they
        // are off the fence, which is done).
        unsafe { run_callbacks(local.as_mut(), self.as_raw()) };
        self.cb_ctx.store(0, ordering::Release);
        self.leave_graph();
        self.unregister();
        (waiters, error)
    }

    /// Leaves [`FENCES`] (done, or dropped): diagnostics no longer see it.
    fn unregister(&self) {
        trace::fence_done(self.id, self.status());
        // SAFETY: Fences are only ever added to `FENCES`.
        unsafe { FENCES.remove(self) };
    }

    /// Stores the fence's final status from its error, read once, under
    /// the fence lock: 1, or the error; returns the error (0 for none).
    fn publish_status(&self) -> i32 {
        let error = self.error();
        self.status
            .store(if error < 0 { error } else { 1 }, ordering::Release);
        error.min(0)
    }

    /// The done-processing loop: retires this fence, then every waiter that
    /// this makes done, breadth-first, on a bounded stack.
    fn run_done(&self) {
        let (waiters, error) = self.retire();
        Self::propagate(waiters, error);
    }

    /// Retires one event of each waiter in `todo` with `error`, then
    /// processes every waiter that became done, until none is left. In
    /// hard IRQ, past [`HARDIRQ_RETIRE_BUDGET`] fences, the waiters left
    /// are handed to kds's workqueue ([`Deferred`]), as `dma_fence_array`
    /// hands its signalling over to irq_work: an interrupt does bounded
    /// work.
    fn propagate(todo: LinkList, error: i32) {
        if todo.is_empty() {
            // Nobody waits: no budget to account for.
            return;
        }
        let (_section, budget) = HardIrqBudget::begin(HARDIRQ_RETIRE_BUDGET);
        Self::propagate_from(todo, error, LinkList::new(), budget);
    }

    /// [`Fence::propagate`], with waiters already done in `ready` and at
    /// most `budget` more fences retired in this context.
    fn propagate_from(mut todo: LinkList, mut error: i32, mut ready: LinkList, mut budget: usize) {
        loop {
            while let Some(link) = todo.pop() {
                // Out of the link before the count drops: a caller's link
                // is the caller's again once its waiter can be done.
                let (waiter, inherit, spare) = link.into_parts();
                match waiter.retire_pending(EDGE, if inherit { error } else { 0 }) {
                    // SAFETY: This made `waiter` done, and only its
                    // `retire` below (or the deferred one) publishes that.
                    Ok(true) => ready.push(unsafe { spare.relink(waiter, inherit) }),
                    Ok(false) => {}
                    Err(_) => {
                        // No fence awaited is counted: kds lost count.
                        misuse(Misuse::OverComplete, c"kds_fence_complete");
                    }
                }
            }
            if budget == 0 && !ready.is_empty() {
                Deferred::queue(ready);
                return;
            }
            let Some(link) = ready.pop() else {
                return;
            };
            budget = budget.saturating_sub(1);
            // The link goes (a caller's is theirs again) before the waiter
            // is published done.
            let (waiter, _, spare) = link.into_parts();
            drop(spare);
            (todo, error) = waiter.retire();
        }
    }

    /// Adds a C callback. Fails with `ENOENT` when the fence is done (the
    /// callback's node is then initialised, so that removing it is safe).
    ///
    /// # Safety
    ///
    /// `cb` must be valid for writes and stay valid, and unused by anyone
    /// else, until its function has been called or it has been removed.
    pub(crate) unsafe fn add_callback(&self, cb: *mut RawCb, func: RawCbFn) -> Result {
        let mut g = self.state.lock();
        // SAFETY: `cb` is valid for writes (function safety requirement).
        unsafe { (*cb).func = Some(func) };
        if g.done {
            // SAFETY: As above.
            unsafe { bindings::INIT_LIST_HEAD(&raw mut (*cb).node) };
            return Err(ENOENT);
        }
        // SAFETY: `cb` is valid, on no list, and stays valid until it is
        // called (after `pop_front`) or removed (function safety
        // requirement).
        unsafe { g.as_mut().project().callbacks.add_tail(&raw mut (*cb).node) };
        Ok(())
    }

    /// Removes a C callback; returns whether it was removed before it ran
    /// (it then never runs). Otherwise it has been called, and this waits
    /// until it has returned, unless called from within it.
    ///
    /// # Safety
    ///
    /// `cb` must have been passed to [`Fence::add_callback`] of this fence
    /// (or initialised by it failing with `ENOENT`), and still be valid.
    pub(crate) unsafe fn remove_callback(&self, cb: *mut RawCb) -> bool {
        {
            let st = self.state.lock();
            let this = crate::sys::task::context_key();
            if !st.done {
                // SAFETY: Not done, so `cb` is still on `callbacks` (it is
                // only taken off when the fence is done or by this
                // function, which the caller calls once), and we hold the
                // lock.
                unsafe { list::del_init(&raw mut (*cb).node) };
                return true;
            }
            if self.cb_ctx.load(ordering::Relaxed) == this {
                // This context is running the fence's callbacks, so we are
                // inside one of them, however deeply nested (a callback
                // that completes another fence whose callback removes
                // `cb`): the same task at the same interrupt level cannot
                // run anything else while the run is in progress (with
                // interrupts off, or on PREEMPT_RT, preempted as a whole).
                // Those still to run are on the private list of that run,
                // which only this context touches and which
                // `run_callbacks` re-reads after every call: a `cb` still
                // linked there has not been called, and unlinking it means
                // it never will be. One that has been called was unlinked
                // before its call.
                // SAFETY: `cb` is valid; its node is on that private list
                // or empty, and no other context touches either.
                unsafe {
                    if list::entry_is_linked(&raw mut (*cb).node) {
                        list::del_init(&raw mut (*cb).node);
                        return true;
                    }
                }
                return false;
            }
        }
        // Done: the callbacks were taken off the fence and have run, or are
        // running in another context: wait for it to finish them all.
        loop {
            if self.cb_ctx.load(ordering::Acquire) == 0 {
                return false;
            }
            kernel::processor::cpu_relax();
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Fence {
    fn drop(self: Pin<&mut Self>) {
        LIVE.add(-1);
        if !self.is_done() {
            let (has_waiters, has_callbacks) = {
                let st = self.state.lock();
                (!st.waiters.is_empty(), !st.callbacks.is_empty())
            };
            if has_waiters || has_callbacks {
                // Nothing can complete this fence any more, and someone
                // waits for it: complete it with -EDEADLK, as dma_fence
                // does, rather than leave them hanging.
                misuse(Misuse::ReleasedPending, c"kds_fence_put");
                self.inherit_error(EDEADLK.to_errno());
                self.pending.store(0, ordering::Relaxed);
                self.run_done();
            }
        }
        self.leave_graph();
        // Before the memory goes: readers of `FENCES` hold its lock.
        // SAFETY: Fences are only ever added to `FENCES`.
        unsafe { FENCES.remove(&self) };
    }
}

/// An owned event of a fence: it completes exactly once, with
/// [`Event::complete`] or, with `-ECANCELED`, when dropped.
pub(crate) struct Event {
    fence: Option<Arc<Fence>>,
}

impl Event {
    /// The fence this event belongs to (`None` once completed).
    pub(crate) fn fence(&self) -> Option<&Arc<Fence>> {
        self.fence.as_ref()
    }

    /// Completes the event with `error` (0 or a negative errno).
    pub(crate) fn complete(mut self, error: i32) {
        self.finish(error);
    }

    fn finish(&mut self, error: i32) {
        if let Some(f) = self.fence.take() {
            // The fence cannot be done before this event is retired, so
            // this never fails; if it does, the fence was over-completed.
            if Fence::complete(f.as_arc_borrow(), error).is_err() {
                misuse(Misuse::OverComplete, c"kds_fence_complete");
            }
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        self.finish(ECANCELED.to_errno());
    }
}

/// Calls and unlinks every callback on the list `head`, in order.
///
/// # Safety
///
/// `head` must be a list of [`RawCb`]s, each with a function, that only
/// the caller can reach; `fence` is passed to the functions.
unsafe fn run_callbacks(mut head: Pin<&mut ListHead>, fence: *mut RawFence) {
    while let Some(node) = head.as_mut().pop_front() {
        // `node` is the first field of a `RawCb` (`#[repr(C)]`).
        let cb = node.as_ptr().cast::<RawCb>();
        // From here on kds does not touch `cb`: the callback may free it.
        // SAFETY: `cb` is a valid `RawCb`, unlinked; its function is the
        // one its owner registered, called once, as documented.
        unsafe {
            if let Some(func) = (*cb).func {
                func(fence, cb);
            }
        }
    }
}

/// A task sleeping in [`Fence::wait_timeout`], woken by its callback.
struct SleepingWaiter {
    cb: Opaque<RawCb>,
    task: Waker,
}

// SAFETY: `CB_OFFSET` is the offset of `cb`, an `Opaque<RawCb>`, which has
// the layout of a `RawCb`.
unsafe impl FenceCbHandler for SleepingWaiter {
    const CB_OFFSET: usize = core::mem::offset_of!(SleepingWaiter, cb);

    unsafe fn done(this: *mut Self) {
        // SAFETY: The waiter lives until `wait_timeout` has removed its
        // callback, which waits for this call to return.
        unsafe { &*this }.task.wake();
    }
}

#[kunit_tests(kds_fence_core)]
mod tests {
    use super::*;
    use kernel::alloc::flags::GFP_KERNEL;

    fn fence() -> Arc<Fence> {
        Fence::new(0, GFP_KERNEL).expect("fence")
    }

    #[test]
    fn event_token_completes_its_event_once() {
        let f = fence();
        let ev = Fence::add_event(&f).expect("event");
        assert!(Fence::complete(f.as_arc_borrow(), 0).is_ok()); // commit
        assert!(!f.is_done());
        ev.complete(0);
        assert!(f.is_done());
        assert_eq!(f.status(), 1);
        // Done is final: another completion is refused and changes nothing.
        assert!(Fence::complete(f.as_arc_borrow(), 0).is_err());
        assert!(Fence::add_event(&f).is_err());
        assert_eq!(f.status(), 1);
    }

    #[test]
    fn dropped_event_cancels() {
        let f = fence();
        let ev = Fence::add_event(&f).expect("event");
        assert!(Fence::complete(f.as_arc_borrow(), 0).is_ok());
        drop(ev);
        assert_eq!(f.status(), ECANCELED.to_errno());
    }

    #[test]
    fn first_error_wins_and_propagates() {
        let a = fence();
        let b = fence();
        assert_eq!(Fence::await_fence(&a, &b, GFP_KERNEL), Ok(true));
        assert!(a.set_error(EIO.to_errno()).is_ok());
        assert!(b.set_error(EBUSY.to_errno()).is_ok());
        assert!(b.set_error(EINTR.to_errno()).is_ok()); // ignored: not first
        assert!(Fence::complete(a.as_arc_borrow(), 0).is_ok());
        assert!(Fence::complete(b.as_arc_borrow(), 0).is_ok());
        assert_eq!(b.status(), EBUSY.to_errno());
        assert_eq!(a.status(), EIO.to_errno());
    }

    #[test]
    fn graph_forgets_done_fences() {
        let (n0, e0) = GRAPH.lock().size();
        let a = fence();
        let b = fence();
        let c = fence();
        assert_eq!(Fence::await_fence(&b, &a, GFP_KERNEL), Ok(true));
        assert_eq!(Fence::await_fence(&c, &b, GFP_KERNEL), Ok(true));
        // `a` awaits no fence, so `a -> b` stays out of the graph; `b`
        // does, so `b -> c` is in it.
        assert_eq!(GRAPH.lock().size(), (n0 + 2, e0 + 1));
        for f in [&c, &b, &a] {
            assert!(Fence::complete(f.as_arc_borrow(), 0).is_ok());
        }
        assert!(c.is_done());
        assert_eq!(GRAPH.lock().size(), (n0, e0));
    }

    #[test]
    fn awaiting_a_long_chain_costs_o1() {
        const N: usize = 4096;
        let mut chain: KVec<Arc<Fence>> = KVec::with_capacity(N, GFP_KERNEL).expect("vec");
        for i in 0..N {
            let f = fence();
            if i > 0 {
                assert_eq!(Fence::await_fence(&f, &chain[i - 1], GFP_KERNEL), Ok(true));
            }
            chain.push(f, GFP_KERNEL).expect("push");
        }
        // A new fence awaiting the tail, and the head awaiting a new fence
        // (against creation order): neither walks the chain.
        let tail_waiter = fence();
        assert_eq!(
            Fence::await_fence(&tail_waiter, &chain[N - 1], GFP_KERNEL),
            Ok(true)
        );
        let v1 = GRAPH.lock().stats().last_visited;
        let head_signaler = fence();
        assert_eq!(
            Fence::await_fence(&chain[0], &head_signaler, GFP_KERNEL),
            Ok(true)
        );
        let v2 = GRAPH.lock().stats().last_visited;
        pr_info!(
            "kds_fence_core: await on a {}-chain visited {} and {} nodes\n",
            N,
            v1,
            v2
        );
        assert!(v1 <= 4 && v2 <= 4);
        // And closing the loop is refused.
        assert_eq!(
            Fence::await_fence(&head_signaler, &tail_waiter, GFP_KERNEL),
            Err(EDEADLK)
        );
        for f in chain.iter() {
            assert!(Fence::complete(f.as_arc_borrow(), 0).is_ok());
        }
        assert!(Fence::complete(tail_waiter.as_arc_borrow(), 0).is_ok());
        assert!(Fence::complete(head_signaler.as_arc_borrow(), 0).is_ok());
        assert!(tail_waiter.is_done());
    }

    #[test]
    fn edges_out_of_fences_that_await_nothing_stay_out_of_the_graph() {
        let (n0, e0) = GRAPH.lock().size();
        let sink = fence();
        let mut sources = KVec::new();
        for _ in 0..8 {
            let s = fence();
            assert_eq!(Fence::await_fence(&sink, &s, GFP_KERNEL), Ok(true));
            sources.push(s, GFP_KERNEL).expect("push");
        }
        // A join of fences that await nothing: no global lock, no node.
        assert_eq!(GRAPH.lock().size(), (n0, e0));
        assert!(Fence::complete(sink.as_arc_borrow(), 0).is_ok());
        for s in sources.iter() {
            assert!(!sink.is_done());
            assert!(Fence::complete(s.as_arc_borrow(), 0).is_ok());
        }
        assert!(sink.is_done());
    }

    #[test]
    fn an_edge_enters_the_graph_when_its_signaler_starts_to_await() {
        let (n0, e0) = GRAPH.lock().size();
        let a = fence();
        let b = fence();
        let c = fence();
        assert_eq!(Fence::await_fence(&b, &a, GFP_KERNEL), Ok(true));
        assert_eq!(GRAPH.lock().size(), (n0, e0));
        // `a` starts to await: `a -> b` enters the graph; `c -> a` does
        // not (`c` awaits nothing).
        assert_eq!(Fence::await_fence(&a, &c, GFP_KERNEL), Ok(true));
        assert_eq!(GRAPH.lock().size(), (n0 + 2, e0 + 1));
        // `c` starts to await: `c -> a` enters, so the cycle
        // `c -> a -> b -> c` is seen.
        assert_eq!(Fence::await_fence(&c, &b, GFP_KERNEL), Err(EDEADLK));
        // `c -> a` entered once (when `c` started to await), not twice.
        assert_eq!(GRAPH.lock().size(), (n0 + 3, e0 + 2));
        assert!(GRAPH.lock().check());
        for f in [&b, &a, &c] {
            assert!(Fence::complete(f.as_arc_borrow(), 0).is_ok());
        }
        assert!(b.is_done());
        assert_eq!(GRAPH.lock().size(), (n0, e0));
    }

    /// Random awaits among a few fences, each checked against a search of
    /// all the edges made so far: refused exactly when it closes a cycle,
    /// whichever edges the graph holds and whichever it does not.
    #[test]
    fn cycle_detection_is_exact_on_random_awaits() {
        const N: usize = 12;
        let (n0, e0) = GRAPH.lock().size();
        let mut seed: u32 = 0x2545_f491;
        let mut rand = move |m: usize| {
            // xorshift32
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as usize % m
        };
        let (mut added, mut refused) = (0, 0);
        for _round in 0..20 {
            let mut f = KVec::new();
            for _ in 0..N {
                f.push(fence(), GFP_KERNEL).expect("push");
            }
            // `awaits[i][j]`: fence i awaits fence j (the edge j -> i).
            let mut awaits = [[false; N]; N];
            for _ in 0..60 {
                let (i, j) = (rand(N), rand(N));
                if i == j {
                    continue;
                }
                // The edge j -> i closes a cycle iff j awaits i, directly
                // or not.
                let mut seen = [false; N];
                let mut stack = [0usize; N];
                let (mut top, mut cycle) = (1, false);
                stack[0] = j;
                seen[j] = true;
                while top > 0 {
                    top -= 1;
                    let x = stack[top];
                    if x == i {
                        cycle = true;
                        break;
                    }
                    for y in 0..N {
                        if awaits[x][y] && !seen[y] {
                            seen[y] = true;
                            stack[top] = y;
                            top += 1;
                        }
                    }
                }
                let r = Fence::await_fence(&f[i], &f[j], GFP_KERNEL);
                if cycle {
                    assert_eq!(r, Err(EDEADLK));
                    refused += 1;
                } else {
                    assert_eq!(r, Ok(true));
                    awaits[i][j] = true;
                    added += 1;
                }
            }
            assert!(GRAPH.lock().check());
            // Acyclic: committing every fence, in any order, makes all done.
            let mut order = [0usize; N];
            for (k, o) in order.iter_mut().enumerate() {
                *o = k;
            }
            for k in (1..N).rev() {
                order.swap(k, rand(k + 1));
            }
            for &k in order.iter() {
                assert!(Fence::complete(f[k].as_arc_borrow(), 0).is_ok());
            }
            for x in f.iter() {
                assert!(x.is_done());
            }
            assert_eq!(GRAPH.lock().size(), (n0, e0));
        }
        // Both outcomes were tried, many times.
        assert!(added > 100 && refused > 100);
    }
}
