// SPDX-License-Identifier: GPL-2.0
/*
 * kds_lockdep_test - deadlocks that lockdep must report, one per boot.
 *
 * Each case builds, without ever deadlocking, the two halves of a fence
 * deadlock: a lock held while waiting for something, and the same lock
 * taken on the path that completes it. lockdep can only report it because
 * kds annotates waits and signalling sections with its classes' maps (see
 * "Lockdep and the dma-fence rules" in Documentation/fences.rst). lockdep
 * turns itself off after its first report, so each case runs in a boot of
 * its own (qemu-test/run.sh lockdep), which requires the case's report;
 * the "classes" case requires that there is none. Never loaded by the
 * normal test boots.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debug_locks.h>
#include <linux/dma-fence.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include <kds.h>

static char *kds_case = "";
module_param_named(test, kds_case, charp, 0444);
MODULE_PARM_DESC(test, "wait, chain, reclaim, grant or classes");

/* The lock of every case. */
static DEFINE_MUTEX(kds_lockdep_L);

/* Bounded, for the export of the reclaim case. */
static DEFINE_KDS_FENCE_CLASS(kds_lockdep_bounded, KDS_CLASS_BOUNDED);
/* The classes case's own class for its callback's sets. */
static DEFINE_KDS_FENCE_CLASS(kds_lockdep_other, 0);

static void take_L(void *data, u64 cookie)
{
	mutex_lock(&kds_lockdep_L);
	mutex_unlock(&kds_lockdep_L);
}

static void alloc_kernel(void *data, u64 cookie)
{
	kfree(kmalloc(64, GFP_KERNEL));
}

/* A queued work item of @cls running @fn, and its fence (a reference). */
static struct kds_fence *run_work(struct kds_fence_class *cls, kds_async_func_t fn,
				  struct kds_fence *before, struct dma_fence **export)
{
	struct kds_async_work *w = cls ? kds_async_work_create_class(cls, fn, NULL, GFP_KERNEL) :
				   kds_async_work_create(fn, NULL, GFP_KERNEL);
	struct kds_fence *f;

	if (!w)
		return NULL;
	f = kds_async_work_fence(w);
	if (before && kds_async_work_before(w, before, GFP_KERNEL) != 1)
		pr_err("the chain's await failed\n");
	if (export) {
		*export = kds_fence_export_dma_fence(f, GFP_KERNEL);
		if (IS_ERR(*export))
			pr_err("export refused: %ld\n", PTR_ERR(*export));
	}
	kds_async_queue(NULL, w);
	kds_async_work_put(w);
	return f;
}

/* mutex L held around kds_fence_wait(f), while f's work takes L. */
static int case_wait(void)
{
	struct kds_fence *f = run_work(NULL, take_L, NULL, NULL);

	if (!f)
		return -ENOMEM;
	kds_fence_wait(f);		/* the work took L and returned */
	mutex_lock(&kds_lockdep_L);
	kds_fence_wait(f);		/* done: lockdep sees the wait anyway */
	mutex_unlock(&kds_lockdep_L);
	kds_fence_put(f);
	return 0;
}

/* The same through a chain: f awaits g, and g's work takes L. */
static int case_chain(void)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL), *g;

	if (!f)
		return -ENOMEM;
	g = run_work(NULL, take_L, f, NULL);
	kds_fence_complete(f);		/* commit: f waits for g only */
	kds_fence_wait(f);
	mutex_lock(&kds_lockdep_L);
	kds_fence_wait(f);
	mutex_unlock(&kds_lockdep_L);
	kds_fence_put(g);
	kds_fence_put(f);
	return 0;
}

/* A wait on an export in reclaim, while its work allocates with GFP_KERNEL. */
static int case_reclaim(void)
{
	struct dma_fence *d = NULL;
	struct kds_fence *f = run_work(&kds_lockdep_bounded, alloc_kernel, NULL, &d);

	if (!f)
		return -ENOMEM;
	if (IS_ERR_OR_NULL(d)) {
		kds_fence_put(f);
		return -EINVAL;
	}
	dma_fence_wait(d, false);
	fs_reclaim_acquire(GFP_KERNEL);
	dma_fence_wait(d, false);	/* signalled: lockdep sees the wait anyway */
	fs_reclaim_release(GFP_KERNEL);
	dma_fence_put(d);
	kds_fence_put(f);
	return 0;
}

static void take_L_cb(void *param, void *extra)
{
	take_L(NULL, 0);
}

/*
 * A direct grant callback that takes L, against kds_waitall() on the same
 * resource with L held; with @cls, the callback's sets are of another
 * class than kds_waitall()'s.
 */
static int case_grant(struct kds_fence_class *cls)
{
	struct kds_resource_set *set = NULL;
	struct kds_resource *list[1];
	struct kds_resource res;
	struct kds_callback cb;
	int ret;

	kds_resource_init(&res);
	list[0] = &res;
	ret = cls ? kds_callback_init_class(&cb, 1, take_L_cb, cls) :
		    kds_callback_init(&cb, 1, take_L_cb);
	if (ret)
		return ret;
	/* Granted at once: the callback runs in here, and takes L. */
	ret = kds_async_waitall(&set, KDS_FLAG_LOCKED_WAIT, &cb, NULL, NULL, 1, NULL, list);
	if (!ret)
		kds_resource_set_release(&set);
	mutex_lock(&kds_lockdep_L);
	set = kds_waitall(1, NULL, list, KDS_WAIT_BLOCKING);
	mutex_unlock(&kds_lockdep_L);
	if (!IS_ERR_OR_NULL(set))
		kds_resource_set_release(&set);
	kds_callback_term(&cb);
	kds_resource_term(&res);
	return ret;
}

static int __init kds_lockdep_test_init(void)
{
	int ret;

	if (!strcmp(kds_case, "wait"))
		ret = case_wait();
	else if (!strcmp(kds_case, "chain"))
		ret = case_chain();
	else if (!strcmp(kds_case, "reclaim"))
		ret = case_reclaim();
	else if (!strcmp(kds_case, "grant"))
		ret = case_grant(NULL);
	else if (!strcmp(kds_case, "classes"))
		ret = case_grant(&kds_lockdep_other);
	else
		ret = -EINVAL;
	pr_info("case %s ran: %d; lockdep %s\n", kds_case, ret, debug_locks ? "on" : "off");
	return ret;
}

static void __exit kds_lockdep_test_exit(void)
{
}

module_init(kds_lockdep_test_init);
module_exit(kds_lockdep_test_exit);
MODULE_DESCRIPTION("kds: deadlocks lockdep must report through kds's annotations");
MODULE_LICENSE("GPL");
