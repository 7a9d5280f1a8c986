// SPDX-License-Identifier: GPL-2.0

//! References to this module (`try_module_get(THIS_MODULE)`).
//!
//! Whatever kds arms that can call back into it later on its own (an
//! hrtimer, a `dma_fence` callback, a sleeping completion waiter) holds a
//! [`ModuleRef`] from arming until it has fired or been cancelled, so that
//! `rmmod kds` fails with `-EBUSY` rather than leave a callback into
//! freed module text.
//!
//! # Examples
//!
//! ```ignore
//! struct Armed { _module: ModuleRef, /* ... */ }
//! let armed = Armed { _module: ModuleRef::new()?, /* ... */ };   // ENODEV while unloading
//! ```

use crate::ffi::{kds_module_get, kds_module_put};
use kernel::prelude::*;

/// A reference to kds.ko, dropped with the value.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    /// Takes a reference; fails with `ENODEV` while kds is being unloaded.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Always safe to call while kds code runs.
        if unsafe { kds_module_get() } {
            Ok(ModuleRef(()))
        } else {
            Err(ENODEV)
        }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: `self` holds the reference `new` took.
        unsafe { kds_module_put() }
    }
}
