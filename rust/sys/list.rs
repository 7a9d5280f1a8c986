// SPDX-License-Identifier: GPL-2.0

//! A C `struct list_head` whose entries are C structures: the lists that
//! C callers link their own nodes into (`struct kds_fence_cb`), and lists
//! of entries that live inside a larger object and cannot each be an
//! allocation of their own (a resource set's links).
//!
//! `kernel::list` is the list for Rust-owned items (kds uses it for its
//! own queues). Entries that a C caller allocates and embeds a `list_head`
//! in, and that kds hands back to C, need C's list instead. [`ListHead`]
//! is a pinned head; every operation is C's own (`list_add_tail()`,
//! `list_del_init()`, `list_splice_tail_init()`, `list_empty()`), so
//! `CONFIG_DEBUG_LIST` checks each one.
//!
//! Put the head where its lock's guard gives pinned, exclusive access
//! (`Guard::as_mut()` and a pin projection): the operations on the list as
//! a whole then need `Pin<&mut ListHead>` and are safe. Linking an entry
//! and unlinking a given entry are `unsafe`: the entries are raw C memory
//! that the caller vouches for.
//!
//! # Examples
//!
//! ```ignore
//! // A lock-protected list of C nodes, drained in order without the lock.
//! #[pin_data]
//! struct Waiters {
//!     #[pin]
//!     list: ListHead,
//! }
//!
//! fn drain(w: &SpinLock<Waiters>, mut call: impl FnMut(*mut bindings::list_head)) {
//!     stack_pin_init!(let local = ListHead::new());
//!     w.lock().as_mut().project().list.splice_tail_init(local.as_mut());
//!     while let Some(node) = local.as_mut().pop_front() {
//!         call(node.as_ptr());
//!     }
//! }
//! ```

use crate::ffi::{kds_list_del_init, kds_list_empty, kds_list_splice_tail_init};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// The head of a circular C list.
///
/// # Invariants
///
/// - The `list_head` was initialised by `INIT_LIST_HEAD()` and has not
///   moved since (the type is pinned): it is a valid, circular list.
/// - Every entry on it is valid until it is unlinked ([`ListHead::add_tail`]'s
///   safety requirement).
/// - It is only changed through `Pin<&mut ListHead>`, or by [`del_init`],
///   whose caller holds what protects it: a `&ListHead` sees it stable.
#[repr(transparent)]
#[pin_data]
pub(crate) struct ListHead {
    #[pin]
    head: Opaque<bindings::list_head>,
}

impl ListHead {
    /// An empty list.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(ListHead {
            // SAFETY: `slot` is valid for writes, and `INIT_LIST_HEAD`
            // makes it a valid empty list where it is.
            // INVARIANT: Initialised in place, pinned from now on, empty.
            head <- Opaque::ffi_init(|slot| unsafe { bindings::INIT_LIST_HEAD(slot) }),
        })
    }

    fn as_ptr(&self) -> *mut bindings::list_head {
        self.head.get()
    }

    /// Whether the list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: A valid list, stable while borrowed (type invariants).
        unsafe { kds_list_empty(self.as_ptr()) }
    }

    /// Links `entry` at the tail.
    ///
    /// # Safety
    ///
    /// `entry` is valid, on no list, and stays valid until it is unlinked
    /// (by [`ListHead::pop_front`] or [`del_init`]).
    pub(crate) unsafe fn add_tail(self: Pin<&mut Self>, entry: *mut bindings::list_head) {
        // SAFETY: A valid list that we may change (type invariant, `&mut`);
        // `entry` as required.
        // INVARIANT: `entry` stays valid while linked (safety requirement).
        unsafe { bindings::list_add_tail(entry, self.as_ptr()) }
    }

    /// Moves every entry, in order, to the tail of `to`; `self` is then
    /// empty.
    pub(crate) fn splice_tail_init(self: Pin<&mut Self>, to: Pin<&mut ListHead>) {
        // SAFETY: Two valid lists that we may change (type invariants,
        // `&mut`); their entries are valid.
        unsafe { kds_list_splice_tail_init(self.as_ptr(), to.as_ptr()) }
    }

    /// Unlinks the first entry and returns it, re-initialised as an empty
    /// list (so [`entry_is_linked`] is false for it). The entry was valid
    /// when unlinked; from then on the list no longer vouches for it.
    pub(crate) fn pop_front(self: Pin<&mut Self>) -> Option<NonNull<bindings::list_head>> {
        if self.is_empty() {
            return None;
        }
        // SAFETY: A valid, non-empty list: `next` is a valid entry.
        let first = unsafe { (*self.as_ptr()).next };
        // SAFETY: `first` is on this list, which we may change.
        unsafe { kds_list_del_init(first) };
        // With `CONFIG_DEBUG_LIST`, a corrupted entry is reported and left
        // linked: stop there rather than return it for ever.
        // SAFETY: As above: a valid list.
        if unsafe { (*self.as_ptr()).next } == first {
            return None;
        }
        NonNull::new(first)
    }
}

impl ListHead {
    /// The entries, front to back. The list cannot change while it is
    /// borrowed (type invariant), so each entry is valid while the
    /// iterator lives.
    pub(crate) fn iter(&self) -> Entries<'_> {
        // SAFETY: A valid list (type invariant): `next` is an entry or the
        // head.
        let next = unsafe { (*self.as_ptr()).next };
        Entries { head: self, next }
    }
}

/// The entries of a [`ListHead`], front to back ([`ListHead::iter`]).
pub(crate) struct Entries<'a> {
    head: &'a ListHead,
    next: *mut bindings::list_head,
}

impl Iterator for Entries<'_> {
    type Item = NonNull<bindings::list_head>;

    fn next(&mut self) -> Option<Self::Item> {
        let cur = self.next;
        if cur == self.head.as_ptr() {
            return None;
        }
        // SAFETY: `cur` is an entry of the list, valid and linked while the
        // list is borrowed (type invariants), so its `next` is the next
        // entry or the head.
        self.next = unsafe { (*cur).next };
        NonNull::new(cur)
    }
}

/// Makes `entry` an empty list of its own: on no list, as
/// [`entry_is_linked`] then reports.
///
/// # Safety
///
/// `entry` is valid for writes and on no list (nobody else can reach it).
pub(crate) unsafe fn init_entry(entry: *mut bindings::list_head) {
    // SAFETY: As required of the caller.
    unsafe { bindings::INIT_LIST_HEAD(entry) }
}

/// Unlinks `entry` from its list and re-initialises it as an empty list.
///
/// # Safety
///
/// `entry` is on a valid list, and the caller holds what protects it (the
/// lock whose guard gives `Pin<&mut ListHead>`, or sole ownership).
pub(crate) unsafe fn del_init(entry: *mut bindings::list_head) {
    // SAFETY: As required of the caller.
    unsafe { kds_list_del_init(entry) }
}

/// Whether `entry`, which was linked or initialised as an empty list, is
/// on a list: [`del_init`] and [`ListHead::pop_front`] leave it unlinked.
///
/// # Safety
///
/// `entry` is valid, and the caller holds what protects its list.
pub(crate) unsafe fn entry_is_linked(entry: *mut bindings::list_head) -> bool {
    // SAFETY: As required of the caller.
    !unsafe { kds_list_empty(entry) }
}
