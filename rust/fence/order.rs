// SPDX-License-Identifier: GPL-2.0

//! Cycle detection for fences that await fences: an online topological order.
//!
//! The fence-on-fence edges that could be on a cycle (see
//! `crate::fence::Fence::await_edge`) are in one global graph, whose nodes
//! are the fences they join; an edge `s -> w` says that waiter `w` awaits
//! signaler `s`. The graph keeps a topological order of its nodes as a list
//! with 64-bit labels, so that `label(s) < label(w)` for every edge.
//!
//! Adding an edge `s -> w`:
//!
//! - `label(s) < label(w)`: the order already proves that `w` cannot reach
//!   `s`, so there is no cycle, and the edge is added in O(1). This is the
//!   common case: a fence created after the fences it awaits.
//! - otherwise a two-way search runs in lockstep, one edge per side per
//!   round, forward from `w` through waiters whose label is below
//!   `label(s)`, and backward from `s` through signalers whose label is
//!   above `label(w)`. Labels grow along every
//!   path, so no other node can be on a path from `w` to `s`. The searches
//!   meeting, or reaching the other end, is a cycle. The first search to run
//!   out of nodes proves there is none; the nodes it visited then move, in
//!   their order, to just past the other end (after `s`, or before `w`), and
//!   the order holds again.
//!
//! The cost of an insertion is therefore O(1) when the order agrees, and
//! otherwise proportional to the nodes and edges explored by the side that
//! finishes first, plus an amortised O(log n) for labels.
//! Moving a lone fence in front of a long chain, or making a new fence await
//! a long chain, costs O(1) either way. See `Documentation/fences.rst`.
//!
//! This is the two-way search of Haeupler, Kavitha, Mathew, Sen and Tarjan
//! ("Incremental cycle detection, topological ordering, and strong component
//! maintenance", 2012) over a labelled order-maintenance list (Bender et
//! al., "Two simplified algorithms for maintaining order in a list", 2002).
//!
//! The graph stores indices, not pointers: nodes and edges live in two
//! vectors with free lists, so that this file is safe Rust and the search
//! needs no allocation. The owner of the graph serialises all access (a
//! global raw spinlock, [`crate::fence::GRAPH`]).

use kernel::alloc::{flags::GFP_NOWAIT, Flags, KVVec};
use kernel::prelude::*;

/// Index of a node.
pub(crate) type NodeId = u32;

/// "No node" / "no edge" / end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// Label distance between consecutive nodes appended to the order.
const GAP: u64 = 1 << 32;

/// `DENSITY[i]`: at most this many nodes (plus the one to insert) may share
/// an aligned range of 2^i labels that [`Order::make_room`] respaces:
/// floor((2/T)^i) with T = 1.4, so the allowed density (1/T)^i falls as
/// ranges grow; 2^64 labels then hold about 8 * 10^9 nodes, more than a
/// `u32` index can name.
const DENSITY: [u64; 64] = {
    let mut t = [0u64; 64];
    // (10/7)^i in 64.64 fixed point.
    let mut x: u128 = 1 << 64;
    let mut i = 0;
    while i < 64 {
        t[i] = (x >> 64) as u64;
        x = x * 10 / 7;
        i += 1;
    }
    t
};

#[derive(Clone, Copy)]
struct Node {
    /// Position in the topological order.
    label: u64,
    /// Order list; `next` also links the free list.
    prev: u32,
    next: u32,
    /// First edge to a waiter of this node.
    out_head: u32,
    /// First edge from a signaler this node awaits.
    in_head: u32,
    /// Search epoch in which this node was last visited, and by which side.
    mark: u32,
    forward: bool,
    /// Search stack, then the list of nodes to move.
    link: u32,
    live: bool,
}

#[derive(Clone, Copy)]
struct Edge {
    from: u32,
    to: u32,
    next_out: u32,
    prev_out: u32,
    next_in: u32,
    prev_in: u32,
    /// `next_out` also links the free list.
    live: bool,
}

const DEAD_NODE: Node = Node {
    label: 0,
    prev: NIL,
    next: NIL,
    out_head: NIL,
    in_head: NIL,
    mark: 0,
    forward: false,
    link: NIL,
    live: false,
};

const DEAD_EDGE: Edge = Edge {
    from: NIL,
    to: NIL,
    next_out: NIL,
    prev_out: NIL,
    next_in: NIL,
    prev_in: NIL,
    live: false,
};

/// A slot of a [`Pool`]: dead slots link the free list through one field.
trait Slot: Copy {
    /// A dead slot whose free-list link is `next`.
    fn dead(next: u32) -> Self;
    /// The free-list link of a dead slot.
    fn next_free(&self) -> u32;
}

impl Slot for Node {
    fn dead(next: u32) -> Self {
        Node { next, ..DEAD_NODE }
    }
    fn next_free(&self) -> u32 {
        self.next
    }
}

impl Slot for Edge {
    fn dead(next_out: u32) -> Self {
        Edge {
            next_out,
            ..DEAD_EDGE
        }
    }
    fn next_free(&self) -> u32 {
        self.next_out
    }
}

/// A vector of slots named by `u32` indices, with a free list; it grows
/// only through [`Pool::adopt`], so that the caller can allocate unlocked.
struct Pool<T: Slot> {
    items: KVVec<T>,
    free: u32,
    nr_free: usize,
}

impl<T: Slot> Pool<T> {
    const fn new() -> Self {
        Pool {
            items: KVVec::new(),
            free: NIL,
            nr_free: 0,
        }
    }

    /// The capacity to allocate so that `need` more slots fit, or 0 if
    /// they fit already.
    fn want(&self, need: usize) -> usize {
        let len = self.items.len();
        if self.nr_free + (self.items.capacity() - len) >= need {
            0
        } else {
            (len + need).max(len * 2).max(16)
        }
    }

    /// Moves the slots into `v` if it is bigger; returns the vector that is
    /// no longer used, to be freed once unlocked.
    fn adopt(&mut self, v: Option<KVVec<T>>) -> Option<KVVec<T>> {
        let mut v = v?;
        if v.capacity() > self.items.capacity()
            && v.extend_from_slice(&self.items, GFP_NOWAIT).is_ok()
        {
            core::mem::swap(&mut v, &mut self.items);
        }
        Some(v)
    }

    /// Takes a slot, fills it with `item`, and returns its index.
    fn alloc(&mut self, item: T) -> Result<u32> {
        let id = if self.free != NIL {
            let id = self.free;
            self.free = self.items[id as usize].next_free();
            self.nr_free -= 1;
            id
        } else {
            let id = u32::try_from(self.items.len()).map_err(|_| ENOMEM)?;
            if id == NIL {
                return Err(ENOMEM);
            }
            self.items
                .push_within_capacity(T::dead(NIL))
                .map_err(|_| ENOMEM)?;
            id
        };
        self.items[id as usize] = item;
        Ok(id)
    }

    /// Returns a slot to the free list.
    fn release(&mut self, id: u32) {
        self.items[id as usize] = T::dead(self.free);
        self.free = id;
        self.nr_free += 1;
    }
}

/// Outcome of [`Order::add_edge`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// The edge is in the graph, with this id (for [`Order::remove_edge`]).
    Added(u32),
    /// The edge would close a cycle; the graph is unchanged.
    Cycle,
}

/// Counters for tests, benchmarks and debugfs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Stats {
    /// Nodes and edges the last [`Order::add_edge`] visited (0 when the
    /// order agreed).
    pub(crate) last_visited: u32,
    /// Nodes moved in the order, in total.
    pub(crate) moved: u64,
    /// Labels rewritten to make room, in total.
    pub(crate) relabelled: u64,
    /// Cycles refused, in total.
    pub(crate) cycles: u64,
}

/// One side of the two-way search: nodes to expand (`stack`), the node
/// being expanded and its next edge, and the nodes fully expanded (`done`);
/// the lists are threaded through [`Node::link`].
struct Search {
    stack: u32,
    cur: u32,
    edge: u32,
    done: u32,
}

impl Search {
    fn new(start: u32) -> Self {
        Search {
            stack: start,
            cur: NIL,
            edge: NIL,
            done: NIL,
        }
    }
}

/// What one step of a search found.
enum Step {
    Going,
    Meet,
    Exhausted,
}

/// Room a caller needs before it takes the lock: see [`Order::shortfall`].
pub(crate) struct Growth {
    nodes: Option<KVVec<Node>>,
    edges: Option<KVVec<Edge>>,
}

/// The dependency graph of pending fences.
///
/// # Invariants
///
/// - The live nodes form one doubly linked list from `first` to `last`,
///   with strictly increasing labels.
/// - For every live edge, both ends are live and `label(from) < label(to)`;
///   the edge is on the `out` list of `from` and the `in` list of `to`.
/// - Dead nodes and edges are on their free lists, and only there.
pub(crate) struct Order {
    nodes: Pool<Node>,
    edges: Pool<Edge>,
    first: u32,
    last: u32,
    epoch: u32,
    live_nodes: usize,
    live_edges: usize,
    stats: Stats,
}

impl Order {
    /// An empty graph; allocates nothing.
    pub(crate) const fn new() -> Self {
        // INVARIANT: no live node or edge; empty lists.
        Order {
            nodes: Pool::new(),
            edges: Pool::new(),
            first: NIL,
            last: NIL,
            epoch: 0,
            live_nodes: 0,
            live_edges: 0,
            stats: Stats {
                last_visited: 0,
                moved: 0,
                relabelled: 0,
                cycles: 0,
            },
        }
    }

    /// Number of live nodes and edges.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.live_nodes, self.live_edges)
    }

    /// The counters.
    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether `nodes` more nodes and `edges` more edges fit without
    /// allocating. If not, returns the capacities to allocate, unlocked, with
    /// [`Growth::alloc`], and to hand to [`Order::grow`].
    pub(crate) fn shortfall(&self, nodes: usize, edges: usize) -> Option<(usize, usize)> {
        let want = (self.nodes.want(nodes), self.edges.want(edges));
        (want != (0, 0)).then_some(want)
    }

    /// Takes bigger vectors allocated by [`Growth::alloc`]; returns the
    /// vectors they replace, to be freed once the lock is dropped (freeing
    /// `vmalloc` memory may sleep).
    pub(crate) fn grow(&mut self, g: Growth) -> Growth {
        Growth {
            nodes: self.nodes.adopt(g.nodes),
            edges: self.edges.adopt(g.edges),
        }
    }

    /// Frees everything; returns the vectors to free once unlocked.
    pub(crate) fn take_all(&mut self) -> Growth {
        let old = core::mem::replace(self, Order::new());
        Growth {
            nodes: Some(old.nodes.items),
            edges: Some(old.edges.items),
        }
    }

    fn node(&self, n: u32) -> &Node {
        &self.nodes.items[n as usize]
    }

    fn node_mut(&mut self, n: u32) -> &mut Node {
        &mut self.nodes.items[n as usize]
    }

    fn edge(&self, e: u32) -> &Edge {
        &self.edges.items[e as usize]
    }

    fn edge_mut(&mut self, e: u32) -> &mut Edge {
        &mut self.edges.items[e as usize]
    }

    /// Adds a node at the end of the order (after every other node).
    ///
    /// Needs room for one node (see [`Order::shortfall`]); `ENOMEM` otherwise.
    pub(crate) fn add_node(&mut self) -> Result<NodeId> {
        let id = self.nodes.alloc(Node {
            live: true,
            ..DEAD_NODE
        })?;
        self.insert_after(self.last, id);
        self.live_nodes += 1;
        Ok(id)
    }

    /// Removes a node and every edge to or from it.
    pub(crate) fn remove_node(&mut self, id: NodeId) {
        if (id as usize) >= self.nodes.items.len() || !self.node(id).live {
            return;
        }
        while self.node(id).out_head != NIL {
            let e = self.node(id).out_head;
            self.remove_edge(e);
        }
        while self.node(id).in_head != NIL {
            let e = self.node(id).in_head;
            self.remove_edge(e);
        }
        self.unlink_order(id);
        self.nodes.release(id);
        self.live_nodes -= 1;
    }

    /// Counts a cycle refused before the graph was asked (a fence awaiting
    /// itself is caught without a node).
    pub(crate) fn count_cycle(&mut self) {
        self.stats.cycles += 1;
    }

    /// Removes one edge.
    pub(crate) fn remove_edge(&mut self, e: u32) {
        let Edge {
            from,
            to,
            next_out,
            prev_out,
            next_in,
            prev_in,
            ..
        } = *self.edge(e);
        if prev_out == NIL {
            self.node_mut(from).out_head = next_out;
        } else {
            self.edge_mut(prev_out).next_out = next_out;
        }
        if next_out != NIL {
            self.edge_mut(next_out).prev_out = prev_out;
        }
        if prev_in == NIL {
            self.node_mut(to).in_head = next_in;
        } else {
            self.edge_mut(prev_in).next_in = next_in;
        }
        if next_in != NIL {
            self.edge_mut(next_in).prev_in = prev_in;
        }
        self.edges.release(e);
        self.live_edges -= 1;
    }

    /// Removes the `n` edges added last out of `id` (the front of its list).
    pub(crate) fn remove_out_edges(&mut self, id: NodeId, n: usize) {
        for _ in 0..n {
            let e = self.node(id).out_head;
            if e == NIL {
                return;
            }
            self.remove_edge(e);
        }
    }

    /// Adds the edge `signaler -> waiter` unless it closes a cycle.
    ///
    /// Needs room for one edge (see [`Order::shortfall`]); `ENOMEM` otherwise.
    pub(crate) fn add_edge(&mut self, signaler: NodeId, waiter: NodeId) -> Result<Insert> {
        self.stats.last_visited = 0;
        if signaler == waiter {
            self.stats.cycles += 1;
            return Ok(Insert::Cycle);
        }
        if self.node(signaler).label > self.node(waiter).label && self.reorder(signaler, waiter) {
            self.stats.cycles += 1;
            return Ok(Insert::Cycle);
        }
        let out = self.node(signaler).out_head;
        let inn = self.node(waiter).in_head;
        let e = self.edges.alloc(Edge {
            from: signaler,
            to: waiter,
            next_out: out,
            prev_out: NIL,
            next_in: inn,
            prev_in: NIL,
            live: true,
        })?;
        if out != NIL {
            self.edge_mut(out).prev_out = e;
        }
        if inn != NIL {
            self.edge_mut(inn).prev_in = e;
        }
        self.node_mut(signaler).out_head = e;
        self.node_mut(waiter).in_head = e;
        self.live_edges += 1;
        Ok(Insert::Added(e))
    }

    /// Whether `from` reaches `to` through edges (for tests and debugfs; the
    /// insertion path never needs a full search).
    pub(crate) fn reaches(&mut self, from: NodeId, to: NodeId) -> bool {
        self.new_epoch();
        let epoch = self.epoch;
        let mut stack = from;
        self.node_mut(from).mark = epoch;
        self.node_mut(from).link = NIL;
        while stack != NIL {
            let n = stack;
            if n == to {
                return true;
            }
            stack = self.node(n).link;
            let mut e = self.node(n).out_head;
            while e != NIL {
                let t = self.edge(e).to;
                if self.node(t).mark != epoch {
                    self.node_mut(t).mark = epoch;
                    self.node_mut(t).link = stack;
                    stack = t;
                }
                e = self.edge(e).next_out;
            }
        }
        false
    }

    fn new_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Marks from 2^32 searches ago could collide: clear them.
            for n in self.nodes.items.iter_mut() {
                n.mark = 0;
            }
            self.epoch = 1;
        }
    }

    /// The two-way search for an edge `s -> w` with `label(s) > label(w)`.
    /// Returns `true` for a cycle (graph unchanged); otherwise fixes the
    /// order so that `label(s) < label(w)`.
    ///
    /// The two searches advance one edge each per round, so the work is
    /// bounded by the edges and nodes of the side that finishes first, even
    /// when the other side starts at a node with thousands of edges.
    fn reorder(&mut self, s: u32, w: u32) -> bool {
        self.new_epoch();
        let epoch = self.epoch;
        let (lo, hi) = (self.node(w).label, self.node(s).label);
        let mut fwd = Search::new(w);
        let mut back = Search::new(s);
        self.mark(w, epoch, true, NIL);
        self.mark(s, epoch, false, NIL);
        let mut visited = 2u32;

        let found = loop {
            match self.step(&mut fwd, true, hi, epoch, &mut visited) {
                Step::Meet => break true,
                Step::Exhausted => {
                    // Everything w reaches below `hi` is in `done`: move it
                    // after s.
                    self.move_after(s, fwd.done);
                    break false;
                }
                Step::Going => {}
            }
            match self.step(&mut back, false, lo, epoch, &mut visited) {
                Step::Meet => break true,
                Step::Exhausted => {
                    self.move_before(w, back.done);
                    break false;
                }
                Step::Going => {}
            }
        };
        self.stats.last_visited = visited;
        found
    }

    /// Advances one side of [`Order::reorder`] by one edge: forward along
    /// waiters with labels up to `bound`, or backward along signalers with
    /// labels from `bound`.
    fn step(
        &mut self,
        side: &mut Search,
        forward: bool,
        bound: u64,
        epoch: u32,
        visited: &mut u32,
    ) -> Step {
        if side.edge == NIL {
            // The current node is fully expanded: it is done.
            if side.cur != NIL {
                self.node_mut(side.cur).link = side.done;
                side.done = side.cur;
                side.cur = NIL;
            }
            if side.stack == NIL {
                return Step::Exhausted;
            }
            side.cur = side.stack;
            side.stack = self.node(side.cur).link;
            side.edge = if forward {
                self.node(side.cur).out_head
            } else {
                self.node(side.cur).in_head
            };
            return Step::Going;
        }
        let e = *self.edge(side.edge);
        let (n, beyond) = if forward {
            side.edge = e.next_out;
            (e.to, self.node(e.to).label > bound)
        } else {
            side.edge = e.next_in;
            (e.from, self.node(e.from).label < bound)
        };
        *visited += 1;
        if beyond {
            // Labels grow along every path: nothing past the bound leads
            // to the other end.
            return Step::Going;
        }
        if self.node(n).mark == epoch {
            // Seen by the other side: it reaches (or is reached from) the
            // other end, so the new edge would close a cycle.
            return if self.node(n).forward != forward {
                Step::Meet
            } else {
                Step::Going
            };
        }
        self.mark(n, epoch, forward, side.stack);
        side.stack = n;
        Step::Going
    }

    fn mark(&mut self, n: u32, epoch: u32, forward: bool, link: u32) {
        let node = self.node_mut(n);
        node.mark = epoch;
        node.forward = forward;
        node.link = link;
    }

    /// Moves the nodes of the `link` list `set` (all with labels below
    /// `label(anchor)`) to just after `anchor`, keeping their order.
    fn move_after(&mut self, anchor: u32, set: u32) {
        let mut n = self.sort_by_label(set);
        let mut at = anchor;
        while n != NIL {
            let next = self.node(n).link;
            self.unlink_order(n);
            self.insert_after(at, n);
            at = n;
            n = next;
        }
    }

    /// Moves the nodes of the `link` list `set` (all with labels above
    /// `label(anchor)`) to just before `anchor`, keeping their order.
    fn move_before(&mut self, anchor: u32, set: u32) {
        let mut n = self.sort_by_label(set);
        while n != NIL {
            let next = self.node(n).link;
            self.unlink_order(n);
            self.insert_after(self.node(anchor).prev, n);
            n = next;
        }
    }

    /// Sorts a `link` list by ascending label (merge sort, no allocation).
    fn sort_by_label(&mut self, list: u32) -> u32 {
        let mut len = 0usize;
        let mut n = list;
        while n != NIL {
            len += 1;
            n = self.node(n).link;
        }
        self.stats.moved += len as u64;
        self.merge_sort(list, len)
    }

    fn merge_sort(&mut self, list: u32, len: usize) -> u32 {
        if len <= 1 {
            if list != NIL {
                self.node_mut(list).link = NIL;
            }
            return list;
        }
        // Split after len / 2 nodes.
        let half = len / 2;
        let mut tail = list;
        for _ in 1..half {
            tail = self.node(tail).link;
        }
        let second = self.node(tail).link;
        self.node_mut(tail).link = NIL;
        let a = self.merge_sort(list, half);
        let b = self.merge_sort(second, len - half);
        self.merge(a, b)
    }

    fn merge(&mut self, mut a: u32, mut b: u32) -> u32 {
        let mut head = NIL;
        let mut tail = NIL;
        while a != NIL || b != NIL {
            let take_a = b == NIL || (a != NIL && self.node(a).label < self.node(b).label);
            let n = if take_a { a } else { b };
            if take_a {
                a = self.node(a).link;
            } else {
                b = self.node(b).link;
            }
            self.node_mut(n).link = NIL;
            if tail == NIL {
                head = n;
            } else {
                self.node_mut(tail).link = n;
            }
            tail = n;
        }
        head
    }

    fn unlink_order(&mut self, n: u32) {
        let Node { prev, next, .. } = *self.node(n);
        if prev == NIL {
            self.first = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.last = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    /// Label and successor of the position after `at` (`NIL`: the front,
    /// which has the virtual label 0; no node has label 0).
    fn gap_after(&self, at: u32) -> (u64, u64, u32) {
        let (lo, next) = if at == NIL {
            (0, self.first)
        } else {
            (self.node(at).label, self.node(at).next)
        };
        let hi = if next == NIL {
            lo.saturating_add(2 * GAP)
        } else {
            self.node(next).label
        };
        (lo, hi, next)
    }

    /// Inserts `n` right after `at` (`NIL`: at the front), making room if
    /// needed.
    fn insert_after(&mut self, at: u32, n: u32) {
        let (mut lo, mut hi, mut next) = self.gap_after(at);
        if hi - lo < 2 {
            self.make_room(at);
            (lo, hi, next) = self.gap_after(at);
        }
        if hi - lo < 2 {
            // At the top of the label space `make_room` can leave the last
            // node at `u64::MAX - 1`, where no label fits after it (the
            // new node would share its label, and the search would accept
            // a cycle). Relabelling everything spaces the labels `GAP`
            // apart from `GAP` on, far below the top (fewer than 2^32
            // nodes).
            self.relabel_all();
            (lo, hi, next) = self.gap_after(at);
        }
        let node = self.node_mut(n);
        node.label = lo + (hi - lo) / 2;
        node.prev = at;
        node.next = next;
        if at == NIL {
            self.first = n;
        } else {
            self.node_mut(at).next = n;
        }
        if next == NIL {
            self.last = n;
        } else {
            self.node_mut(next).prev = n;
        }
    }

    /// Spreads the labels around the position after `at` (`NIL`: the front)
    /// so that a label fits there: finds the smallest aligned label range
    /// of 2^i labels around it that holds fewer than [`DENSITY`]`[i]` nodes
    /// and spaces them evenly. As in Bender et al., the allowed density
    /// falls as ranges grow, which makes this amortised O(log n) per
    /// insertion whatever the insertion pattern.
    fn make_room(&mut self, at: u32) {
        let label = if at == NIL { 0 } else { self.node(at).label };
        for bits in 1..64u32 {
            let size = 1u64 << bits;
            let base = label & !(size - 1);
            let end = base + (size - 1);
            // The nodes of the range, walking both ways from `at`.
            let (mut start, mut count, mut n) = if at == NIL {
                (self.first, 0u64, self.first)
            } else {
                (at, 1u64, self.node(at).next)
            };
            while at != NIL
                && self.node(start).prev != NIL
                && self.node(self.node(start).prev).label >= base
            {
                start = self.node(start).prev;
                count += 1;
            }
            while n != NIL && self.node(n).label <= end {
                count += 1;
                n = self.node(n).next;
            }
            if count + 1 > DENSITY[bits as usize] {
                continue;
            }
            // (`saturating_add`: never 0, so no division-by-zero panic path,
            // which objtool does not know as a dead end.)
            let step = size / count.saturating_add(1);
            // The k-th label is `base + k * step` < `base + size`, which
            // fits even in the topmost range (a running sum's last step
            // would overflow there).
            let mut n = start;
            for k in 1..=count {
                self.node_mut(n).label = base + k * step;
                n = self.node(n).next;
            }
            self.stats.relabelled += count;
            return;
        }
        self.relabel_all();
    }

    fn relabel_all(&mut self) {
        let mut n = self.first;
        let mut l = GAP;
        while n != NIL {
            self.node_mut(n).label = l;
            l += GAP;
            self.stats.relabelled += 1;
            n = self.node(n).next;
        }
    }

    /// Checks the invariants (for tests; O(n + m)).
    pub(crate) fn check(&self) -> bool {
        let mut n = self.first;
        let mut prev = NIL;
        let mut count = 0;
        while n != NIL {
            let node = self.node(n);
            if !node.live || node.prev != prev {
                return false;
            }
            if prev != NIL && self.node(prev).label >= node.label {
                return false;
            }
            count += 1;
            prev = n;
            n = node.next;
        }
        if prev != self.last || count != self.live_nodes {
            return false;
        }
        let mut edges = 0;
        for e in self.edges.items.iter().filter(|e| e.live) {
            if !self.node(e.from).live || !self.node(e.to).live {
                return false;
            }
            if self.node(e.from).label >= self.node(e.to).label {
                return false;
            }
            edges += 1;
        }
        edges == self.live_edges
    }
}

impl Growth {
    /// The bytes [`Growth::alloc`] allocates for `want`, in its largest
    /// vector: above a page, `kvmalloc()` may fall back to `vmalloc()`.
    pub(crate) fn largest_bytes(want: (usize, usize)) -> usize {
        (want.0 * core::mem::size_of::<Node>()).max(want.1 * core::mem::size_of::<Edge>())
    }

    /// Gives up the vectors without freeing them: their buffers, which
    /// `kvmalloc()` allocated (NULL for none), and which hold plain data
    /// with nothing to drop. The caller frees them.
    pub(crate) fn into_buffers(mut self) -> [*mut u8; 2] {
        let n = self
            .nodes
            .take()
            .map_or(core::ptr::null_mut(), |v| v.into_raw_parts().0.cast::<u8>());
        let e = self
            .edges
            .take()
            .map_or(core::ptr::null_mut(), |v| v.into_raw_parts().0.cast::<u8>());
        [n, e]
    }

    /// Allocates the capacities [`Order::shortfall`] asked for, unlocked.
    pub(crate) fn alloc(want: (usize, usize), gfp: Flags) -> Result<Self> {
        let nodes = match want.0 {
            0 => None,
            n => Some(KVVec::with_capacity(n, gfp)?),
        };
        let edges = match want.1 {
            0 => None,
            n => Some(KVVec::with_capacity(n, gfp)?),
        };
        Ok(Growth { nodes, edges })
    }
}

#[kunit_tests(kds_graph)]
mod tests {
    /// A node appended after one labelled `u64::MAX - 1` (reachable after
    /// about 2^32 appends while one node stays alive) gets a label of its
    /// own: the labels stay strictly increasing.
    #[test]
    fn appending_at_the_top_of_the_label_space() {
        let (mut g, ids) = graph_with(3);
        let last = ids[2];
        g.node_mut(last).label = u64::MAX - 1;
        room(&mut g, 1, 0);
        let n = g.add_node().expect("node");
        assert!(g.check());
        assert!(g.node(n).label > g.node(last).label);
        assert!(g.node(n).label < u64::MAX);
    }

    use super::*;
    use kernel::alloc::flags::GFP_KERNEL;

    fn room(g: &mut Order, nodes: usize, edges: usize) {
        if let Some(want) = g.shortfall(nodes, edges) {
            let grown = Growth::alloc(want, GFP_KERNEL).expect("alloc");
            drop(g.grow(grown));
        }
        assert!(g.shortfall(nodes, edges).is_none());
    }

    fn added(r: Result<Insert>) -> bool {
        matches!(r, Ok(Insert::Added(_)))
    }

    fn graph_with(n: usize) -> (Order, KVec<NodeId>) {
        let mut g = Order::new();
        room(&mut g, n, 4 * n);
        let mut ids = KVec::new();
        for _ in 0..n {
            ids.push(g.add_node().unwrap(), GFP_KERNEL).unwrap();
        }
        (g, ids)
    }

    #[test]
    fn forward_edges_need_no_search() {
        let (mut g, v) = graph_with(3);
        assert!(added(g.add_edge(v[0], v[1])));
        assert_eq!(g.stats().last_visited, 0);
        assert!(added(g.add_edge(v[1], v[2])));
        assert!(g.reaches(v[0], v[2]));
        assert!(g.check());
    }

    #[test]
    fn cycles_are_refused_and_change_nothing() {
        let (mut g, v) = graph_with(3);
        assert_eq!(g.add_edge(v[0], v[0]), Ok(Insert::Cycle));
        assert!(added(g.add_edge(v[0], v[1])));
        assert_eq!(g.add_edge(v[1], v[0]), Ok(Insert::Cycle));
        assert!(added(g.add_edge(v[1], v[2])));
        assert_eq!(g.add_edge(v[2], v[0]), Ok(Insert::Cycle));
        assert_eq!(g.size(), (3, 2));
        assert_eq!(g.stats().cycles, 3);
        assert!(g.check());
    }

    #[test]
    fn reverse_edges_reorder() {
        // Edges against creation order: each needs the search.
        let (mut g, v) = graph_with(4);
        assert!(added(g.add_edge(v[3], v[2])));
        assert!(added(g.add_edge(v[2], v[1])));
        assert!(added(g.add_edge(v[1], v[0])));
        assert!(g.check());
        assert!(g.reaches(v[3], v[0]));
        assert_eq!(g.add_edge(v[0], v[3]), Ok(Insert::Cycle));
        // A diamond is fine.
        assert!(added(g.add_edge(v[3], v[1])));
        assert!(g.check());
    }

    #[test]
    fn long_chains_cost_o1_per_edge() {
        const N: usize = 4096;
        // Built backwards: every edge goes against the order, but the
        // signaler is always alone, so the backward search ends at once.
        let (mut g, v) = graph_with(N + 2);
        let mut worst = 0;
        for i in (0..N - 1).rev() {
            assert!(added(g.add_edge(v[i + 1], v[i])));
            worst = worst.max(g.stats().last_visited);
        }
        pr_info!(
            "kds_graph: reverse-built {}-chain: worst search visited {} nodes\n",
            N,
            worst
        );
        assert!(worst <= 4);
        assert!(g.check());
        // A new fence awaiting the chain's end; the chain's head awaiting a
        // new fence: both O(1).
        assert!(added(g.add_edge(v[0], v[N])));
        assert!(g.stats().last_visited <= 4);
        assert!(added(g.add_edge(v[N + 1], v[N - 1])));
        assert!(g.stats().last_visited <= 4);
        // Closing the loop is found.
        assert_eq!(g.add_edge(v[N], v[N + 1]), Ok(Insert::Cycle));
        assert!(g.check());
    }

    #[test]
    fn wide_fan_out_costs_o1() {
        // One fence awaited by 4096 others, which then awaits a new fence:
        // the new fence has no signalers, so the search must stop at once
        // rather than walk the 4096 waiters.
        const N: usize = 4096;
        let (mut g, v) = graph_with(N + 2);
        for i in 1..=N {
            assert!(added(g.add_edge(v[0], v[i])));
        }
        assert!(added(g.add_edge(v[N + 1], v[0])));
        let visited = g.stats().last_visited;
        pr_info!(
            "kds_graph: {}-wide fan-out awaiting a new fence: visited {}\n",
            N,
            visited
        );
        assert!(visited <= 4);
        assert!(g.check());
        assert_eq!(g.add_edge(v[N], v[N + 1]), Ok(Insert::Cycle));
    }

    #[test]
    fn removal_keeps_the_order() {
        let (mut g, v) = graph_with(5);
        for i in 0..4 {
            assert!(added(g.add_edge(v[i], v[i + 1])));
        }
        g.remove_node(v[2]);
        assert_eq!(g.size(), (4, 2));
        assert!(!g.reaches(v[0], v[4]));
        // With v[2] gone, v[4] -> v[0] closes no cycle.
        assert!(added(g.add_edge(v[4], v[0])));
        assert!(g.check());
        for &id in [v[0], v[1], v[3], v[4]].iter() {
            g.remove_node(id);
        }
        assert_eq!(g.size(), (0, 0));
        assert!(g.check());
    }

    #[test]
    fn repeated_front_insertion_relabels() {
        // Many insertions at the front of the order: labels must stay
        // ordered, and making room must not cost O(n) each time.
        const N: usize = 4096;
        let (mut g, v) = graph_with(N);
        for i in 1..N {
            // v[i] must come before v[0]... before v[i-1]: always just before v[i-1].
            assert!(added(g.add_edge(v[i], v[i - 1])));
        }
        assert!(g.check());
        assert!(g.reaches(v[N - 1], v[0]));
        let per_insert = g.stats().relabelled / N as u64;
        pr_info!(
            "kds_graph: {} front insertions: {} labels rewritten per insertion\n",
            N,
            per_insert
        );
        assert!(per_insert < 64);
    }
}
