// SPDX-License-Identifier: GPL-2.0

//! The misuse table: the ways a C caller can misuse the API, each warned
//! once (`WARN_ONCE()` in `c/kds_exports.c`, which KUnit's warning
//! suppression understands).
//!
//! The C API edge reports most misuse, when it checks arguments. The core
//! reports the misuse it alone can see, later: a fence completed more
//! often than it awaited (found while propagating), a pending fence
//! released with waiters, a resource terminated while sets are queued.

use crate::ffi::kds_misuse;
use kernel::ffi::c_uint;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// Ways a C caller can misuse the API. Each warns once (`WARN_ONCE`) in
/// `c/kds_exports.c`; the numbers are shared with it.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Misuse {
    /// A NULL pointer where an object is required.
    Null = 0,
    /// A pointer that is not to a live kds object of the expected type.
    BadObject = 1,
    /// An event added to a fence that is already done.
    AwaitDone = 2,
    /// More events completed than awaited.
    OverComplete = 3,
    /// An error that is not a negative errno.
    BadError = 4,
    /// An error set on a fence that is already done.
    ErrorAfterDone = 5,
    /// The last reference to a pending fence with waiters was dropped.
    ReleasedPending = 6,
    /// A callback without a function.
    NoCallback = 7,
    /// An argument outside what the function accepts (e.g. a clock).
    BadArgument = 8,
    /// The same resource twice in one resource set.
    Duplicate = 9,
    /// A resource terminated while resource sets are queued on it.
    Busy = 10,
    /// A work item queued (or changed) after it was queued.
    Requeue = 11,
    /// An event or error added to a fence that kds completes itself.
    Internal = 12,
}

/// Reports API misuse by a caller of `func`: a `WARN_ONCE` per kind.
pub(crate) fn misuse(kind: Misuse, func: &CStr) {
    // SAFETY: `func` is a valid NUL-terminated string; `kds_misuse` only
    // prints it.
    unsafe { kds_misuse(kind as c_uint, func.as_char_ptr()) }
}
