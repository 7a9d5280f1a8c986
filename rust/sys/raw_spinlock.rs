// SPDX-License-Identifier: GPL-2.0

//! Raw spinlocks for Rust: `raw_spinlock_t` taken with interrupts saved.
//!
//! The kernel crate of 7.3 has `SpinLock` and `SpinLockIrq`, both over
//! `spinlock_t`, which becomes a sleeping lock on PREEMPT_RT; lockdep's
//! wait-context checks (`CONFIG_PROVE_RAW_LOCK_NESTING`) rightly refuse
//! them in hard IRQ context, such as an `HRTIMER_MODE_HARD` timer. kds
//! promises that fences can be completed from hard IRQ on every kernel, so
//! its locks are [`RawSpinLockIrq`]s: `raw_spin_lock_irqsave()` and
//! `raw_spin_unlock_irqrestore()`, with the flags kept in the guard.
//!
//! Critical sections under these locks must be short and must not allocate
//! or free memory (on PREEMPT_RT the allocators take sleeping locks): kds
//! allocates before locking and frees after unlocking.
//!
//! [`OrderedRawSpinLock`]s are taken together, in address order, inside
//! one [`OrderScope`], which lockdep sees as their acquisition context (as
//! a `ww_acquire_ctx` for `ww_mutex`es).
//!
//! The static inline functions are wrapped in `c/kds_wrappers.c`.
//!
//! # Examples
//!
//! Out-of-tree code cannot run rustdoc tests; these show the use.
//!
//! ```ignore
//! #[pin_data]
//! struct Counter {
//!     #[pin]
//!     hits: RawSpinLockIrq<u64>,
//! }
//!
//! let c = KBox::pin_init(pin_init!(Counter {
//!     hits <- new_raw_spinlock_irq!(0, c"counter_hits"),
//! }), GFP_KERNEL)?;
//! *c.hits.lock() += 1;                  // also from hard IRQ
//!
//! raw_global_lock! {
//!     static TOTAL: u64, backend TotalLock, class c"total" = 0;
//! }
//! // SAFETY: Once, in module init, before any use.
//! unsafe { TOTAL.init() };
//! *TOTAL.lock() += 1;
//! ```

use crate::ffi::{
    kds_order_begin, kds_order_end, kds_raw_spin_assert_held, kds_raw_spin_lock_init,
    kds_raw_spin_lock_irqsave, kds_raw_spin_lock_ordered, kds_raw_spin_trylock_irqsave,
    kds_raw_spin_trylock_ordered, kds_raw_spin_unlock, kds_raw_spin_unlock_irqrestore,
};
use kernel::bindings;
use kernel::ffi::{c_char, c_ulong};
use kernel::sync::lock::{Backend, Guard, Lock};

/// A `raw_spinlock_t` taken with local interrupts saved and disabled.
pub(crate) type RawSpinLockIrq<T> = Lock<T, RawSpinLockIrqBackend>;

/// Creates a [`RawSpinLockIrq`] initialiser with a lock class of its own
/// for this call site.
macro_rules! new_raw_spinlock_irq {
    ($inner:expr, $name:literal $(,)?) => {
        $crate::sys::raw_spinlock::RawSpinLockIrq::new($inner, $name, kernel::static_lock_class!())
    };
}
pub(crate) use new_raw_spinlock_irq;

/// Declares a global [`RawSpinLockIrq`] holding `$item`: a
/// [`kernel::sync::lock::GlobalLock`] named `$name`, with a backend type
/// `$backend` of its own (as `kernel::global_lock!` does for `SpinLock`
/// and `Mutex`). Module init must call `$name.init()` once, before any
/// use.
macro_rules! raw_global_lock {
    (
        $(#[$meta:meta])*
        $vis:vis static $name:ident: $item:ty, backend $backend:ident, class $class:literal
            = $value:expr;
    ) => {
        #[doc = concat!("The backend of [`", stringify!($name), "`].")]
        $vis enum $backend {}

        impl kernel::sync::lock::GlobalLockBackend for $backend {
            const NAME: &'static kernel::str::CStr = $class;
            type Item = $item;
            type Backend = $crate::sys::raw_spinlock::RawSpinLockIrqBackend;
            fn get_lock_class() -> core::pin::Pin<&'static kernel::sync::LockClassKey> {
                kernel::static_lock_class!()
            }
        }

        $(#[$meta])*
        $vis static $name: kernel::sync::lock::GlobalLock<$backend> = {
            // SAFETY: `$backend` is this lock's own backend type, and the
            // caller initialises the lock in module init before any use
            // (the macro's contract).
            unsafe { kernel::sync::lock::GlobalLock::new($value) }
        };
    };
}
pub(crate) use raw_global_lock;

/// The [`Backend`] of [`RawSpinLockIrq`]; the guard keeps the saved
/// interrupt flags.
pub(crate) struct RawSpinLockIrqBackend;

// SAFETY: The kernel's `raw_spinlock_t` ensures mutual exclusion; the saved
// flags are restored on unlock, and `relock` (default) locks the same way.
unsafe impl Backend for RawSpinLockIrqBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: `ptr` is valid for writes; `name` and `key` are valid
        // forever (trait safety requirements).
        unsafe { kds_raw_spin_lock_init(ptr, name, key.cast()) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is valid and initialised (trait safety requirements).
        unsafe { kds_raw_spin_lock_irqsave(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: `ptr` is valid and initialised; `flags` is a valid local.
        if unsafe { kds_raw_spin_trylock_irqsave(ptr, &mut flags) } {
            Some(flags)
        } else {
            None
        }
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, and `guard_state` holds the flags
        // its `lock` saved (trait safety requirements).
        unsafe { kds_raw_spin_unlock_irqrestore(ptr, *guard_state) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: `ptr` is valid and initialised (trait safety requirements).
        unsafe { kds_raw_spin_assert_held(ptr) }
    }
}

/// A scope in which any number of [`OrderedRawSpinLock`]s may be held:
/// local interrupts are disabled, and lockdep is told that the locks
/// taken inside nest under one acquisition context (as `ww_mutex`'s
/// `ww_acquire_ctx` does), so holding many locks of one class is not
/// reported as recursion. Callers must take the locks in a global order;
/// lockdep cannot check that order for them.
#[must_use = "the locks may only be held while the scope lives"]
pub(crate) struct OrderScope {
    flags: c_ulong,
    _not_send: kernel::types::NotThreadSafe,
}

impl OrderScope {
    /// Disables local interrupts and opens the lockdep acquisition context.
    pub(crate) fn begin() -> Self {
        OrderScope {
            // SAFETY: Always safe to call; `end` undoes it in `drop`, on the
            // same CPU (the scope is not `Send`, and interrupts are off).
            flags: unsafe { kds_order_begin() },
            _not_send: kernel::types::NotThreadSafe,
        }
    }
}

impl OrderScope {
    /// Takes `lock` and keeps it without a guard, until
    /// [`OrderScope::unlock_held`]: for holding a number of locks known only
    /// at run time without a buffer of guards. Leaving the scope with such a
    /// lock still held is a bug that lockdep reports.
    pub(crate) fn lock_held<T: ?Sized>(&self, lock: &OrderedRawSpinLock<T>) {
        core::mem::forget(lock.lock());
    }

    /// A guard of a lock taken with [`OrderScope::lock_held`], which does not
    /// unlock it when it goes.
    ///
    /// # Safety
    ///
    /// This scope took `lock` with [`OrderScope::lock_held`] and has not
    /// unlocked it, and no other guard of it is live.
    pub(crate) unsafe fn held<'a, T: ?Sized>(
        &'a self,
        lock: &'a OrderedRawSpinLock<T>,
    ) -> core::mem::ManuallyDrop<Guard<'a, T, OrderedRawSpinLockBackend>> {
        // SAFETY: This context owns the lock (safety requirement); the guard
        // is never dropped, so it does not unlock.
        core::mem::ManuallyDrop::new(unsafe { Guard::new(lock, ()) })
    }

    /// Unlocks a lock taken with [`OrderScope::lock_held`].
    ///
    /// # Safety
    ///
    /// As for [`OrderScope::held`].
    pub(crate) unsafe fn unlock_held<T: ?Sized>(&self, lock: &OrderedRawSpinLock<T>) {
        // SAFETY: This context owns the lock (safety requirement); dropping
        // the guard unlocks it.
        drop(unsafe { Guard::new(lock, ()) });
    }
}

impl Drop for OrderScope {
    fn drop(&mut self) {
        // SAFETY: `flags` came from the matching `kds_order_begin`.
        unsafe { kds_order_end(self.flags) }
    }
}

/// A `raw_spinlock_t` that is only taken inside an [`OrderScope`], so that
/// a thread may hold many of them (taken in a global order).
pub(crate) type OrderedRawSpinLock<T> = Lock<T, OrderedRawSpinLockBackend>;

/// The [`Backend`] of [`OrderedRawSpinLock`]. Interrupts are already off
/// (the scope disabled them), so the guard keeps no state.
pub(crate) struct OrderedRawSpinLockBackend;

// SAFETY: The kernel's `raw_spinlock_t` ensures mutual exclusion.
unsafe impl Backend for OrderedRawSpinLockBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = ();

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: `ptr` is valid for writes; `name` and `key` are valid
        // forever (trait safety requirements).
        unsafe { kds_raw_spin_lock_init(ptr, name, key.cast()) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is valid and initialised (trait safety requirements).
        unsafe { kds_raw_spin_lock_ordered(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: `ptr` is valid and initialised (trait safety requirements).
        if unsafe { kds_raw_spin_trylock_ordered(ptr) } {
            Some(())
        } else {
            None
        }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock (trait safety requirements).
        unsafe { kds_raw_spin_unlock(ptr) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: `ptr` is valid and initialised (trait safety requirements).
        unsafe { kds_raw_spin_assert_held(ptr) }
    }
}
