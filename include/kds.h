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

#include <linux/dma-resv.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/types.h>

struct completion;
struct dma_fence;

/**
 * DOC: versioning
 *
 * kds follows the kernel's KERNEL_VERSION() scheme. KDS_VERSION_CODE is the
 * version of the header a driver was built against; kds_version() is the
 * version of the loaded kds.ko. kds.ko refuses to load when the Rust core
 * and its own C glue disagree, and a driver can refuse to probe when the
 * module it found is older than the header it was built against::
 *
 *	if (kds_version() < KDS_VERSION_CODE)
 *		return -ENODEV;
 */
#define KDS_VERSION(a, b, c)	(((a) << 16) + ((b) << 8) + (c))
#define KDS_VERSION_MAJOR	0
#define KDS_VERSION_MINOR	1
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
 * done). They never fall back to waiting synchronously.
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
 */

/* A kds fence; opaque to C. */
struct kds_fence;

struct kds_fence_cb;

/**
 * typedef kds_fence_func_t - a fence callback.
 * @f: the fence that is done (borrowed for the duration of the call).
 * @cb: the callback structure passed to kds_fence_add_callback().
 *
 * Called once, in the context that completed the fence (possibly hard IRQ),
 * with local interrupts disabled and no kds lock held: it may call any kds
 * function that may be called from hard IRQ context, on any fence, and may
 * put the last reference to @f (kds holds its own while it runs). It must
 * not sleep. Once it is called, kds no longer touches @cb, so the callback
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
 * @gfp: allocation flags; GFP_KERNEL, GFP_NOWAIT and GFP_ATOMIC are
 *       honoured for their reclaim class, and __GFP_NOWARN.
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
 * without recursion however long the chain of dependent fences is.
 * Completing a fence more times than it awaited is a bug: kds warns once
 * and ignores the extra calls.
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
 * that costs (O(1) when @f was created after @signaler).
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @signaler was already done (its error is
 * inherited), -EDEADLK when @signaler (transitively) awaits @f, -ENOMEM,
 * -EINVAL for NULL arguments or a done @f.
 */
int kds_fence_await_fence(struct kds_fence *f, struct kds_fence *signaler, gfp_t gfp);

/**
 * kds_fence_await_completion() - Make a fence await a completion.
 * @f: the waiting fence; must be pending.
 * @c: the completion.
 * @gfp: allocation flags (see kds_fence_create()).
 *
 * The fence waits on @c as wait_for_completion() does: it consumes one
 * complete() (nothing with complete_all()). Completions have no callback
 * hook, so a kds worker sleeps on @c until then. @c must stay valid until
 * @f is done.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @c was already completed (one completion
 * is consumed), -ENOMEM, -EINVAL for NULL arguments or a done @f.
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
 * @f.
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
 * When it returns false, the callback has been called and has returned:
 * if it was running on another CPU, this waits for it. So @cb may be freed
 * either way once this returns. Called from within a callback of the same
 * fence, it does not wait (that would deadlock) and returns false.
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
 * Context: Any context; may sleep if @gfp allows.
 * Return: 1 when added, 0 when @expires has already passed, -ENOMEM,
 * -EINVAL for NULL arguments, an unsupported @clock or a done @f.
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
 * Awaiting a dma_fence that kds exported awaits the kds fence behind it
 * directly, so cycle detection sees through the bridge: a kds fence that
 * awaits its own exported dma_fence gets -EDEADLK instead of a hang.
 *
 * An exported dma_fence has its own fence context (one timeline per export,
 * seqno 1), driver name "kds" and timeline name "kds-fence-<id>". Until it
 * signals it holds a reference to the kds fence and to kds.ko; once
 * signalled it is independent of kds (it has no release or wait operation,
 * so the dma-fence core drops its ops), and lives as long as its own
 * references. kds signals it from the kds fence's callback, inside
 * dma_fence_begin_signalling(), without allocating or taking a dma_resv
 * lock.
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
 * inherited), -EDEADLK when @dma was exported from a fence that awaits @f,
 * -ENOMEM, -EINVAL for NULL arguments or a done @f.
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
 * already signalled (errors inherited), -ENOMEM, -EDEADLK, -EINVAL as for
 * kds_fence_await_dma_fence(). On error, the dependencies added before it
 * remain.
 */
int kds_fence_await_dma_resv(struct kds_fence *f, struct dma_resv *resv,
			     enum dma_resv_usage usage, unsigned long timeout, gfp_t gfp);

/**
 * kds_fence_export_dma_fence() - A dma_fence that signals when a fence is done.
 * @f: the fence.
 * @gfp: allocation flags.
 *
 * The dma_fence signals with @f's error, if any, once @f is done (at once
 * if it is done already). See "dma-fence bridge" above for its names,
 * context and lifetime.
 *
 * Context: Any context; may sleep if @gfp allows.
 * Return: The dma_fence, with one reference for the caller (dma_fence_put()
 * it), or NULL when out of memory or @f is not a fence.
 */
struct dma_fence *kds_fence_export_dma_fence(struct kds_fence *f, gfp_t gfp);

#endif /* _KDS_H */
