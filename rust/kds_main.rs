// SPDX-License-Identifier: GPL-2.0

//! kds: kernel dependency primitives.
//!
//! The crate root of `kds.ko`: one Rust crate plus the C files in `c/`.
//! The crate has three layers, and each file belongs to one:
//!
//! - **The core**, safe Rust apart from a few documented exceptions (a C
//!   caller's callback nodes, pointers and data, which it stores and hands
//!   back): [`fence`] (fences, N:M completion) with [`fence::order`]
//!   (cycle detection), [`fence::timer`] and [`fence::dma`] (hrtimer and
//!   `dma_fence` sources); [`resource`] (resource sets); [`domain`] (async
//!   work) with [`domain::resolver`] (the named-graph resolver); and
//!   [`misuse`], the warnings it shares with the edge. The core uses
//!   `kernel::` and [`sys`] only, and never calls a `kds_*` export.
//! - **Kernel abstractions**, [`sys`]: one facility per file (raw
//!   spinlocks, C lists, `dma_fence`, an `Arc`-owning hrtimer, the current
//!   task, module references, workqueues), each of which could be posted
//!   upstream on its own.
//! - **The C API edge**, [`capi`]: the `#[no_mangle]` functions of
//!   `include/kds.h`, their pointer checks and the `gfp_t` mapping. It
//!   calls only the core.
//!
//! [`ffi`] holds every C declaration and C function type the crate uses.
//! `c/kds_exports.c` exports the edge's functions with `EXPORT_SYMBOL_GPL`;
//! `Documentation/development.rst` describes the layout.

use kernel::prelude::*;

mod capi;
mod debug;
mod domain;
mod fence;
mod ffi;
mod misuse;
mod name;
mod resource;
mod sys;

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
        capi::init()?;
        fence::init();
        resource::init();
        if let Err(e) = capi::work::init() {
            capi::exit();
            fence::exit();
            return Err(e);
        }
        capi::live_enable(true);
        capi::debugfs_enable(true);
        pr_info!(
            "version {} loaded\n",
            capi::version::STRING.to_str().unwrap_or("?")
        );
        Ok(Kds)
    }
}

impl Drop for Kds {
    fn drop(&mut self) {
        capi::debugfs_enable(false);
        capi::live_enable(false);
        // Waits for the default domain's work, then for workers sleeping on
        // behalf of fences.
        capi::work::exit();
        capi::exit();
        fence::exit();
        pr_info!("unloaded\n");
    }
}
