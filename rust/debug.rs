// SPDX-License-Identifier: GPL-2.0

//! Diagnostics: the debugfs files' text and blame.
//!
//! Everything here reads the registries of pending fences, resources and
//! domains ([`crate::sys::registry`]) in chunks of [`CHUNK`] objects: each
//! chunk is copied with one shard's lock held (and each object's own lock,
//! briefly), then written out with no lock held. So a reader never holds a
//! lock for more than a few objects, never keeps an object alive, and
//! sees each object that exists all along exactly once. The output is
//! bounded ([`MAX_OBJECTS`] objects and [`TEXT_BYTES`] bytes per file),
//! and says what it left out.
//!
//! Blame ([`frontier`]) finds the *blocking frontier* of a fence: the
//! pending fences under it (those it awaits, directly or not, and itself)
//! that wait for something other than fences (a source, a counted event),
//! with what each of them waits for; the fences that wait only for fences
//! are just counted. Fences keep
//! only their waiters, so the walk down uses a copy of every edge between
//! pending fences, sorted by waiter: O(E log E) time for E edges, O(E)
//! memory, allocated without reclaim, up to [`MAX_EDGES`] edges; then a
//! depth-first search from the fence, O(V^2 + E) for the V fences under
//! it (the fences seen are kept in a list), and one registry walk per
//! frontier fence printed (at most [`MAX_BLAMED`] + 1). It runs only when asked
//! (debugfs, `kds_fence_blame()`) or when a wait has already lasted
//! `kds.blame_ms`.

use crate::domain;
use crate::fence::{Fence, Kind, Source, FENCES};
use crate::name::NameStr;
use crate::resource;
use crate::sys::fmt::{msecs_since, StackStr, Text};
use crate::sys::registry::Cursor;
use core::fmt::Write;
use kernel::alloc::flags::{GFP_KERNEL, GFP_NOWAIT};
use kernel::alloc::Flags;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Objects copied per lock hold.
pub(crate) const CHUNK: usize = 16;

/// The most objects a debugfs file lists.
pub(crate) const MAX_OBJECTS: usize = 1000;

/// The size of a debugfs file's text.
pub(crate) const TEXT_BYTES: usize = 512 * 1024;

/// The most edges blame copies.
pub(crate) const MAX_EDGES: usize = 1 << 16;

/// The most frontier entries blame lists.
pub(crate) const MAX_BLAMED: usize = 8;

/// Waiters and sources kept per fence in a listing.
const KEEP: usize = 8;

/// A fence, as copied under its locks.
struct FenceCopy {
    id: u64,
    name: NameStr,
    kind: Kind,
    class: StackStr<32>,
    age_ms: u32,
    events: u32,
    fences: u32,
    /// The error it will complete with, set so far (0: none).
    error: i32,
    exported: bool,
    waiters: [u64; KEEP],
    nwaiters: usize,
    sources: KVec<Arc<dyn Source>>,
    nsources: usize,
}

impl FenceCopy {
    /// Copies `f` (with its lock held briefly); `sources` has room for
    /// [`KEEP`] sources, allocated before any lock.
    fn of(f: &Fence, mut sources: KVec<Arc<dyn Source>>) -> FenceCopy {
        let mut class = StackStr::new();
        class.push_bytes(f.class_name().to_bytes());
        let (events, fences) = f.pending_counts();
        let mut c = FenceCopy {
            id: f.id(),
            name: f.name(),
            kind: f.kind(),
            class,
            age_ms: msecs_since(f.born()),
            events,
            fences,
            error: f.error(),
            exported: f.is_exported(),
            waiters: [0; KEEP],
            nwaiters: 0,
            sources: KVec::new(),
            nsources: 0,
        };
        let (mut nw, mut ns) = (0, 0);
        f.inspect(
            |w| {
                if nw < KEEP {
                    c.waiters[nw] = w.id();
                }
                nw += 1;
            },
            |s| {
                if sources.len() < sources.capacity() {
                    let _ = sources.push_within_capacity(s.clone());
                }
                ns += 1;
            },
        );
        c.nwaiters = nw;
        c.nsources = ns;
        c.sources = sources;
        c
    }

    /// One line: id, name, kind and class, age, pending count, state.
    fn head(&self, out: &mut Text) {
        let _ = out.write_fmt(fmt!(
            "fence {} \"{}\" {} class={} age={}ms pending={}+{}f",
            self.id,
            self.name,
            self.kind.label(),
            self.class,
            self.age_ms,
            self.events,
            self.fences
        ));
        if self.error < 0 {
            let _ = out.write_fmt(fmt!(" error={}", self.error));
        }
        if self.exported {
            let _ = out.write_str(" exported");
        }
    }
}

/// Copies up to [`CHUNK`] fences after `cursor`, then calls `each` on them
/// with no lock held.
fn fence_chunks(cursor: &mut Cursor, flags: Flags, mut each: impl FnMut(&FenceCopy)) -> Result {
    // Room for the copies and their sources, allocated before locking.
    let mut room: KVec<KVec<Arc<dyn Source>>> = KVec::with_capacity(CHUNK, flags)?;
    for _ in 0..CHUNK {
        room.push(KVec::with_capacity(KEEP, flags)?, flags)?;
    }
    let mut copies: KVec<FenceCopy> = KVec::with_capacity(CHUNK, flags)?;
    FENCES.walk(cursor, CHUNK, |f| {
        if let Some(r) = room.pop() {
            let _ = copies.push_within_capacity(FenceCopy::of(f, r));
        }
    });
    for c in copies.iter() {
        each(c);
    }
    // The copies' source references go here, with no lock held.
    drop(copies);
    Ok(())
}

/// The `fences` file: every pending fence.
pub(crate) fn fences_text() -> Result<Text> {
    let mut out = Text::with_capacity(TEXT_BYTES, GFP_KERNEL)?;
    let mut cursor = Cursor::default();
    let mut n = 0;
    let _ = out.write_fmt(fmt!(
        "# pending fences: id \"name\" kind class age pending=events+fences\n"
    ));
    while !cursor.done && n < MAX_OBJECTS {
        fence_chunks(&mut cursor, GFP_KERNEL, |c| {
            n += 1;
            c.head(&mut out);
            let _ = out.write_str("\n");
            for s in c.sources.iter() {
                let _ = out.write_str("  source: ");
                s.describe(&mut out);
                let _ = out.write_str("\n");
            }
            if c.nsources > c.sources.len() {
                let _ = out.write_fmt(fmt!(
                    "  source: ... {} more\n",
                    c.nsources - c.sources.len()
                ));
            }
            for w in &c.waiters[..c.nwaiters.min(KEEP)] {
                let _ = out.write_fmt(fmt!("  waiter: fence {}\n", w));
            }
            if c.nwaiters > KEEP {
                let _ = out.write_fmt(fmt!("  waiter: ... {} more\n", c.nwaiters - KEEP));
            }
        })?;
    }
    tail(&mut out, n, FENCES.len(), "fences");
    Ok(out)
}

/// Ends a listing: how many objects were left out or cut.
fn tail(out: &mut Text, shown: usize, total: usize, what: &str) {
    if shown < total {
        let _ = out.write_fmt(fmt!("# ... {} more {} not shown\n", total - shown, what));
    }
    if out.truncated() {
        // Only if it fits: the text was cut because it is full.
        let _ = out.write_str("\n# (cut)\n");
    }
}

/// Writes `s` for DOT: inside double quotes.
fn dot_escaped(out: &mut Text, s: &str) {
    for ch in s.chars() {
        let _ = match ch {
            '"' | '\\' => out.write_fmt(fmt!("\\{}", ch)),
            '\n' => out.write_str("\\n"),
            c => out.write_char(c),
        };
    }
}

/// The `graph.dot` file: pending fences (ellipses), their sources (boxes)
/// and the edges between them, signaler to waiter.
pub(crate) fn graph_text() -> Result<Text> {
    let mut out = Text::with_capacity(TEXT_BYTES, GFP_KERNEL)?;
    let mut cursor = Cursor::default();
    let mut n = 0;
    let _ =
        out.write_str("digraph kds {\n  rankdir=LR;\n  node [fontname=\"sans\" fontsize=10];\n");
    while !cursor.done && n < MAX_OBJECTS {
        fence_chunks(&mut cursor, GFP_KERNEL, |c| {
            n += 1;
            let _ = out.write_fmt(fmt!("  f{} [label=\"", c.id));
            let mut name = StackStr::<128>::new();
            let _ = name.write_fmt(fmt!("{}", c.name));
            dot_escaped(&mut out, name.as_str());
            let exported = if c.exported { " exported" } else { "" };
            let shape = match c.kind {
                Kind::Plain => "",
                Kind::Set => " shape=hexagon",
                _ => " shape=octagon",
            };
            let _ = out.write_fmt(fmt!(
                "\\n{} {} pending {}+{}f{}\"{}];\n",
                c.kind.label(),
                c.id,
                c.events,
                c.fences,
                exported,
                shape
            ));
            for (i, s) in c.sources.iter().enumerate() {
                let mut d = StackStr::<160>::new();
                s.describe(&mut d);
                let _ = out.write_fmt(fmt!("  s{}_{} [shape=box label=\"", c.id, i));
                dot_escaped(&mut out, d.as_str());
                let _ = out.write_fmt(fmt!("\"];\n  s{}_{} -> f{};\n", c.id, i, c.id));
            }
            for w in &c.waiters[..c.nwaiters.min(KEEP)] {
                let _ = out.write_fmt(fmt!("  f{} -> f{};\n", c.id, w));
            }
        })?;
    }
    let total = FENCES.len();
    if n < total {
        let _ = out.write_fmt(fmt!(
            "  more [shape=plaintext label=\"... {} more fences\"];\n",
            total - n
        ));
    }
    let _ = out.write_str("}\n");
    Ok(out)
}

/// The `resources` file.
pub(crate) fn resources_text() -> Result<Text> {
    listing(
        "# resources: each queue in order, holders first\n",
        "resources",
        resource::describe_all,
    )
}

/// The `domains` file.
pub(crate) fn domains_text() -> Result<Text> {
    listing(
        "# async domains: pending work by cookie, barriers\n",
        "domains",
        domain::describe_all,
    )
}

/// A file of `header`, then what `describe` writes of up to
/// [`MAX_OBJECTS`] objects (it returns how many it wrote and how many
/// there are), then the [`tail`].
fn listing(
    header: &str,
    what: &str,
    describe: fn(&mut Text, usize) -> (usize, usize),
) -> Result<Text> {
    let mut out = Text::with_capacity(TEXT_BYTES, GFP_KERNEL)?;
    let _ = out.write_str(header);
    let (shown, total) = describe(&mut out, MAX_OBJECTS);
    tail(&mut out, shown, total, what);
    Ok(out)
}

/// Every edge between pending fences, `(signaler, waiter)`, sorted by
/// waiter, with a loop `(id, id)` for each fence that has events of its
/// own; and whether some were left out ([`MAX_EDGES`]).
fn edges(flags: Flags) -> Result<(KVec<(u64, u64)>, bool)> {
    let mut cap = 1024;
    loop {
        let mut e: KVec<(u64, u64)> = KVec::with_capacity(cap, flags)?;
        let mut full = false;
        let mut cursor = Cursor::default();
        while !cursor.done && !full {
            FENCES.walk(&mut cursor, CHUNK, |f| {
                let id = f.id();
                // A loop marks a fence that waits for events of its own
                // (sources, counted events), not only for fences. A work
                // item's own event is its function, which cannot have
                // started while its gate is pending: it waits through it.
                let (events, fences) = f.pending_counts();
                let own = events > 0 && !(f.kind() == Kind::Work && fences > 0);
                if own && e.push_within_capacity((id, id)).is_err() {
                    full = true;
                }
                f.inspect(
                    |w| {
                        if e.push_within_capacity((id, w.id())).is_err() {
                            full = true;
                        }
                    },
                    |_| {},
                );
            });
        }
        if !full || cap >= MAX_EDGES {
            heap_sort(&mut e, |&(s, w)| (w, s));
            return Ok((e, full));
        }
        cap *= 4;
    }
}

/// Sorts `v` by `key`: heapsort, O(n log n) time, in place, no
/// recursion. (`core`'s sorts end in a panic on an inconsistent order, a
/// call objtool does not know never returns.)
fn heap_sort<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    // Moves `v[root]` down the max-heap `v[..end]`.
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && key(&v[child]) < key(&v[child + 1]) {
            child += 1;
        }
        if key(&v[root]) >= key(&v[child]) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// The fences `id` awaits, from `edges` (sorted by waiter).
fn signalers(edges: &[(u64, u64)], id: u64) -> &[(u64, u64)] {
    let start = edges.partition_point(|&(_, w)| w < id);
    let end = edges.partition_point(|&(_, w)| w <= id);
    &edges[start..end]
}

/// Finds the fence `id` among the pending ones and copies it.
fn find(id: u64, flags: Flags) -> Result<Option<FenceCopy>> {
    let mut cursor = Cursor::default();
    let mut found = None;
    while !cursor.done && found.is_none() {
        let mut room = Some(KVec::with_capacity(KEEP, flags)?);
        FENCES.walk(&mut cursor, CHUNK * 4, |f| {
            if f.id() == id {
                if let Some(r) = room.take() {
                    found = Some(FenceCopy::of(f, r));
                }
            }
        });
    }
    Ok(found)
}

/// Writes the blocking frontier of `f` to `out`, one line per entry (see
/// the module documentation). Allocates with `flags`.
pub(crate) fn frontier(f: &Fence, out: &mut dyn Write, flags: Flags) -> Result {
    if f.is_done() {
        let _ = out.write_str("done\n");
        return Ok(());
    }
    frontier_of(f.id(), &f.name(), out, flags)
}

/// Writes the blocking frontier of the pending fence `id` (or says that
/// there is none).
pub(crate) fn frontier_id(id: u64, out: &mut dyn Write, flags: Flags) -> Result {
    match find(id, flags)? {
        Some(c) => frontier_of(id, &c.name, out, flags),
        None => {
            let _ = out.write_fmt(fmt!("no pending fence {}\n", id));
            Ok(())
        }
    }
}

fn frontier_of(id: u64, name: &NameStr, out: &mut dyn Write, flags: Flags) -> Result {
    let start = id;
    let (edges, cut) = edges(flags)?;
    // Depth-first from `f` up the edges; `seen` holds every fence visited,
    // `leaves` those with events of their own (or, having lost their last
    // fence meanwhile, with nothing left to visit): the frontier. The
    // others, but `f`, are the fences it waits through.
    let mut seen: KVec<u64> = KVec::with_capacity(64, flags)?;
    let mut stack: KVec<u64> = KVec::with_capacity(64, flags)?;
    let mut leaves: KVec<u64> = KVec::with_capacity(MAX_BLAMED, flags)?;
    let (mut nleaves, mut through) = (0, 0);
    stack.push(id, flags)?;
    seen.push(id, flags)?;
    while let Some(id) = stack.pop() {
        let up = signalers(&edges, id);
        if up.is_empty() || up.iter().any(|&(s, _)| s == id) {
            nleaves += 1;
            if leaves.len() < MAX_BLAMED {
                leaves.push(id, flags)?;
            }
        } else if id != start {
            through += 1;
        }
        for &(s, _) in up {
            if !seen.contains(&s) {
                seen.push(s, flags)?;
                stack.push(s, flags)?;
            }
        }
    }
    let plural = if nleaves == 1 { "" } else { "s" };
    let others = if through == 1 { "other" } else { "others" };
    let _ = out.write_fmt(fmt!(
        "fence {} \"{}\" waits for {} fence{} through {} {}:\n",
        start,
        name,
        nleaves,
        plural,
        through,
        others
    ));
    heap_sort(&mut leaves, |&id| id);
    for &id in leaves.iter() {
        let _ = out.write_str("  ");
        match find(id, flags)? {
            None => {
                let _ = out.write_fmt(fmt!("fence {} (done meanwhile)", id));
            }
            Some(c) => blame_line(&c, out),
        }
        let _ = out.write_str("\n");
    }
    if nleaves > leaves.len() {
        let _ = out.write_fmt(fmt!("  ... and {} more\n", nleaves - leaves.len()));
    }
    if cut {
        let _ = out.write_fmt(fmt!("  (only {} edges looked at)\n", MAX_EDGES));
    }
    Ok(())
}

/// What the frontier fence `c` waits for, on one line.
fn blame_line(c: &FenceCopy, out: &mut dyn Write) {
    let _ = out.write_fmt(fmt!("{} {} \"{}\": ", c.kind.label(), c.id, c.name));
    let mut any = false;
    for s in c.sources.iter() {
        if any {
            let _ = out.write_str("; ");
        }
        s.describe(out);
        any = true;
    }
    // Counted events beyond the sources (each source holds one), the
    // setup reference included.
    let counted = (c.events as usize).saturating_sub(c.nsources);
    if counted > 0 {
        if any {
            let _ = out.write_str("; ");
        }
        let plural = if counted == 1 { "" } else { "s" };
        let _ = match c.kind {
            Kind::Plain => out.write_fmt(fmt!(
                "{} counted event{} not completed yet",
                counted,
                plural
            )),
            Kind::Work => out.write_str("its function has not returned"),
            Kind::Epoch => out.write_fmt(fmt!(
                "{} work item{} of its epoch still running",
                counted,
                plural
            )),
            Kind::Gate => out.write_str("not queued yet"),
            Kind::Set => out.write_str("not granted yet"),
        };
    }
}

/// Prints the blocking frontier of `f` in the kernel log, after `what`
/// (for example `kds_fence_wait: waited 10000 ms`). Never sleeps.
pub(crate) fn blame(f: &Fence, what: core::fmt::Arguments<'_>) {
    blame_with(what, |t| frontier(f, t, GFP_NOWAIT));
}

/// [`blame`] for the fence `id` (`/sys/kernel/debug/kds/blame`).
pub(crate) fn blame_id(id: u64, what: core::fmt::Arguments<'_>) {
    blame_with(what, |t| frontier_id(id, t, GFP_NOWAIT));
}

/// Prints, after `what`, the lines `write` writes.
pub(crate) fn blame_with(what: core::fmt::Arguments<'_>, write: impl FnOnce(&mut Text) -> Result) {
    let mut text = match Text::with_capacity(4096, GFP_NOWAIT) {
        Ok(t) => t,
        Err(_) => {
            pr_warn!("{}: (no memory to say what it waits for)\n", what);
            return;
        }
    };
    if write(&mut text).is_err() {
        pr_warn!("{}: (no memory to say what it waits for)\n", what);
        return;
    }
    let mut first = true;
    for line in text.as_bytes().split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let l = core::str::from_utf8(line).unwrap_or("?");
        if first {
            pr_warn!("{}: {}\n", what, l);
            first = false;
        } else {
            pr_warn!("{}\n", l);
        }
    }
}
