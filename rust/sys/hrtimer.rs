// SPDX-License-Identifier: GPL-2.0

//! An hrtimer that owns an `Arc` reference while armed, and is cancelled
//! without waiting.
//!
//! The kernel crate's `HrTimer` provides the timer, its clock and mode
//! (type parameters) and its layout. Its `Arc` pointer type lends the
//! callback a borrow and cancels synchronously when the handle is dropped,
//! which waits for a running callback. Code that may cancel from inside a
//! timer callback, or in atomic context, needs the other ownership model:
//! [`ArcTimer`] gives the armed timer one reference of its own, which the
//! callback ([`ArcTimerCallback::fired`]) receives, and [`try_cancel`]
//! takes it back only when the timer had not started running, never
//! waiting (`hrtimer_try_to_cancel()`).
//!
//! # Examples
//!
//! ```ignore
//! #[pin_data]
//! struct Alarm { #[pin] timer: HrTimer<Alarm>, /* ... */ }
//! kernel::impl_has_hr_timer! {
//!     impl HasHrTimer<Alarm> for Alarm { mode: RelativeSoftMode<Monotonic>, field: self.timer }
//! }
//! impl ArcTimerCallback for Alarm {
//!     fn fired(this: Arc<Self>) { /* owns the armed reference */ }
//! }
//! impl HrTimerCallback for Alarm {
//!     type Pointer<'a> = ArcTimer<Self>;
//!     fn run(this: Arc<Self>, _: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
//!         Self::fired(this);
//!         HrTimerRestart::NoRestart
//!     }
//! }
//!
//! arm(alarm.clone(), 1_000_000, 0);        // fires in 1 ms, or...
//! let _ = try_cancel(&alarm);              // ...not, never waiting
//! ```

use core::marker::PhantomData;
use kernel::bindings;
use kernel::sync::Arc;
use kernel::time::hrtimer::{
    HasHrTimer, HrTimer, HrTimerCallback, HrTimerMode, RawHrTimerCallback,
};

/// What an [`ArcTimer`]'s timer calls when it expires. The type's
/// `HrTimerCallback::Pointer` must be [`ArcTimer<Self>`] (the bound says
/// so), so that [`arm`] and [`try_cancel`] agree with the callback on who
/// owns the reference.
pub(crate) trait ArcTimerCallback:
    for<'a> HrTimerCallback<Pointer<'a> = ArcTimer<Self>>
    + HasHrTimer<Self>
    + Send
    + Sync
    + Sized
    + 'static
{
    /// The timer expired; `this` is the reference the armed timer owned.
    /// Runs in the timer's context (softirq for a soft mode).
    fn fired(this: Arc<Self>);
}

/// The pointer type of an [`ArcTimerCallback`]'s timer: the armed timer
/// owns one `Arc` reference, which its callback receives. Use it as the
/// type's `HrTimerCallback::Pointer`.
pub(crate) struct ArcTimer<T>(PhantomData<T>);

impl<T: ArcTimerCallback> RawHrTimerCallback for ArcTimer<T> {
    type CallbackTarget<'a> = Arc<T>;

    unsafe extern "C" fn run(ptr: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // Dropping the reference may drop a module reference: module exit's
        // synchronize_rcu() then waits until this function is past that (on
        // PREEMPT_RT, soft hrtimers run preemptible in a thread).
        let _rcu = kernel::sync::rcu::read_lock();
        let timer = ptr.cast::<HrTimer<T>>();
        // SAFETY: The timer is the timer field of a `T` that `arm` leaked
        // one `Arc` reference into; the hrtimer core calls this once per
        // start, so the reference is ours now.
        let this = unsafe { Arc::from_raw(T::timer_container_of(timer)) };
        T::fired(this);
        bindings::hrtimer_restart::HRTIMER_NORESTART
    }
}

fn c_timer<T: ArcTimerCallback>(this: *const T) -> *mut bindings::hrtimer {
    // SAFETY: `this` points to a live `T`, whose timer field `HasHrTimer`
    // locates.
    unsafe { T::c_timer_ptr(this) }.cast_mut()
}

/// Arms `this`'s timer to expire at (or after) `expires` nanoseconds, in
/// its mode's terms, with up to `slack` ns of range
/// (`hrtimer_start_range_ns()`). The armed timer owns `this`.
///
/// A timer that is armed already is re-armed, and the reference it owned
/// leaks: arm each `T` at most once while an arming is pending.
pub(crate) fn arm<T: ArcTimerCallback>(this: Arc<T>, expires: i64, slack: u64) {
    let ptr = Arc::into_raw(this);
    // SAFETY: The timer was set up by `HrTimer::new` (it is a field of a
    // live `T`); the leaked reference keeps it alive until the callback or
    // `try_cancel` takes it back.
    unsafe {
        bindings::hrtimer_start_range_ns(
            c_timer(ptr),
            expires,
            slack,
            <T as HasHrTimer<T>>::TimerMode::C_MODE,
        )
    };
}

/// Cancels `this`'s timer if it is armed and has not started running, and
/// returns the reference the armed timer owned. Never waits: a running
/// callback is left to finish (and owns its reference).
pub(crate) fn try_cancel<T: ArcTimerCallback>(this: &T) -> Option<Arc<T>> {
    let ptr = core::ptr::from_ref(this);
    // SAFETY: The timer was set up by `HrTimer::new`.
    if unsafe { bindings::hrtimer_try_to_cancel(c_timer(ptr)) } == 1 {
        // SAFETY: The timer was armed and will not run: the reference
        // `arm` leaked into it is ours.
        Some(unsafe { Arc::from_raw(ptr) })
    } else {
        None
    }
}
