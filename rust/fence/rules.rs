// SPDX-License-Identifier: GPL-2.0

//! The dma_fence rules, followed along dependencies, and the lockdep
//! annotations of waits and signalling sections.
//!
//! # Indefinite fences
//!
//! A `dma_fence` must not wait for anything that may wait indefinitely
//! (`Documentation/driver-api/dma-buf.rst`, "Indefinite DMA Fences"). A
//! fence is *tainted* when it may: its class is not bounded, it is a
//! resource set's, it awaits a `struct completion`, or it awaits a tainted
//! fence. The taint records the first such source ([`Taint`]), for the
//! warning that names it, and never goes away (a source that has fired is
//! conservatively still counted).
//!
//! Invariant R: no exported fence is tainted, and every fence that awaits
//! a tainted fence is tainted (taint is closed upwards, along `waiters`).
//!
//! Export ([`Fence::export`]) refuses a tainted fence. An await that would
//! taint a fence ([`Fence::make_indefinite`]) taints it and everything
//! that awaits it, transitively, unless one of them is exported: then it
//! is refused and nothing changes. Both take [`RULES`], so that no export
//! runs during a walk; an edge added during a walk is seen by it, because
//! a fence's taint is read (by the await) and set (by the walk) under the
//! fence's lock, and the edge is pushed under the same lock: either the
//! await sees the taint and walks itself, or the walk sees the edge.
//!
//! Cost: nothing for an await whose signaler is not tainted, or whose
//! waiter is tainted already (every fence of an unbounded class is, from
//! birth); otherwise a walk over the untainted fences that await the
//! waiter, usually just the waiter itself.
//!
//! # lockdep
//!
//! A wait on a fence acquires its class's map ([`Fence::might_wait`]), and
//! a `dma_fence`'s own when an exported fence awaits it. A signalling
//! section ([`Fence::begin_signalling`]) holds the maps of the fence's
//! class and of the classes of the fences that await it, transitively, up
//! to [`LOCKDEP_WALK`] fences, and `dma_fence`'s when one of them is
//! exported. The walks are made only while lockdep is on.

use super::class::Class;
use super::Fence;
use crate::sys::dma_fence;
use crate::sys::lockdep::{self, Sections};
use crate::sys::raw_spinlock::raw_global_lock;
use core::fmt;
use kernel::alloc::Flags;
use kernel::prelude::*;
use kernel::sync::atomic::ordering;
use kernel::sync::Arc;

raw_global_lock! {
    /// Serialises exports and the walks that taint fences.
    pub(crate) static RULES: (), backend RulesLock, class c"kds_rules" = ();
}

/// Initialises [`RULES`]; call once, from module init.
pub(crate) fn init() {
    // SAFETY: Called once, before any use of `RULES`.
    unsafe { RULES.init() };
}

/// How many fences a lockdep walk visits at most.
pub(crate) const LOCKDEP_WALK: usize = 16;

/// Why a fence may wait indefinitely: the first source found, named by a
/// fence id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taint {
    /// The fence of that id is of a class that is not bounded.
    Class(u64),
    /// The fence of that id is a resource set's.
    Set(u64),
    /// The fence of that id awaits a `struct completion`.
    Completion(u64),
}

const KIND_SHIFT: u32 = 56;
const ID_MASK: u64 = (1 << KIND_SHIFT) - 1;

impl Taint {
    /// The value of [`Fence`]'s `taint` field.
    pub(crate) fn encode(self) -> u64 {
        match self {
            Taint::Class(id) => (1 << KIND_SHIFT) | (id & ID_MASK),
            Taint::Set(id) => (2 << KIND_SHIFT) | (id & ID_MASK),
            Taint::Completion(id) => (3 << KIND_SHIFT) | (id & ID_MASK),
        }
    }

    /// The taint a `taint` field holds, `None` for 0.
    pub(crate) fn decode(v: u64) -> Option<Taint> {
        let id = v & ID_MASK;
        match v >> KIND_SHIFT {
            1 => Some(Taint::Class(id)),
            2 => Some(Taint::Set(id)),
            3 => Some(Taint::Completion(id)),
            _ => None,
        }
    }

    /// The taint a fence `id` of `class` is born with.
    pub(crate) fn of_class(class: Class, id: u64) -> u64 {
        if class.bounded() {
            0
        } else {
            Taint::Class(id).encode()
        }
    }
}

impl kernel::fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Taint::Class(id) => write!(f, "fence {id}, whose class is not bounded"),
            Taint::Set(id) => write!(
                f,
                "fence {id}, a resource set's (a client holds a set as long as it likes)"
            ),
            Taint::Completion(id) => write!(f, "a struct completion that fence {id} awaits"),
        }
    }
}

/// An open signalling section of a fence ([`Fence::begin_signalling`]):
/// class maps and, maybe, `dma_fence`'s; closed when dropped, `dma_fence`'s
/// first.
pub(crate) struct Signalling {
    dma: Option<dma_fence::Signalling>,
    maps: Sections,
}

impl Signalling {
    /// No section yet.
    pub(crate) fn new() -> Self {
        Self {
            dma: None,
            maps: Sections::new(),
        }
    }

    /// Also holds `class`'s map.
    pub(crate) fn add_class(&mut self, class: Class) {
        self.maps.begin(class.map());
    }

    /// Also holds the maps of `f`'s section (see [`Fence::begin_signalling`]).
    pub(crate) fn add_fence(&mut self, f: &Fence) {
        // Nothing is recorded in hard IRQ: no walk either.
        if !lockdep::enabled() || crate::sys::task::in_hardirq() {
            return;
        }
        let mut exported = false;
        f.walk_up(|x| {
            self.maps.begin(x.class.map());
            exported |= x.exported.load(ordering::Relaxed);
        });
        if exported && self.dma.is_none() {
            self.dma = Some(dma_fence::Signalling::begin());
        }
    }

    /// The section as C's `struct kds_signalling` keeps it; it stays open.
    pub(crate) fn into_raw(
        self,
    ) -> (
        [*mut kernel::bindings::lockdep_map; lockdep::MAX_SECTIONS],
        usize,
        Option<dma_fence::Signalling>,
    ) {
        let Signalling { dma, maps } = self;
        let (raw, n) = maps.into_raw();
        (raw, n, dma)
    }

    /// Takes back what [`Signalling::into_raw`] gave.
    ///
    /// # Safety
    ///
    /// As for [`Sections::from_raw`].
    pub(crate) unsafe fn from_raw(
        raw: &[*mut kernel::bindings::lockdep_map; lockdep::MAX_SECTIONS],
        n: usize,
        dma: Option<dma_fence::Signalling>,
    ) -> Self {
        Self {
            dma,
            // SAFETY: The caller's promise.
            maps: unsafe { Sections::from_raw(raw, n) },
        }
    }
}

impl Fence {
    /// The fence's class.
    pub(crate) fn class(&self) -> Class {
        self.class
    }

    /// Why the fence may wait indefinitely, if it may.
    pub(crate) fn taint(&self) -> Option<Taint> {
        Taint::decode(self.taint.load(ordering::Relaxed))
    }

    /// Whether the fence was exported as a `dma_fence`.
    pub(crate) fn is_exported(&self) -> bool {
        self.exported.load(ordering::Relaxed)
    }

    /// Marks the fence a resource set's: it may wait for ever. Call before
    /// anything awaits it.
    pub(crate) fn set_resource_set_taint(&self) {
        self.taint
            .store(Taint::Set(self.id).encode(), ordering::Relaxed);
    }

    /// Marks the fence exported, under the dma_fence rules from now on.
    /// Fails with `EPERM`, printing what it may wait for, when it may wait
    /// indefinitely (and is pending).
    pub(crate) fn export(&self, func: &CStr) -> Result {
        let _rules = RULES.lock();
        let g = self.state.lock();
        if !g.done {
            if let Some(t) = self.taint() {
                drop(g);
                pr_warn!(
                    "{}: fence {} (class {}) may wait indefinitely, for {}; a dma_fence must not (see Documentation/driver-api/dma-buf.rst, \"Indefinite DMA Fences\"); refused\n",
                    func.to_str().unwrap_or("?"),
                    self.id,
                    self.class().name().to_str().unwrap_or("?"),
                    t
                );
                return Err(EPERM);
            }
        }
        self.exported.store(true, ordering::Relaxed);
        Ok(())
    }

    /// `this` is about to depend on a source that may wait indefinitely
    /// (`why`): taints it and every fence that awaits it, transitively.
    /// When one of them is exported, fails with `EPERM` (printing both),
    /// and nothing changes. Fails with `ENOMEM` (allocating with `flags`:
    /// the list of the fences to taint), changing nothing.
    pub(crate) fn make_indefinite(
        this: &Arc<Fence>,
        why: Taint,
        func: &CStr,
        flags: Flags,
    ) -> Result {
        // R: a tainted fence has no exported fence above it.
        if this.taint().is_some() {
            return Ok(());
        }
        let mut seen: KVec<Arc<Fence>> = KVec::new();
        seen.push(this.clone(), flags)?;
        // Collect the untainted fences above `this`, unlocked (so that the
        // list may grow with `flags`), then check and taint them under
        // `RULES`, taking in the ones that started to await meanwhile.
        let mut i = 0;
        loop {
            while i < seen.len() {
                Self::collect_waiters(&mut seen, i, flags)?;
                i += 1;
            }
            let rules = RULES.lock();
            // Check: nothing exported, and no new waiter. Each fence
            // checked is marked `walking` until it is tainted: no edge
            // into it is added meanwhile (`Fence::await_edge` waits for
            // `RULES`), so the fences checked are the fences tainted.
            let mut grown = false;
            let mut refused = None;
            for x in seen.iter() {
                let g = x.state.lock();
                if x.is_exported() && !g.done {
                    refused = Some(x.id);
                    break;
                }
                if g.waiters.waiters().any(|w| Self::is_new(&seen, w)) {
                    grown = true;
                    break;
                }
                x.walking.store(true, ordering::Relaxed);
            }
            if grown || refused.is_some() {
                for x in seen.iter() {
                    let _g = x.state.lock();
                    x.walking.store(false, ordering::Relaxed);
                }
            }
            if let Some(id) = refused {
                drop(rules);
                pr_warn!(
                        "{}: fence {} would make exported fence {} wait for {}, and a dma_fence must not wait indefinitely (see Documentation/driver-api/dma-buf.rst); refused\n",
                        func.to_str().unwrap_or("?"),
                    this.id,
                    id,
                    why
                );
                return Err(EPERM);
            }
            if grown {
                // Unlocked again, to make room; `i` is past every fence
                // collected, whose waiters are collected again.
                drop(rules);
                i = 0;
                continue;
            }
            for x in seen.iter() {
                let _g = x.state.lock();
                if x.taint().is_none() {
                    x.taint.store(why.encode(), ordering::Relaxed);
                }
                x.walking.store(false, ordering::Relaxed);
            }
            drop(rules);
            return Ok(());
        }
    }

    /// Whether `w` is a fence a walk must still take in: untainted, and
    /// not in `seen` yet.
    fn is_new(seen: &[Arc<Fence>], w: &Fence) -> bool {
        w.taint().is_none() && !seen.iter().any(|s| core::ptr::eq(&**s, w))
    }

    /// Appends to `seen` the untainted waiters of `seen[i]` that are not in
    /// it yet, making room (with `flags`) unlocked.
    fn collect_waiters(seen: &mut KVec<Arc<Fence>>, i: usize, flags: Flags) -> Result {
        loop {
            let x = seen[i].clone();
            let need = {
                let g = x.state.lock();
                let mut need = 0;
                for w in g.waiters.waiter_arcs() {
                    if !Self::is_new(seen, &w) {
                        continue;
                    }
                    if seen.push_within_capacity(w).is_err() {
                        need += 1;
                    }
                }
                need
            };
            // Dropped unlocked: the last reference to a fence may be.
            drop(x);
            if need == 0 {
                return Ok(());
            }
            seen.reserve(need, flags)?;
        }
    }

    /// Visits this fence and the fences that await it, transitively,
    /// breadth-first, at most [`LOCKDEP_WALK`] of them.
    fn walk_up(&self, mut visit: impl FnMut(&Fence)) {
        let mut queue: [Option<Arc<Fence>>; LOCKDEP_WALK] = [const { None }; LOCKDEP_WALK];
        let mut n = 0;
        // Visits `x` and queues its waiters not queued yet, while there
        // is room.
        let mut step = |x: &Fence, queue: &mut [Option<Arc<Fence>>], n: &mut usize| {
            visit(x);
            let g = x.state.lock();
            for w in g.waiters.waiter_arcs() {
                if *n == LOCKDEP_WALK {
                    break;
                }
                if !queue[..*n]
                    .iter()
                    .any(|q| q.as_ref().is_some_and(|q| Arc::ptr_eq(q, &w)))
                {
                    queue[*n] = Some(w);
                    *n += 1;
                }
            }
        };
        step(self, &mut queue, &mut n);
        let mut i = 0;
        while let Some(x) = queue.get(i).and_then(|q| q.clone()) {
            step(&x, &mut queue, &mut n);
            i += 1;
        }
        // The references go unlocked.
        drop(queue);
    }

    /// Tells lockdep that the caller waits for this fence: for its class,
    /// and for a `dma_fence` when an exported fence awaits it (or it is
    /// one). Made whether or not the fence is done.
    pub(crate) fn might_wait(&self) {
        if !lockdep::enabled() {
            return;
        }
        self.class.map().might_wait();
        let mut exported = false;
        self.walk_up(|x| exported |= x.is_exported());
        if exported {
            dma_fence::might_wait();
        }
    }

    /// Opens a signalling section for code that completes this fence: see
    /// the module documentation.
    pub(crate) fn begin_signalling(&self) -> Signalling {
        let mut s = Signalling::new();
        s.add_fence(self);
        s
    }
}
