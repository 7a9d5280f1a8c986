// SPDX-License-Identifier: GPL-2.0

//! kds: kernel dependency primitives.
//!
//! The crate root of `kds.ko`. The module is one Rust crate plus one C file
//! (`kds_exports.c`) that exports the `#[no_mangle]` functions of this crate
//! with `EXPORT_SYMBOL_GPL` and holds C helpers for static inline kernel
//! functions. Each concept lives in its own file below `rust/`:
//!
//! - [`version`]: the module's version, as seen from C.
//! - [`cglue`]: declarations of the functions `kds_exports.c` provides.
//! - [`rawlock`]: `raw_spinlock_t` locks, safe in hard IRQ context.
//! - [`graph`]: cycle detection for fences awaiting fences.
//! - [`fence`]: fences (N:M completion), and [`fence_capi`], their C API.
//! - [`dma_fence`]: `dma_fence` and `dma_resv` for Rust; [`dma_wait`]:
//!   fences awaiting them.
//! - [`timer`]: fences awaiting an hrtimer.
//! - [`resource`]: resource sets (KDS), and [`resource_capi`], their C API.
//! - [`async_domain`]: async work with dependencies, [`async_graph`]: the
//!   graph resolver, and [`async_capi`], their C API.

use kernel::prelude::*;

mod async_capi;
mod async_domain;
mod async_graph;
mod cglue;
mod dma_fence;
mod dma_wait;
mod fence;
mod fence_capi;
mod ffi;
mod graph;
mod queues;
mod rawlock;
mod resource;
mod resource_capi;
mod timer;
mod version;

module! {
    type: Kds,
    name: "kds",
    authors: ["The kds authors"],
    description: "kds: fences, resource sets and async domains for drivers",
    license: "GPL",
}

struct Kds;

impl kernel::Module for Kds {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        cglue::init()?;
        fence::init();
        resource::init();
        if let Err(e) = async_capi::init() {
            cglue::exit();
            fence::exit();
            return Err(e);
        }
        cglue::live_enable(true);
        pr_info!(
            "version {} loaded\n",
            version::STRING.to_str().unwrap_or("?")
        );
        Ok(Kds)
    }
}

impl Drop for Kds {
    fn drop(&mut self) {
        cglue::live_enable(false);
        // Waits for the default domain's work, then for workers sleeping on
        // behalf of fences.
        async_capi::exit();
        cglue::exit();
        fence::exit();
        pr_info!("unloaded\n");
    }
}
