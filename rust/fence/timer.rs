// SPDX-License-Identifier: GPL-2.0

//! kds fences awaiting time: an `hrtimer` source.
//!
//! `kds_fence_await_hrtimer()` adds one event to a fence that completes when
//! an hrtimer expires. The timer never fires before `expires` (the hrtimer
//! core guarantees it) and `slack_ns` is its range
//! (`hrtimer_start_range_ns()`), which bounds how late the core may fire it
//! to batch wake-ups. It is a soft timer: the event completes in softirq
//! context, so the fence's callbacks and dependants run there, not in hard
//! IRQ.
//!
//! Ownership: a [`TimerSource`] is an `Arc` shared by the fence's list of
//! timers and by the armed timer itself, which owns one reference from
//! start until its callback (or a successful cancel) takes it back. The
//! source owns the fence's [`Event`], so the pending fence is kept alive
//! by its timer. When nothing can observe the fence any more (its last
//! user reference is put and it has no waiters or callbacks), the fence
//! cancels its timers ([`Fence::abandon`]), freeing everything at once
//! instead of when the timers would have expired.
//!
//! The timer is a [`crate::sys::hrtimer::ArcTimer`]: the armed timer owns
//! a reference, and cancelling never waits (a fence may be abandoned from
//! within a timer callback or in atomic context).

use crate::fence::{Event, Fence, Source};
use crate::sys::hrtimer::{arm, try_cancel, ArcTimer, ArcTimerCallback};
use crate::sys::module::ModuleRef;
use crate::sys::raw_spinlock::{new_raw_spinlock_irq, RawSpinLockIrq};
use core::marker::PhantomData;
use kernel::alloc::Flags;
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::hrtimer::{
    AbsoluteSoftMode, HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerExpires,
    HrTimerMode, HrTimerRestart, RelativeSoftMode,
};
use kernel::time::{BootTime, ClockSource, Instant, Monotonic, RealTime, Tai};

/// One event of a fence that an hrtimer completes.
#[pin_data]
pub(crate) struct TimerSource<M: HrTimerMode + 'static> {
    #[pin]
    timer: HrTimer<TimerSource<M>>,
    #[pin]
    event: RawSpinLockIrq<Option<Event>>,
    /// Holds kds.ko while the source lives (it lives while armed).
    _module: ModuleRef,
    _mode: PhantomData<fn() -> M>,
}

kernel::impl_has_hr_timer! {
    impl{M: HrTimerMode + 'static} HasHrTimer<TimerSource<M>> for TimerSource<M> {
        mode: M,
        field: self.timer,
    }
}

impl<M: HrTimerMode + 'static> ArcTimerCallback for TimerSource<M> {
    /// The timer expired: complete the event, unless a cancel took it.
    fn fired(this: Arc<Self>) {
        let event = this.event.lock().take();
        if let Some(event) = event {
            if let Some(f) = event.fence() {
                f.forget_source(Arc::as_ptr(&this) as usize);
            }
            event.complete(0);
        }
    }
}

impl<M: HrTimerMode + 'static> HrTimerCallback for TimerSource<M> {
    type Pointer<'a> = ArcTimer<Self>;

    // `ArcTimer` calls `fired` itself (a callback context cannot be made
    // outside the kernel crate); this is the same thing, for `HrTimer::new`.
    fn run(this: Arc<Self>, _ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        Self::fired(this);
        HrTimerRestart::NoRestart
    }
}

impl<M: HrTimerMode + 'static> Source for TimerSource<M> {
    fn cancellable(&self) -> bool {
        true
    }

    fn describe(&self, out: &mut dyn core::fmt::Write) {
        describe_timer::<M>(&self.timer, out);
    }

    fn cancel(&self) {
        if let Some(this) = try_cancel(self) {
            // Taken in a statement of its own, so that the lock guard is
            // gone before the event completes (with -ECANCELED) and runs
            // the fence's callbacks and dependants.
            let event = this.event.lock().take();
            drop(event);
        }
    }
}

/// Writes `t` as `hrtimer CLOCK_MONOTONIC in 12.345 ms` (its expiry
/// relative to now on its clock; negative once it has expired).
fn describe_timer<M: HrTimerMode + 'static>(
    t: &HrTimer<TimerSource<M>>,
    out: &mut dyn core::fmt::Write,
) {
    let left = (t.expires() - Instant::<M::Clock>::now()).as_nanos();
    let clock = match <M::Clock as ClockSource>::ID as u32 {
        bindings::CLOCK_MONOTONIC => "CLOCK_MONOTONIC",
        bindings::CLOCK_BOOTTIME => "CLOCK_BOOTTIME",
        bindings::CLOCK_REALTIME => "CLOCK_REALTIME",
        bindings::CLOCK_TAI => "CLOCK_TAI",
        _ => "clock?",
    };
    let sign = if left < 0 { "-" } else { "" };
    let abs = left.unsigned_abs();
    let _ = out.write_fmt(fmt!(
        "hrtimer {} in {}{}.{:03} ms",
        clock,
        sign,
        abs / 1_000_000,
        (abs / 1000) % 1000
    ));
}

/// Arms a [`TimerSource`] for `f`. `expires` is in nanoseconds on `M`'s
/// clock, absolute or relative as `M` says; `passed` says that an absolute
/// `expires` is already in the past (the caller read the clock), and then
/// nothing is armed (`Ok(false)`).
fn start<M: HrTimerMode + 'static>(
    f: &Arc<Fence>,
    expires: i64,
    passed: bool,
    slack: u64,
    flags: Flags,
) -> Result<bool> {
    if passed {
        return Ok(false);
    }
    let module = ModuleRef::new()?;
    let src: Arc<TimerSource<M>> = Arc::pin_init(
        try_pin_init!(TimerSource::<M> {
            timer <- HrTimer::new(),
            event <- new_raw_spinlock_irq!(None, c"kds_timer"),
            _module: module,
            _mode: PhantomData,
        }? Error),
        flags,
    )?;
    // In the fence's list first (allocating), then the event: a failure
    // leaves the fence as it was.
    f.add_source(src.clone(), flags)?;
    match Fence::add_event(f) {
        Ok(event) => *src.event.lock() = Some(event),
        Err(e) => {
            f.forget_source(Arc::as_ptr(&src) as usize);
            return Err(e);
        }
    }
    crate::sys::trace::fence_await(f.id(), 0, crate::sys::trace::AwaitKind::Hrtimer);
    arm(src, expires, slack);
    Ok(true)
}

fn start_on<C: ClockSource + 'static>(
    f: &Arc<Fence>,
    expires: i64,
    absolute: bool,
    slack: u64,
    flags: Flags,
) -> Result<bool> {
    if absolute {
        let passed = expires <= Instant::<C>::now().as_nanos();
        // (`HrTimerExpires::as_nanos`: the raw ktime_t of the instant.)
        start::<AbsoluteSoftMode<C>>(f, expires, passed, slack, flags)
    } else {
        start::<RelativeSoftMode<C>>(f, expires, expires <= 0, slack, flags)
    }
}

/// Makes `f` await an hrtimer on `clock`, expiring at `expires` (absolute)
/// or after it (relative), with up to `slack` ns of range.
pub(crate) fn await_hrtimer(
    f: &Arc<Fence>,
    expires: i64,
    clock: bindings::clockid_t,
    mode: bindings::hrtimer_mode,
    slack: u64,
    flags: Flags,
) -> Result<bool> {
    let absolute = mode & bindings::hrtimer_mode_HRTIMER_MODE_REL == 0;
    match clock as u32 {
        bindings::CLOCK_MONOTONIC => start_on::<Monotonic>(f, expires, absolute, slack, flags),
        bindings::CLOCK_BOOTTIME => start_on::<BootTime>(f, expires, absolute, slack, flags),
        bindings::CLOCK_REALTIME => start_on::<RealTime>(f, expires, absolute, slack, flags),
        bindings::CLOCK_TAI => start_on::<Tai>(f, expires, absolute, slack, flags),
        _ => Err(EINVAL),
    }
}

#[kunit_tests(kds_timer_core)]
mod tests {
    use crate::capi::fence::{
        __kds_fence_create, kds_fence_await_hrtimer, kds_fence_complete, kds_fence_put,
    };
    use crate::fence::live_fences;
    use kernel::bindings;

    const MINUTE_NS: i64 = 60_000_000_000;

    /// A fence that nothing observes any more cancels its timer and is freed
    /// at once, instead of a minute later.
    #[test]
    fn released_fence_cancels_its_timer() {
        let before = live_fences();
        let f = __kds_fence_create(bindings::GFP_KERNEL, 0);
        assert!(!f.is_null());
        // SAFETY: `f` is a fence we hold a reference to.
        let ret = unsafe {
            kds_fence_await_hrtimer(
                f,
                MINUTE_NS,
                bindings::CLOCK_MONOTONIC as bindings::clockid_t,
                bindings::hrtimer_mode_HRTIMER_MODE_REL,
                0,
                bindings::GFP_KERNEL,
            )
        };
        assert_eq!(ret, 1);
        // SAFETY: As above.
        unsafe { kds_fence_complete(f) };
        assert_eq!(live_fences(), before + 1);
        // SAFETY: We give up our reference.
        unsafe { kds_fence_put(f) };
        assert_eq!(live_fences(), before);
    }

    /// An expiry that has passed adds no dependency.
    #[test]
    fn passed_expiry_adds_nothing() {
        let f = __kds_fence_create(bindings::GFP_KERNEL, 0);
        assert!(!f.is_null());
        for (expires, mode) in [
            (-1, bindings::hrtimer_mode_HRTIMER_MODE_REL),
            (1, bindings::hrtimer_mode_HRTIMER_MODE_ABS),
        ] {
            // SAFETY: `f` is a fence we hold a reference to.
            let ret = unsafe {
                kds_fence_await_hrtimer(
                    f,
                    expires,
                    bindings::CLOCK_MONOTONIC as bindings::clockid_t,
                    mode,
                    0,
                    bindings::GFP_KERNEL,
                )
            };
            assert_eq!(ret, 0);
        }
        // SAFETY: As above; then we give up our reference.
        unsafe {
            kds_fence_complete(f);
            kds_fence_put(f);
        }
    }
}
