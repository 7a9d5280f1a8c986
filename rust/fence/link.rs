// SPDX-License-Identifier: GPL-2.0

//! Links: one fence awaiting another, on the awaited fence's list of
//! waiters.
//!
//! A link's memory is kds's own (allocated by [`Link::new`]) or the
//! caller's (`struct kds_fence_link`, [`Link::borrowed`]): code in reclaim
//! paths cannot allocate, which is why `dma_fence_array_init()` and i915's
//! caller-provided wait entries exist. A caller's link is kds's from the
//! await until the waiter is done, and kds never touches it after that:
//! [`Link::into_parts`] reads everything out of it before the waiter's
//! count drops, and a waiter that the drop makes done is not published
//! done (so its caller cannot reuse the link) until kds has let go of it
//! ([`Spare::relink`], then `into_parts` again before it is published).

use super::Fence;
use core::ptr::{self, NonNull};
use kernel::alloc::Flags;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// `struct kds_fence_link` as `include/kds.h` lays it out: three words.
#[repr(C)]
pub(crate) struct RawLink {
    next: *mut RawLink,
    /// A reference to the waiter, from [`Arc::into_raw`].
    waiter: *const Fence,
    /// [`INHERIT`] and [`OWNED`].
    flags: usize,
}

const _: () = assert!(core::mem::size_of::<RawLink>() == 3 * core::mem::size_of::<usize>());
const _: () = assert!(core::mem::align_of::<RawLink>() == core::mem::align_of::<usize>());

/// The waiter inherits the awaited fence's error.
const INHERIT: usize = 1;
/// kds allocated the link ([`Link::new`]); it frees it.
const OWNED: usize = 2;

/// A link on no list.
///
/// # Invariants
///
/// `raw` points to an initialised [`RawLink`] that nothing else uses while
/// this exists; its `waiter` is an [`Arc<Fence>`] reference that this
/// owns. With [`OWNED`] in its flags, the memory came from
/// [`KBox::into_raw`] and is this link's too.
pub(crate) struct Link {
    raw: NonNull<RawLink>,
}

// SAFETY: A `Link` owns an `Arc<Fence>` (which is `Send`) and memory that
// nothing else uses meanwhile; nothing in it is tied to a thread.
unsafe impl Send for Link {}

impl Link {
    /// A link of kds's own, allocated with `flags`.
    pub(crate) fn new(waiter: Arc<Fence>, inherit: bool, flags: Flags) -> Result<Link> {
        let raw = KBox::into_raw(KBox::new(
            RawLink {
                next: ptr::null_mut(),
                waiter: ptr::null(),
                flags: OWNED | usize::from(inherit),
            },
            flags,
        )?);
        // SAFETY: `raw` is the allocation just made, valid and ours.
        unsafe { (*raw).waiter = Arc::into_raw(waiter) };
        // INVARIANT: initialised, owned (`OWNED`, from `KBox::into_raw`),
        // and holding the reference just converted.
        Ok(Link {
            // SAFETY: `KBox::into_raw` never returns NULL.
            raw: unsafe { NonNull::new_unchecked(raw) },
        })
    }

    /// A link in the caller's memory `raw`.
    ///
    /// # Safety
    ///
    /// `raw` must be valid for reads and writes of a [`RawLink`], and
    /// nobody but kds may use it until `waiter` is done (published done:
    /// see the module documentation), or until the link is dropped or
    /// given up with [`Link::into_parts`] before it was put on a list.
    pub(crate) unsafe fn borrowed(
        raw: NonNull<RawLink>,
        waiter: Arc<Fence>,
        inherit: bool,
    ) -> Link {
        // SAFETY: `raw` is valid for writes (function safety requirement).
        unsafe {
            raw.as_ptr().write(RawLink {
                next: ptr::null_mut(),
                waiter: Arc::into_raw(waiter),
                flags: usize::from(inherit),
            })
        };
        // INVARIANT: initialised, not `OWNED`, holding the reference; only
        // kds uses it meanwhile (function safety requirement).
        Link { raw }
    }

    fn raw(&self) -> &RawLink {
        // SAFETY: `raw` is valid and initialised, and only this link uses
        // it (type invariant).
        unsafe { self.raw.as_ref() }
    }

    /// Gives the link up: returns the waiter's reference, whether it
    /// inherits errors, and the memory, which is freed when the [`Spare`]
    /// is dropped if it is kds's. Everything is read here, so that nothing
    /// touches a caller's link after the waiter's count drops.
    pub(crate) fn into_parts(self) -> (Arc<Fence>, bool, Spare) {
        let this = core::mem::ManuallyDrop::new(self);
        let RawLink { waiter, flags, .. } = *this.raw();
        // SAFETY: `waiter` came from `Arc::into_raw` and this link owned it
        // (type invariant); `this` is not dropped, so it is taken once.
        let waiter = unsafe { Arc::from_raw(waiter) };
        (
            waiter,
            flags & INHERIT != 0,
            Spare {
                raw: this.raw,
                owned: flags & OWNED != 0,
            },
        )
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let this = Link { raw: self.raw };
        // `into_parts` drops the reference and, with the `Spare`, kds's
        // own memory; `self` is not used after this.
        drop(this.into_parts());
    }
}

/// The memory of a link given up by [`Link::into_parts`]: freed on drop if
/// it is kds's, left alone if it is the caller's.
pub(crate) struct Spare {
    raw: NonNull<RawLink>,
    owned: bool,
}

impl Spare {
    /// Makes a link of this memory again, for `waiter`.
    ///
    /// # Safety
    ///
    /// For a caller's link, `waiter` must be the fence it was given for,
    /// not yet published done, and kept from being published done by
    /// anyone else (its pending count was brought to 0 by the caller of
    /// this function): the caller of `kds_fence_await_fence_link()` then
    /// cannot have taken the link back.
    pub(crate) unsafe fn relink(self, waiter: Arc<Fence>, inherit: bool) -> Link {
        let this = core::mem::ManuallyDrop::new(self);
        let flags = usize::from(inherit) | if this.owned { OWNED } else { 0 };
        // SAFETY: kds's own memory is still allocated (a `Spare` frees it
        // only when dropped, and `this` is not), and a caller's is still
        // kds's (function safety requirement).
        unsafe {
            this.raw.as_ptr().write(RawLink {
                next: ptr::null_mut(),
                waiter: Arc::into_raw(waiter),
                flags,
            })
        };
        // INVARIANT: initialised, holding the reference just converted,
        // `OWNED` exactly when the memory is kds's.
        Link { raw: this.raw }
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: kds's own memory, from `KBox::into_raw` (`Link`'s
            // invariant), which nothing refers to any more.
            drop(unsafe { KBox::from_raw(self.raw.as_ptr()) });
        }
    }
}

/// A singly linked list of [`Link`]s, freed without recursion.
///
/// # Invariants
///
/// `head` is NULL or the first of a chain, through `next`, of links that
/// the list owns as [`Link`]s.
pub(crate) struct LinkList {
    head: *mut RawLink,
}

// SAFETY: The list owns its links, which are `Send`.
unsafe impl Send for LinkList {}

impl LinkList {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        LinkList {
            head: ptr::null_mut(),
        }
    }

    /// Whether the list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Puts `link` first.
    pub(crate) fn push(&mut self, link: Link) {
        let link = core::mem::ManuallyDrop::new(link);
        // SAFETY: The link is valid and ours (`Link`'s invariant).
        unsafe { (*link.raw.as_ptr()).next = self.head };
        // INVARIANT: the list now owns the link, and its chain goes on
        // with the previous one.
        self.head = link.raw.as_ptr();
    }

    /// Takes the first link off.
    pub(crate) fn pop(&mut self) -> Option<Link> {
        let raw = NonNull::new(self.head)?;
        // SAFETY: `raw` is a link the list owns (type invariant).
        self.head = unsafe { (*raw.as_ptr()).next };
        // INVARIANT: the link is off the list, owned by the `Link` alone.
        Some(Link { raw })
    }

    /// Takes every link, leaving the list empty.
    pub(crate) fn take(&mut self) -> LinkList {
        LinkList {
            head: core::mem::replace(&mut self.head, ptr::null_mut()),
        }
    }

    /// The waiters on the list, first to last, as references of their
    /// own.
    pub(crate) fn waiter_arcs(&self) -> impl Iterator<Item = Arc<Fence>> + '_ {
        let mut cur = self.head;
        core::iter::from_fn(move || {
            let raw = NonNull::new(cur)?;
            // SAFETY: `raw` is a link the list owns (type invariant), so
            // valid while the list is borrowed; its waiter is a reference
            // from `Arc::into_raw` that the link holds, so it may be
            // borrowed, and the borrow cloned, meanwhile.
            unsafe {
                cur = (*raw.as_ptr()).next;
                Some(ArcBorrow::from_raw((*raw.as_ptr()).waiter).into())
            }
        })
    }

    /// The waiters on the list, first to last.
    pub(crate) fn waiters(&self) -> impl Iterator<Item = &Fence> {
        let mut cur = self.head;
        core::iter::from_fn(move || {
            let raw = NonNull::new(cur)?;
            // SAFETY: `raw` is a link the list owns (type invariant), so
            // valid while the list is borrowed; its waiter is a reference
            // the link holds.
            unsafe {
                cur = (*raw.as_ptr()).next;
                Some(&*(*raw.as_ptr()).waiter)
            }
        })
    }
}

impl Drop for LinkList {
    fn drop(&mut self) {
        while let Some(link) = self.pop() {
            drop(link);
        }
    }
}
