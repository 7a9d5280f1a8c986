// SPDX-License-Identifier: GPL-2.0
/*
 * kds - the C side of kds.ko.
 *
 * The Rust core implements most of the API declared in include/kds.h as
 * #[no_mangle] extern "C" functions; this file exports them to other
 * modules (EXPORT_SYMBOL_GPL can only be used from C), checks at load time
 * that the Rust core and the header agree, and holds the few pieces that
 * are kernel C idiom through and through: sleeping on a fence, waiting for
 * a struct completion, WARN_ONCE() and gfp_t classes.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-array.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-fence-unwrap.h>
#include <linux/dma-resv.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/irq_work.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/sysfs.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include <kds.h>

#include "kds_internal.h"

EXPORT_SYMBOL_GPL(kds_version);
EXPORT_SYMBOL_GPL(kds_version_string);

EXPORT_SYMBOL_GPL(kds_fence_create);
EXPORT_SYMBOL_GPL(kds_fence_get);
EXPORT_SYMBOL_GPL(kds_fence_put);
EXPORT_SYMBOL_GPL(kds_fence_await);
EXPORT_SYMBOL_GPL(kds_fence_complete);
EXPORT_SYMBOL_GPL(kds_fence_await_fence);
EXPORT_SYMBOL_GPL(kds_fence_set_error);
EXPORT_SYMBOL_GPL(kds_fence_get_status);
EXPORT_SYMBOL_GPL(kds_fence_done);
EXPORT_SYMBOL_GPL(kds_fence_add_callback);
EXPORT_SYMBOL_GPL(kds_fence_remove_callback);
EXPORT_SYMBOL_GPL(kds_fence_await_hrtimer);
EXPORT_SYMBOL_GPL(kds_fence_await_dma_fence);
EXPORT_SYMBOL_GPL(kds_fence_await_dma_resv);

EXPORT_SYMBOL_GPL(kds_resource_init);
EXPORT_SYMBOL_GPL(kds_resource_term);
EXPORT_SYMBOL_GPL(kds_async_waitall);
EXPORT_SYMBOL_GPL(kds_waitall);
EXPORT_SYMBOL_GPL(kds_resource_set_fence);

EXPORT_SYMBOL_GPL(kds_async_domain_create);
EXPORT_SYMBOL_GPL(kds_async_domain_destroy);
EXPORT_SYMBOL_GPL(kds_async_work_create);
EXPORT_SYMBOL_GPL(kds_async_work_after);
EXPORT_SYMBOL_GPL(kds_async_work_before);
EXPORT_SYMBOL_GPL(kds_async_work_fence);
EXPORT_SYMBOL_GPL(kds_async_queue);
EXPORT_SYMBOL_GPL(kds_async_work_put);
EXPORT_SYMBOL_GPL(kds_async_schedule);
EXPORT_SYMBOL_GPL(kds_async_barrier);
EXPORT_SYMBOL_GPL(kds_async_synchronize);
EXPORT_SYMBOL_GPL(kds_async_synchronize_cookie);
EXPORT_SYMBOL_GPL(kds_async_graph_create);
EXPORT_SYMBOL_GPL(kds_async_graph_add);
EXPORT_SYMBOL_GPL(kds_async_graph_run);
EXPORT_SYMBOL_GPL(kds_async_graph_destroy);

/* Workers that sleep on behalf of fences (completions have no callbacks). */
static struct workqueue_struct *kds_wq;
static struct workqueue_struct *kds_completion_wq;
static struct workqueue_struct *kds_direct_wq;

/**
 * kds_c_init() - Load-time checks of the C ABI; called by the Rust module init.
 *
 * Return: 0, -EINVAL when the Rust core was built against another header,
 * -ENOMEM.
 */
int kds_c_init(void)
{
	static const size_t cb_layout[] = {
		sizeof(struct kds_fence_cb),
		offsetof(struct kds_fence_cb, node),
		offsetof(struct kds_fence_cb, func),
	};

	if (kds_version() != KDS_VERSION_CODE) {
		pr_err("Rust core is version %#x, include/kds.h says %#x\n",
		       kds_version(), KDS_VERSION_CODE);
		return -EINVAL;
	}
	static const size_t callback_layout[] = {
		sizeof(struct kds_callback),
		offsetof(struct kds_callback, user_cb),
		offsetof(struct kds_callback, direct),
		offsetof(struct kds_callback, wq),
		offsetof(struct kds_callback, inflight),
	};

	if (memcmp(cb_layout, kds_rust_fence_cb_layout, sizeof(cb_layout))) {
		pr_err("struct kds_fence_cb differs between C and Rust\n");
		return -EINVAL;
	}
	if (memcmp(callback_layout, kds_rust_callback_layout, sizeof(callback_layout))) {
		pr_err("struct kds_callback differs between C and Rust\n");
		return -EINVAL;
	}
	if (kds_rust_resource_layout[0] > sizeof(struct kds_resource) ||
	    kds_rust_resource_layout[1] > __alignof__(struct kds_resource)) {
		pr_err("struct kds_resource is too small for the Rust core\n");
		return -EINVAL;
	}
	/*
	 * Async work (which may sleep), dma_fence waits and their timeouts,
	 * deferred frees: unbound, and as many active at once as allowed.
	 * Unbound queues of equal attributes share worker pools, so hundreds
	 * of parked completion waiters can leave a kds_wq item waiting for a
	 * new worker to be created (seen on PREEMPT_RT: a 20 ms dma timeout
	 * not run in 10 s): WQ_MEM_RECLAIM's rescuer guarantees progress.
	 */
	kds_wq = alloc_workqueue("kds", WQ_UNBOUND | WQ_MEM_RECLAIM, WQ_MAX_ACTIVE);
	if (!kds_wq)
		return -ENOMEM;
	/*
	 * Work deferred from hard IRQ (direct grant callbacks, the rest of a
	 * long completion), at high priority.
	 */
	kds_direct_wq = alloc_workqueue("kds_direct", WQ_UNBOUND | WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!kds_direct_wq)
		goto err_direct;
	/*
	 * Completion waiters, each a worker asleep in wait_for_completion():
	 * a queue of their own, so that no other kds work ever waits behind
	 * them. Unbound, with WQ_MAX_ACTIVE (2048 on 7.3) as max_active.
	 */
	kds_completion_wq = alloc_workqueue("kds_completion", WQ_UNBOUND, WQ_MAX_ACTIVE);
	if (!kds_completion_wq)
		goto err_completion;
	return 0;

err_completion:
	destroy_workqueue(kds_direct_wq);
err_direct:
	destroy_workqueue(kds_wq);
	return -ENOMEM;
}

/**
 * kds_c_exit() - Undo kds_c_init(); called by the Rust module exit.
 */
void kds_c_exit(void)
{
	destroy_workqueue(kds_completion_wq);
	destroy_workqueue(kds_direct_wq);
	destroy_workqueue(kds_wq);
	/*
	 * Signalled exported dma_fences drop their ops, but a reader may still
	 * be inside one of ours under rcu_read_lock() (see
	 * dma_fence_driver_name()); and kds's own callbacks run with
	 * interrupts off. Let them all finish before the module text goes.
	 */
	synchronize_rcu();
}

/*
 * The parameter's file exists before module init has run and after module
 * exit has begun; the counts may only be read in between.
 */
static DEFINE_MUTEX(kds_live_lock);
static bool kds_live_ready;	/* protected by kds_live_lock */

/**
 * kds_live_enable() - Let /sys/module/kds/parameters/live read the counts.
 * @on: true at the end of module init, false at the start of module exit.
 */
void kds_live_enable(bool on)
{
	mutex_lock(&kds_live_lock);
	kds_live_ready = on;
	mutex_unlock(&kds_live_lock);
}

static int kds_live_get(char *buf, const struct kernel_param *kp)
{
	s64 n[3];
	int ret;

	mutex_lock(&kds_live_lock);
	if (kds_live_ready) {
		kds_live_counts(n);
		ret = sysfs_emit(buf, "fences=%lld graph_nodes=%lld graph_edges=%lld\n",
				 n[0], n[1], n[2]);
	} else {
		ret = sysfs_emit(buf, "unavailable\n");
	}
	mutex_unlock(&kds_live_lock);
	return ret;
}

static const struct kernel_param_ops kds_live_ops = {
	.get = kds_live_get,
};

/*
 * /sys/module/kds/parameters/live: what kds holds now. Every resource set,
 * work item and domain holds fences, so once nothing uses kds all three
 * are 0 (the default async domain's own fences are not counted); make
 * check and make torture check that before unloading kds.
 */
module_param_cb(live, &kds_live_ops, NULL, 0444);
MODULE_PARM_DESC(live, "objects kds holds now: fences, graph nodes and edges (read-only)");

/* Whether this CPU is inside a hard-IRQ fence completion of kds's. */
static DEFINE_PER_CPU(unsigned int, kds_hardirq_nesting);

/**
 * kds_hardirq_budget_begin() - How many fences a completion may retire here.
 * @budget: what one interrupt may retire.
 *
 * Return: no limit outside hard IRQ; in hard IRQ, @budget for the
 * outermost completion of the interrupt and 0 for one nested in its
 * callbacks, so that one interrupt retires about @budget fences in all.
 * Pair with kds_hardirq_budget_end().
 */
unsigned long kds_hardirq_budget_begin(unsigned long budget)
{
	if (!in_hardirq())
		return ULONG_MAX;
	return this_cpu_inc_return(kds_hardirq_nesting) == 1 ? budget : 0;
}

void kds_hardirq_budget_end(void)
{
	if (in_hardirq())
		this_cpu_dec(kds_hardirq_nesting);
}

static void kds_deferred_fn(struct work_struct *work)
{
	kds_fence_run_deferred();
}

static DECLARE_WORK(kds_deferred_work, kds_deferred_fn);

/**
 * kds_queue_deferred() - Retire the fences handed over from hard IRQ.
 *
 * Queues the one work item that retires them all (rust/fence.rs,
 * Deferred); callable in any context, it allocates nothing.
 */
void kds_queue_deferred(void)
{
	queue_work(kds_direct_wq, &kds_deferred_work);
}

/**
 * kds_workqueue() - The workqueue the Rust core queues its workers on.
 *
 * Return: kds's unbound workqueue, valid between kds_c_init() and kds_c_exit().
 */
struct workqueue_struct *kds_workqueue(void)
{
	return kds_wq;
}

/**
 * kds_direct_workqueue() - Where direct grant callbacks granted in hard IRQ
 * run, and fence completions handed over from hard IRQ.
 *
 * Return: the queue, valid between kds_c_init() and kds_c_exit().
 */
struct workqueue_struct *kds_direct_workqueue(void)
{
	return kds_direct_wq;
}

/**
 * kds_misuse() - Warn, once per kind, that a caller misused the API.
 * @kind: an &enum kds_misuse.
 * @func: the API function that was misused.
 *
 * Each kind has its own WARN_ONCE(), so one misuse does not hide another;
 * KUnit tests that provoke misuse on purpose suppress and count these.
 */
void kds_misuse(unsigned int kind, const char *func)
{
	switch (kind) {
	case KDS_MISUSE_NULL:
		WARN_ONCE(1, "kds: %s: NULL argument\n", func);
		break;
	case KDS_MISUSE_BAD_OBJECT:
		WARN_ONCE(1, "kds: %s: not a live kds object\n", func);
		break;
	case KDS_MISUSE_AWAIT_DONE:
		WARN_ONCE(1, "kds: %s: the fence is already done\n", func);
		break;
	case KDS_MISUSE_OVER_COMPLETE:
		WARN_ONCE(1, "kds: %s: more events completed than awaited\n", func);
		break;
	case KDS_MISUSE_BAD_ERROR:
		WARN_ONCE(1, "kds: %s: not a negative errno\n", func);
		break;
	case KDS_MISUSE_ERROR_AFTER_DONE:
		WARN_ONCE(1, "kds: %s: error set on a fence that is done\n", func);
		break;
	case KDS_MISUSE_RELEASED_PENDING:
		WARN_ONCE(1, "kds: %s: last reference to a pending fence that has waiters\n",
			  func);
		break;
	case KDS_MISUSE_NO_CALLBACK:
		WARN_ONCE(1, "kds: %s: no callback function\n", func);
		break;
	case KDS_MISUSE_BAD_ARGUMENT:
		WARN_ONCE(1, "kds: %s: invalid argument\n", func);
		break;
	case KDS_MISUSE_DUPLICATE:
		WARN_ONCE(1, "kds: %s: the same resource twice in one set\n", func);
		break;
	case KDS_MISUSE_REQUEUE:
		WARN_ONCE(1, "kds: %s: the work item is queued already\n", func);
		break;
	case KDS_MISUSE_INTERNAL:
		WARN_ONCE(1, "kds: %s: kds completes this fence itself (a resource set's or a work item's)\n",
			  func);
		break;
	case KDS_MISUSE_BUSY:
		WARN_ONCE(1, "kds: %s: resource sets still use it\n", func);
		break;
	default:
		WARN_ONCE(1, "kds: %s: misuse %u\n", func, kind);
		break;
	}
}

/**
 * kds_gfp_class() - Classify a caller's gfp_t for the Rust allocator.
 * @gfp: the flags.
 *
 * Return: 0 may reclaim directly (GFP_KERNEL), 1 may use reserves
 * (GFP_ATOMIC), 2 neither (GFP_NOWAIT); bit 4 set for __GFP_NOWARN.
 */
unsigned int kds_gfp_class(gfp_t gfp)
{
	unsigned int class;

	if (gfp & __GFP_DIRECT_RECLAIM)
		class = 0;
	else if (gfp & __GFP_HIGH)
		class = 1;
	else
		class = 2;
	if (gfp & __GFP_NOWARN)
		class |= 0x10;
	return class;
}

/*
 * raw_spinlock_t for the Rust core (rust/rawlock.rs): kds's locks may be
 * taken in hard IRQ context, on PREEMPT_RT too.
 */
void kds_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
			    struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(lock, name, key, LD_WAIT_SPIN);
#else
	raw_spin_lock_init(lock);
#endif
}

unsigned long kds_raw_spin_lock_irqsave(raw_spinlock_t *lock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(lock, flags);
	return flags;
}

void kds_raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)
{
	raw_spin_unlock_irqrestore(lock, flags);
}

bool kds_raw_spin_trylock_irqsave(raw_spinlock_t *lock, unsigned long *flags)
{
	return raw_spin_trylock_irqsave(lock, *flags);
}

void kds_raw_spin_assert_held(raw_spinlock_t *lock)
{
	lockdep_assert_held(lock);
}

/*
 * Ordered raw spinlocks (rust/rawlock.rs): the locks of a resource set's
 * resources, taken together in address order. Lockdep sees them nest under
 * one acquisition context, as ww_mutex's do under a ww_acquire_ctx, so that
 * holding many locks of one class is not reported as recursion.
 */
#ifdef CONFIG_DEBUG_LOCK_ALLOC
static struct lock_class_key kds_order_key;
static struct {
	struct lockdep_map dep_map;
} kds_order = {
	.dep_map = STATIC_LOCKDEP_MAP_INIT("kds_resource_order", &kds_order_key),
};
#endif

unsigned long kds_order_begin(void)
{
	unsigned long flags;

	local_irq_save(flags);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_map_acquire_read(&kds_order.dep_map);
#endif
	return flags;
}

void kds_order_end(unsigned long flags)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_map_release(&kds_order.dep_map);
#endif
	local_irq_restore(flags);
}

void kds_raw_spin_lock_ordered(raw_spinlock_t *lock)
{
	lockdep_assert_irqs_disabled();
	raw_spin_lock_nest_lock(lock, &kds_order);
}

bool kds_raw_spin_trylock_ordered(raw_spinlock_t *lock)
{
	lockdep_assert_irqs_disabled();
	return raw_spin_trylock(lock);
}

void kds_raw_spin_unlock(raw_spinlock_t *lock)
{
	raw_spin_unlock(lock);
}

bool kds_in_hardirq(void)
{
	return in_hardirq();
}

static void kds_vfree_fn(struct work_struct *work)
{
	vfree(work);
}

/* The reclaim scopes of kds_memalloc_begin(); bit 0 holds what was saved. */
#define KDS_MEMALLOC_NOIO	2
#define KDS_MEMALLOC_NOFS	4

/**
 * kds_memalloc_begin() - Open the reclaim scope a caller's gfp_t asks for.
 * @gfp: the caller's flags.
 *
 * The Rust core allocates with GFP_KERNEL, GFP_ATOMIC or GFP_NOWAIT only;
 * a GFP_NOIO or GFP_NOFS caller gets a memalloc_noio_save() or
 * memalloc_nofs_save() scope around its call, so that no allocation of it
 * recurses into I/O or filesystem reclaim.
 *
 * Return: a token for kds_memalloc_end() (0: no scope).
 */
unsigned int kds_memalloc_begin(gfp_t gfp)
{
	if (!in_task() || !(gfp & __GFP_DIRECT_RECLAIM))
		return 0;
	if (!(gfp & __GFP_IO))
		return KDS_MEMALLOC_NOIO | !!memalloc_noio_save();
	if (!(gfp & __GFP_FS))
		return KDS_MEMALLOC_NOFS | !!memalloc_nofs_save();
	return 0;
}

/**
 * kds_memalloc_end() - Close a scope kds_memalloc_begin() opened.
 * @token: what it returned.
 */
void kds_memalloc_end(unsigned int token)
{
	if (token & KDS_MEMALLOC_NOIO)
		memalloc_noio_restore(token & 1 ? PF_MEMALLOC_NOIO : 0);
	else if (token & KDS_MEMALLOC_NOFS)
		memalloc_nofs_restore(token & 1 ? PF_MEMALLOC_NOFS : 0);
}

/*
 * Frees kvmalloc() memory in any context but NMI. vfree() may sleep, and
 * vfree_atomic() is not exported: like it, use the dead buffer itself (a
 * vmalloc() buffer is at least a page) to defer the vfree() to kds's
 * workqueue, which module exit flushes.
 */
void kds_kvfree_atomic(const void *p)
{
	struct work_struct *work;

	if (!is_vmalloc_addr(p)) {
		kfree(p);
		return;
	}
	work = (struct work_struct *)p;
	INIT_WORK(work, kds_vfree_fn);
	queue_work(kds_wq, work);
}

bool kds_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void kds_module_put(void)
{
	module_put(THIS_MODULE);
}

/*
 * A set that uses @cb was created: until its call has returned, or it was
 * released before the call started, kds may touch @cb and its workqueue.
 */
void kds_callback_call_begin(struct kds_callback *cb)
{
	atomic_inc(&cb->inflight);
}

/*
 * After this, kds does not touch @cb for that set. No wake-up: this runs
 * in any context (hard IRQ included), and kds_callback_term() polls.
 */
void kds_callback_call_end(struct kds_callback *cb)
{
	atomic_dec_return_release(&cb->inflight);
}

unsigned int kds_irq_level(void)
{
	return in_nmi() ? 3 : in_hardirq() ? 2 : in_serving_softirq() ? 1 : 0;
}

struct kds_fence_waiter {
	struct kds_fence_cb cb;
	struct task_struct *task;
};

static void kds_fence_wake(struct kds_fence *f, struct kds_fence_cb *cb)
{
	wake_up_process(container_of(cb, struct kds_fence_waiter, cb)->task);
}

long kds_fence_wait_timeout(struct kds_fence *f, bool intr, long timeout)
{
	struct kds_fence_waiter w = { .task = current };
	long ret = timeout ? timeout : 1;

	might_sleep();
	if (!kds_fence_check(f, __func__))
		return -EINVAL;
	if (timeout < 0) {	/* as dma_fence_wait_timeout() */
		kds_misuse(KDS_MISUSE_BAD_ARGUMENT, __func__);
		return -EINVAL;
	}
	if (kds_fence_done(f))
		return ret;
	if (!timeout)
		return 0;
	if (kds_fence_add_callback(f, &w.cb, kds_fence_wake))
		return ret;	/* -ENOENT: done meanwhile */

	/*
	 * The callback publishes the fence done before it wakes us, and
	 * set_current_state() orders our state before the check: a wake-up
	 * between the two makes schedule_timeout() return at once.
	 */
	for (;;) {
		set_current_state(intr ? TASK_INTERRUPTIBLE : TASK_UNINTERRUPTIBLE);
		if (kds_fence_done(f))
			break;
		if (intr && signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		ret = schedule_timeout(ret);
		if (!ret)
			break;
	}
	__set_current_state(TASK_RUNNING);
	/* Waits for a callback running on another CPU: w may then go. */
	kds_fence_remove_callback(f, &w.cb);
	if (ret == 0 && kds_fence_done(f))
		ret = 1;
	return ret;
}
EXPORT_SYMBOL_GPL(kds_fence_wait_timeout);

void kds_fence_wait(struct kds_fence *f)
{
	kds_fence_wait_timeout(f, false, MAX_SCHEDULE_TIMEOUT);
}
EXPORT_SYMBOL_GPL(kds_fence_wait);

/* dma_fence helpers for the Rust core (rust/dma_fence.rs): static inlines. */
struct dma_fence *kds_dma_fence_get(struct dma_fence *fence)
{
	return dma_fence_get(fence);
}

void kds_dma_fence_put(struct dma_fence *fence)
{
	dma_fence_put(fence);
}

bool kds_dma_fence_is_signaled(struct dma_fence *fence)
{
	return dma_fence_is_signaled(fence);
}

void kds_dma_resv_iter_begin(struct dma_resv_iter *cursor, struct dma_resv *resv,
			     enum dma_resv_usage usage)
{
	dma_resv_iter_begin(cursor, resv, usage);
}

void kds_dma_resv_iter_end(struct dma_resv_iter *cursor)
{
	dma_resv_iter_end(cursor);
}

/**
 * kds_kick_delayed_work() - Make a delayed work item on kds's queue run now.
 * @dwork: the work item.
 *
 * Return: true when it was pending already (it keeps its reference).
 */
bool kds_kick_delayed_work(struct delayed_work *dwork)
{
	return mod_delayed_work(kds_wq, dwork, 0);
}

/**
 * kds_dma_fence_timed_out() - Report that a dma_fence kept a kds fence waiting too long.
 * @dma: the dma_fence.
 * @waiter: the id of the waiting kds fence.
 * @timeout: the timeout, in jiffies.
 */
void kds_dma_fence_timed_out(struct dma_fence *dma, u64 waiter, unsigned long timeout)
{
	const char __rcu *driver;
	const char __rcu *timeline;

	rcu_read_lock();
	driver = dma_fence_driver_name(dma);
	timeline = dma_fence_timeline_name(dma);
	pr_warn_ratelimited("fence %llu: dma_fence %s:%s seqno %llu not signalled after %u ms; completing with -ETIMEDOUT\n",
			    waiter, rcu_dereference(driver), rcu_dereference(timeline),
			    dma->seqno, jiffies_to_msecs(timeout));
	rcu_read_unlock();
}

/*
 * Exported dma_fences. No release and no wait operation: once signalled,
 * the dma-fence core drops the ops and the fence no longer needs kds.ko;
 * dma_fence_free() frees it (so the dma_fence must come first).
 *
 * A kds fence completes in any context: hard IRQ, under a caller's raw
 * spinlock, and with interrupts off on PREEMPT_RT. The dma_fence's lock is
 * a spinlock_t, which may sleep on PREEMPT_RT and which lockdep's
 * wait-context check refuses in those contexts. So the kds callback only
 * queues an irq_work, which signals the dma_fence, as dma_fence_array and
 * dma_fence_chain do: it runs in a per-CPU thread on PREEMPT_RT, and in
 * the irq_work interrupt elsewhere, where lockdep treats it as threaded.
 */
struct kds_dma_export {
	struct dma_fence base;
	struct kds_fence_cb cb;
	struct irq_work work;
	struct kds_fence *fence;	/* until signalled, under base's lock */
	char name[32];
};

static const char *kds_dma_driver_name(struct dma_fence *dma)
{
	return "kds";
}

static const char *kds_dma_timeline_name(struct dma_fence *dma)
{
	return container_of(dma, struct kds_dma_export, base)->name;
}

static const struct dma_fence_ops kds_dma_fence_ops = {
	.get_driver_name = kds_dma_driver_name,
	.get_timeline_name = kds_dma_timeline_name,
};

/* Context: where a spinlock_t may be taken. */
static void kds_dma_export_signal(struct kds_dma_export *e)
{
	int status = kds_fence_get_status(e->fence);
	struct kds_fence *held;
	unsigned long flags;
	bool cookie;

	cookie = dma_fence_begin_signalling();
	dma_fence_lock_irqsave(&e->base, flags);
	if (status < 0)
		dma_fence_set_error(&e->base, status);
	held = e->fence;
	e->fence = NULL;
	dma_fence_signal_locked(&e->base);
	dma_fence_unlock_irqrestore(&e->base, flags);
	dma_fence_end_signalling(cookie);

	kds_fence_put(held);
	dma_fence_put(&e->base);	/* kds's reference */
	module_put(THIS_MODULE);	/* kds_c_exit() waits for RCU */
}

static void kds_dma_export_signal_work(struct irq_work *work)
{
	/*
	 * On PREEMPT_RT this runs preemptible in the irq_work thread: the RCU
	 * read section lets kds_c_exit()'s synchronize_rcu() wait for it
	 * after the module_put() above.
	 */
	rcu_read_lock();
	kds_dma_export_signal(container_of(work, struct kds_dma_export, work));
	rcu_read_unlock();
}

static void kds_dma_export_done(struct kds_fence *f, struct kds_fence_cb *cb)
{
	irq_work_queue(&container_of(cb, struct kds_dma_export, cb)->work);
}

struct dma_fence *kds_fence_export_dma_fence(struct kds_fence *f, gfp_t gfp)
{
	struct kds_dma_export *e;

	if (!kds_fence_check(f, __func__))
		return NULL;
	e = kzalloc_obj(*e, gfp);
	if (!e)
		return NULL;
	if (!try_module_get(THIS_MODULE)) {
		kfree(e);
		return NULL;
	}
	snprintf(e->name, sizeof(e->name), "kds-fence-%llu", kds_fence_id(f));
	dma_fence_init(&e->base, &kds_dma_fence_ops, NULL, dma_fence_context_alloc(1), 1);
	init_irq_work(&e->work, kds_dma_export_signal_work);
	dma_fence_get(&e->base);	/* kds's reference, until signalled */
	e->fence = kds_fence_get(f);
	if (kds_fence_add_callback(f, &e->cb, kds_dma_export_done) == -ENOENT) {
		/* A caller that may sleep may take a spinlock_t: signal now. */
		if (gfpflags_allow_blocking(gfp))
			kds_dma_export_signal(e);
		else
			irq_work_queue(&e->work);
	}
	return &e->base;
}
EXPORT_SYMBOL_GPL(kds_fence_export_dma_fence);

/**
 * kds_dma_fence_source() - The kds fence behind a dma_fence kds exported.
 * @dma: a dma_fence.
 *
 * Return: a reference to the kds fence @dma was exported from, while @dma
 * has not signalled; NULL otherwise.
 */
struct kds_fence *kds_dma_fence_source(struct dma_fence *dma)
{
	struct kds_fence *f = NULL;
	unsigned long flags;

	if (rcu_access_pointer(dma->ops) != &kds_dma_fence_ops)
		return NULL;
	dma_fence_lock_irqsave(dma, flags);
	if (!test_bit(DMA_FENCE_FLAG_SIGNALED_BIT, &dma->flags))
		f = kds_fence_get(container_of(dma, struct kds_dma_export, base)->fence);
	dma_fence_unlock_irqrestore(dma, flags);
	return f;
}

/**
 * kds_dma_fence_sources() - The kds fences behind the exports in a dma_fence.
 * @dma: a dma_fence: a kds export, or a dma_fence_array or dma_fence_chain
 *	(looked into with dma_fence_unwrap, as sync_file merging does).
 * @out: where to store them, each a reference (kds_fence_put() it).
 * @max: room in @out.
 * @itself: set to whether @dma is a kds export itself.
 *
 * Return: how many unsignalled kds exports @dma is or contains; only the
 * first @max are stored, the others are put.
 */
int kds_dma_fence_sources(struct dma_fence *dma, struct kds_fence **out, int max, bool *itself)
{
	struct dma_fence_unwrap iter;
	struct dma_fence *d;
	int n = 0;

	*itself = rcu_access_pointer(dma->ops) == &kds_dma_fence_ops;
	if (!*itself && !dma_fence_is_array(dma) && !dma_fence_is_chain(dma))
		return 0;
	dma_fence_unwrap_for_each(d, &iter, dma) {
		struct kds_fence *f = kds_dma_fence_source(d);

		if (!f)
			continue;
		if (n < max)
			out[n] = f;
		else
			kds_fence_put(f);
		n++;
	}
	return n;
}

struct kds_completion_wait {
	struct work_struct work;
	struct kds_fence *fence;
	struct completion *c;
};

static void kds_completion_wait_fn(struct work_struct *work)
{
	struct kds_completion_wait *w =
		container_of(work, struct kds_completion_wait, work);

	wait_for_completion(w->c);
	kds_fence_complete(w->fence);
	kds_fence_put(w->fence);
	kfree(w);
	module_put(THIS_MODULE);	/* exit flushes the queue after this */
}

int kds_fence_await_completion(struct kds_fence *f, struct completion *c, gfp_t gfp)
{
	struct kds_completion_wait *w;
	int ret;

	if (!kds_fence_check(f, __func__))
		return -EINVAL;
	if (!c) {
		kds_misuse(KDS_MISUSE_NULL, __func__);
		return -EINVAL;
	}
	w = kmalloc_obj(*w, gfp);
	if (!w)
		return -ENOMEM;
	ret = kds_fence_try_await(f, __func__);
	if (ret) {
		kfree(w);
		if (ret == -EINVAL)
			kds_misuse(KDS_MISUSE_AWAIT_DONE, __func__);
		return ret;
	}
	if (try_wait_for_completion(c)) {
		kfree(w);
		kds_fence_complete(f);
		return 0;
	}
	/* A parked waiter holds kds: rmmod fails rather than hangs. */
	if (!try_module_get(THIS_MODULE)) {
		kfree(w);
		kds_fence_set_error(f, -ENODEV);
		kds_fence_complete(f);
		return -ENODEV;
	}
	w->fence = kds_fence_get(f);
	w->c = c;
	INIT_WORK(&w->work, kds_completion_wait_fn);
	queue_work(kds_completion_wq, &w->work);
	return 1;
}
EXPORT_SYMBOL_GPL(kds_fence_await_completion);

int kds_callback_init(struct kds_callback *cb, int direct, kds_callback_fn user_cb)
{
	might_sleep();
	if (!cb || !user_cb) {
		kds_misuse(KDS_MISUSE_NULL, __func__);
		return -EINVAL;
	}
	cb->user_cb = user_cb;
	cb->direct = direct;
	cb->wq = NULL;
	atomic_set(&cb->inflight, 0);
	if (direct)
		return 0;
	/* As in the 2012 KDS: callbacks may sleep, and need not wait for each other. */
	cb->wq = alloc_workqueue("kds_cb", WQ_UNBOUND | WQ_HIGHPRI, 0);
	return cb->wq ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_GPL(kds_callback_init);

void kds_callback_term(struct kds_callback *cb)
{
	unsigned long warn_at = jiffies + 10 * HZ;
	bool warned = false;

	might_sleep();
	if (!cb) {
		kds_misuse(KDS_MISUSE_NULL, __func__);
		return;
	}
	/*
	 * Every set that uses @cb holds a count until its call has returned
	 * (wherever it runs: @cb's workqueue, deferred from hard IRQ, behind
	 * another direct call in a trampoline, on another task) or it was
	 * released before the call. Teardown is rare and the count drops in
	 * any context, so poll rather than make every drop wake.
	 */
	while (atomic_read_acquire(&cb->inflight) > 0) {
		if (!warned && time_after(jiffies, warn_at)) {
			kds_misuse(KDS_MISUSE_BUSY, __func__);	/* sets still queued */
			warned = true;
		}
		usleep_range(1000, 2000);
	}
	if (cb->wq)
		destroy_workqueue(cb->wq);
	cb->wq = NULL;
	cb->user_cb = NULL;
}
EXPORT_SYMBOL_GPL(kds_callback_term);

/* Whoever takes the pointer releases the set: cancel versus grant. */
static void kds_rset_take_and_release(struct kds_resource_set **pprset, bool sync,
				      const char *func)
{
	struct kds_resource_set *rset;

	if (!pprset) {
		kds_misuse(KDS_MISUSE_NULL, func);
		return;
	}
	rset = xchg(pprset, NULL);
	if (rset)
		kds_rset_release(rset, sync);
}

void kds_resource_set_release(struct kds_resource_set **pprset)
{
	kds_rset_take_and_release(pprset, false, __func__);
}
EXPORT_SYMBOL_GPL(kds_resource_set_release);

void kds_resource_set_release_sync(struct kds_resource_set **pprset)
{
	might_sleep();
	kds_rset_take_and_release(pprset, true, __func__);
}
EXPORT_SYMBOL_GPL(kds_resource_set_release_sync);
