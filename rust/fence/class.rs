// SPDX-License-Identifier: GPL-2.0

//! Fence classes (`struct kds_fence_class`): what a fence is for.
//!
//! A class is a name, a lockdep map ([`WaitMap`]) and whether it is
//! *bounded*: whether its fences may back a `dma_fence`. Waits on a
//! fence acquire its class's map; the code that completes a fence runs in
//! a signalling section of it (see [`crate::fence::Signalling`]). The
//! classes live in C memory (drivers' statics, or kds's own defaults in
//! `c/kds_classes.c`) and outlive the fences that point to them.

use crate::sys::lockdep::WaitMap;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::ffi::{c_char, c_uint};
use kernel::prelude::*;
use kernel::types::Opaque;

/// `KDS_CLASS_BOUNDED`.
const BOUNDED: c_uint = 1;

/// `struct kds_fence_class`, laid out as in `include/kds.h`.
#[repr(C)]
pub(crate) struct RawClass {
    name: *const c_char,
    flags: c_uint,
    map: Opaque<bindings::lockdep_map>,
}

/// Size and offset of the map of [`RawClass`], which the C API edge
/// checks against `struct kds_fence_class` at load time.
pub(crate) const RAW_LAYOUT: [usize; 2] = [
    core::mem::size_of::<RawClass>(),
    core::mem::offset_of!(RawClass, map),
];

/// kds's own classes, by [`Builtin`], set once at module init.
static BUILTIN: [AtomicPtr<RawClass>; 3] = [const { AtomicPtr::new(core::ptr::null_mut()) }; 3];

/// A fence class.
///
/// # Invariants
///
/// `0` points to an initialised `struct kds_fence_class` whose name is a
/// valid C string, which outlives every fence, set and domain using it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class(NonNull<RawClass>);

// SAFETY: A class is read-only once set up; its map is lockdep's.
unsafe impl Send for Class {}
// SAFETY: As above.
unsafe impl Sync for Class {}

/// kds's own classes (`kds_default_class()`).
#[derive(Clone, Copy)]
pub(crate) enum Builtin {
    /// `kds_fence_create()`'s: "kds_fence".
    Fence = 0,
    /// Resource sets': "kds_resource_set".
    Set = 1,
    /// Async domains' and `kds_async_work_create()`'s: "kds_async".
    Async = 2,
}

impl Class {
    /// Makes `class` kds's own class `which`; the C API edge calls this
    /// at module init, before anything uses that class.
    pub(crate) fn set_builtin(which: Builtin, class: Class) {
        BUILTIN[which as usize].store(class.0.as_ptr(), Ordering::Release);
    }

    /// One of kds's own classes.
    pub(crate) fn builtin(which: Builtin) -> Class {
        let p = BUILTIN[which as usize].load(Ordering::Acquire);
        // INVARIANT: `set_builtin` stored a class (the type's invariant
        // held for it), static in kds.ko, which outlives everything of kds.
        Class(NonNull::new(p).expect("kds's classes are set at module init"))
    }

    /// A driver's class, or `None` for NULL.
    ///
    /// # Safety
    ///
    /// `p` must be NULL or point to a class set up as `include/kds.h` says
    /// that outlives everything the caller makes with it.
    pub(crate) unsafe fn from_raw(p: *mut RawClass) -> Option<Class> {
        // INVARIANT: The caller's promise.
        NonNull::new(p).map(Class)
    }

    /// The class's name.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: The class is alive and its name a C string (invariant).
        let name = unsafe { (*self.0.as_ptr()).name };
        if name.is_null() {
            return c"(unnamed)";
        }
        // SAFETY: As above.
        unsafe { CStr::from_char_ptr(name) }
    }

    /// Whether the class was declared bounded (`KDS_CLASS_BOUNDED`).
    pub(crate) fn bounded(&self) -> bool {
        // SAFETY: The class is alive (type invariant).
        unsafe { (*self.0.as_ptr()).flags & BOUNDED != 0 }
    }

    /// The class's lockdep map.
    pub(crate) fn map(&self) -> WaitMap {
        // SAFETY: The class is alive (type invariant), so is its map,
        // which `include/kds.h`'s macros initialise.
        unsafe {
            WaitMap::from_raw(NonNull::new_unchecked(Opaque::cast_into(
                &raw const (*self.0.as_ptr()).map,
            )))
        }
    }
}
