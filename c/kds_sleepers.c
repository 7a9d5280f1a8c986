// SPDX-License-Identifier: GPL-2.0
/*
 * kds - workers that sleep for kds.
 *
 * A struct completion has no callbacks, so kds_fence_await_completion()
 * parks a worker in wait_for_completion(); a resource set's callback that
 * is not direct runs on a workqueue of the driver's struct kds_callback,
 * which kds_callback_init() allocates and kds_callback_term() destroys once
 * no set uses it.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/export.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <kds.h>

#include "kds_internal.h"

static struct workqueue_struct *kds_completion_wq;

/**
 * kds_sleepers_init() - Allocate the completion waiters' workqueue.
 *
 * Completion waiters, each a worker asleep in wait_for_completion(): a
 * queue of their own, so that no other kds work ever waits behind them.
 * Unbound, with WQ_MAX_ACTIVE (2048 on 7.3) as max_active.
 *
 * Return: 0 or -ENOMEM.
 */
int kds_sleepers_init(void)
{
	kds_completion_wq = alloc_workqueue("kds_completion", WQ_UNBOUND, WQ_MAX_ACTIVE);
	return kds_completion_wq ? 0 : -ENOMEM;
}

/**
 * kds_sleepers_exit() - Wait for the completion waiters and free their queue.
 */
void kds_sleepers_exit(void)
{
	destroy_workqueue(kds_completion_wq);
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
	kds_fence_forget_completion(w->fence, w->c);
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
	ret = kds_fence_await_indefinite(f, __func__, gfp);
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
	kds_fence_note_completion(f, c, gfp);
	INIT_WORK(&w->work, kds_completion_wait_fn);
	queue_work(kds_completion_wq, &w->work);
	return 1;
}
EXPORT_SYMBOL_GPL(kds_fence_await_completion);

int kds_callback_init(struct kds_callback *cb, int direct, kds_callback_fn user_cb)
{
	return kds_callback_init_class(cb, direct, user_cb, kds_default_class(1));
}
EXPORT_SYMBOL_GPL(kds_callback_init);

int kds_callback_init_class(struct kds_callback *cb, int direct, kds_callback_fn user_cb,
			    struct kds_fence_class *cls)
{
	might_sleep();
	if (!cb || !user_cb || !cls) {
		kds_misuse(KDS_MISUSE_NULL, __func__);
		return -EINVAL;
	}
	cb->user_cb = user_cb;
	cb->direct = direct;
	cb->wq = NULL;
	cb->cls = cls;
	atomic_set(&cb->inflight, 0);
	if (direct)
		return 0;
	/* As in the 2012 KDS: callbacks may sleep, and need not wait for each other. */
	cb->wq = alloc_workqueue("kds_cb", WQ_UNBOUND | WQ_HIGHPRI, 0);
	return cb->wq ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_GPL(kds_callback_init_class);

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
