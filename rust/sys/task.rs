// SPDX-License-Identifier: GPL-2.0

//! Execution contexts and the current task: which context code runs in,
//! sleeping until woken, reclaim scopes and a per-CPU budget for work done
//! in hard IRQ.
//!
//! The C helpers (`c/kds_wrappers.c`) wrap static inline functions and
//! macros: `in_hardirq()`, `set_current_state()`,
//! `memalloc_nofs_save()`/`memalloc_noio_save()` and a per-CPU counter.
//!
//! # Examples
//!
//! ```ignore
//! // Sleep until `flag` is set by a waker that has `task`.
//! let task = Waker::current();
//! publish(&task);                         // the waker calls task.wake()
//! let r = sleep_until(|| flag.load(Acquire), true, MAX_SCHEDULE_TIMEOUT);
//! ```

use crate::ffi::{
    kds_hardirq_budget_begin, kds_hardirq_budget_end, kds_in_hardirq, kds_irq_level,
    kds_memalloc_begin, kds_memalloc_end, kds_set_current_running, kds_set_current_state,
    kds_this_cpu,
};
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::{c_long, c_uint};
use kernel::sync::aref::ARef;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::task::Task;

/// The CPU the caller runs on, maybe no longer by the time it looks
/// (`raw_smp_processor_id()`): for spreading work over per-CPU shards.
pub(crate) fn this_cpu() -> usize {
    // SAFETY: `kds_this_cpu` only reads the CPU number.
    unsafe { kds_this_cpu() as usize }
}

/// Whether the caller runs in hard IRQ context (C's `in_hardirq()`).
pub(crate) fn in_hardirq() -> bool {
    // SAFETY: `kds_in_hardirq` only reads the preempt count.
    unsafe { kds_in_hardirq() }
}

/// The current context, as a non-zero key: the task, plus the interrupt
/// level it is at (a softirq or hard IRQ that interrupts a task is another
/// context than the task). Code that runs with the same key while a
/// context is inside some call of its own is nested in that call.
///
/// On PREEMPT_RT the task alone is the key: softirqs run in task context
/// there (at `local_bh_enable()`, even inside a callback that unlocks a
/// `spinlock_t`), so a softirq in a task is nested in whatever that task
/// was running; and hard IRQ handlers are threads.
pub(crate) fn context_key() -> usize {
    let task = Task::current_raw() as usize;
    if cfg!(CONFIG_PREEMPT_RT) {
        return task;
    }
    // SAFETY: `kds_irq_level` only reads the preempt count.
    let level = unsafe { kds_irq_level() } as usize;
    // A `task_struct` is aligned to more than 4 bytes: its low bits are
    // free for the level (0 to 3).
    task | (level & 3)
}

/// A task to wake: a reference to it, taken by the task itself.
pub(crate) struct Waker(ARef<Task>);

impl Waker {
    /// The current task.
    pub(crate) fn current() -> Self {
        let current: &kernel::task::CurrentTask = kernel::current!();
        let task: &Task = current;
        Waker(task.into())
    }

    /// Wakes the task (`wake_up_process()`); callable in any context.
    pub(crate) fn wake(&self) {
        self.0.wake_up();
    }
}

/// A slot for at most one task to wake, which costs nothing while empty:
/// the waiting task arms it only when it is about to sleep, and whoever
/// makes the condition true wakes it through the slot.
///
/// The protocol is the store-buffering one: the waiter arms the slot and
/// then checks its condition ([`sleep_until`] does, after setting its
/// state); the waker makes the condition true with a fully ordered
/// operation and then calls [`WakerSlot::wake`]. Both steps of each side
/// are fully ordered, so either the waiter sees the condition or the waker
/// finds the task.
///
/// # Invariants
///
/// `task` is NULL or holds a reference to a task, from [`ARef::into_raw`].
pub(crate) struct WakerSlot {
    task: Atomic<*mut Task>,
}

impl WakerSlot {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        // INVARIANT: NULL.
        WakerSlot {
            task: Atomic::new(core::ptr::null_mut()),
        }
    }

    /// Puts the current task in the slot (fully ordered); whatever was
    /// there is dropped.
    pub(crate) fn arm(&self) {
        let current: &kernel::task::CurrentTask = kernel::current!();
        let task: &Task = current;
        let me: ARef<Task> = task.into();
        // INVARIANT: A reference from `into_raw`.
        let old = self.task.xchg(ARef::into_raw(me).as_ptr(), ordering::Full);
        Self::put(old);
    }

    /// Wakes the task in the slot, if any, and empties it (fully ordered).
    /// Callable in any context.
    pub(crate) fn wake(&self) {
        let t = self.task.xchg(core::ptr::null_mut(), ordering::Full);
        if let Some(t) = NonNull::new(t) {
            // SAFETY: A reference from `into_raw` (type invariant), which
            // the exchange made ours.
            let t = unsafe { ARef::from_raw(t) };
            t.wake_up();
        }
    }

    /// Empties the slot without waking anyone.
    pub(crate) fn disarm(&self) {
        Self::put(self.task.xchg(core::ptr::null_mut(), ordering::Full));
    }

    fn put(t: *mut Task) {
        if let Some(t) = NonNull::new(t) {
            // SAFETY: A reference from `into_raw` (type invariant), taken
            // out of the slot by the caller's exchange.
            drop(unsafe { ARef::from_raw(t) });
        }
    }
}

impl Drop for WakerSlot {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// How [`sleep_until`] ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sleep {
    /// The condition held, with this many jiffies left (at least 1).
    Done(c_long),
    /// The time ran out first.
    TimedOut,
    /// A signal arrived first (only when interruptible).
    Interrupted,
}

/// Sleeps until `cond()` holds, for at most `timeout` jiffies
/// ([`kernel::task::MAX_SCHEDULE_TIMEOUT`]: no limit), interruptibly with
/// `intr`. Whoever makes `cond()` true must then wake the task (with a
/// [`Waker`]); `cond()` is re-checked after the task state is set, so a
/// wake-up between the check and the sleep is not lost (the classic
/// `set_current_state()` loop of `Documentation/scheduler/completion.rst`).
///
/// A `timeout` below 1 checks `cond()` once. Calls `might_sleep()`.
pub(crate) fn sleep_until(mut cond: impl FnMut() -> bool, intr: bool, timeout: c_long) -> Sleep {
    kernel::task::might_sleep();
    if timeout < 1 {
        return if cond() {
            Sleep::Done(1)
        } else {
            Sleep::TimedOut
        };
    }
    let mut left = timeout;
    let ret = loop {
        // SAFETY: Sets the current task's state; always allowed where it
        // may sleep (checked above).
        unsafe { kds_set_current_state(intr) };
        if cond() {
            break Sleep::Done(left.max(1));
        }
        if intr && kernel::current!().signal_pending() {
            break Sleep::Interrupted;
        }
        // SAFETY: Sleeps the current task, whose state was set above;
        // `left` is positive (checked above, and the loop ends at 0).
        left = unsafe { bindings::schedule_timeout(left) };
        if left == 0 {
            break if cond() {
                Sleep::Done(1)
            } else {
                Sleep::TimedOut
            };
        }
    };
    // SAFETY: Back to running, on the current task.
    unsafe { kds_set_current_running() };
    ret
}

/// A per-CPU budget for work done in one hard interrupt: the outermost
/// [`HardIrqBudget::begin`] of an interrupt gets the whole budget, and
/// calls nested in it get 0 (they do only the one piece of work they
/// cannot hand over). Outside hard IRQ the budget is unlimited.
pub(crate) struct HardIrqBudget {
    /// Whether `begin` counted a nesting level (it ran in hard IRQ).
    in_hardirq: bool,
    /// Per CPU: held with interrupts off, on the CPU that began it.
    _not_send: PhantomData<*mut ()>,
}

impl HardIrqBudget {
    /// Begins a budgeted section; returns it and the budget (`budget` for
    /// the outermost section in a hard interrupt, 0 for a nested one,
    /// `usize::MAX` outside hard IRQ).
    pub(crate) fn begin(budget: usize) -> (Self, usize) {
        // `usize::MAX` is the C side's "outside hard IRQ": never a budget.
        let budget = budget.min(usize::MAX - 1);
        // SAFETY: Paired with `kds_hardirq_budget_end` in `drop`, in the
        // same context (the guard is not `Send`; interrupts stay off in
        // hard IRQ).
        let b = unsafe { kds_hardirq_budget_begin(budget) };
        (
            HardIrqBudget {
                in_hardirq: b != usize::MAX,
                _not_send: PhantomData,
            },
            b,
        )
    }
}

impl Drop for HardIrqBudget {
    fn drop(&mut self) {
        // Outside hard IRQ `begin` counted nothing: nothing to undo.
        if self.in_hardirq {
            // SAFETY: Paired with the `begin` that made `self`.
            unsafe { kds_hardirq_budget_end() }
        }
    }
}

/// Whether `gfp` has the flag whose bit number is `bit` (`___GFP_*_BIT`:
/// bindgen gives the bit numbers, not the `__GFP_*` masks).
pub(crate) fn gfp_has(gfp: bindings::gfp_t, bit: u32) -> bool {
    gfp & (1 << bit) != 0
}

/// A reclaim scope for the current task: while it lives, allocations of
/// this task do not recurse into filesystem (`GFP_NOFS`) or I/O
/// (`GFP_NOIO`) reclaim, whatever their flags
/// (`memalloc_nofs_save()`/`memalloc_noio_save()`).
pub(crate) struct MemallocScope {
    token: c_uint,
    /// The scope belongs to the task that opened it.
    _not_send: PhantomData<*mut ()>,
}

impl MemallocScope {
    /// Opens the scope that a caller's `gfp` implies: none for flags that
    /// allow both (or that cannot reclaim at all), or outside task context.
    pub(crate) fn new(gfp: bindings::gfp_t) -> Self {
        let has = |bit| gfp_has(gfp, bit);
        // The common cases need no scope, and no call: flags that cannot
        // reclaim directly, and flags that allow both I/O and filesystems.
        let needed = has(bindings::___GFP_DIRECT_RECLAIM_BIT)
            && !(has(bindings::___GFP_IO_BIT) && has(bindings::___GFP_FS_BIT));
        MemallocScope {
            token: if needed {
                // SAFETY: Opens a scope on the current task, which `drop`
                // closes on the same task (this type is not `Send`).
                unsafe { kds_memalloc_begin(gfp) }
            } else {
                0
            },
            _not_send: PhantomData,
        }
    }
}

impl Drop for MemallocScope {
    fn drop(&mut self) {
        if self.token != 0 {
            // SAFETY: `token` came from `kds_memalloc_begin` on this task.
            unsafe { kds_memalloc_end(self.token) }
        }
    }
}
