// SPDX-License-Identifier: GPL-2.0

//! The resource set C API of `include/kds.h`.
//!
//! A `struct kds_resource` is a [`Resource`] in the driver's memory (its
//! size and alignment are checked at load time); a `struct
//! kds_resource_set *` is a reference to a [`ResourceSet`] from
//! `Arc::into_raw`, owned by the driver until released. `kds_callback_init()`/`_term()`, which
//! allocate and destroy a driver's workqueue, are in `c/kds_sleepers.c`.

use crate::fence::class::{Builtin, Class, RawClass};
use crate::fence::RawFence;
use crate::ffi::GrantFn;
use crate::misuse::{misuse, Misuse};
use crate::resource::{
    Locked, Mode, Publish, Resource, ResourceSet, Unpublished, UserCallback, Want, INLINE_LINKS,
    MAX_RESOURCES,
};
use crate::sys::task::Sleep;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering, Atomic};
use kernel::sync::Arc;

/// `struct kds_resource` as C sees it: opaque.
#[repr(C)]
pub(crate) struct RawResource {
    _opaque: [u8; 0],
}

/// `struct kds_resource_set` as C sees it: opaque.
#[repr(C)]
pub(crate) struct RawSet {
    _opaque: [u8; 0],
}

/// `struct kds_callback`, laid out as in `include/kds.h` (checked at load
/// time).
#[repr(C)]
pub(crate) struct RawCallback {
    user_cb: Option<GrantFn>,
    direct: c_int,
    wq: *mut bindings::workqueue_struct,
    /// An `atomic_t`: the sets that may still use the callback, counted
    /// by the core and polled by `kds_callback_term()`.
    inflight: kernel::types::Opaque<c_int>,
    /// The class of its sets (`struct kds_fence_class *`).
    cls: *mut RawClass,
}

/// Size and field offsets of [`RawCallback`], checked against `struct
/// kds_callback` at load time.
#[no_mangle]
pub(crate) static kds_rust_callback_layout: [usize; 6] = [
    core::mem::size_of::<RawCallback>(),
    core::mem::offset_of!(RawCallback, user_cb),
    core::mem::offset_of!(RawCallback, direct),
    core::mem::offset_of!(RawCallback, wq),
    core::mem::offset_of!(RawCallback, inflight),
    core::mem::offset_of!(RawCallback, cls),
];

/// Size and alignment of [`Resource`], checked against `struct
/// kds_resource` at load time.
#[no_mangle]
pub(crate) static kds_rust_resource_layout: [usize; 2] = [
    core::mem::size_of::<Resource>(),
    core::mem::align_of::<Resource>(),
];

/// How many resources a set holds inside its one allocation, checked
/// against `KDS_SET_INLINE_RESOURCES` at load time.
#[no_mangle]
pub(crate) static kds_rust_set_inline_links: usize = INLINE_LINKS;

/// `KDS_FLAG_LOCKED_ACTION`.
const LOCKED_ACTION: c_ulong = 3;

/// C: `void kds_resource_init(struct kds_resource *res)`.
///
/// # Safety
///
/// `res` must be NULL or valid for writes of a `struct kds_resource`, and
/// stay where it is until `kds_resource_term()` succeeds.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_resource_init(res: *mut RawResource, ip: c_ulong) {
    const FUNC: &CStr = c"kds_resource_init";
    if res.is_null() {
        misuse(Misuse::Null, FUNC);
        return;
    }
    {
        // SAFETY: `res` holds a `struct kds_resource`'s memory (function
        // safety requirement); `magic` is read atomically.
        let r = unsafe { &*res.cast::<Resource>() };
        if r.magic_ok() && r.is_registered() {
            // Set up twice without `kds_resource_term()`: its queue and
            // its place in the registry are live.
            misuse(Misuse::BadObject, FUNC);
            return;
        }
    }
    // SAFETY: `res` is valid for writes of a `struct kds_resource`, into
    // which a `Resource` fits (checked at build and load time), and it
    // does not move (function safety requirement). The initialiser cannot
    // fail.
    let _ = unsafe { pin_init::raw_try_init(res.cast::<Resource>(), Resource::new(ip)) };
    // SAFETY: Just initialised, once; the driver keeps the memory until
    // `kds_resource_term()` succeeds (`include/kds.h`).
    unsafe { (*res.cast::<Resource>()).register() };
}

/// C: `void kds_resource_set_name(struct kds_resource *res, const char *fmt, ...)`,
/// after `c/kds_exports.c` formatted the name.
///
/// # Safety
///
/// `res` as for `kds_resource_term()`; `name` is a C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_resource_set_name(
    res: *mut RawResource,
    name: *const c_char,
) {
    // SAFETY: Function safety requirement.
    if let Some(r) = unsafe { borrow_resource(res, c"kds_resource_set_name") } {
        // SAFETY: `name` is a C string (function safety requirement).
        r.set_name(unsafe { CStr::from_char_ptr(name) }.to_bytes());
    }
}

/// Borrows the resource behind a C pointer, or reports misuse by `func`.
///
/// # Safety
///
/// `res` must be NULL or point to memory holding a `struct kds_resource`.
unsafe fn borrow_resource<'a>(res: *mut RawResource, func: &CStr) -> Option<&'a Resource> {
    if res.is_null() {
        misuse(Misuse::Null, func);
        return None;
    }
    // SAFETY: `res` holds a `struct kds_resource` (function safety
    // requirement); whether `kds_resource_init()` set it up is what
    // `magic_ok` tells.
    let r = unsafe { &*res.cast::<Resource>() };
    if !r.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    Some(r)
}

/// C: `int kds_resource_term(struct kds_resource *res)`.
///
/// # Safety
///
/// `res` must be NULL or point to a `struct kds_resource`.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_resource_term(res: *mut RawResource) -> c_int {
    const FUNC: &CStr = c"kds_resource_term";
    // SAFETY: Function safety requirement.
    let Some(r) = (unsafe { borrow_resource(res, FUNC) }) else {
        return EINVAL.to_errno();
    };
    match r.term() {
        Ok(()) => 0,
        Err(e) => {
            misuse(Misuse::Busy, FUNC);
            e.to_errno()
        }
    }
}

/// A C request: `n` resources from `list`, exclusive where `bitmap`
/// (NULL: none) has a bit set.
///
/// # Invariants
///
/// `list` holds `n` pointers, each NULL or to a `struct kds_resource` that
/// stays initialised while the set is queued; `bitmap` is NULL or holds at
/// least `n` bits.
struct Request<'a> {
    n: usize,
    bitmap: *const c_ulong,
    list: *const *mut RawResource,
    func: &'a CStr,
}

impl<'a> Request<'a> {
    /// Checks the request's shape, or reports misuse by `func`.
    ///
    /// # Safety
    ///
    /// `list` must be NULL or hold `n` pointers, each NULL or to a `struct
    /// kds_resource` that stays initialised while the set is queued;
    /// `bitmap` must be NULL or hold at least `n` bits.
    unsafe fn new(
        n: c_int,
        bitmap: *const c_ulong,
        list: *const *mut RawResource,
        func: &'a CStr,
    ) -> Result<Self> {
        if n <= 0 || n as usize > MAX_RESOURCES {
            misuse(Misuse::BadArgument, func);
            return Err(EINVAL);
        }
        if list.is_null() {
            misuse(Misuse::Null, func);
            return Err(EINVAL);
        }
        // INVARIANT: As the caller guarantees.
        Ok(Request {
            n: n as usize,
            bitmap,
            list,
            func,
        })
    }

    /// The `i`-th resource, or `None` (reported) for a NULL one.
    fn want(&self, i: usize) -> Option<Want> {
        if i >= self.n {
            return None;
        }
        let bits = c_ulong::BITS as usize;
        // SAFETY: `list` holds `n` pointers (type invariant).
        let p = unsafe { *self.list.add(i) };
        let Some(p) = NonNull::new(p.cast::<Resource>()) else {
            misuse(Misuse::Null, self.func);
            return None;
        };
        // SAFETY: `bitmap` holds at least `n` bits (type invariant).
        let exclusive = !self.bitmap.is_null()
            && unsafe { *self.bitmap.add(i / bits) } & (1 << (i % bits)) != 0;
        // SAFETY: The resource stays initialised while the set is queued
        // (type invariant); `acquire` checks it is one.
        Some(unsafe { Want::new(p, exclusive) })
    }
}

/// C: `int kds_async_waitall(struct kds_resource_set **pprset,
/// unsigned long flags, struct kds_callback *cb, void *param,
/// void *extra_param, int number_resources,
/// unsigned long *exclusive_access_bitmap, struct kds_resource **resource_list)`.
///
/// # Safety
///
/// As documented in `include/kds.h`: `pprset` valid for writes, `cb`
/// initialised by `kds_callback_init()` and kept until its sets are
/// released, the request as for [`Request::new`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "C" fn kds_async_waitall(
    pprset: *mut *mut RawSet,
    flags: c_ulong,
    cb: *mut RawCallback,
    param: *mut c_void,
    extra: *mut c_void,
    n: c_int,
    bitmap: *const c_ulong,
    list: *const *mut RawResource,
) -> c_int {
    const FUNC: &CStr = c"kds_async_waitall";
    kernel::task::might_sleep();
    if pprset.is_null() {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    }
    // SAFETY: `pprset` is valid for writes (function safety requirement).
    // The header promises NULL there on every failure.
    unsafe { pprset.write_volatile(core::ptr::null_mut()) };
    if cb.is_null() {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    }
    let locked = match (flags & !LOCKED_ACTION, flags & LOCKED_ACTION) {
        (0, 0) => Locked::Fail,
        (0, 1) => Locked::Ignore,
        (0, 2) => Locked::Wait,
        _ => {
            misuse(Misuse::BadArgument, FUNC);
            return EINVAL.to_errno();
        }
    };
    // SAFETY: `cb` is a `struct kds_callback` the driver keeps (function
    // safety requirement); its `inflight` is `Opaque`, which C may change.
    let cb = unsafe { &*cb };
    let Some(func) = cb.user_cb else {
        misuse(Misuse::NoCallback, FUNC);
        return EINVAL.to_errno();
    };
    if cb.direct == 0 && cb.wq.is_null() {
        misuse(Misuse::BadObject, FUNC);
        return EINVAL.to_errno();
    }
    // SAFETY: Function safety requirement.
    let req = match unsafe { Request::new(n, bitmap, list, FUNC) } {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    let callback = UserCallback {
        func,
        param,
        extra,
        direct: cb.direct != 0,
        wq: cb.wq,
        owner: cb.inflight.get(),
        // SAFETY: Set by `kds_callback_init*()` to a class the driver
        // keeps as long as the callback (`include/kds.h`).
        class: unsafe { Class::from_raw(cb.cls) }.unwrap_or(Class::builtin(Builtin::Set)),
    };
    // INVARIANT: The driver's `pprset` is valid for the whole call
    // (function safety requirement).
    let publish = DriverSlot(pprset);
    // Named after its callback until the driver names it.
    let ip = func as usize;
    match ResourceSet::acquire(
        req.n,
        |i| req.want(i),
        Mode::Async(locked),
        Some(callback),
        FUNC,
        &publish,
        ip,
    ) {
        Ok(a) => {
            if a.granted {
                ResourceSet::grant_now(a.core);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `*pprset` of `kds_async_waitall()`: the driver's slot for its set, which
/// `kds_resource_set_release()` empties with `xchg()` on any thread.
///
/// # Invariants
///
/// The pointer is valid for atomic reads and writes for the duration of
/// the `kds_async_waitall()` call.
struct DriverSlot(*mut *mut RawSet);

impl DriverSlot {
    fn slot(&self) -> &Atomic<*mut RawSet> {
        // SAFETY: Valid and aligned for the call (type invariant); every
        // other access to it is atomic ([`take_and_release`]) or the driver's own,
        // made after it has seen the set.
        unsafe { Atomic::from_ptr(self.0) }
    }
}

impl Publish for DriverSlot {
    fn publish(&self, set: *const ResourceSet) {
        self.slot().store(set.cast_mut().cast(), ordering::Release);
    }

    fn take_back(&self) -> bool {
        !self
            .slot()
            .xchg(core::ptr::null_mut(), ordering::Full)
            .is_null()
    }
}

/// C: `struct kds_resource_set *kds_waitall(int number_resources,
/// unsigned long *exclusive_access_bitmap, struct kds_resource **resource_list,
/// unsigned long jiffies_timeout)`.
///
/// # Safety
///
/// The request as for [`Request::new`].
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_waitall(
    n: c_int,
    bitmap: *const c_ulong,
    list: *const *mut RawResource,
    timeout: c_ulong,
    ip: c_ulong,
) -> *mut RawSet {
    const FUNC: &CStr = c"kds_waitall";
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    let req = match unsafe { Request::new(n, bitmap, list, FUNC) } {
        Ok(r) => r,
        Err(e) => return e.to_ptr(),
    };
    let mode = if timeout == 0 { Mode::Try } else { Mode::Sync };
    let a = match ResourceSet::acquire(req.n, |i| req.want(i), mode, None, FUNC, &Unpublished, ip) {
        Ok(a) => a,
        Err(e) if e == EAGAIN => return core::ptr::null_mut(),
        Err(e) => return e.to_ptr(),
    };
    if a.granted {
        ResourceSet::grant_now(a.core);
        return a.set.cast_mut().cast();
    }
    let t = c_long::try_from(timeout).unwrap_or(c_long::MAX);
    let r = wait_granted_blamed(&a.core, t, FUNC);
    if matches!(r, Sleep::Done(_)) {
        return a.set.cast_mut().cast();
    }
    // SAFETY: Only this call knows the set (no callback, no `pprset`), and
    // `set` is the reference `acquire` made for its caller.
    ResourceSet::release(unsafe { Arc::from_raw(a.set) }, false);
    match r {
        Sleep::Interrupted => ERESTARTSYS.to_ptr(),
        _ => core::ptr::null_mut(),
    }
}

/// [`ResourceSet::wait_granted`], which prints what the set waits for
/// once when it has waited `kds.blame_ms` (and is still waiting).
fn wait_granted_blamed(set: &ResourceSet, timeout: c_long, func: &CStr) -> Sleep {
    let Some(split) = crate::capi::blame_split(timeout) else {
        return set.wait_granted(timeout);
    };
    match set.wait_granted(split.first) {
        Sleep::Done(left) => return Sleep::Done(split.left(left)),
        Sleep::TimedOut => {}
        r => return r,
    }
    let (func, ms) = crate::capi::BlameSplit::what(func);
    crate::debug::blame_with(format_args!("{}: waited {} ms", func, ms), |t| {
        use core::fmt::Write as _;
        set.describe_wait(t);
        let _ = t.write_str("\n");
        Ok(())
    });
    set.wait_granted(split.rest)
}

/// Borrows the set behind a C pointer, or reports misuse by `func`.
///
/// # Safety
///
/// `rset` must be NULL or a set the caller has not released.
unsafe fn borrow_set<'a>(rset: *mut RawSet, func: &CStr) -> Option<&'a ResourceSet> {
    if rset.is_null() {
        misuse(Misuse::Null, func);
        return None;
    }
    // SAFETY: `rset` is a live set (function safety requirement).
    let set = unsafe { &*rset.cast::<ResourceSet>() };
    if !set.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    Some(set)
}

/// Takes the set behind a C pointer, or reports misuse by `func`.
///
/// # Safety
///
/// `rset` must be a set from `kds_waitall()` or `kds_async_waitall()` that
/// the caller has not released yet.
unsafe fn take_set(rset: *mut RawSet, func: &CStr) -> Option<Arc<ResourceSet>> {
    if rset.is_null() {
        return None;
    }
    let p = rset.cast_const().cast::<ResourceSet>();
    // SAFETY: `rset` is a live set (function safety requirement).
    if !unsafe { &*p }.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    // SAFETY: The pointer is the driver's reference, from `Arc::into_raw`,
    // and the caller gives it up.
    Some(unsafe { Arc::from_raw(p) })
}

/// Takes the set out of `*pprset` and releases it: whoever takes the
/// pointer releases the set, so a release racing a grant that publishes
/// it, or another release, releases it once.
///
/// # Safety
///
/// `pprset` must be NULL or valid for atomic reads and writes of a
/// pointer, holding NULL or a set the caller has not released.
unsafe fn take_and_release(pprset: *mut *mut RawSet, sync: bool, func: &CStr) {
    if pprset.is_null() {
        misuse(Misuse::Null, func);
        return;
    }
    // SAFETY: `*pprset` is valid and only accessed atomically while kds
    // may publish to it (function safety requirement).
    let slot = unsafe { Atomic::from_ptr(pprset) };
    let rset = slot.xchg(core::ptr::null_mut(), ordering::Full);
    // SAFETY: `rset` was published in `*pprset`, and taking it out makes
    // it ours (function safety requirement).
    if let Some(set) = unsafe { take_set(rset, func) } {
        ResourceSet::release(set, sync);
    }
}

/// C: `void kds_resource_set_release(struct kds_resource_set **pprset)`.
///
/// # Safety
///
/// See [`take_and_release`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_resource_set_release(pprset: *mut *mut RawSet) {
    // SAFETY: Function safety requirement.
    unsafe { take_and_release(pprset, false, c"kds_resource_set_release") }
}

/// C: `void kds_resource_set_release_sync(struct kds_resource_set **pprset)`.
///
/// # Safety
///
/// See [`take_and_release`]; the caller may sleep.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_resource_set_release_sync(pprset: *mut *mut RawSet) {
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    unsafe { take_and_release(pprset, true, c"kds_resource_set_release_sync") }
}

/// C: `struct kds_fence *kds_resource_set_fence(struct kds_resource_set *rset)`.
///
/// # Safety
///
/// `rset` must be NULL or a set the caller has not released.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_resource_set_fence(rset: *mut RawSet) -> *mut RawFence {
    // SAFETY: Function safety requirement.
    let Some(set) = (unsafe { borrow_set(rset, c"kds_resource_set_fence") }) else {
        return core::ptr::null_mut();
    };
    let Ok(f) = set.fence() else {
        return core::ptr::null_mut();
    };
    f.user_get();
    Arc::into_raw(f).cast_mut().cast()
}

/// C: `void kds_resource_set_set_name(struct kds_resource_set *rset, const char *fmt, ...)`,
/// after `c/kds_exports.c` formatted the name.
///
/// # Safety
///
/// `rset` must be NULL or a set the caller has not released; `name` is a
/// C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_resource_set_set_name(
    rset: *mut RawSet,
    name: *const c_char,
) {
    // SAFETY: Function safety requirement.
    if let Some(set) = unsafe { borrow_set(rset, c"kds_resource_set_set_name") } {
        // SAFETY: `name` is a C string (function safety requirement).
        set.set_name(unsafe { CStr::from_char_ptr(name) }.to_bytes());
    }
}
