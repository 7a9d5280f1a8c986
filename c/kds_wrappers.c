// SPDX-License-Identifier: GPL-2.0
/*
 * kds - C helpers for the Rust abstractions in rust/sys/.
 *
 * Static inline kernel functions and macros, which Rust cannot call, each
 * wrapped once (in-tree they would be rust/helpers/), plus the per-CPU and
 * static state those abstractions need: kds's workqueues, the hard-IRQ
 * budget, the lockdep map of ordered locks.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debug_locks.h>
#include <linux/hardirq.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "kds_internal.h"

/* Queues for the Rust crate (rust/sys/workqueue.rs). */
static struct workqueue_struct *kds_wq;
static struct workqueue_struct *kds_direct_wq;

/**
 * kds_queues_init() - Allocate kds's workqueues; called by kds_c_init().
 *
 * Return: 0 or -ENOMEM.
 */
int kds_queues_init(void)
{
	/*
	 * Async work (which may sleep), deferred frees: unbound, and as many
	 * active at once as allowed.
	 * Unbound queues of equal attributes share worker pools, so hundreds
	 * of parked completion waiters can leave a kds_wq item waiting for a
	 * new worker to be created (seen on PREEMPT_RT: a 20 ms dma timeout
	 * not run in 10 s): WQ_MEM_RECLAIM's rescuer guarantees progress.
	 */
	kds_wq = alloc_workqueue("kds", WQ_UNBOUND | WQ_MEM_RECLAIM, WQ_MAX_ACTIVE);
	if (!kds_wq)
		return -ENOMEM;
	/*
	 * Work on signalling paths (direct grant callbacks and the rest of a
	 * long completion deferred from hard IRQ, dma_fence waits and their
	 * timeouts), at high priority and with a rescuer: a dma_fence that
	 * depends on it must not wait for memory reclaim.
	 */
	kds_direct_wq = alloc_workqueue("kds_direct", WQ_UNBOUND | WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!kds_direct_wq) {
		destroy_workqueue(kds_wq);
		return -ENOMEM;
	}
	return 0;
}

/**
 * kds_queues_exit() - Drain and destroy kds's workqueues.
 */
void kds_queues_exit(void)
{
	destroy_workqueue(kds_direct_wq);
	destroy_workqueue(kds_wq);
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
 * kds_kick_delayed_work() - Make a delayed work item on kds's high-priority queue run now.
 * @dwork: the work item (a dma_fence wait: its completion is on signalling paths).
 *
 * Return: true when it was pending already (it keeps its reference).
 */
bool kds_kick_delayed_work(struct delayed_work *dwork)
{
	return mod_delayed_work(kds_direct_wq, dwork, 0);
}

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

/*
 * raw_spinlock_t for the Rust core (rust/sys/raw_spinlock.rs): kds's locks may be
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
 * Ordered raw spinlocks (rust/sys/raw_spinlock.rs): the locks of a resource set's
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

unsigned int kds_irq_level(void)
{
	return in_nmi() ? 3 : in_hardirq() ? 2 : in_serving_softirq() ? 1 : 0;
}

/* The current task's state (rust/sys/task.rs). */
void kds_set_current_state(bool intr)
{
	set_current_state(intr ? TASK_INTERRUPTIBLE : TASK_UNINTERRUPTIBLE);
}

void kds_set_current_running(void)
{
	__set_current_state(TASK_RUNNING);
}

/* Per-CPU counters and ids (rust/sys/percpu.rs). */
static DEFINE_PER_CPU(s64, kds_pcpu_count[KDS_PCPU_COUNTERS]);

void kds_pcpu_add(unsigned int idx, s64 delta)
{
	if (!WARN_ON_ONCE(idx >= KDS_PCPU_COUNTERS))
		this_cpu_add(kds_pcpu_count[idx], delta);
}

s64 kds_pcpu_sum(unsigned int idx)
{
	s64 sum = 0;
	int cpu;

	if (WARN_ON_ONCE(idx >= KDS_PCPU_COUNTERS))
		return 0;
	for_each_possible_cpu(cpu)
		sum += per_cpu(kds_pcpu_count[idx], cpu);
	return sum;
}

#define KDS_ID_BLOCK	1024
static DEFINE_PER_CPU(u64, kds_id_next);
static atomic64_t kds_id_blocks = ATOMIC64_INIT(0);

/*
 * Ids from per-CPU blocks of KDS_ID_BLOCK: block b hands out b * 1024 + 1
 * to b * 1024 + 1023, so no id is 0 and the shared atomic is touched once
 * per 1,023 ids. Interrupts off: an interrupt on this CPU may take an id.
 */
u64 kds_next_id(void)
{
	unsigned long flags;
	u64 id;

	local_irq_save(flags);
	id = __this_cpu_read(kds_id_next);
	if (!(id % KDS_ID_BLOCK))
		id = atomic64_inc_return(&kds_id_blocks) * KDS_ID_BLOCK + 1;
	__this_cpu_write(kds_id_next, id + 1);
	local_irq_restore(flags);
	return id;
}

/* C lists with CONFIG_DEBUG_LIST checks (rust/sys/list.rs). */
void kds_list_del_init(struct list_head *entry)
{
	list_del_init(entry);
}

bool kds_list_empty(const struct list_head *head)
{
	return list_empty(head);
}

void kds_list_splice_tail_init(struct list_head *list, struct list_head *head)
{
	list_splice_tail_init(list, head);
}

/* dma_fence helpers for the Rust core (rust/sys/dma_fence.rs): static inlines. */
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

/* lockdep maps as wait/signal annotations (rust/sys/lockdep.rs, rust/sys/dma_fence.rs). */
#ifdef CONFIG_LOCKDEP
/**
 * kds_lockdep_might_wait() - Tell lockdep that the caller waits for @map.
 * @map: a class's map.
 *
 * As __dma_fence_might_wait(): a wait inside a section of the same class
 * first leaves it, so that it reads as the dependency it is, not as a
 * recursive acquisition.
 */
void kds_lockdep_might_wait(struct lockdep_map *map)
{
	bool held = lock_is_held_type(map, 1);

	if (held)
		lock_release(map, _THIS_IP_);
	lock_map_acquire(map);
	lock_map_release(map);
	if (held)
		lock_acquire(map, 0, 1, 1, 1, NULL, _THIS_IP_);
}

/**
 * kds_lockdep_begin_signalling() - Open a signalling section of @map.
 * @map: a class's map.
 *
 * As dma_fence_begin_signalling(): nothing in atomic context (a non-zero
 * preempt_count(), which is what its in_atomic() tests; the might_sleep()
 * checks cover those paths) nor inside a section of the same map.
 *
 * Return: whether the map was acquired (pass it to kds_lockdep_end_signalling()).
 */
bool kds_lockdep_begin_signalling(struct lockdep_map *map)
{
	if (lock_is_held_type(map, 1) || preempt_count())
		return false;
	lock_acquire(map, 0, 1, 1, 1, NULL, _RET_IP_);
	return true;
}

/**
 * kds_lockdep_end_signalling() - Close a section kds_lockdep_begin_signalling() opened.
 * @map: its map.
 */
void kds_lockdep_end_signalling(struct lockdep_map *map)
{
	lock_release(map, _RET_IP_);
}

/**
 * kds_lockdep_enabled() - Whether lockdep is checking (it turns itself off after a report).
 *
 * Return: true while annotations are worth making.
 */
bool kds_lockdep_enabled(void)
{
	return debug_locks;
}
#else
void kds_lockdep_might_wait(struct lockdep_map *map) { }
bool kds_lockdep_begin_signalling(struct lockdep_map *map) { return false; }
void kds_lockdep_end_signalling(struct lockdep_map *map) { }
bool kds_lockdep_enabled(void) { return false; }
#endif

/**
 * kds_dma_might_wait() - Tell lockdep that the caller waits for a dma_fence.
 *
 * __dma_fence_might_wait() is not exported; dma_fence_wait() calls it
 * first thing, also for a fence that has signalled, such as the stub.
 */
void kds_dma_might_wait(void)
{
	struct dma_fence *stub;

	if (!IS_ENABLED(CONFIG_LOCKDEP))
		return;
	stub = dma_fence_get_stub();

	dma_fence_wait(stub, false);
	dma_fence_put(stub);
}

/**
 * kds_dma_begin_signalling() - dma_fence_begin_signalling(), for Rust.
 *
 * Return: its cookie.
 */
bool kds_dma_begin_signalling(void)
{
	return dma_fence_begin_signalling();
}

/**
 * kds_dma_end_signalling() - dma_fence_end_signalling(), for Rust.
 * @cookie: what kds_dma_begin_signalling() returned.
 */
void kds_dma_end_signalling(bool cookie)
{
	dma_fence_end_signalling(cookie);
}

/*
 * Text for names and diagnostics (rust/sys/fmt.rs): "%ps" of an address,
 * the current CPU (rust/sys/registry.rs) and time in jiffies.
 */
int kds_snprint_sym(char *buf, size_t len, unsigned long ip)
{
	return scnprintf(buf, len, "%ps", (void *)ip);
}

unsigned int kds_this_cpu(void)
{
	return raw_smp_processor_id();
}

unsigned long kds_jiffies(void)
{
	return jiffies;
}

unsigned int kds_jiffies_to_msecs(unsigned long j)
{
	return jiffies_to_msecs(j);
}

/* A dma_fence as "driver:timeline:seqno" (rust/sys/dma_fence.rs). */
int kds_dma_fence_describe(char *buf, size_t len, struct dma_fence *dma)
{
	const char __rcu *driver;
	const char __rcu *timeline;
	int n;

	rcu_read_lock();
	driver = dma_fence_driver_name(dma);
	timeline = dma_fence_timeline_name(dma);
	n = scnprintf(buf, len, "%s:%s:%llu", rcu_dereference(driver),
		      rcu_dereference(timeline), dma->seqno);
	rcu_read_unlock();
	return n;
}
