// SPDX-License-Identifier: GPL-2.0

//! The async domain C API of `include/kds.h`.
//!
//! `struct kds_async_domain *` and `struct kds_async_work *` are pointers
//! from [`Arc::into_raw`] (each C reference is one count);
//! `struct kds_async_graph *` is a pinned [`KBox`]. The default domain
//! (`d == NULL`) is created at module load.

use crate::capi::fence::{await_result, borrow, borrow_own};
use crate::capi::Gfp;
use crate::domain::resolver::Resolver;
use crate::domain::{AsyncWork, Domain, DETERMINISTIC};
use crate::fence::class::{Builtin, Class, RawClass};
use crate::fence::RawFence;
use crate::ffi::AsyncFn;
use crate::misuse::{misuse, Misuse};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings::gfp_t;
use kernel::ffi::{c_char, c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// `struct kds_async_domain` as C sees it: opaque.
#[repr(C)]
pub(crate) struct RawDomain {
    _opaque: [u8; 0],
}

/// `struct kds_async_work` as C sees it: opaque.
#[repr(C)]
pub(crate) struct RawWork {
    _opaque: [u8; 0],
}

/// `struct kds_async_graph` as C sees it: opaque.
#[repr(C)]
pub(crate) struct RawGraph {
    _opaque: [u8; 0],
}

/// The default domain, from [`init`] to [`exit`].
static DEFAULT: AtomicPtr<Domain> = AtomicPtr::new(core::ptr::null_mut());

/// Creates the default domain; call once, from module init.
pub(crate) fn init() -> Result {
    crate::domain::init();
    let d = Domain::new(c"kds_default", 0, Class::builtin(Builtin::Async))?;
    Domain::register(&d)?;
    DEFAULT.store(Arc::into_raw(d).cast_mut(), Ordering::Release);
    Ok(())
}

/// Waits for the default domain's work and frees it; call once, from
/// module exit.
pub(crate) fn exit() {
    let p = DEFAULT.swap(core::ptr::null_mut(), Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: `p` came from `Arc::into_raw` in `init`.
        let d = unsafe { Arc::from_raw(p) };
        d.synchronize_cookie(u64::MAX, 0, |_, _| {});
        d.unregister();
    }
    crate::domain::exit();
}

/// How many fences the default domain holds itself: kds's own, for as
/// long as it is loaded.
pub(crate) fn default_domain_fences() -> i64 {
    let p = DEFAULT.load(Ordering::Acquire);
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` came from `Arc::into_raw` in `init`, and that reference
    // is only given up in `exit`; the one caller, `kds_live_counts`, only
    // runs between the end of module init and the start of module exit
    // (`capi::live_enable`).
    let d = unsafe { ArcBorrow::from_raw(p) };
    d.fences_held()
}

/// Borrows the domain behind a C pointer (NULL: the default domain), or
/// reports misuse by `func`.
///
/// # Safety
///
/// `d` must be NULL or a domain C holds a reference to.
unsafe fn domain<'a>(d: *mut RawDomain, func: &CStr) -> Option<ArcBorrow<'a, Domain>> {
    let p = if d.is_null() {
        DEFAULT.load(Ordering::Acquire)
    } else {
        d.cast::<Domain>()
    };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Arc::into_raw` and a reference is held: C's
    // (function safety requirement), or the module's for the default.
    let b = unsafe { ArcBorrow::from_raw(p) };
    if !b.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    Some(b)
}

/// Borrows the work item behind a C pointer, or reports misuse by `func`.
///
/// # Safety
///
/// `w` must be NULL or a work item C holds a reference to.
unsafe fn work<'a>(w: *mut RawWork, func: &CStr) -> Option<ArcBorrow<'a, AsyncWork>> {
    if w.is_null() {
        misuse(Misuse::Null, func);
        return None;
    }
    // SAFETY: `w` came from `Arc::into_raw` and C holds a reference.
    let b = unsafe { ArcBorrow::from_raw(w.cast::<AsyncWork>()) };
    if !b.magic_ok() {
        misuse(Misuse::BadObject, func);
        return None;
    }
    Some(b)
}

/// C: `struct kds_async_domain *kds_async_domain_create(const char *name,
/// unsigned int flags)`.
///
/// # Safety
///
/// `name` must be NULL or a valid C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_domain_create(
    name: *const c_char,
    flags: c_uint,
) -> *mut RawDomain {
    // SAFETY: Function safety requirement; kds's own class.
    unsafe {
        create_domain(
            name,
            flags,
            Class::builtin(Builtin::Async),
            c"kds_async_domain_create",
        )
    }
}

/// C: `struct kds_async_domain *kds_async_domain_create_class(const char
/// *name, unsigned int flags, struct kds_fence_class *cls)`.
///
/// # Safety
///
/// `name` must be NULL or a valid C string; `cls` NULL or a class that
/// outlives the domain.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_domain_create_class(
    name: *const c_char,
    flags: c_uint,
    cls: *mut RawClass,
) -> *mut RawDomain {
    const FUNC: &CStr = c"kds_async_domain_create_class";
    // SAFETY: Function safety requirement.
    let Some(class) = (unsafe { Class::from_raw(cls) }) else {
        misuse(Misuse::Null, FUNC);
        return core::ptr::null_mut();
    };
    // SAFETY: Function safety requirement.
    unsafe { create_domain(name, flags, class, FUNC) }
}

/// Creates a domain for `func`.
///
/// # Safety
///
/// `name` must be NULL or a valid C string.
unsafe fn create_domain(
    name: *const c_char,
    flags: c_uint,
    class: Class,
    func: &CStr,
) -> *mut RawDomain {
    kernel::task::might_sleep();
    if flags & !DETERMINISTIC != 0 {
        misuse(Misuse::BadArgument, func);
        return core::ptr::null_mut();
    }
    let name = if name.is_null() {
        c"kds_async"
    } else {
        // SAFETY: A valid C string (function safety requirement), read
        // during this call only: the domain keeps a copy.
        unsafe { CStr::from_char_ptr(name) }
    };
    match Domain::new(name, flags, class) {
        Ok(d) => {
            if Domain::register(&d).is_err() {
                return core::ptr::null_mut();
            }
            Arc::into_raw(d).cast_mut().cast()
        }
        Err(_) => core::ptr::null_mut(),
    }
}

/// C: `void kds_async_domain_destroy(struct kds_async_domain *d)`.
///
/// # Safety
///
/// `d` must be NULL or a domain from `kds_async_domain_create()`, which C
/// gives up.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_domain_destroy(d: *mut RawDomain) {
    kernel::task::might_sleep();
    if d.is_null() {
        return;
    }
    // SAFETY: Function safety requirement.
    if let Some(b) = unsafe { domain(d, c"kds_async_domain_destroy") } {
        b.synchronize_cookie(u64::MAX, 0, |_, _| {});
        b.unregister();
        // SAFETY: C gives up its reference.
        drop(unsafe { Arc::from_raw(d.cast::<Domain>()) });
    }
}

/// C: `struct kds_async_work *kds_async_work_create(kds_async_func_t fn,
/// void *data, gfp_t gfp)`.
#[no_mangle]
pub(crate) extern "C" fn kds_async_work_create(
    func: Option<AsyncFn>,
    data: *mut c_void,
    gfp: gfp_t,
) -> *mut RawWork {
    create_work(
        Class::builtin(Builtin::Async),
        func,
        data,
        gfp,
        c"kds_async_work_create",
    )
}

/// C: `struct kds_async_work *kds_async_work_create_class(struct
/// kds_fence_class *cls, kds_async_func_t fn, void *data, gfp_t gfp)`.
///
/// # Safety
///
/// `cls` must be NULL or a class that outlives the work item.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_work_create_class(
    cls: *mut RawClass,
    func: Option<AsyncFn>,
    data: *mut c_void,
    gfp: gfp_t,
) -> *mut RawWork {
    const FUNC: &CStr = c"kds_async_work_create_class";
    // SAFETY: Function safety requirement.
    let Some(class) = (unsafe { Class::from_raw(cls) }) else {
        misuse(Misuse::Null, FUNC);
        return core::ptr::null_mut();
    };
    create_work(class, func, data, gfp, FUNC)
}

/// Creates a work item of `class` for `name`.
fn create_work(
    class: Class,
    func: Option<AsyncFn>,
    data: *mut c_void,
    gfp: gfp_t,
    name: &CStr,
) -> *mut RawWork {
    let Some(func) = func else {
        misuse(Misuse::NoCallback, name);
        return core::ptr::null_mut();
    };
    let gfp = Gfp::new(gfp);
    match AsyncWork::new(func, data, class, gfp.flags()) {
        Ok(w) => Arc::into_raw(w).cast_mut().cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// C: `int kds_async_work_after(struct kds_async_work *w,
/// struct kds_fence *f, gfp_t gfp)`.
///
/// # Safety
///
/// `w` and `f` must be NULL or objects C holds references to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_work_after(
    w: *mut RawWork,
    f: *mut RawFence,
    gfp: gfp_t,
) -> c_int {
    const FUNC: &CStr = c"kds_async_work_after";
    // SAFETY: Function safety requirement.
    let (Some(w), Some(f)) = (unsafe { work(w, FUNC) }, unsafe { borrow(f, FUNC) }) else {
        return EINVAL.to_errno();
    };
    let gfp = Gfp::new(gfp);
    match w.after(&f, gfp.flags()) {
        Err(e) if e == EBUSY => {
            misuse(Misuse::Requeue, FUNC);
            e.to_errno()
        }
        res => await_result(res, FUNC),
    }
}

/// C: `int kds_async_work_before(struct kds_async_work *w,
/// struct kds_fence *f, gfp_t gfp)`.
///
/// # Safety
///
/// `w` and `f` must be NULL or objects C holds references to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_work_before(
    w: *mut RawWork,
    f: *mut RawFence,
    gfp: gfp_t,
) -> c_int {
    const FUNC: &CStr = c"kds_async_work_before";
    // SAFETY: Function safety requirement.
    let (Some(w), f) = (unsafe { work(w, FUNC) }, unsafe { borrow_own(f, FUNC) }) else {
        return EINVAL.to_errno();
    };
    let f = match f {
        Ok(f) => f,
        Err(e) => return e.to_errno(),
    };
    let gfp = Gfp::new(gfp);
    await_result(w.before(&Arc::from(f), gfp.flags()), FUNC)
}

/// C: `struct kds_fence *kds_async_work_fence(struct kds_async_work *w)`.
///
/// # Safety
///
/// `w` must be NULL or a work item C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_work_fence(w: *mut RawWork) -> *mut RawFence {
    // SAFETY: Function safety requirement.
    match unsafe { work(w, c"kds_async_work_fence") } {
        Some(w) => match w.done() {
            Some(f) => {
                f.user_get();
                Arc::into_raw(f.clone()).cast_mut().cast()
            }
            // Only kds_async_schedule() makes a work item without fences,
            // and it gives C no pointer to it.
            None => core::ptr::null_mut(),
        },
        None => core::ptr::null_mut(),
    }
}

/// C: `u64 kds_async_queue(struct kds_async_domain *d,
/// struct kds_async_work *w)`.
///
/// # Safety
///
/// `d` and `w` must be NULL or objects C holds references to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_queue(d: *mut RawDomain, w: *mut RawWork) -> u64 {
    const FUNC: &CStr = c"kds_async_queue";
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    let (Some(d), Some(w)) = (unsafe { domain(d, FUNC) }, unsafe { work(w, FUNC) }) else {
        return 0;
    };
    match AsyncWork::queue(&Arc::from(w), &Arc::from(d)) {
        Ok(cookie) => cookie,
        Err(e) => {
            if e == EBUSY {
                misuse(Misuse::Requeue, FUNC);
            }
            0
        }
    }
}

/// C: `void kds_async_work_put(struct kds_async_work *w)`.
///
/// # Safety
///
/// `w` must be NULL or a work item C holds a reference to, which it gives
/// up.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_work_put(w: *mut RawWork) {
    if w.is_null() {
        return;
    }
    // SAFETY: Function safety requirement.
    if unsafe { work(w, c"kds_async_work_put") }.is_some() {
        // SAFETY: C gives up its reference.
        drop(unsafe { Arc::from_raw(w.cast::<AsyncWork>()) });
    }
}

/// C: `u64 kds_async_schedule(struct kds_async_domain *d,
/// kds_async_func_t fn, void *data)`.
///
/// # Safety
///
/// `d` must be NULL or a domain C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_schedule(
    d: *mut RawDomain,
    func: Option<AsyncFn>,
    data: *mut c_void,
) -> u64 {
    const FUNC: &CStr = c"kds_async_schedule";
    kernel::task::might_sleep();
    let Some(func) = func else {
        misuse(Misuse::NoCallback, FUNC);
        return 0;
    };
    // SAFETY: Function safety requirement.
    let Some(d) = (unsafe { domain(d, FUNC) }) else {
        return 0;
    };
    // Never run synchronously: no memory, no call.
    AsyncWork::schedule(&Arc::from(d), func, data).unwrap_or(0)
}

/// C: `int kds_async_barrier(struct kds_async_domain *d)`.
///
/// # Safety
///
/// `d` must be NULL or a domain C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_barrier(d: *mut RawDomain) -> c_int {
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    match unsafe { domain(d, c"kds_async_barrier") } {
        Some(d) => match d.barrier() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        None => EINVAL.to_errno(),
    }
}

/// C: `void kds_async_synchronize(struct kds_async_domain *d)`.
///
/// # Safety
///
/// `d` must be NULL or a domain C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_synchronize(d: *mut RawDomain) {
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    if let Some(d) = unsafe { domain(d, c"kds_async_synchronize") } {
        let c = d.next_cookie();
        synchronize_blamed(&d, c, c"kds_async_synchronize");
    }
}

/// C: `void kds_async_synchronize_cookie(struct kds_async_domain *d,
/// u64 cookie)`.
///
/// # Safety
///
/// `d` must be NULL or a domain C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_synchronize_cookie(d: *mut RawDomain, cookie: u64) {
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    if let Some(d) = unsafe { domain(d, c"kds_async_synchronize_cookie") } {
        synchronize_blamed(&d, cookie, c"kds_async_synchronize_cookie");
    }
}

/// [`Domain::synchronize_cookie`], which prints what it waits for once
/// when it has waited `kds.blame_ms`.
fn synchronize_blamed(d: &Domain, cookie: u64, func: &CStr) {
    d.synchronize_cookie(cookie, crate::capi::blame_jiffies(), |d, cookie| {
        let (func, ms) = crate::capi::BlameSplit::what(func);
        crate::debug::blame_with(format_args!("{}: waited {} ms", func, ms), |t| {
            d.describe_wait(cookie, t, GFP_KERNEL)
        });
    });
}

/// C: `struct kds_async_graph *kds_async_graph_create(gfp_t gfp)`.
#[no_mangle]
pub(crate) extern "C" fn kds_async_graph_create(gfp: gfp_t) -> *mut RawGraph {
    let gfp = Gfp::new(gfp);
    match Resolver::new(gfp.flags()) {
        // SAFETY: The graph stays pinned: C only hands the pointer back.
        Ok(g) => KBox::into_raw(unsafe { Pin::into_inner_unchecked(g) }).cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Borrows a graph from C, or reports misuse by `func`.
///
/// # Safety
///
/// `g` must be NULL or a graph from `kds_async_graph_create()` not yet
/// destroyed.
unsafe fn graph<'a>(g: *mut RawGraph, func: &CStr) -> Option<&'a Resolver> {
    if g.is_null() {
        misuse(Misuse::Null, func);
        return None;
    }
    // SAFETY: Function safety requirement.
    Some(unsafe { &*g.cast::<Resolver>() })
}

/// C: `int kds_async_graph_add(struct kds_async_graph *g, const char *name,
/// kds_async_func_t fn, void *data, const char *depends)`.
///
/// # Safety
///
/// `g` as for [`graph`]; `name` and `depends` NULL or valid C strings.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_graph_add(
    g: *mut RawGraph,
    name: *const c_char,
    func: Option<AsyncFn>,
    data: *mut c_void,
    depends: *const c_char,
) -> c_int {
    const FUNC: &CStr = c"kds_async_graph_add";
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    let Some(g) = (unsafe { graph(g, FUNC) }) else {
        return EINVAL.to_errno();
    };
    let (Some(func), false) = (func, name.is_null()) else {
        misuse(Misuse::Null, FUNC);
        return EINVAL.to_errno();
    };
    // SAFETY: `name` is a valid C string (function safety requirement).
    let name = unsafe { CStr::from_char_ptr(name) };
    let depends = if depends.is_null() {
        c""
    } else {
        // SAFETY: As above.
        unsafe { CStr::from_char_ptr(depends) }
    };
    match g.add(name, func, data, depends) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C: `int kds_async_graph_run(struct kds_async_graph *g,
/// struct kds_async_domain *d)`.
///
/// # Safety
///
/// `g` as for [`graph`]; `d` NULL or a domain C holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_graph_run(g: *mut RawGraph, d: *mut RawDomain) -> c_int {
    const FUNC: &CStr = c"kds_async_graph_run";
    kernel::task::might_sleep();
    // SAFETY: Function safety requirement.
    let (Some(g), Some(d)) = (unsafe { graph(g, FUNC) }, unsafe { domain(d, FUNC) }) else {
        return EINVAL.to_errno();
    };
    match g.run(&Arc::from(d)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C: `void kds_async_graph_destroy(struct kds_async_graph *g)`.
///
/// # Safety
///
/// `g` must be NULL or a graph from `kds_async_graph_create()`, which C
/// gives up.
#[no_mangle]
pub(crate) unsafe extern "C" fn kds_async_graph_destroy(g: *mut RawGraph) {
    if !g.is_null() {
        // SAFETY: `g` came from `KBox::into_raw` in `kds_async_graph_create`.
        drop(unsafe { KBox::from_raw(g.cast::<Resolver>()) });
    }
}

/// C: `void kds_async_domain_set_name(struct kds_async_domain *d, const char *fmt, ...)`,
/// after `c/kds_exports.c` formatted the name.
///
/// # Safety
///
/// `d` as for the other domain functions (NULL: the default domain);
/// `name` a C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_async_domain_set_name(
    d: *mut RawDomain,
    name: *const c_char,
) {
    // SAFETY: Function safety requirement.
    if let Some(d) = unsafe { domain(d, c"kds_async_domain_set_name") } {
        // SAFETY: `name` is a C string (function safety requirement).
        d.set_name(unsafe { CStr::from_char_ptr(name) }.to_bytes());
    }
}

/// C: `void kds_async_work_set_name(struct kds_async_work *w, const char *fmt, ...)`,
/// after `c/kds_exports.c` formatted the name.
///
/// # Safety
///
/// `w` as for the other work functions; `name` a C string.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kds_async_work_set_name(w: *mut RawWork, name: *const c_char) {
    // SAFETY: Function safety requirement.
    if let Some(w) = unsafe { work(w, c"kds_async_work_set_name") } {
        // SAFETY: `name` is a C string (function safety requirement).
        w.set_name(unsafe { CStr::from_char_ptr(name) }.to_bytes());
    }
}
