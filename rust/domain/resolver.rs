// SPDX-License-Identifier: GPL-2.0

//! The async graph resolver: runs a named dependency graph in a domain.
//!
//! Nodes are added with a name, a function and a comma-separated list of
//! the names they depend on. [`Resolver::run`] checks the whole graph before
//! anything runs: an unknown name fails with `ENOENT`, a cycle with
//! `EDEADLK` (its names are logged). It then makes one [`AsyncWork`] per
//! node, put after the work of each of its dependencies, queues them all in
//! a stable topological order (Kahn's algorithm, ties broken by insertion
//! order), and waits until every node has run. Each node runs as soon as
//! its dependencies have; in a deterministic domain the queue order is also
//! the run order, one node at a time.

use crate::domain::{AsyncFn, AsyncWork, Domain};
use crate::fence::Fence;
use kernel::alloc::flags::GFP_KERNEL;
use kernel::alloc::Flags;
use kernel::ffi::{c_long, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// The most nodes in one graph.
pub(crate) const MAX_NODES: usize = 4096;

/// One node as added.
struct Node {
    name: KVec<u8>,
    func: AsyncFn,
    data: *mut c_void,
    depends: KVec<u8>,
}

/// A graph of named nodes.
#[pin_data]
pub(crate) struct Resolver {
    #[pin]
    nodes: Mutex<KVec<Node>>,
}

// SAFETY: `data` pointers are the driver's, handed back to its functions as
// documented; the rest is lock-protected.
unsafe impl Send for Resolver {}
// SAFETY: As above.
unsafe impl Sync for Resolver {}

/// Copies a byte string with `flags`.
fn copy(b: &[u8], flags: Flags) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(b.len(), flags)?;
    v.extend_from_slice(b, flags)?;
    Ok(v)
}

/// The names in a comma-separated list, trimmed of blanks; empty ones are
/// skipped.
fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == b',')
        .map(|n| n.trim_ascii())
        .filter(|n| !n.is_empty())
}

/// A name for messages.
fn show(name: &[u8]) -> &str {
    core::str::from_utf8(name).unwrap_or("?")
}

impl Resolver {
    /// An empty graph.
    pub(crate) fn new(flags: Flags) -> Result<Pin<KBox<Resolver>>> {
        KBox::pin_init(
            pin_init!(Resolver {
                nodes <- kernel::new_mutex!(KVec::new(), "kds_async_graph"),
            }),
            flags,
        )
    }

    /// Adds a node. Fails with `EINVAL` for an empty name or one with a
    /// comma, `EEXIST` for a name already there, `ENOSPC` past
    /// [`MAX_NODES`], `ENOMEM`.
    pub(crate) fn add(
        &self,
        name: &CStr,
        func: AsyncFn,
        data: *mut c_void,
        depends: &CStr,
    ) -> Result {
        let name = name.to_bytes().trim_ascii();
        if name.is_empty() || name.contains(&b',') {
            return Err(EINVAL);
        }
        let node = Node {
            name: copy(name, GFP_KERNEL)?,
            func,
            data,
            depends: copy(depends.to_bytes(), GFP_KERNEL)?,
        };
        let mut nodes = self.nodes.lock();
        if nodes.iter().any(|n| n.name.as_slice() == name) {
            return Err(EEXIST);
        }
        if nodes.len() >= MAX_NODES {
            return Err(ENOSPC);
        }
        nodes.push(node, GFP_KERNEL)?;
        Ok(())
    }

    /// Runs the graph in `d` and waits until every node has run.
    pub(crate) fn run(&self, d: &Arc<Domain>) -> Result {
        let nodes = self.nodes.lock();
        let n = nodes.len();
        // Dependencies, by index.
        let mut deps: KVec<KVec<usize>> = KVec::with_capacity(n, GFP_KERNEL)?;
        for node in nodes.iter() {
            let mut v = KVec::new();
            for dep in names(&node.depends) {
                match nodes.iter().position(|m| m.name.as_slice() == dep) {
                    Some(i) => v.push(i, GFP_KERNEL)?,
                    None => {
                        pr_err!(
                            "{}: graph: '{}' depends on '{}', which is not in the graph\n",
                            d.name(),
                            show(&node.name),
                            show(dep)
                        );
                        return Err(ENOENT);
                    }
                }
            }
            deps.push(v, GFP_KERNEL)?;
        }
        let order = Self::order(&d.name(), &nodes, &deps)?;

        // Everything is allocated before anything is queued: on failure,
        // the items are dropped unqueued and nothing runs.
        let mut works: KVec<Arc<AsyncWork>> = KVec::with_capacity(n, GFP_KERNEL)?;
        for node in nodes.iter() {
            let w = AsyncWork::new(node.func, node.data, d.class(), GFP_KERNEL)?;
            // Named after its node, for the debugfs files and blame.
            w.set_name(&node.name);
            works.push(w, GFP_KERNEL)?;
        }
        for (i, ds) in deps.iter().enumerate() {
            for &j in ds.iter() {
                works[i].after(works[j].done().ok_or(EINVAL)?, GFP_KERNEL)?;
            }
        }
        let mut dones: KVec<Arc<Fence>> = KVec::with_capacity(n, GFP_KERNEL)?;
        for w in works.iter() {
            // `AsyncWork::new` made every item here: each has its done fence.
            dones.push(w.done().ok_or(EINVAL)?.clone(), GFP_KERNEL)?;
        }
        for &i in order.iter() {
            AsyncWork::queue(&works[i], d)?;
        }
        drop(nodes);
        for f in dones.iter() {
            f.wait_timeout(false, c_long::MAX);
        }
        // A node that did not run (its order behind the domain's barrier
        // or previous item could not be kept: no memory) says so.
        match dones.iter().map(|f| f.status()).find(|&s| s < 0) {
            Some(e) => Err(Error::from_errno(e)),
            None => Ok(()),
        }
    }

    /// A stable topological order: Kahn's algorithm, always taking the
    /// ready node added first. Fails with `EDEADLK` on a cycle, after
    /// logging one.
    fn order(
        domain: &crate::name::NameStr,
        nodes: &[Node],
        deps: &[KVec<usize>],
    ) -> Result<KVec<usize>> {
        let n = nodes.len();
        // How many dependencies of each node are not yet in the order.
        let mut waiting: KVec<usize> = KVec::with_capacity(n, GFP_KERNEL)?;
        for ds in deps.iter() {
            waiting.push(ds.len(), GFP_KERNEL)?;
        }
        let mut placed: KVec<bool> = KVec::from_elem(false, n, GFP_KERNEL)?;
        let mut order = KVec::with_capacity(n, GFP_KERNEL)?;
        while order.len() < n {
            let Some(next) = (0..n).find(|&i| !placed[i] && waiting[i] == 0) else {
                Self::report_cycle(domain, nodes, deps, &placed);
                return Err(EDEADLK);
            };
            placed[next] = true;
            order.push(next, GFP_KERNEL)?;
            for (i, ds) in deps.iter().enumerate() {
                if !placed[i] {
                    waiting[i] -= ds.iter().filter(|&&j| j == next).count();
                }
            }
        }
        Ok(order)
    }

    /// Logs a cycle among the nodes not placed: each of them has a
    /// dependency that is not placed either, so following those from any
    /// of them must come back to a node already seen.
    fn report_cycle(
        domain: &crate::name::NameStr,
        nodes: &[Node],
        deps: &[KVec<usize>],
        placed: &[bool],
    ) {
        let n = nodes.len();
        let Some(mut at) = (0..n).find(|&i| !placed[i]) else {
            return;
        };
        // Walk n steps: we are then on the cycle.
        for _ in 0..n {
            match deps[at].iter().find(|&&j| !placed[j]) {
                Some(&j) => at = j,
                None => return,
            }
        }
        let start = at;
        pr_err!("{}: graph: dependency cycle:\n", domain);
        loop {
            let next = deps[at]
                .iter()
                .find(|&&j| !placed[j])
                .copied()
                .unwrap_or(start);
            pr_err!(
                "{}: graph:   '{}' depends on '{}'\n",
                domain,
                show(&nodes[at].name),
                show(&nodes[next].name)
            );
            at = next;
            if at == start {
                return;
            }
        }
    }
}
