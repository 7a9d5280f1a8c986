// SPDX-License-Identifier: GPL-2.0

//! The C half of `kds.ko`, as seen from Rust.
//!
//! `kds_exports.c` (declared in `kds_internal.h`) provides these functions.
//! Their prototypes are repeated here by hand; keep the two in sync.

use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

extern "C" {
    fn kds_c_init() -> c_int;
}

/// Runs the C side's load-time checks of the ABI between the Rust core and
/// `include/kds.h`.
pub(crate) fn init() -> Result {
    // SAFETY: `kds_c_init` takes no arguments, touches no Rust state and may
    // be called from any sleepable context, such as module init.
    to_result(unsafe { kds_c_init() })
}
