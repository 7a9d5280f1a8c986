// SPDX-License-Identifier: GPL-2.0

//! Registries: every live object of a kind, for diagnostics, walked
//! without taking references to the objects.
//!
//! An object embeds a [`Node`] and is added to a [`Registry`] once it is
//! set up; it removes itself before its memory goes, under the lock of the
//! shard it was added to. A reader holds that same lock while it looks at
//! the objects of the shard, so every object it sees is alive, however its
//! references come and go meanwhile: the rule `debugfs` files of the
//! kernel follow with `kref_get_unless_zero()`, without the reference
//! (which Rust's `Arc` cannot take once the count may be 0).
//!
//! A registry has a few shards, each a raw spinlock and a list; an object
//! goes to the shard of the CPU that adds it, so that CPUs adding and
//! removing objects at the same time rarely share a lock. Readers walk in
//! chunks ([`Registry::walk`]): at most `max` objects per lock hold, then
//! the lock is dropped and the walk resumes after the last object seen
//! (objects are numbered in each shard as they are added), so no reader
//! holds a lock for long whatever the number of objects.
//!
//! # Examples
//!
//! ```ignore
//! #[pin_data(PinnedDrop)]
//! struct Thing { node: Node, id: u64 }
//! // SAFETY: `node` is `Thing`'s, at that offset.
//! unsafe impl Entry for Thing { const OFFSET: usize = offset_of!(Thing, node); }
//! registry! { static THINGS: Registry<Thing>, backend ThingsLock,
//!             class c"things", shards [T0, T1]; }
//!
//! unsafe { THINGS.add(&thing) };     // set up: visible to readers
//! THINGS.walk(&mut cursor, 16, |t| pr_info!("{}\n", t.id));
//! unsafe { THINGS.remove(&thing) };  // before `thing` is freed
//! ```

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use kernel::sync::lock::{GlobalLock, GlobalLockBackend};

/// The link of one object in a [`Registry`].
pub(crate) struct Node(UnsafeCell<RawNode>);

struct RawNode {
    prev: *mut RawNode,
    next: *mut RawNode,
    /// The object's number in its shard, increasing in list order.
    seq: u64,
    /// The shard, while linked.
    shard: usize,
    linked: bool,
}

// SAFETY: A node is only read and written with the lock of its shard held.
unsafe impl Send for Node {}
// SAFETY: As above.
unsafe impl Sync for Node {}

impl Node {
    /// A node on no registry.
    pub(crate) const fn new() -> Self {
        Node(UnsafeCell::new(RawNode {
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            seq: 0,
            shard: 0,
            linked: false,
        }))
    }
}

impl Default for Node {
    fn default() -> Self {
        Self::new()
    }
}

/// One shard: a list of nodes, oldest first.
pub(crate) struct Chain {
    head: *mut RawNode,
    tail: *mut RawNode,
    next_seq: u64,
    len: usize,
}

// SAFETY: The nodes a chain points to are only touched with its lock held.
unsafe impl Send for Chain {}

impl Chain {
    /// An empty shard.
    pub(crate) const fn new() -> Self {
        Chain {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            next_seq: 1,
            len: 0,
        }
    }
}

/// A type whose objects embed a [`Node`].
///
/// # Safety
///
/// `OFFSET` is the offset of a [`Node`] field in `Self`.
pub(crate) unsafe trait Entry: Sync {
    /// Where the node is.
    const OFFSET: usize;
}

/// Where a [`Registry::walk`] resumes.
#[derive(Default, Clone, Copy)]
pub(crate) struct Cursor {
    shard: usize,
    seq: u64,
    /// Set when every shard has been walked.
    pub(crate) done: bool,
}

/// A registry of `T`s; see the module documentation.
pub(crate) struct Registry<T: Entry + 'static, B: GlobalLockBackend<Item = Chain> + 'static> {
    shards: &'static [&'static GlobalLock<B>],
    _t: PhantomData<fn(&T)>,
}

impl<T: Entry + 'static, B: GlobalLockBackend<Item = Chain> + 'static> Registry<T, B> {
    /// A registry over `shards` (see [`registry!`]).
    pub(crate) const fn new(shards: &'static [&'static GlobalLock<B>]) -> Self {
        Registry {
            shards,
            _t: PhantomData,
        }
    }

    /// Initialises the shards' locks.
    ///
    /// # Safety
    ///
    /// Call once, from module init, before any other use.
    pub(crate) unsafe fn init(&'static self) {
        for s in self.shards {
            // SAFETY: Once, before any use (function safety requirement).
            unsafe { s.init() };
        }
    }

    fn node(obj: &T) -> *mut RawNode {
        let base: *const T = obj;
        // SAFETY: `OFFSET` is the offset of a `Node` in `T` (trait safety
        // requirement), inside the object `obj` refers to.
        let node = unsafe { &*base.cast::<u8>().add(T::OFFSET).cast::<Node>() };
        node.0.get()
    }

    /// Adds `obj`, on the current CPU's shard.
    ///
    /// # Safety
    ///
    /// `obj`'s node is on no registry, and `obj` stays where it is until
    /// [`Registry::remove`] has returned for it.
    pub(crate) unsafe fn add(&self, obj: &T) {
        let shard = crate::sys::task::this_cpu() % self.shards.len();
        let n = Self::node(obj);
        let mut c = self.shards[shard].lock();
        // SAFETY: `n` is valid (function safety requirement) and only
        // touched under this lock; `tail` is NULL or a linked node, alive
        // because it removes itself under this lock first.
        unsafe {
            (*n).prev = c.tail;
            (*n).next = ptr::null_mut();
            (*n).seq = c.next_seq;
            (*n).shard = shard;
            (*n).linked = true;
            if c.tail.is_null() {
                c.head = n;
            } else {
                (*c.tail).next = n;
            }
        }
        c.tail = n;
        c.next_seq += 1;
        c.len += 1;
    }

    /// Removes `obj` if it was added (and not removed since); after this,
    /// no reader sees it.
    ///
    /// # Safety
    ///
    /// `obj` was only ever added to this registry.
    pub(crate) unsafe fn remove(&self, obj: &T) {
        let n = Self::node(obj);
        // SAFETY: `shard` only changes in `add`, which the caller does not
        // run concurrently for the same object (it is added once, before
        // anyone can remove it).
        let shard = unsafe { (*n).shard };
        let mut c = self.shards[shard].lock();
        // SAFETY: Under the shard's lock; linked neighbours are alive.
        unsafe {
            if !(*n).linked {
                return;
            }
            let (prev, next) = ((*n).prev, (*n).next);
            if prev.is_null() {
                c.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                c.tail = prev;
            } else {
                (*next).prev = prev;
            }
            (*n).linked = false;
        }
        c.len -= 1;
    }

    /// How many objects are registered (a sum over the shards, each read
    /// under its lock).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    /// Calls `f` on up to `max` objects after `cursor`, with one shard's
    /// lock held (`f` must be short, and must not take this registry's
    /// locks), and moves `cursor` past them. Objects added after the walk
    /// started may or may not be seen; each object present all along is
    /// seen exactly once over the calls that take `cursor` to `done`.
    pub(crate) fn walk(&self, cursor: &mut Cursor, max: usize, mut f: impl FnMut(&T)) {
        let mut left = max;
        while !cursor.done && left > 0 {
            let c = self.shards[cursor.shard].lock();
            let mut n = c.head;
            // SAFETY: Under the shard's lock every node on it is linked and
            // its object alive (objects remove themselves under it first).
            unsafe {
                while !n.is_null() && (*n).seq <= cursor.seq {
                    n = (*n).next;
                }
                while !n.is_null() && left > 0 {
                    let obj = &*n.cast::<u8>().sub(T::OFFSET).cast::<T>();
                    f(obj);
                    cursor.seq = (*n).seq;
                    left -= 1;
                    n = (*n).next;
                }
            }
            if n.is_null() {
                drop(c);
                cursor.shard += 1;
                cursor.seq = 0;
                cursor.done = cursor.shard == self.shards.len();
            }
        }
    }
}

/// Declares a [`Registry`] of `$t`, its lock backend `$backend` and its
/// shards (statics named `$shard`); module init must call
/// `$name.init()` once.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        $vis:vis static $name:ident: Registry<$t:ty>, backend $backend:ident,
            class $class:literal, shards [$first:ident $(, $rest:ident)* $(,)?];
    ) => {
        $crate::sys::raw_spinlock::raw_global_lock! {
            $vis static $first: $crate::sys::registry::Chain, backend $backend, class $class
                = $crate::sys::registry::Chain::new();
        }
        $(
            static $rest: kernel::sync::lock::GlobalLock<$backend> =
                // SAFETY: `$backend` is this registry's, and `$name.init()`
                // initialises every shard in module init, before any use.
                unsafe { kernel::sync::lock::GlobalLock::new($crate::sys::registry::Chain::new()) };
        )*
        $(#[$meta])*
        $vis static $name: $crate::sys::registry::Registry<$t, $backend> =
            $crate::sys::registry::Registry::new(&[&$first $(, &$rest)*]);
    };
}
pub(crate) use registry;
