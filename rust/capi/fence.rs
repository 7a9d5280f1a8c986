// SPDX-License-Identifier: GPL-2.0

//! The fence C API of `include/kds.h`.
//!
//! Each function checks its C arguments (NULL and non-fence pointers are
//! refused with a once-per-kind warning and `-EINVAL` or a no-op), converts
//! them, and calls the safe core in [`crate::fence`]. A `struct kds_fence *`
//! is a `*const Fence` from [`Arc::into_raw`]: each reference C holds is one
//! count of the `Arc`.
//!
//! The functions that C code of kds itself calls (`kds_internal.h`) say
//! so: "Internal to `c/...`".

use crate::capi::Gfp;
use crate::fence::class::{Builtin, Class, RawClass};
use crate::fence::link::RawLink;
use crate::fence::{valid_error, Fence, RawCb, RawFence};
use crate::fence::{Signalling, Taint};
use crate::ffi::RawCbFn;
use crate::misuse::{misuse, Misuse};
use crate::sys::lockdep::MAX_SECTIONS;
use core::ptr::NonNull;
use kernel::alloc::flags::GFP_NOWAIT;
use kernel::bindings;
use kernel::bindings::gfp_t;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// Borrows the fence behind a C pointer, or reports misuse by `func`.
///
/// # Safety
///
/// `f` must be NULL or a pointer C got from `kds_fence_create()` or
/// `kds_fence_get()` whose reference it has not put yet.
pub(crate) unsafe fn borrow<'a>(f: *mut RawFence, func: &CStr) -> Option<ArcBorrow<'a, Fence>> {
    if f.is_null() {
        misuse(Misuse::Null, func);
        return None;
    }
    // SAFETY: `f` came from `Arc::into_raw` and C holds a reference, which
    // outlives this call (function safety requirement).
    let fence = unsafe { ArcBorrow::from_raw(f.cast_const().cast::<Fence>()) };
    if !fence.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    Some(fence)
}

/// Borrows a fence that the caller of `func` wants to add an event or an
/// error to: `EINVAL` as [`borrow`] (warned), `EPERM` (warned) for a fence
/// kds completes itself ([`Fence::is_internal`]).
///
/// # Safety
///
/// See [`borrow`].
pub(crate) unsafe fn borrow_own<'a>(f: *mut RawFence, func: &CStr) -> Result<ArcBorrow<'a, Fence>> {
    // SAFETY: Function safety requirement.
    let f = unsafe { borrow(f, func) }.ok_or(EINVAL)?;
    if f.is_internal() {
        misuse(Misuse::Internal, func);
        return Err(EPERM);
    }
    Ok(f)
}

/// C: `struct kds_fence *kds_fence_create(gfp_t gfp)`, called by
/// `c/kds_exports.c` with its caller's address `ip`.
#[no_mangle]
pub(crate) extern "C" fn __kds_fence_create(gfp: gfp_t, ip: c_ulong) -> *mut RawFence {
    create(Class::builtin(Builtin::Fence), gfp, ip)
}

/// A new fence of `class`, made by the code at `ip`, with one user
/// reference, as C sees it, or NULL.
fn create(class: Class, gfp: gfp_t, ip: usize) -> *mut RawFence {
    let gfp = Gfp::new(gfp);
    match Fence::with_class(class, ip, gfp.flags()) {
        Ok(f) => {
            f.user_get();
            Arc::into_raw(f).cast_mut().cast()
        }
        Err(_) => core::ptr::null_mut(),
    }
}

/// C: `struct kds_fence *kds_fence_create_class(struct kds_fence_class *cls,
/// gfp_t gfp)`.
///
/// # Safety
///
/// `cls` must be NULL or a class that outlives the fence.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_fence_create_class(
    cls: *mut RawClass,
    gfp: gfp_t,
    ip: c_ulong,
) -> *mut RawFence {
    // SAFETY: Function safety requirement.
    let Some(class) = (unsafe { Class::from_raw(cls) }) else {
        misuse(Misuse::Null, c"kds_fence_create_class");
        return core::ptr::null_mut();
    };
    create(class, gfp, ip)
}

/// C: `void kds_fence_set_name(struct kds_fence *f, const char *fmt, ...)`,
/// after `c/kds_exports.c` formatted the name.
///
/// # Safety
///
/// `f` as for [`borrow`]; `name` a C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_fence_set_name(f: *mut RawFence, name: *const c_char) {
    // SAFETY: Function safety requirement.
    if let Some(f) = unsafe { borrow(f, c"kds_fence_set_name") } {
        // SAFETY: `name` is a C string (function safety requirement).
        f.set_name(unsafe { CStr::from_char_ptr(name) }.to_bytes());
    }
}

/// A completion a fence waits for, as a source (`c/kds_sleepers.c`).
struct CompletionSource(usize);

impl crate::fence::Source for CompletionSource {
    fn key(&self) -> usize {
        self.0
    }

    fn describe(&self, out: &mut dyn core::fmt::Write) {
        let _ = out.write_fmt(fmt!("completion {}", crate::sys::fmt::Symbol(self.0)));
    }
}

/// Internal to `c/kds_sleepers.c`: `f` waits for the completion `c` (for
/// diagnostics and the trace); a failure to allocate only loses the
/// description.
///
/// # Safety
///
/// `f` is a fence C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_note_completion(
    f: *mut RawFence,
    c: *const c_void,
    gfp: gfp_t,
) {
    // SAFETY: Function safety requirement.
    let Some(f) = (unsafe { borrow(f, c"kds_fence_await_completion") }) else {
        return;
    };
    let flags = Gfp::new(gfp).flags();
    if let Ok(src) = Arc::new(CompletionSource(c as usize), flags) {
        let _ = f.add_source(src, flags);
    }
    crate::sys::trace::fence_await(f.id(), 0, crate::sys::trace::AwaitKind::Completion);
}

/// Internal to `c/kds_sleepers.c`: the completion `c` is done; call before
/// completing its event.
///
/// # Safety
///
/// `f` is a fence C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_forget_completion(f: *mut RawFence, c: *const c_void) {
    // SAFETY: Function safety requirement.
    if let Some(f) = unsafe { borrow(f, c"kds_fence_await_completion") } {
        f.forget_source(c as usize);
    }
}

/// The most `kds_fence_blame()` writes: [`crate::debug::MAX_BLAMED`]
/// lines and the header, with room to spare.
const BLAME_MAX: usize = 8192;

/// C: `int kds_fence_blame(struct kds_fence *f, char *buf, size_t size)`.
///
/// # Safety
///
/// `f` as for [`borrow`]; `buf` NULL or valid for `size` bytes of writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_blame(
    f: *mut RawFence,
    buf: *mut c_char,
    size: usize,
) -> c_int {
    const FUNC: &CStr = c"kds_fence_blame";
    // SAFETY: Function safety requirement.
    let Some(f) = (unsafe { borrow(f, FUNC) }) else {
        return EINVAL.to_errno();
    };
    if buf.is_null() || size == 0 {
        misuse(Misuse::BadArgument, FUNC);
        return EINVAL.to_errno();
    }
    // The frontier is at most a few lines: a huge buffer gets no huge
    // allocation.
    let mut text = match crate::sys::fmt::Text::with_capacity((size - 1).min(BLAME_MAX), GFP_NOWAIT)
    {
        Ok(t) => t,
        Err(e) => return e.to_errno(),
    };
    if let Err(e) = crate::debug::frontier(&f, &mut text, GFP_NOWAIT) {
        return e.to_errno();
    }
    let b = text.as_bytes();
    // SAFETY: `buf` has room for `size` bytes (function safety
    // requirement), and `b` is at most `size - 1` long.
    unsafe {
        core::ptr::copy_nonoverlapping(b.as_ptr(), buf.cast::<u8>(), b.len());
        *buf.add(b.len()) = 0;
    }
    b.len() as c_int
}

/// `struct kds_signalling`, laid out as in `include/kds.h`.
#[repr(C)]
pub(crate) struct RawSignalling {
    maps: [*mut bindings::lockdep_map; MAX_SECTIONS],
    n: c_uint,
    dma: bool,
}

/// Size and offset of the map of `struct kds_fence_class`, checked at load
/// time.
#[no_mangle]
pub(crate) static kds_rust_class_layout: [usize; 2] = crate::fence::class::RAW_LAYOUT;

/// Size and field offsets of [`RawSignalling`], checked against `struct
/// kds_signalling` at load time.
#[no_mangle]
pub(crate) static kds_rust_signalling_layout: [usize; 3] = [
    core::mem::size_of::<RawSignalling>(),
    core::mem::offset_of!(RawSignalling, n),
    core::mem::offset_of!(RawSignalling, dma),
];

/// C: `void kds_fence_begin_signalling(struct kds_fence *f,
/// struct kds_signalling *s)`.
///
/// # Safety
///
/// `f` as for [`borrow`]; `s` NULL or valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_begin_signalling(
    f: *mut RawFence,
    s: *mut RawSignalling,
) {
    const FUNC: &CStr = c"kds_fence_begin_signalling";
    if s.is_null() {
        misuse(Misuse::Null, FUNC);
        return;
    }
    // SAFETY: Function safety requirement.
    let section = match unsafe { borrow(f, FUNC) } {
        Some(f) => f.begin_signalling(),
        None => Signalling::new(),
    };
    let (maps, n, dma) = section.into_raw();
    // The dma_fence cookie is kept as whether the section must be closed.
    let dma = match dma {
        Some(d) => {
            let open = d.needs_close();
            core::mem::forget(d);
            open
        }
        None => false,
    };
    // SAFETY: `s` is valid for writes (function safety requirement).
    unsafe {
        s.write(RawSignalling {
            maps,
            n: n as c_uint,
            dma,
        })
    };
}

/// C: `void kds_fence_end_signalling(struct kds_signalling *s)`.
///
/// # Safety
///
/// `s` must be NULL or what `kds_fence_begin_signalling()` filled in, in
/// this context, and be passed here once.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_end_signalling(s: *mut RawSignalling) {
    if s.is_null() {
        misuse(Misuse::Null, c"kds_fence_end_signalling");
        return;
    }
    // SAFETY: Function safety requirement.
    let raw = unsafe { &mut *s };
    let dma = raw.dma.then(crate::sys::dma_fence::Signalling::opened);
    // SAFETY: Filled in by `kds_fence_begin_signalling` in this context
    // (function safety requirement); emptied so that it closes once.
    let section = unsafe { Signalling::from_raw(&raw.maps, raw.n as usize, dma) };
    raw.n = 0;
    raw.dma = false;
    drop(section);
}

/// C: `struct kds_fence *kds_fence_get(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_get(f: *mut RawFence) -> *mut RawFence {
    if f.is_null() {
        return f;
    }
    // SAFETY: C holds a reference to `f` (function safety requirement).
    match unsafe { borrow(f, c"kds_fence_get") } {
        Some(b) => {
            b.user_get();
            Arc::into_raw(Arc::from(b)).cast_mut().cast()
        }
        None => core::ptr::null_mut(),
    }
}

/// C: `void kds_fence_put(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`]; C gives up the reference.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_put(f: *mut RawFence) {
    if f.is_null() {
        return;
    }
    // SAFETY: C holds a reference to `f` (function safety requirement).
    if let Some(b) = unsafe { borrow(f, c"kds_fence_put") } {
        if b.user_put() {
            b.abandon();
        }
        // SAFETY: `f` came from `Arc::into_raw`, and C gives up the
        // reference it holds.
        drop(unsafe { Arc::from_raw(f.cast_const().cast::<Fence>()) });
    }
}

/// C: `void kds_fence_await(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await(f: *mut RawFence) {
    // SAFETY: Function safety requirement.
    if let Ok(f) = unsafe { borrow_own(f, c"kds_fence_await") } {
        if f.await_event().is_err() {
            misuse(Misuse::AwaitDone, c"kds_fence_await");
        } else {
            crate::sys::trace::fence_await(f.id(), 0, crate::sys::trace::AwaitKind::Event);
        }
    }
}

/// C: `void kds_fence_complete(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_complete(f: *mut RawFence) {
    // SAFETY: Function safety requirement.
    if let Ok(f) = unsafe { borrow_own(f, c"kds_fence_complete") } {
        if Fence::complete(f, 0).is_err() {
            misuse(Misuse::OverComplete, c"kds_fence_complete");
        }
    }
}

/// Internal to kds's C files (`kds_internal.h`): whether `f` is a fence, warning like the
/// API functions do (on behalf of `func`) when it is not.
///
/// # Safety
///
/// See [`borrow`]; `func` must be a valid NUL-terminated string.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_check(f: *mut RawFence, func: *const c_char) -> bool {
    // SAFETY: `func` is a valid C string (function safety requirement).
    let func = unsafe { CStr::from_char_ptr(func) };
    // SAFETY: Function safety requirement.
    unsafe { borrow(f, func) }.is_some()
}

/// Internal to kds's C files (`kds_internal.h`): adds one counted event like
/// `kds_fence_await()` on behalf of `func`, but returns `-EINVAL` instead
/// of warning when the fence is done; `-EPERM` (warned) for a fence kds
/// completes itself.
///
/// # Safety
///
/// `f` must be a fence C holds a reference to (see [`kds_fence_check`]);
/// `func` a valid NUL-terminated string.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_try_await(
    f: *mut RawFence,
    func: *const c_char,
) -> c_int {
    // SAFETY: `func` is a valid C string (function safety requirement).
    let func = unsafe { CStr::from_char_ptr(func) };
    // SAFETY: Function safety requirement.
    match unsafe { borrow_own(f, func) } {
        Ok(f) => match f.await_event() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        Err(e) => e.to_errno(),
    }
}

/// Internal to `c/kds_sleepers.c`: as [`kds_fence_try_await`], for an
/// event that may never come (a `struct completion`): `-EPERM` (and a
/// message naming both) when an exported fence is or awaits `f`.
///
/// # Safety
///
/// As for [`kds_fence_try_await`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_indefinite(
    f: *mut RawFence,
    func: *const c_char,
    gfp: gfp_t,
) -> c_int {
    // SAFETY: `func` is a valid C string (function safety requirement).
    let func = unsafe { CStr::from_char_ptr(func) };
    // SAFETY: Function safety requirement.
    let f = match unsafe { borrow_own(f, func) } {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    let arc: Arc<Fence> = f.into();
    if arc.is_done() {
        return EINVAL.to_errno();
    }
    if let Err(e) = Fence::make_indefinite(
        &arc,
        Taint::Completion(arc.id()),
        func,
        Gfp::new(gfp).flags(),
    ) {
        return e.to_errno();
    }
    match arc.await_event() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Internal to `c/kds_dma_export.c`: puts `f` under the dma_fence rules
/// before it is exported: 0, or `-EPERM` (and a message naming the
/// source) when it may wait indefinitely, `-EINVAL` (warned) for a
/// pointer that is not a fence.
///
/// # Safety
///
/// `f` must be NULL or a fence C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_mark_exported(f: *mut RawFence) -> c_int {
    const FUNC: &CStr = c"kds_fence_export_dma_fence";
    // SAFETY: Function safety requirement.
    match unsafe { borrow(f, FUNC) } {
        Some(f) => match f.export(FUNC) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        None => EINVAL.to_errno(),
    }
}

/// C: `int kds_fence_await_fence(struct kds_fence *f,
/// struct kds_fence *signaler, gfp_t gfp)`.
///
/// # Safety
///
/// See [`borrow`], for both fences.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_fence(
    f: *mut RawFence,
    signaler: *mut RawFence,
    gfp: gfp_t,
) -> c_int {
    // SAFETY: Function safety requirement; no link.
    unsafe { await_fence_in(f, signaler, None, gfp, c"kds_fence_await_fence") }
}

/// C: `int kds_fence_await_fence_link(struct kds_fence *f,
/// struct kds_fence *signaler, struct kds_fence_link *link, gfp_t gfp)`.
///
/// # Safety
///
/// See [`borrow`], for both fences; `link` must be NULL or as
/// `include/kds.h` requires (valid and kds's until `f` is done, if this
/// returns 1).
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_fence_link(
    f: *mut RawFence,
    signaler: *mut RawFence,
    link: *mut RawLink,
    gfp: gfp_t,
) -> c_int {
    // SAFETY: Function safety requirement.
    unsafe { await_fence_in(f, signaler, Some(link), gfp, c"kds_fence_await_fence_link") }
}

/// The two fence-on-fence awaits of the C API, for `func`: in kds's own
/// memory (`link` `None`) or in the caller's (`Some`; NULL is misuse).
///
/// # Safety
///
/// See [`borrow`], for both fences; a `link` that is not NULL must be as
/// `include/kds.h` requires (valid and kds's until `f` is done, if this
/// returns 1).
unsafe fn await_fence_in(
    f: *mut RawFence,
    signaler: *mut RawFence,
    link: Option<*mut RawLink>,
    gfp: gfp_t,
    func: &CStr,
) -> c_int {
    // SAFETY: Function safety requirement.
    let (f, Some(s)) = (unsafe { borrow_own(f, func) }, unsafe {
        borrow(signaler, func)
    }) else {
        return EINVAL.to_errno();
    };
    let f = match f {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    let link = match link.map(NonNull::new) {
        None => None,
        Some(Some(link)) => Some(link),
        Some(None) => {
            misuse(Misuse::Null, func);
            return EINVAL.to_errno();
        }
    };
    let gfp = Gfp::new(gfp);
    let f = Arc::from(f);
    let res = match link {
        None => Fence::await_fence(&f, &s, gfp.flags()),
        // SAFETY: `link` is valid and kds's as long as `await_fence_link`
        // requires (function safety requirement).
        Some(link) => unsafe { Fence::await_fence_link(&f, &s, link, gfp.flags()) },
    };
    await_result(res, func)
}

/// The C return value of an await: 1 added, 0 already done, or -errno;
/// `EINVAL` (the waiter is done) is misuse by the caller of `func`.
pub(crate) fn await_result(res: Result<bool>, func: &CStr) -> c_int {
    match res {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => {
            if e == EINVAL {
                misuse(Misuse::AwaitDone, func);
            }
            e.to_errno()
        }
    }
}

/// Internal to kds's C files (`kds_internal.h`): the fence's id, for names and messages.
///
/// # Safety
///
/// `f` must be a fence C holds a reference to (see [`kds_fence_check`]).
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_id(f: *mut RawFence) -> u64 {
    // SAFETY: Function safety requirement.
    unsafe { borrow(f, c"kds_fence_id") }.map_or(0, |f| f.id())
}

/// C: `void kds_fence_set_error(struct kds_fence *f, int error)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_set_error(f: *mut RawFence, error: c_int) {
    const FUNC: &CStr = c"kds_fence_set_error";
    // SAFETY: Function safety requirement.
    if let Ok(f) = unsafe { borrow_own(f, FUNC) } {
        if !valid_error(error) {
            misuse(Misuse::BadError, FUNC);
        } else if f.set_error(error).is_err() {
            misuse(Misuse::ErrorAfterDone, FUNC);
        }
    }
}

/// C: `int kds_fence_get_status(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_get_status(f: *mut RawFence) -> c_int {
    // SAFETY: Function safety requirement.
    match unsafe { borrow(f, c"kds_fence_get_status") } {
        Some(f) => f.status(),
        None => EINVAL.to_errno(),
    }
}

/// C: `bool kds_fence_done(struct kds_fence *f)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_done(f: *mut RawFence) -> bool {
    // SAFETY: Function safety requirement.
    unsafe { borrow(f, c"kds_fence_done") }.is_some_and(|f| f.is_done())
}

/// C: `int kds_fence_add_callback(struct kds_fence *f,
/// struct kds_fence_cb *cb, kds_fence_func_t func)`.
///
/// # Safety
///
/// See [`borrow`]; `cb` must be NULL or valid until its function has been
/// called or it has been removed.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_add_callback(
    f: *mut RawFence,
    cb: *mut RawCb,
    func: Option<RawCbFn>,
) -> c_int {
    const FUNC: &CStr = c"kds_fence_add_callback";
    // SAFETY: Function safety requirement.
    let Some(f) = (unsafe { borrow(f, FUNC) }) else {
        return EINVAL.to_errno();
    };
    let Some(func) = func else {
        misuse(Misuse::NoCallback, FUNC);
        return EINVAL.to_errno();
    };
    if cb.is_null() {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    }
    // SAFETY: `cb` is valid until called or removed (function safety
    // requirement).
    match unsafe { f.add_callback(cb, func) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C: `bool kds_fence_remove_callback(struct kds_fence *f,
/// struct kds_fence_cb *cb)`.
///
/// # Safety
///
/// See [`borrow`]; `cb` must be NULL or have been passed to
/// `kds_fence_add_callback()` of `f`.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_remove_callback(
    f: *mut RawFence,
    cb: *mut RawCb,
) -> bool {
    const FUNC: &CStr = c"kds_fence_remove_callback";
    // SAFETY: Function safety requirement.
    let Some(f) = (unsafe { borrow(f, FUNC) }) else {
        return false;
    };
    if cb.is_null() {
        misuse(Misuse::Null, FUNC);
        return false;
    }
    // SAFETY: `cb` is valid for reads (function safety requirement). A
    // callback that kds_fence_add_callback() never saw may be zeroed: its
    // node has no links, and unlinking it would oops.
    if unsafe { (*cb).node.next.is_null() || (*cb).node.prev.is_null() } {
        misuse(Misuse::BadArgument, FUNC);
        return false;
    }
    // SAFETY: `cb` was added to `f` (function safety requirement).
    unsafe { f.remove_callback(cb) }
}

/// C: `int kds_fence_await_hrtimer(struct kds_fence *f, ktime_t expires,
/// clockid_t clock, enum hrtimer_mode mode, u64 slack_ns, gfp_t gfp)`.
///
/// # Safety
///
/// See [`borrow`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_hrtimer(
    f: *mut RawFence,
    expires: i64,
    clock: kernel::bindings::clockid_t,
    mode: kernel::bindings::hrtimer_mode,
    slack_ns: u64,
    gfp: gfp_t,
) -> c_int {
    const FUNC: &CStr = c"kds_fence_await_hrtimer";
    // SAFETY: Function safety requirement.
    let f = match unsafe { borrow_own(f, FUNC) } {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    let gfp = Gfp::new(gfp);
    let res = crate::fence::timer::await_hrtimer(
        &Arc::from(f),
        expires,
        clock,
        mode,
        slack_ns,
        gfp.flags(),
    );
    if res == Err(EINVAL) && !f.is_done() {
        // Not a done fence: an unknown clock.
        misuse(Misuse::BadArgument, FUNC);
        return EINVAL.to_errno();
    }
    await_result(res, FUNC)
}

/// C: `long kds_fence_wait_timeout(struct kds_fence *f, bool intr,
/// long timeout)`.
///
/// # Safety
///
/// `f` as for the other fence functions.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_wait_timeout(
    f: *mut RawFence,
    intr: bool,
    timeout: c_long,
) -> c_long {
    const FUNC: &CStr = c"kds_fence_wait_timeout";
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    let Some(f) = (unsafe { borrow(f, FUNC) }) else {
        return EINVAL.to_errno() as c_long;
    };
    if timeout < 0 {
        // As dma_fence_wait_timeout().
        misuse(Misuse::BadArgument, FUNC);
        return EINVAL.to_errno() as c_long;
    }
    wait_blamed(&f, intr, timeout, FUNC)
}

/// [`Fence::wait_timeout`], which prints the fence's blocking frontier
/// once when it has waited `kds.blame_ms` (and is still waiting).
pub(crate) fn wait_blamed(f: &Fence, intr: bool, timeout: c_long, func: &CStr) -> c_long {
    crate::sys::trace::fence_wait_start(f.id());
    let r = match crate::capi::blame_split(timeout) {
        Some(split) if !f.is_done() => wait_then_blame(f, intr, split, func),
        _ => f.wait_timeout(intr, timeout),
    };
    crate::sys::trace::fence_wait_end(f.id(), r);
    r
}

/// [`wait_blamed`]'s wait when it may blame: the first part, then the
/// blame, then the rest.
fn wait_then_blame(f: &Fence, intr: bool, split: crate::capi::BlameSplit, func: &CStr) -> c_long {
    let first = f.wait_timeout(intr, split.first);
    if first > 0 {
        return split.left(first);
    }
    if first < 0 {
        // Interrupted.
        return first;
    }
    let (func, ms) = crate::capi::BlameSplit::what(func);
    crate::debug::blame(f, format_args!("{}: waited {} ms", func, ms));
    f.wait_timeout(intr, split.rest)
}

/// C: `void kds_fence_wait(struct kds_fence *f)`.
///
/// # Safety
///
/// `f` as for the other fence functions.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_wait(f: *mut RawFence) {
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    if let Some(f) = unsafe { borrow(f, c"kds_fence_wait") } {
        wait_blamed(
            &f,
            false,
            kernel::task::MAX_SCHEDULE_TIMEOUT,
            c"kds_fence_wait",
        );
    }
}

/// C: `int kds_fence_await_dma_fence(struct kds_fence *f,
/// struct dma_fence *dma, unsigned long timeout, gfp_t gfp)`.
///
/// # Safety
///
/// `f` as for the other fence functions; `dma` NULL or a `dma_fence` the
/// caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_dma_fence(
    f: *mut RawFence,
    dma: *mut bindings::dma_fence,
    timeout: usize,
    gfp: bindings::gfp_t,
) -> kernel::ffi::c_int {
    const FUNC: &CStr = c"kds_fence_await_dma_fence";
    // SAFETY: Function safety requirement.
    let f = match unsafe { borrow_own(f, FUNC) } {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    if dma.is_null() {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    }
    // SAFETY: The caller holds a reference to `dma`.
    let dma = unsafe { crate::sys::dma_fence::DmaFence::from_raw(dma) };
    let gfp = Gfp::new(gfp);
    await_result(
        crate::fence::dma::await_dma_fence(&Arc::from(f), dma, timeout, gfp.flags()),
        FUNC,
    )
}

/// C: `int kds_fence_await_dma_resv(struct kds_fence *f,
/// struct dma_resv *resv, enum dma_resv_usage usage,
/// unsigned long timeout, gfp_t gfp)`.
///
/// # Safety
///
/// `f` as for the other fence functions; `resv` NULL or a live `dma_resv`.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_fence_await_dma_resv(
    f: *mut RawFence,
    resv: *mut bindings::dma_resv,
    usage: bindings::dma_resv_usage,
    timeout: usize,
    gfp: bindings::gfp_t,
) -> kernel::ffi::c_int {
    const FUNC: &CStr = c"kds_fence_await_dma_resv";
    // SAFETY: Function safety requirement.
    let f = match unsafe { borrow_own(f, FUNC) } {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    if resv.is_null() {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    }
    let gfp = Gfp::new(gfp);
    // SAFETY: `resv` is a live `dma_resv` (function safety requirement).
    let res = unsafe {
        crate::fence::dma::await_dma_resv(&Arc::from(f), resv, usage, timeout, gfp.flags())
    };
    await_result(res, FUNC)
}

/// Layout facts of `struct kds_fence_cb` that `kds_c_init()` compares with
/// the C compiler's: size, offset of `node`, offset of `func`.
#[no_mangle]
pub(crate) static kds_rust_fence_cb_layout: [usize; 3] = [
    core::mem::size_of::<RawCb>(),
    core::mem::offset_of!(RawCb, node),
    core::mem::offset_of!(RawCb, func),
];
