/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - kernel dependency primitives: fences, resource sets, async domains.
 *
 * The C API of kds.ko. Link against it by building your module with
 * KBUILD_EXTRA_SYMBOLS pointing at kds's Module.symvers (see README.md).
 *
 * Copyright (C) 2026 The kds authors
 */
#ifndef _KDS_H
#define _KDS_H

#include <linux/bits.h>
#include <linux/dma-resv.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/lockdep_types.h>
#include <linux/spinlock_types.h>
#include <linux/types.h>

struct completion;
struct workqueue_struct;
struct dma_fence;

/**
 * DOC: versioning
 *
 * kds follows the kernel's KERNEL_VERSION() scheme. KDS_VERSION_CODE is the
 * version of the header a driver was built against; kds_version() is the
 * version of the loaded kds.ko. kds.ko refuses to load when the Rust core
 * and its own C glue disagree. Versions follow semantic versioning: while
 * the major version is 0 the C API is not stable yet, and the minor
 * version changes with every incompatible change (0.2 changed the layout
 * of &struct kds_callback and made kds_async_work_fence() return a
 * reference; 0.2.1 added kds_fence_await_fence_link(); 0.3 makes a
 * resource set one allocation and its fence only on demand, so
 * kds_resource_set_fence() can fail with NULL on a live set and allocates
 * on its first call, and sizes &struct kds_resource's private area in
 * bytes, which changes it on 32-bit; 0.4 makes kds_async_barrier() return
 * -ENOMEM and change nothing when it fails, where it used to cancel the
 * work queued after it; 0.5 adds fence classes, makes
 * kds_fence_export_dma_fence() return an ERR_PTR() and refuse fences that
 * may wait indefinitely, adds a class to &struct kds_callback, and makes
 * fences of kds_fence_create() unexportable: their class is not bounded;
 * 0.6 adds names, kds_fence_blame() and debugfs, makes &struct
 * kds_resource larger, and lists resources until kds_resource_term(),
 * which must now come before a resource's memory is freed).
 * So a driver
 * refuses to probe when the module it found is older than its header, or
 * of another minor (major, from 1 on) version::
 *
 *	if (kds_version() < KDS_VERSION_CODE ||
 *	    KDS_VERSION_CODE >> 8 != kds_version() >> 8)
 *		return -ENODEV;
 */
#define KDS_VERSION(a, b, c)	(((a) << 16) + ((b) << 8) + (c))
#define KDS_VERSION_MAJOR	0
#define KDS_VERSION_MINOR	6
#define KDS_VERSION_PATCH	0
#define KDS_VERSION_CODE \
	KDS_VERSION(KDS_VERSION_MAJOR, KDS_VERSION_MINOR, KDS_VERSION_PATCH)

/**
 * kds_version() - Version of the loaded kds module.
 *
 * Context: Any context.
 * Return: The version as KDS_VERSION(major, minor, patch).
 */
u32 kds_version(void);

/**
 * kds_version_string() - Version of the loaded kds module, as text.
 *
 * Context: Any context.
 * Return: A static NUL-terminated string such as "0.1.0"; never NULL.
 */
const char *kds_version_string(void);

/**
 * DOC: fences
 *
 * A &struct kds_fence completes when every event it awaits has completed:
 * it is N:M completion. It has a pending count that starts at 1, the
 * "setup" reference of its creator. Each awaited event adds one; each
 * completed event, and finally the creator's commit (kds_fence_complete()
 * once more), removes one. At zero the fence is *done*: its waiters wake,
 * its callbacks run, and every fence awaiting it retires one event. Done is
 * final.
 *
 * Events are external (kds_fence_await() and kds_fence_complete(), counted
 * by the caller), other kds fences (kds_fence_await_fence()) and
 * completions (kds_fence_await_completion()).
 *
 * A fence carries an error: the first one set with kds_fence_set_error() or
 * inherited from a fence it awaited wins. A fence done with an error is
 * still done; kds_fence_get_status() tells the two apart.
 *
 * Await functions return 1 when the dependency was added, 0 when the source
 * was already done (its error is inherited all the same), -EDEADLK when the
 * dependency would close a cycle of fences (nothing changes), -ENOMEM, and
 * -EINVAL for bad arguments (a NULL pointer, a waiter that is already
 * done), and -EPERM when the waiter is a fence kds completes itself (see
 * below) or when the await would make an exported fence depend on a
 * source that may wait indefinitely (see kds_fence_export_dma_fence(); a
 * warning names the source). They never fall back to waiting
 * synchronously.
 *
 * Memory ordering: everything written before an event completed (before the
 * kds_fence_complete() for it, or before the completion, fence or other
 * source it stands for signalled) is visible to anyone who has observed the
 * fence done: after kds_fence_wait*() returns success, after
 * kds_fence_done() returns true or kds_fence_get_status() returns non-zero,
 * and inside a callback.
 *
 * Reference counting: kds_fence_create() returns one reference, and
 * kds_fence_get()/kds_fence_put() count more. A pending fence that awaits an
 * event source is kept alive by that source until the event completes; a
 * fence is never kept alive by its waiters or callbacks. Dropping the last
 * reference to a fence that still has callbacks or fences waiting on it,
 * and that nothing can complete any more, is a bug: kds warns once and
 * completes it with -EDEADLK so that no waiter hangs (as dma_fence does).
 *
 * Fences kds completes itself: the fence of a resource set
 * (kds_resource_set_fence()) and of a work item (kds_async_work_fence()).
 * Every function that returns a &struct kds_fence returns a reference of
 * the caller's own, to be put with kds_fence_put(); kds holds references
 * of its own for as long as it uses the fence, so no get/put pair of a
 * user can affect it. Users may wait for such a fence, await it, add
 * callbacks to it and export it, but adding an event or an error to it
 * (kds_fence_await(), kds_fence_complete(), kds_fence_set_error(), or
 * making it the waiter of an await) is a bug: kds warns once, changes
 * nothing, and the functions that return an int return -EPERM.
 */

/**
 * DOC: PREEMPT_RT
 *
 * On PREEMPT_RT, "Context: Any context, including hard IRQ" means any
 * context but a non-threaded one (an HRTIMER_MODE_HARD timer, an
 * IRQF_NO_THREAD handler) and but a section under a raw_spinlock_t or
 * with interrupts disabled by the caller, exactly where dma_fence_signal()
 * may not be called there either: completing, putting and releasing may
 * free memory, and the allocator's locks sleep on PREEMPT_RT. Threaded
 * interrupt handlers, softirqs, timers of the default (soft) mode, and
 * process context under a spinlock_t are all fine. Fence callbacks run
 * with interrupts on there (see &typedef kds_fence_func_t).
 */

/**
 * DOC: fence classes
 *
 * Every fence has a *class*: what the fence is for, in the words of Chris
 * Wilson's 2020 request that fences used for one purpose follow common
 * rules "without restricting the primitive for uses outside of this
 * scope". A class is a name, a lockdep map of its own, and whether it is
 * *bounded*. kds_fence_create() uses the class "kds_fence"; resource sets
 * and async domains have classes too ("kds_resource_set", "kds_async").
 *
 * Lockdep sees a class as one lock, with the dma_fence rules of
 * dma_fence_begin_signalling():
 *
 * - Waiting for a fence (kds_fence_wait*()), for a resource set
 *   (kds_waitall()) or for a domain (kds_async_synchronize*()) acquires
 *   and releases the class's map, even when there is nothing to wait for.
 * - A *signalling section* of the class holds it (a read trylock, as
 *   dma_fence_begin_signalling() holds dma_fence's), and
 *   every lock taken inside it is recorded as taken under the class. kds
 *   opens one around what it runs to complete a fence: kds_fence_complete()
 *   and what it propagates, an async work function, and the delivery of a
 *   resource set's grant (its direct callback included, and a queued one).
 *   Code of a driver that leads to kds_fence_complete() opens one with
 *   kds_fence_begin_signalling(). A section opened in atomic context, or
 *   inside one of the same class, is not recorded (as for dma_fence); nor
 *   is the rest of a long completion that hard IRQ hands to kds's
 *   workqueue.
 * - A section also holds the classes of the fences that await the fence
 *   it completes, transitively (the first 16 fences found when it opens,
 *   up to %KDS_SIGNALLING_CLASSES classes): holding lock L while waiting
 *   for f, and taking L on the way to a fence that f awaits, is reported
 *   as the deadlock it is.
 *
 * So holding a mutex while waiting for a class, and taking that mutex in
 * a section of the class, is reported by lockdep, as a circular locking
 * dependency between the mutex and the class's map. Fences of different
 * classes share nothing: define one class per purpose. kds's own classes
 * are shared by every user of kds_fence_create(), kds_async_work_create()
 * and kds_async_domain_create(), so lockdep links them all: a driver that
 * waits for another's default fences from a section of its own may get a
 * report of a deadlock that its fences cannot have. Classes set up by the
 * same line (kds_fence_class_init()) are one class for lockdep: waiting
 * for a fence of one inside a section of another is reported as
 * recursive locking.
 *
 * A class is defined with DEFINE_KDS_FENCE_CLASS() (static storage: the
 * lockdep key is the class's own address) or set up with
 * kds_fence_class_init() (anywhere: the key is static, one per call site,
 * as with spin_lock_init()). A class must outlive every fence, domain and
 * callback that uses it, and kds may release its lockdep map just after
 * the last waiter of its last fence has woken: keep a class in memory that
 * lives as long as the module that set it up (a static, or data freed at
 * module exit).
 *
 * *Bounded* (%KDS_CLASS_BOUNDED) is what makes a fence exportable as a
 * dma_fence (see "dma-fence bridge" below). Declaring it promises that
 * every event of the class's fences that kds does not complete itself
 * (kds_fence_await() and kds_fence_complete(), the creator's commit
 * included; for a work item, its function) is completed in bounded time,
 * by code that follows the dma_fence rules: it does not wait for anything
 * that is not itself bounded (user space, a resource set, a struct
 * completion, a fence of an unbounded class), and does not allocate
 * memory with reclaim (GFP_KERNEL) inside its signalling section. The
 * sections above let lockdep check the promise.
 */

/* The class may back dma_fences: see "fence classes" above. */
#define KDS_CLASS_BOUNDED	BIT(0)

/**
 * struct kds_fence_class - What a group of fences is for.
 * @name: for lockdep reports and kds's messages.
 * @flags: 0 or %KDS_CLASS_BOUNDED.
 * @map: private to kds: the class's lockdep map.
 *
 * Define it with DEFINE_KDS_FENCE_CLASS() or set it up with
 * kds_fence_class_init(); never copy one.
 */
struct kds_fence_class {
	const char *name;
	unsigned int flags;
	struct lockdep_map map;
};

#ifdef CONFIG_LOCKDEP
#define __KDS_CLASS_MAP_INIT(cname)	.map = { .name = (cname) },
#else
#define __KDS_CLASS_MAP_INIT(cname)
#endif

/**
 * DEFINE_KDS_FENCE_CLASS() - Define a fence class in static storage.
 * @var: the variable; its name is the class's (as with DEFINE_MUTEX()).
 * @cflags: 0 or %KDS_CLASS_BOUNDED.
 */
#define DEFINE_KDS_FENCE_CLASS(var, cflags)					\
	struct kds_fence_class var = {						\
		.name = #var, .flags = (cflags), __KDS_CLASS_MAP_INIT(#var)	\
	}

void __kds_fence_class_init(struct kds_fence_class *cls, const char *name,
			    unsigned int flags, struct lock_class_key *key);

/**
 * kds_fence_class_init() - Set up a fence class anywhere in memory.
 * @cls: the class.
 * @cname: its name.
 * @cflags: 0 or %KDS_CLASS_BOUNDED.
 *
 * The lockdep key is static, one per call site: every class set up by the
 * same line is one class for lockdep.
 *
 * Context: Any context.
 */
#define kds_fence_class_init(cls, cname, cflags)				\
	do {									\
		static struct lock_class_key __kds_key;				\
										\
		__kds_fence_class_init((cls), (cname), (cflags), &__kds_key);	\
	} while (0)

/* A kds fence; opaque to C. */
struct kds_fence;

struct kds_fence_cb;

/**
 * typedef kds_fence_func_t - a fence callback.
 * @f: the fence that is done (borrowed for the duration of the call).
 * @cb: the callback structure passed to kds_fence_add_callback().
 *
 * Called once, in the context that completed the fence (possibly hard IRQ;
 * for a fence made done by a long completion in hard IRQ, kds's workqueue,
 * see kds_fence_complete()),
 * with local interrupts disabled and no kds lock held: it may call any kds
 * function that may be called from hard IRQ context, on any fence, and may
 * put the last reference to @f (kds holds its own while it runs). It must
 * not sleep. On PREEMPT_RT, where kds is not called from hard IRQ (see
 * "PREEMPT_RT" below), it runs with interrupts and preemption enabled, as a
 * dma_fence callback runs under a sleeping spinlock_t there: it may take
 * spinlock_t locks and free memory, and must not sleep otherwise. Once it
 * is called, kds no longer touches @cb, so the callback
 * may free it. When a pending fence with callbacks loses its last reference
 * (a bug, see "fences" above), the callbacks run on the dying fence: they
 * may read its status but must not take a reference to it.
 */
typedef void (*kds_fence_func_t)(struct kds_fence *f, struct kds_fence_cb *cb);

/**
 * struct kds_fence_cb - a fence callback, in the caller's memory.
 * @node: private to kds.
 * @func: private to kds: set by kds_fence_add_callback().
 *
 * Embed it in your own structure and use container_of() in the callback,
 * as with &struct dma_fence_cb. kds.ko checks at load time that its Rust
 * core agrees with this layout.
 */
struct kds_fence_cb {
	struct list_head node;
	kds_fence_func_t func;
};

/**
 * kds_fence_create() - Create a fence.
 * @gfp: allocation flags; GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_NOWAIT and
 *       GFP_ATOMIC are honoured for their reclaim class, and __GFP_NOWARN
 *       (for GFP_NOFS and GFP_NOIO, kds makes all its allocations of the
 *       call inside a memalloc_nofs_save() or memalloc_noio_save() scope).
 *
 * The fence is pending with a count of 1: the caller's setup reference,
 * which kds_fence_complete() drops once all awaits are added (the commit).
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The fence, with one reference for the caller, or NULL when out
 * of memory.
 */
struct kds_fence *kds_fence_create(gfp_t gfp);

/**
 * kds_fence_create_class() - Create a fence of a class.
 * @cls: the class (see "fence classes" above); it must outlive the fence.
 * @gfp: as for kds_fence_create().
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The fence, with one reference for the caller, or NULL when out
 * of memory or @cls is NULL.
 */
struct kds_fence *kds_fence_create_class(struct kds_fence_class *cls, gfp_t gfp);

/* The most classes one signalling section holds. */
#define KDS_SIGNALLING_CLASSES	8

/**
 * struct kds_signalling - An open signalling section, on the caller's stack.
 * @maps: private to kds: the lockdep maps it holds.
 * @n: private to kds: how many.
 * @dma: private to kds: whether it holds dma_fence's map.
 */
struct kds_signalling {
	struct lockdep_map *maps[KDS_SIGNALLING_CLASSES];
	unsigned int n;
	bool dma;
};

/**
 * kds_fence_begin_signalling() - Open a signalling section for a fence.
 * @f: the fence that the code to come completes (an event of it).
 * @s: the section, on the caller's stack, for kds_fence_end_signalling().
 *
 * Marks the code that leads to completing an event of @f, as
 * dma_fence_begin_signalling() does for a dma_fence: until
 * kds_fence_end_signalling(), lockdep records the locks taken as taken
 * under @f's class, under the classes of the fences that await @f (see
 * "fence classes" above), and, when an exported fence awaits @f, under
 * dma_fence's own map. Without lockdep it does nothing.
 *
 * Context: Any context; records nothing in atomic context.
 */
void kds_fence_begin_signalling(struct kds_fence *f, struct kds_signalling *s);

/**
 * kds_fence_end_signalling() - Close a signalling section.
 * @s: the section kds_fence_begin_signalling() opened.
 *
 * Sections close in the reverse order they opened, in the same context.
 *
 * Context: The context that opened the section.
 */
void kds_fence_end_signalling(struct kds_signalling *s);

/**
 * kds_fence_get() - Take a reference to a fence.
 * @f: the fence.
 *
 * Context: Any context.
 * Return: @f, or NULL when @f is NULL.
 */
struct kds_fence *kds_fence_get(struct kds_fence *f);

/**
 * kds_fence_put() - Drop a reference to a fence.
 * @f: the fence; NULL is ignored.
 *
 * Context: Any context, including hard IRQ.
 */
void kds_fence_put(struct kds_fence *f);

/**
 * kds_fence_await() - Add one external event to a pending fence.
 * @f: the fence.
 *
 * Each call must be matched by one kds_fence_complete(). Awaiting a fence
 * that is already done is a bug: kds warns once and ignores it.
 *
 * Context: Any context, including hard IRQ.
 */
void kds_fence_await(struct kds_fence *f);

/**
 * kds_fence_complete() - Complete one event of a fence, or commit it.
 * @f: the fence.
 *
 * Drops the pending count by one; at zero the fence is done, and its
 * waiters, callbacks and dependent fences are processed in this context,
 * without recursion however long the chain of dependent fences is. In
 * hard IRQ context the work is bounded: once about 128 fences are done in
 * one interrupt (nested completions from callbacks included), the fences
 * their completion makes done are processed (callbacks included) from
 * kds's workqueue instead, shortly after.
 * Completing a fence more times than it awaited events (with
 * kds_fence_await(), plus the commit) is a bug: kds warns once, when it
 * notices (at once, or when an event kds added itself, such as a
 * completion's or a timer's, finds its count used up). Extra calls never
 * stand in for fences @f awaits with kds_fence_await_fence{,_link}().
 *
 * Context: Any context, including hard IRQ.
 */
void kds_fence_complete(struct kds_fence *f);

/**
 * kds_fence_await_fence() - Make a fence await another kds fence.
 * @f: the waiting fence; must be pending.
 * @signaler: the fence to await.
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * @f will not be done before @signaler is, and inherits its error. Adding
 * the dependency checks for cycles: see Documentation/fences.rst for what
 * that costs (O(1), and no global lock, when @signaler awaits no fence and
 * @f already awaits one or has no waiters).
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @signaler was already done (its error is
 * inherited), -EDEADLK when @signaler (transitively) awaits @f, -ENOMEM,
 * -EINVAL for NULL arguments or a done @f, -EPERM when kds completes @f
 * itself (see "fences").
 */
int kds_fence_await_fence(struct kds_fence *f, struct kds_fence *signaler, gfp_t gfp);

/**
 * struct kds_fence_link - Memory for one fence-on-fence dependency.
 * @kds_private: kds's; do not touch while the link is in use.
 *
 * For kds_fence_await_fence_link(): the caller provides the link, so that
 * the await allocates nothing, as dma_fence_array_init() lets a caller
 * provide a dma_fence_array. Embed links in the object that awaits, or in
 * an array allocated once for many awaits. No initialisation is needed.
 */
struct kds_fence_link {
	void *kds_private[3];
};

/**
 * kds_fence_await_fence_link() - Make a fence await another, in caller memory.
 * @f: the waiting fence; must be pending.
 * @signaler: the fence to await.
 * @link: memory for the dependency (see struct kds_fence_link).
 * @gfp: allocation flags for the one case that may allocate (below).
 *
 * As kds_fence_await_fence(), but the dependency lives in @link. When
 * this returns 1, @link is kds's until @f is done: kds_fence_done(@f)
 * returns true, or @f's callbacks run (kds lets go of it before either);
 * it must stay valid and untouched, and must not be passed to kds again,
 * until then. Dropping the last reference to @f does not release it: to
 * free the memory of links, do it when @f is done, for instance from a
 * callback of @f. Otherwise (any other return) kds has not kept @link,
 * and it may be reused at once. Because the count of fences @f awaits is
 * kept apart from its events, kds_fence_complete() can never make @f done
 * while @link is in use.
 *
 * Nothing is allocated when @signaler awaits no kds fence (also not
 * through a dma_fence that kds exported) and @f already awaits a fence or
 * has no waiters: every join of fences signalled by events is such.
 * Otherwise the await takes kds's global dependency graph, which grows
 * (allocating with @gfp) when it is full; see Documentation/fences.rst.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: as kds_fence_await_fence(); also -EINVAL for a NULL @link, and
 * -EOVERFLOW when @f already awaits 2^32 - 1 fences.
 */
int kds_fence_await_fence_link(struct kds_fence *f, struct kds_fence *signaler,
			       struct kds_fence_link *link, gfp_t gfp);

/**
 * kds_fence_await_completion() - Make a fence await a completion.
 * @f: the waiting fence; must be pending.
 * @c: the completion.
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * The fence waits on @c as wait_for_completion() does: it consumes one
 * complete() (nothing with complete_all()). Completions have no callback
 * hook, so a kds worker sleeps on @c until then, on a workqueue of its
 * own (no other kds work waits behind these workers), and holds kds.ko
 * meanwhile (rmmod kds fails with -EBUSY rather than hang). That
 * workqueue's max_active is WQ_MAX_ACTIVE (2048 on 7.3): past that many
 * pending awaits, or while the workqueue core is still starting workers
 * for hundreds of them, later ones wait for a worker before they start
 * waiting on their completion. @c must stay valid until @f is done.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @c was already completed (one completion
 * is consumed), -ENOMEM, -EINVAL for NULL arguments or a done @f, -EPERM
 * when kds completes @f itself or when an exported fence is or awaits @f
 * (a completion may never come: see kds_fence_export_dma_fence()).
 */
int kds_fence_await_completion(struct kds_fence *f, struct completion *c, gfp_t gfp);

/**
 * kds_fence_set_error() - Set the error a fence completes with.
 * @f: the fence; must be pending.
 * @error: a negative errno.
 *
 * The first error set or inherited wins; later ones are ignored. An error
 * outside -MAX_ERRNO..-1, or a fence that is already done, is a bug: kds
 * warns once and ignores it.
 *
 * Context: Any context, including hard IRQ.
 */
void kds_fence_set_error(struct kds_fence *f, int error);

/**
 * kds_fence_get_status() - The state of a fence.
 * @f: the fence.
 *
 * Context: Any context, including hard IRQ.
 * Return: 0 while pending, 1 when done without error, the negative error
 * when done with one; -EINVAL for a NULL @f.
 */
int kds_fence_get_status(struct kds_fence *f);

/**
 * kds_fence_done() - Whether a fence is done.
 * @f: the fence.
 *
 * Context: Any context, including hard IRQ.
 * Return: true when done (with or without error); false when pending or NULL.
 */
bool kds_fence_done(struct kds_fence *f);

/**
 * kds_fence_wait_timeout() - Wait until a fence is done.
 * @f: the fence.
 * @intr: sleep interruptibly.
 * @timeout: the longest wait in jiffies, or MAX_SCHEDULE_TIMEOUT.
 *
 * Like dma_fence_wait_timeout(). A fence done with an error still ends the
 * wait successfully; use kds_fence_get_status() for the error.
 *
 * Context: Process context; sleeps.
 * Return: the remaining jiffies (at least 1) when the fence is done; with
 * @timeout 0, 1 when done and 0 when not; 0 when the wait timed out;
 * -ERESTARTSYS when a signal interrupted an @intr wait; -EINVAL for a NULL
 * @f or a negative @timeout.
 */
long kds_fence_wait_timeout(struct kds_fence *f, bool intr, long timeout);

/**
 * kds_fence_wait() - Wait, uninterruptibly, until a fence is done.
 * @f: the fence.
 *
 * Context: Process context; sleeps.
 */
void kds_fence_wait(struct kds_fence *f);

/**
 * kds_fence_add_callback() - Call a function when a fence is done.
 * @f: the fence.
 * @cb: the callback structure, in the caller's memory.
 * @func: the function; see &typedef kds_fence_func_t.
 *
 * Context: Any context, including hard IRQ.
 * Return: 0 when added; -ENOENT when @f is already done (@func is not
 * called, and @cb may be passed to kds_fence_remove_callback()); -EINVAL
 * for NULL arguments.
 */
int kds_fence_add_callback(struct kds_fence *f, struct kds_fence_cb *cb,
			   kds_fence_func_t func);

/**
 * kds_fence_remove_callback() - Cancel a callback.
 * @f: the fence @cb was added to.
 * @cb: the callback structure.
 *
 * When it returns true, @cb was removed before it was called, and it will
 * never be called. When it returns false, the callback has been called and
 * has returned: if it was running on another CPU, this waits for it. So @cb
 * may be freed either way once this returns.
 *
 * Called from within @f's callbacks, directly or nested (a callback that
 * completes another fence, whose callback removes @cb from @f), it never
 * waits: a @cb of @f that has not been called yet is removed (true); one
 * that has been called, or is the callback running it, gives false.
 *
 * Like timer_delete_sync(), it may wait for a callback running in another
 * context (another CPU; on PREEMPT_RT, another task), so it must not be
 * called where that
 * callback waits for the caller: two callbacks, running on two CPUs, that
 * remove each other's callbacks from two fences wait for each other for
 * ever. It waits by spinning: on PREEMPT_RT, a caller of higher real-time
 * priority than the task running the callbacks, on the same CPU, would
 * spin for ever, so do not remove callbacks from such a task while they
 * may be running.
 *
 * Removing a @cb that was never passed to kds_fence_add_callback() (a
 * zeroed one) warns once and returns false.
 *
 * Context: Any context, including hard IRQ.
 * Return: true when @cb was removed before it was called.
 */
bool kds_fence_remove_callback(struct kds_fence *f, struct kds_fence_cb *cb);

/**
 * kds_fence_await_hrtimer() - Make a fence await a point in time.
 * @f: the waiting fence; must be pending.
 * @expires: when, on @clock: absolute, or relative to now, as @mode says.
 * @clock: %CLOCK_MONOTONIC, %CLOCK_BOOTTIME, %CLOCK_REALTIME or %CLOCK_TAI.
 * @mode: %HRTIMER_MODE_ABS or %HRTIMER_MODE_REL; the soft, hard and pinned
 *        bits are ignored: kds always uses a soft, unpinned timer.
 * @slack_ns: how much later than @expires the timer may fire, so that the
 *            kernel can batch wake-ups (hrtimer_start_range_ns()).
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * The event completes, without error, when the timer fires: never before
 * @expires, and normally no later than @expires + @slack_ns plus softirq
 * latency. The fence's callbacks and dependants then run in softirq
 * context. If the last user reference to @f is put while nothing else can
 * observe it (no callback, no fence awaiting it), the timer is cancelled
 * and everything is freed at once.
 *
 * An armed timer holds a reference to kds.ko until it has fired or been
 * cancelled, and so does every dma_fence and completion kds awaits until
 * it has signalled (or timed out): meanwhile ``rmmod kds`` fails with
 * -EBUSY, and no such source ever runs after kds.ko is gone.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @expires has already passed, -ENOMEM,
 * -EINVAL for NULL arguments, an unsupported @clock or a done @f, -EPERM
 * when kds completes @f itself.
 */
int kds_fence_await_hrtimer(struct kds_fence *f, ktime_t expires, clockid_t clock,
			    enum hrtimer_mode mode, u64 slack_ns, gfp_t gfp);

/**
 * DOC: dma-fence bridge
 *
 * kds fences and &struct dma_fence interoperate both ways:
 * kds_fence_await_dma_fence() and kds_fence_await_dma_resv() make a kds
 * fence wait for GPU work, and kds_fence_export_dma_fence() gives GPU and
 * display code an ordinary &struct dma_fence that signals when a kds fence
 * is done.
 *
 * Awaiting a dma_fence registers a dma_fence callback; the kds event
 * completes when the dma_fence signals, with its error. With a timeout (in
 * jiffies, 0 for none), the event instead completes with -ETIMEDOUT if the
 * dma_fence has not signalled in time, and a rate-limited warning names the
 * dma_fence (driver, timeline, seqno) and the waiting kds fence. Signal and
 * timeout race harmlessly: the first completes the event, the second finds
 * nothing to do, and the memory goes when both are past.
 *
 * Cycle detection sees through the bridge: a kds fence that awaits its own
 * exported dma_fence gets -EDEADLK instead of a hang, and so does one that
 * awaits a dma_fence_array (a merged sync_file is one) or a
 * dma_fence_chain holding such an export, directly or through other
 * fences. Awaiting an export without a timeout awaits the kds fence behind
 * it directly; with a timeout, or inside an array or chain, the dma_fence
 * is awaited as any other (the timeout holds), and kds records the
 * dependency on the fences behind the exports for cycle detection. For an
 * array created to signal on any of its fences, that record is
 * conservative: an await it refuses might not have deadlocked.
 *
 * An exported dma_fence has its own fence context (one timeline per export,
 * seqno 1), driver name "kds" and timeline name "kds-fence-<id>". Until it
 * signals it holds a reference to the kds fence and to kds.ko; once
 * signalled it is independent of kds (it has no release or wait operation,
 * so the dma-fence core drops its ops), and lives as long as its own
 * references. When the kds fence completes, its callback queues an
 * irq_work that signals the dma_fence, inside dma_fence_begin_signalling(),
 * without allocating or taking a dma_resv lock (as dma_fence_array and
 * dma_fence_chain do): the dma_fence's lock is a spinlock_t, which kds
 * cannot take in every context where a kds fence may complete (hard IRQ,
 * under a raw spinlock, with interrupts off on PREEMPT_RT). So the
 * dma_fence signals shortly after the kds fence is done, not before
 * kds_fence_complete() returns: wait for it with dma_fence_wait().
 */

/**
 * kds_fence_await_dma_fence() - Make a fence await a dma_fence.
 * @f: the waiting fence; must be pending.
 * @dma: the dma_fence.
 * @timeout: jiffies after which the dependency completes with -ETIMEDOUT;
 *           0 for none.
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * Context: Any context but hard IRQ; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @dma has already signalled (its error is
 * inherited), -EDEADLK when @dma is or holds an export of a fence that
 * awaits @f, -ENOMEM, -EINVAL for NULL arguments or a done @f, -EPERM
 * when kds completes @f itself.
 */
int kds_fence_await_dma_fence(struct kds_fence *f, struct dma_fence *dma,
			      unsigned long timeout, gfp_t gfp);

/**
 * kds_fence_await_dma_resv() - Make a fence await the fences of a dma_resv.
 * @f: the waiting fence; must be pending.
 * @resv: the reservation object; it need not be locked.
 * @usage: which fences: as with dma_resv_iter_begin(), every fence whose
 *         usage is at most @usage (%DMA_RESV_USAGE_READ also awaits the
 *         KERNEL and WRITE fences).
 * @timeout: per dma_fence, as for kds_fence_await_dma_fence().
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * The fences are those of @resv at the time of the call. If @resv changes
 * meanwhile, the walk restarts and may await a fence that has just left
 * @resv: waiting longer is safe, missing one is not.
 *
 * Context: Any context but hard IRQ; may sleep if @gfp allows.
 * Return: 1 when at least one dependency was added, 0 when every fence had
 * already signalled (errors inherited), -ENOMEM, -EDEADLK, -EINVAL, -EPERM
 * as for kds_fence_await_dma_fence(). On error, the dependencies added before it
 * remain.
 */
int kds_fence_await_dma_resv(struct kds_fence *f, struct dma_resv *resv,
			     enum dma_resv_usage usage, unsigned long timeout, gfp_t gfp);

/**
 * kds_fence_export_dma_fence() - A dma_fence that signals when a fence is done.
 * @f: the fence; its class must be bounded, and so must everything it awaits.
 * @gfp: allocation flags.
 *
 * The dma_fence signals with @f's error, if any, once @f is done (see
 * "dma-fence bridge" above: from an irq_work). If @f is done already and
 * @gfp allows blocking, it is returned signalled. See "dma-fence bridge"
 * above for its names, context and lifetime.
 *
 * A dma_fence must not wait indefinitely (Documentation/driver-api/dma-buf.rst,
 * "Indefinite DMA Fences"), so export refuses a pending @f that depends,
 * directly or through the fences it awaits, on a source that may: a fence of
 * a class not declared %KDS_CLASS_BOUNDED (which includes kds_fence_create()'s
 * default class, resource sets' and kds_async_work_create()'s), or a struct
 * completion. From then on @f and the fences it awaits follow the dma_fence
 * rules: an await that would add such a source to them is refused too
 * (-EPERM, changing nothing), a wait on @f is also a dma_fence wait for
 * lockdep, and the signalling sections that complete them hold dma_fence's
 * map. Each refusal prints one warning naming the source. Whether a fence
 * may wait indefinitely is decided when its dependencies are added, and
 * never forgotten: a fence that awaited a source that has fired since
 * still counts as depending on it, and so does one whose await of such a
 * source failed for another reason (-EDEADLK, -ENOMEM).
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The dma_fence, with one reference for the caller (dma_fence_put()
 * it); ERR_PTR(-ENOMEM); ERR_PTR(-EPERM) when @f may wait indefinitely (a
 * warning names the source); ERR_PTR(-EINVAL) when @f is not a fence.
 */
struct dma_fence *kds_fence_export_dma_fence(struct kds_fence *f, gfp_t gfp);

/**
 * DOC: resource sets
 *
 * A driver embeds a &struct kds_resource in each object that clients share,
 * such as a buffer. A client asks for a *set* of resources, each shared or
 * exclusive (a bit in @exclusive_access_bitmap). The set is queued on all
 * of its resources at once, and is *granted* when, on every one of them, it
 * is first in the queue, or it is shared and everything ahead of it is
 * shared. Releasing a set grants the next sets. Because a set is queued on
 * all its resources atomically, two clients never wait for each other
 * (there is no ABBA deadlock), and each resource serves its queue in FIFO
 * order: a shared request behind a waiting exclusive one waits too, so
 * writers do not starve. Compatible shared requests are granted together.
 *
 * kds_waitall() sleeps until the set is granted; kds_async_waitall() calls
 * a &struct kds_callback once it is granted. A *direct* callback runs in
 * the context that grants the set: inside kds_async_waitall() itself when
 * the set is granted at once (before it returns, after *@pprset is set),
 * otherwise inside the kds_resource_set_release() (or _sync) that granted
 * it, in that caller's context, which may be atomic; from hard IRQ context
 * it is deferred to a kds workqueue instead (kds_callback_term() waits for
 * such deferred calls). A grant made *inside* a direct callback (the
 * callback releases its set, which grants the next one, or asks for a set
 * that is granted at once) runs its direct callback in the same context
 * right after the running callback returns, not nested inside it: so a
 * chain of any length of callbacks that release their own sets runs on a
 * bounded stack, in grant order. (A direct callback must therefore not
 * wait for a callback its own release grants. While 64 contexts are
 * running direct callbacks at once, a further one is deferred to the kds
 * workqueue, as from hard IRQ.) It never runs with a
 * kds lock held, but it does run under any lock the *releasing* caller
 * holds. A *queued* callback (direct == 0) always runs from a workqueue,
 * never in the caller's context; use it unless you know every context that
 * releases your resources.
 *
 * kds_resource_set_fence() makes a set a dependency like any other: its
 * fence completes when the set is granted, or with -ECANCELED when the set
 * is released before that.
 *
 * Acquiring a set (kds_async_waitall(), kds_waitall()) makes one slab
 * allocation for up to KDS_SET_INLINE_RESOURCES resources, two for more;
 * queueing, granting, waiting and releasing allocate nothing. A set's
 * fence is made on the first kds_resource_set_fence() for it.
 *
 * kds has no global lock: a set is queued with the locks of its resources
 * held, taken in address order, so sets on disjoint resources never
 * contend. See Documentation/resources.rst for the argument.
 *
 * The API is source-compatible with ARM's 2012 KDS (``linux/kds.h``).
 */

/* kds_waitall(): no timeout. */
#define KDS_WAIT_BLOCKING	(ULONG_MAX)

/* kds_async_waitall(): what to do about resources kds_waitall() holds or awaits. */
#define KDS_FLAG_LOCKED_FAIL	0u	/* fail with -EBUSY */
#define KDS_FLAG_LOCKED_IGNORE	1u	/* do not wait for them */
#define KDS_FLAG_LOCKED_WAIT	2u	/* wait, as for any set */
#define KDS_FLAG_LOCKED_ACTION	3u	/* mask of the above */

/* The most resources in one set: their locks are all held while it is queued. */
#define KDS_MAX_RESOURCES	256

/* Sets of up to this many resources are one allocation each; larger ones two. */
#define KDS_SET_INLINE_RESOURCES	8

struct kds_resource_set;

/**
 * typedef kds_callback_fn - A resource set's grant callback.
 * @callback_parameter: the @param given to kds_async_waitall().
 * @callback_extra_parameter: the @extra_param given to kds_async_waitall().
 */
typedef void (*kds_callback_fn)(void *callback_parameter, void *callback_extra_parameter);

/**
 * struct kds_callback - How to call back when a resource set is granted.
 * @user_cb: the function.
 * @direct: call it in the granting context rather than from a workqueue.
 * @wq: the workqueue of a queued callback (set by kds_callback_init()).
 * @inflight: private to kds: calls granted and not yet returned, which
 *	kds_callback_term() waits for.
 * @cls: the class of its sets (set by kds_callback_init_class()), NULL for
 *	"kds_resource_set": a grant is delivered inside a signalling section
 *	of it, and the fences of its sets are of it.
 *
 * Set up with kds_callback_init(); one &struct kds_callback serves any
 * number of sets. Keep it until kds_callback_term().
 */
struct kds_callback {
	kds_callback_fn user_cb;
	int direct;
	struct workqueue_struct *wq;
	atomic_t inflight;
	struct kds_fence_class *cls;
};

/**
 * struct kds_resource - A resource that resource sets acquire.
 *
 * Embed it in the shared object; set it up with kds_resource_init(). Its
 * memory must stay where it is until kds_resource_term() succeeds.
 */
struct kds_resource {
	/* private: owned by kds.ko */
	raw_spinlock_t lock;
	unsigned long priv[128 / sizeof(unsigned long)];
};

/**
 * kds_resource_init() - Set up a resource.
 * @res: the resource.
 *
 * kds lists the resource (for debugfs) until kds_resource_term(): its
 * memory must not be freed or reused before that returns 0. Initialising
 * a resource that is already set up is refused with a warning.
 *
 * Context: Any context.
 */
void kds_resource_init(struct kds_resource *res);

/**
 * kds_resource_term() - Retire a resource.
 * @res: the resource.
 *
 * Context: Any context.
 * Return: 0, after which @res may be freed; -EBUSY (and a warning) while
 * any set, granted or waiting, is queued on @res, which stays as it was;
 * -EINVAL when @res is not an initialised resource.
 */
int kds_resource_term(struct kds_resource *res);

/**
 * kds_resource_set_name() - Name a resource.
 * @res: the resource.
 * @fmt: printf format of the name.
 *
 * Context: Any context.
 */
__printf(2, 3) void kds_resource_set_name(struct kds_resource *res, const char *fmt, ...);

/**
 * kds_callback_init() - Set up a grant callback.
 * @cb: the callback.
 * @direct: non-zero to run @user_cb in the granting context (see
 *	"resource sets" above), zero to run it from a workqueue.
 * @user_cb: the function.
 *
 * Context: Process context; may sleep (a queued callback allocates its
 * workqueue).
 * Return: 0, -ENOMEM, -EINVAL for a NULL @cb or @user_cb.
 */
int kds_callback_init(struct kds_callback *cb, int direct, kds_callback_fn user_cb);

/**
 * kds_callback_init_class() - Set up a grant callback of a class.
 * @cb: the callback.
 * @direct: as for kds_callback_init().
 * @user_cb: the function.
 * @cls: the class of the sets that use @cb (see "fence classes" above);
 *	it must outlive @cb.
 *
 * A resource set is held by a client for as long as it likes, so a set's
 * fence is never bounded, whatever @cls says: the class only keeps the
 * lockdep checks of unrelated sets apart.
 *
 * Context: Process context; may sleep.
 * Return: as kds_callback_init(); -EINVAL for a NULL @cls too.
 */
int kds_callback_init_class(struct kds_callback *cb, int direct, kds_callback_fn user_cb,
			    struct kds_fence_class *cls);

/**
 * kds_callback_term() - Retire a grant callback.
 * @cb: the callback.
 *
 * Waits until no set that uses @cb can call it any more: every call a
 * grant has started has returned, wherever it runs (@cb's workqueue,
 * deferred from hard IRQ, waiting behind another direct callback of the
 * granting context, on another task), and every set that was never
 * granted has been released. So every set that uses @cb must have been
 * granted or released before, or be released meanwhile by someone else:
 * a set that is still waiting makes this wait too (with a warning after
 * 10 s). It must not be called from a call of @cb, nor from inside any
 * direct grant callback (a call of @cb may be queued behind it). Then
 * @cb's workqueue is destroyed, and @cb may be freed.
 *
 * Context: Process context; sleeps.
 */
void kds_callback_term(struct kds_callback *cb);

/**
 * kds_async_waitall() - Queue a resource set; call back when it is granted.
 * @pprset: where the set goes; set before the set is queued, so that the
 *	callback finds it there, and reset to NULL on failure.
 * @flags: KDS_FLAG_LOCKED_FAIL, _IGNORE or _WAIT: what to do when a
 *	resource is held or awaited by a kds_waitall() set. FAIL returns
 *	-EBUSY; IGNORE does not wait for such a resource (the set still
 *	queues on it, and later sets wait behind it); WAIT waits as usual.
 * @cb: the callback, from kds_callback_init().
 * @param: its first argument.
 * @extra_param: its second argument.
 * @number_resources: how many resources, 1 to KDS_MAX_RESOURCES.
 * @exclusive_access_bitmap: bit i set: resource i is wanted exclusively;
 *	NULL: all shared.
 * @resource_list: the resources; each at most once.
 *
 * The callback runs once, when the set is granted, unless the set is
 * released first. Release the set with kds_resource_set_release(@pprset).
 *
 * Context: Process context; may sleep (allocates with GFP_KERNEL). A
 * direct callback may run before this returns: do not hold locks it takes.
 * Return: 0; -EINVAL for bad arguments (a warning names them); -EBUSY
 * (KDS_FLAG_LOCKED_FAIL); -ENOMEM.
 */
int kds_async_waitall(struct kds_resource_set **pprset, unsigned long flags,
		      struct kds_callback *cb, void *param, void *extra_param,
		      int number_resources, unsigned long *exclusive_access_bitmap,
		      struct kds_resource **resource_list);

/**
 * kds_waitall() - Acquire a resource set, sleeping until it is granted.
 * @number_resources: how many resources, 1 to KDS_MAX_RESOURCES.
 * @exclusive_access_bitmap: as for kds_async_waitall().
 * @resource_list: the resources; each at most once.
 * @jiffies_timeout: how long to wait; 0 tries once without queueing,
 *	KDS_WAIT_BLOCKING waits for ever.
 *
 * The wait is interruptible. On timeout or signal nothing stays queued.
 * Release the set with kds_resource_set_release().
 *
 * Context: Process context; sleeps.
 * Return: The granted set; NULL on timeout (or when a try fails);
 * ERR_PTR(-ERESTARTSYS) when a signal interrupts; ERR_PTR(-EINVAL) for bad
 * arguments; ERR_PTR(-ENOMEM).
 */
struct kds_resource_set *kds_waitall(int number_resources,
				     unsigned long *exclusive_access_bitmap,
				     struct kds_resource **resource_list,
				     unsigned long jiffies_timeout);

/**
 * kds_resource_set_release() - Release or cancel a resource set.
 * @pprset: where the set is; set to NULL.
 *
 * A granted set gives its resources to the next sets; a waiting one is
 * cancelled (its fence completes with -ECANCELED). A callback that has not
 * started will not run; one that is running on another task keeps running
 * while the next sets get the resources (kds_resource_set_release_sync()
 * waits for it first). *@pprset is taken with xchg(): when a grant
 * callback and a canceller both release through the same pointer, one
 * releases and the other finds NULL and does nothing, as in the 2012 KDS.
 *
 * Direct callbacks of the sets this grants run in this call (see
 * "resource sets" above).
 *
 * Context: Any context, including hard IRQ.
 */
void kds_resource_set_release(struct kds_resource_set **pprset);

/**
 * kds_resource_set_release_sync() - Release a set and wait for its callback.
 * @pprset: where the set is; set to NULL.
 *
 * As kds_resource_set_release(), except that when the set's callback is
 * running on another task, it first waits until the callback has returned,
 * and only then gives the resources to the next sets: no other set is
 * granted them while the callback still runs. (kds_resource_set_release()
 * cannot wait, and hands them on at once.) From inside the callback itself
 * it does not wait.
 *
 * Context: Process context; may sleep.
 */
void kds_resource_set_release_sync(struct kds_resource_set **pprset);

/**
 * kds_resource_set_fence() - The fence of a resource set.
 * @rset: the set.
 *
 * The fence completes when the set is granted, or with -ECANCELED when the
 * set is released first; fences and async work can await it. The first
 * call for a set makes the fence (GFP_ATOMIC); later calls return it.
 *
 * Context: Any context but hard IRQ and sections under a raw_spinlock_t:
 * the first call for a set allocates (GFP_ATOMIC), and the allocator may
 * take a spinlock_t. Later calls for the set, any context.
 * Return: A reference to the fence (kds_fence_put() it), or NULL when
 * @rset is not a live set or the fence cannot be allocated.
 */
struct kds_fence *kds_resource_set_fence(struct kds_resource_set *rset);

/**
 * kds_resource_set_set_name() - Name a resource set.
 * @rset: the set.
 * @fmt: printf format of the name.
 *
 * Names the set's fence too (kds_resource_set_fence()).
 *
 * Context: Any context.
 */
__printf(2, 3)
void kds_resource_set_set_name(struct kds_resource_set *rset, const char *fmt, ...);

/**
 * DOC: names and diagnostics
 *
 * Every fence, resource, resource set, async domain and work item has a
 * name of up to %KDS_NAME_LEN - 1 bytes, for messages, debugfs and the
 * tracepoints. By default a name says where the object came from: "%ps"
 * of the function that called kds_fence_create(), kds_resource_init(),
 * kds_async_waitall() or kds_waitall(); a work item's function; a
 * domain's @name. kds_fence_set_name() and its siblings replace it, with a
 * printf format (longer names are cut; an empty one brings the default
 * back). A name can be changed at any time, from any context; readers
 * never see half of one (a reader that keeps losing to renames under way
 * shows the default name instead).
 *
 * What a fence waits for describes itself: a dma_fence as
 * ``driver:timeline:seqno``, an hrtimer by its clock and its expiry
 * relative to now, a completion by "%ps" of its address, a resource set by
 * its resources' names and modes (and the sets ahead of it), a work item by
 * its function.
 *
 * debugfs, in ``/sys/kernel/debug/kds/``:
 *
 * - ``fences``: every pending fence, with its name, age, pending count,
 *   sources and waiters;
 * - ``resources``: every resource's queue, in order, holders first;
 * - ``domains``: every domain's pending work, cookies and barriers;
 * - ``graph.dot``: the pending fences and their edges in Graphviz DOT;
 * - ``blame``: write a fence's id to print its blocking frontier.
 *
 * Each file is a snapshot taken when it is opened; it holds a lock only
 * to copy a few objects (16) and to find its place again in a list of
 * pending objects, and stops after a bounded number of objects (it says
 * how many it left out).
 *
 * Blame: the *blocking frontier* of a fence is what is still pending
 * under it (in the fences it awaits, directly or not, and in itself) that
 * is not a kds fence: the dma_fences, timers, completions, resource-set
 * holders, work functions and counted events that the fence is really
 * waiting for, listed by the fence that waits for them. The fences it
 * waits through are only counted. kds prints it (never the whole graph)
 * once per wait when kds_fence_wait*(), kds_waitall() or
 * kds_async_synchronize*() has waited for the module parameter
 * ``kds.blame_ms`` milliseconds (0: never; 10000 by default; a
 * synchronize names the oldest work item it waits for), and in the
 * warning of a dma_fence wait that timed out. kds_fence_blame() writes it
 * into a buffer.
 */

/* Name length, NUL included. */
#define KDS_NAME_LEN	32

/**
 * kds_fence_set_name() - Name a fence.
 * @f: the fence.
 * @fmt: printf format of the name.
 *
 * The name of a work item's fence is the work item's (see
 * kds_async_work_set_name()); of a resource set's fence, the set's.
 *
 * Context: Any context.
 */
__printf(2, 3) void kds_fence_set_name(struct kds_fence *f, const char *fmt, ...);

/**
 * kds_fence_blame() - Describe what a fence is waiting for.
 * @f: the fence.
 * @buf: where to write, NUL-terminated (cut to @size).
 * @size: the size of @buf.
 *
 * Writes the blocking frontier of @f (see "names and diagnostics"), one
 * line per fence that waits for something else than fences, at most 8 of
 * them and a count of the rest; "done" when @f is done. At most 8 KiB is
 * written, whatever @size.
 *
 * Context: Where GFP_NOWAIT allocations are allowed: not in hard IRQ, and
 * not with a raw_spinlock_t held or interrupts off on PREEMPT_RT. Does not
 * sleep.
 * Return: The number of bytes written, without the NUL; -EINVAL for a bad
 * @f, a NULL @buf or a zero @size; -ENOMEM when the graph could not be
 * copied (nothing is written then).
 */
int kds_fence_blame(struct kds_fence *f, char *buf, size_t size);

/**
 * DOC: async domains
 *
 * Async domains run functions asynchronously, like kernel/async.c, with
 * explicit dependencies. A &struct kds_async_work is a call of
 * ``fn(data, cookie)``. It runs after every fence it was put after
 * (kds_async_work_after()) is done; its fence (kds_async_work_fence())
 * completes after the function has returned, and fences it was put before
 * (kds_async_work_before()) await that. If a prerequisite completes with an
 * error the function is not called, and the work's fence completes with
 * that error: cancellation propagates along the dependencies.
 *
 * kds_async_queue() commits a work item to a domain and returns its
 * *cookie*, increasing per domain. kds_async_synchronize_cookie() waits for
 * all work queued before a cookie, kds_async_synchronize() for all work
 * queued so far. kds_async_barrier() makes work queued after it start only
 * once all work queued before it has finished. A NULL domain is kds's
 * default domain.
 *
 * Work never runs in the caller's context, nor synchronously when memory
 * is short: kds_async_schedule() then returns 0 and does not call the
 * function. It runs on kds's unbound workqueue, whose max_active is
 * WQ_MAX_ACTIVE (2048 on 7.3): a work function may sleep, or wait for
 * other kds work, and the workqueue starts more workers for the items
 * behind it, so that many work items may block at once without starving
 * the rest (kds's tests block 512).
 *
 * A graph (kds_async_graph_create()) runs named nodes, each after the
 * nodes it depends on, as parallel as the dependencies allow: for example
 * the phases of a driver's probe. A domain created with
 * KDS_ASYNC_DETERMINISTIC runs its work one item at a time, in queue order;
 * a graph run in one runs its nodes in a stable topological order (ties
 * broken by the order they were added), the same every run. That order is
 * not a dependency: an item cancelled by a failed prerequisite does not
 * cancel the items queued after it, only those that declared a dependency
 * on it.
 */

/* kds_async_domain_create(): one item at a time, in queue order. */
#define KDS_ASYNC_DETERMINISTIC	BIT(0)

struct kds_async_domain;
struct kds_async_work;
struct kds_async_graph;

/**
 * typedef kds_async_func_t - An asynchronous function.
 * @data: the data it was queued with.
 * @cookie: its cookie in its domain.
 */
typedef void (*kds_async_func_t)(void *data, u64 cookie);

/**
 * kds_async_domain_create() - Create an async domain.
 * @name: a name, for messages.
 * @flags: 0 or KDS_ASYNC_DETERMINISTIC.
 *
 * Context: Process context; may sleep.
 * Return: The domain, or NULL when out of memory or @flags is invalid.
 */
struct kds_async_domain *kds_async_domain_create(const char *name, unsigned int flags);

/**
 * kds_async_domain_create_class() - Create an async domain of a class.
 * @name: a name, for messages.
 * @flags: 0 or KDS_ASYNC_DETERMINISTIC.
 * @cls: the domain's class (see "fence classes" above): kds_async_synchronize*()
 *	waits for it, every function run in the domain runs inside a signalling
 *	section of it, and the fences of kds_async_schedule()'s calls are of it.
 *	It must outlive the domain.
 *
 * Context: Process context; may sleep.
 * Return: The domain, or NULL when out of memory, @flags is invalid or
 * @cls is NULL.
 */
struct kds_async_domain *kds_async_domain_create_class(const char *name, unsigned int flags,
						       struct kds_fence_class *cls);

/**
 * kds_async_domain_destroy() - Wait for a domain's work and free the domain.
 * @d: the domain; NULL does nothing.
 *
 * Context: Process context; sleeps.
 */
void kds_async_domain_destroy(struct kds_async_domain *d);

/**
 * kds_async_domain_set_name() - Rename a domain.
 * @d: the domain, NULL for the default one.
 * @fmt: printf format of the name.
 *
 * Context: Any context.
 */
__printf(2, 3) void kds_async_domain_set_name(struct kds_async_domain *d, const char *fmt, ...);

/**
 * kds_async_work_create() - Create a work item.
 * @fn: the function.
 * @data: its first argument.
 * @gfp: allocation flags.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The work item, with one reference for the caller
 * (kds_async_work_put() it), or NULL.
 */
struct kds_async_work *kds_async_work_create(kds_async_func_t fn, void *data, gfp_t gfp);

/**
 * kds_async_work_create_class() - Create a work item whose fence has a class.
 * @cls: the class of the work's fence (see "fence classes" above); with
 *	%KDS_CLASS_BOUNDED, the work's fence may be exported, and @fn promises
 *	the dma_fence rules. It must outlive the work item.
 * @fn: the function.
 * @data: its first argument.
 * @gfp: allocation flags.
 *
 * kds_async_work_create() uses the class "kds_async", which is not bounded.
 * The function runs inside a signalling section of @cls and of its domain's
 * class. An item whose fence is exported (or awaited by an export) and that
 * is queued behind a barrier of work that may wait indefinitely, or after
 * such an item in a KDS_ASYNC_DETERMINISTIC domain, is cancelled: its fence
 * completes with -EPERM, and a warning names the source.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: as kds_async_work_create(); NULL for a NULL @cls too.
 */
struct kds_async_work *kds_async_work_create_class(struct kds_fence_class *cls,
						   kds_async_func_t fn, void *data, gfp_t gfp);

/**
 * kds_async_work_after() - Run a work item only after a fence is done.
 * @w: the work item, not yet queued.
 * @f: the fence.
 * @gfp: allocation flags.
 *
 * If @f completes with an error, @w does not run and its fence completes
 * with that error.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 added, 0 @f was done already, -EDEADLK when @f awaits @w
 * (nothing changes), -EBUSY (and a warning) once @w is queued, -ENOMEM,
 * -EINVAL, -EPERM when @w's fence is exported (or awaited by an export)
 * and @f may wait indefinitely (see kds_fence_export_dma_fence()).
 */
int kds_async_work_after(struct kds_async_work *w, struct kds_fence *f, gfp_t gfp);

/**
 * kds_async_work_before() - Make a fence await a work item.
 * @w: the work item.
 * @f: the fence; it completes only after @w's function has returned.
 * @gfp: allocation flags.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: as kds_fence_await_fence().
 */
int kds_async_work_before(struct kds_async_work *w, struct kds_fence *f, gfp_t gfp);

/**
 * kds_async_work_fence() - The fence of a work item.
 * @w: the work item.
 *
 * Completes after the function has returned, or with the error of a
 * prerequisite that cancelled it. kds completes it: see "fences" above
 * for what a user may do with it.
 *
 * Context: Any context.
 * Return: A reference to the fence (kds_fence_put() it), or NULL when @w
 * is not a work item.
 */
struct kds_fence *kds_async_work_fence(struct kds_async_work *w);

/**
 * kds_async_work_set_name() - Name a work item.
 * @w: the work item.
 * @fmt: printf format of the name.
 *
 * Names its fence too (kds_async_work_fence()). The default is its
 * function, "%ps".
 *
 * Context: Any context.
 */
__printf(2, 3) void kds_async_work_set_name(struct kds_async_work *w, const char *fmt, ...);

/**
 * kds_async_queue() - Commit a work item to a domain.
 * @d: the domain, NULL for the default one.
 * @w: the work item; it keeps the reference the caller has.
 *
 * Context: Process context; may sleep.
 * Return: The work's cookie (non-zero); 0 (and a warning) when @w was
 * queued already: it does not run twice.
 */
u64 kds_async_queue(struct kds_async_domain *d, struct kds_async_work *w);

/**
 * kds_async_work_put() - Drop a reference to a work item.
 * @w: the work item; NULL does nothing.
 *
 * A work item that was never queued is cancelled: its fence completes with
 * -ECANCELED.
 *
 * Context: Any context.
 */
void kds_async_work_put(struct kds_async_work *w);

/**
 * kds_async_schedule() - Run a function asynchronously.
 * @d: the domain, NULL for the default one.
 * @fn: the function.
 * @data: its first argument.
 *
 * The call has no handle, only its cookie: nothing can be put before or
 * after it but barriers. It is one allocation, as kernel/async.c's
 * async_schedule() is, unless the domain's latest barrier is still pending
 * or the domain is KDS_ASYNC_DETERMINISTIC: the call then gets the fences
 * of a kds_async_work_create() item, which wait for the barrier or order
 * the next item after it. A call that cannot be ordered so for want of
 * memory returns 0: a cookie always means @fn is called.
 *
 * Context: Process context; may sleep.
 * Return: The cookie, or 0 when out of memory: @fn is then *not* called.
 */
u64 kds_async_schedule(struct kds_async_domain *d, kds_async_func_t fn, void *data);

/**
 * kds_async_barrier() - Order the work queued before and after this call.
 * @d: the domain, NULL for the default one.
 *
 * Work queued after the barrier starts only once all work queued before it
 * has finished ("fan out, collate, fan out"). A barrier that fails changes
 * nothing: it is not placed, and the barriers before and after it order
 * what they order. Work queued after it is then not held back by it;
 * kds_async_synchronize() is the fallback that cannot fail.
 *
 * Context: Process context; may sleep.
 * Return: 0; -ENOMEM when out of memory (the barrier is not placed);
 * -EINVAL for a pointer that is not a domain.
 */
int __must_check kds_async_barrier(struct kds_async_domain *d);

/**
 * kds_async_synchronize() - Wait for all work queued so far in a domain.
 * @d: the domain, NULL for the default one.
 *
 * Context: Process context; sleeps. Not from the domain's own work for
 * work queued after it (that would wait for itself).
 */
void kds_async_synchronize(struct kds_async_domain *d);

/**
 * kds_async_synchronize_cookie() - Wait for the work queued before a cookie.
 * @d: the domain, NULL for the default one.
 * @cookie: a cookie from kds_async_queue() or kds_async_schedule().
 *
 * Returns once every work item of @d with a cookie lower than @cookie has
 * finished; later work is not waited for.
 *
 * Context: Process context; sleeps.
 */
void kds_async_synchronize_cookie(struct kds_async_domain *d, u64 cookie);

/**
 * kds_async_graph_create() - Create an empty dependency graph.
 * @gfp: allocation flags.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The graph, or NULL.
 */
struct kds_async_graph *kds_async_graph_create(gfp_t gfp);

/**
 * kds_async_graph_add() - Add a named node to a graph.
 * @g: the graph.
 * @name: the node's name (copied); no commas. The node's work item and
 *	its fence are named after it (see "names and diagnostics").
 * @fn: its function.
 * @data: its first argument.
 * @depends: the names of the nodes it runs after, comma-separated, or
 *	NULL or "" for none; they may be added later.
 *
 * Context: Process context; may sleep.
 * Return: 0, -EEXIST for a name already in @g, -EINVAL, -ENOSPC past 4096
 * nodes, -ENOMEM.
 */
int kds_async_graph_add(struct kds_async_graph *g, const char *name,
			kds_async_func_t fn, void *data, const char *depends);

/**
 * kds_async_graph_run() - Run a graph and wait until every node has run.
 * @g: the graph.
 * @d: the domain, NULL for the default one.
 *
 * Checks the whole graph first: nothing runs when a dependency names an
 * unknown node or when the dependencies form a cycle (the names are
 * logged). Otherwise each node runs as soon as its dependencies have. The
 * graph can be run again.
 *
 * Context: Process context; sleeps.
 * Return: 0 when every node has run; -ENOENT for an unknown name; -EDEADLK
 * for a cycle; -ENOMEM, in which case nothing has run; the error of a node
 * that did not run because the domain could not order it (its work's fence
 * status, for example -ENOMEM from a failed barrier), after the others ran.
 */
int kds_async_graph_run(struct kds_async_graph *g, struct kds_async_domain *d);

/**
 * kds_async_graph_destroy() - Free a graph.
 * @g: the graph; NULL does nothing.
 *
 * Context: Process context; may sleep.
 */
void kds_async_graph_destroy(struct kds_async_graph *g);

#endif /* _KDS_H */
