// SPDX-License-Identifier: GPL-2.0
/*
 * kds - kds fences as dma_fences.
 *
 * kds_fence_export_dma_fence() and its dma_fence_ops; finding the kds
 * fences behind a dma_fence (for cycle detection, rust/fence/dma.rs); the
 * message for a dma_fence that kept a kds fence waiting too long.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-fence.h>
#include <linux/dma-fence-array.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-fence-unwrap.h>
#include <linux/export.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include <kds.h>

#include "kds_internal.h"

/**
 * kds_dma_fence_timed_out() - Report that a dma_fence kept a kds fence waiting too long.
 * @dma: the dma_fence.
 * @waiter: the id of the waiting kds fence.
 * @name: its name.
 * @timeout: the timeout, in jiffies.
 */
void kds_dma_fence_timed_out(struct dma_fence *dma, u64 waiter, const char *name,
			     unsigned long timeout)
{
	const char __rcu *driver;
	const char __rcu *timeline;

	rcu_read_lock();
	driver = dma_fence_driver_name(dma);
	timeline = dma_fence_timeline_name(dma);
	pr_warn_ratelimited("fence %llu \"%s\": dma_fence %s:%s:%llu not signalled after %u ms; completing with -ETIMEDOUT\n",
			    waiter, name, rcu_dereference(driver), rcu_dereference(timeline),
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
	int ret;

	if (!kds_fence_check(f, __func__))
		return ERR_PTR(-EINVAL);
	e = kzalloc_obj(*e, gfp);
	if (!e)
		return ERR_PTR(-ENOMEM);
	if (!try_module_get(THIS_MODULE)) {
		kfree(e);
		return ERR_PTR(-ENODEV);
	}
	/* From here on @f follows the dma_fence rules, or it is refused. */
	ret = kds_fence_mark_exported(f);
	if (ret) {
		module_put(THIS_MODULE);
		kfree(e);
		return ERR_PTR(ret);
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
 * Return: one of kds's own references (kds_fence_ref_internal()) to the
 * kds fence @dma was exported from, while @dma has not signalled; NULL
 * otherwise.
 */
static struct kds_fence *kds_dma_fence_source(struct dma_fence *dma)
{
	struct kds_fence *f = NULL;
	unsigned long flags;

	if (rcu_access_pointer(dma->ops) != &kds_dma_fence_ops)
		return NULL;
	dma_fence_lock_irqsave(dma, flags);
	if (!test_bit(DMA_FENCE_FLAG_SIGNALED_BIT, &dma->flags))
		f = kds_fence_ref_internal(container_of(dma, struct kds_dma_export, base)->fence);
	dma_fence_unlock_irqrestore(dma, flags);
	return f;
}

/**
 * kds_dma_fence_sources() - The kds fences behind the exports in a dma_fence.
 * @dma: a dma_fence: a kds export, or a dma_fence_array or dma_fence_chain
 *	(looked into with dma_fence_unwrap, as sync_file merging does).
 * @out: where to store them, each one of kds's own references, which the
 *	Rust caller takes over (Fence::from_raw_ref()).
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
			kds_fence_unref_internal(f);
		n++;
	}
	return n;
}
