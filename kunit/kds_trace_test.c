// SPDX-License-Identifier: GPL-2.0
/*
 * A known scenario for the trace events (qemu-test/init runs it with
 * events/kds enabled and greps the trace; not a KUnit suite).
 *
 * Its init runs, through the C API only, something that fires every kds
 * trace event once at least, with names the guest looks for:
 *
 * - fences "trace-f" and "trace-g": f awaits g, g is committed, f is
 *   committed and waited for;
 * - resource "trace-res": two kds_waitall() sets, one after the other,
 *   and an async set queued behind the second and released before it is
 *   granted (cancelled);
 * - work item "trace-work", queued to the default domain and waited for.
 *
 * Everything is released before init returns: init fails (and insmod with
 * it) when a step does not do what the scenario needs, and the module
 * leaves nothing behind either way. The steps are not __init, so that the
 * caller addresses the trace prints (%pS) still resolve once init is over.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/printk.h>

#include <kds.h>

static noinline int kds_trace_test_fences(void)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	struct kds_fence *g = kds_fence_create(GFP_KERNEL);
	int ret = -ENOMEM;

	if (!f || !g)
		goto out;
	kds_fence_set_name(f, "trace-f");
	kds_fence_set_name(g, "trace-g");
	ret = kds_fence_await_fence(f, g, GFP_KERNEL);
	if (ret != 1) {
		pr_err("kds_fence_await_fence: %d\n", ret);
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	ret = 0;
out:
	/* The commits: g is done, then f. */
	if (g)
		kds_fence_complete(g);
	if (f) {
		kds_fence_complete(f);
		kds_fence_wait(f);
	}
	kds_fence_put(g);
	kds_fence_put(f);
	return ret;
}

static atomic_t kds_trace_test_grants = ATOMIC_INIT(0);

static void kds_trace_test_grant(void *param, void *extra)
{
	atomic_inc(&kds_trace_test_grants);
}

static struct kds_resource kds_trace_test_res;
static struct kds_callback kds_trace_test_cb;

/* A kds_waitall() set of @res, exclusive. */
static struct kds_resource_set *kds_trace_test_hold(struct kds_resource *res)
{
	unsigned long excl = 1;
	struct kds_resource_set *s = kds_waitall(1, &excl, &res, HZ);

	if (IS_ERR_OR_NULL(s)) {
		pr_err("kds_waitall: %ld\n", PTR_ERR(s));
		return NULL;
	}
	return s;
}

static noinline int kds_trace_test_sets(void)
{
	struct kds_resource *res = &kds_trace_test_res;
	struct kds_resource_set *s, *async = NULL;
	unsigned long excl = 1;
	int ret;

	kds_resource_init(res);
	kds_resource_set_name(res, "trace-res");
	ret = kds_callback_init(&kds_trace_test_cb, 1, kds_trace_test_grant);
	if (ret) {
		pr_err("kds_callback_init: %d\n", ret);
		goto term;
	}

	/* Granted at once, released. */
	ret = -EBUSY;
	s = kds_trace_test_hold(res);
	if (!s)
		goto cb;
	kds_resource_set_release(&s);

	/* Granted at once, and held while an async set queues behind it. */
	s = kds_trace_test_hold(res);
	if (!s)
		goto cb;
	ret = kds_async_waitall(&async, KDS_FLAG_LOCKED_WAIT, &kds_trace_test_cb, NULL, NULL,
				1, &excl, &res);
	if (ret)
		pr_err("kds_async_waitall: %d\n", ret);
	/* Cancelled: released before the holder lets go. */
	kds_resource_set_release(&async);
	kds_resource_set_release(&s);
	if (!ret && atomic_read(&kds_trace_test_grants)) {
		pr_err("the cancelled set was granted\n");
		ret = -EINVAL;
	}
cb:
	kds_callback_term(&kds_trace_test_cb);
term:
	if (kds_resource_term(res)) {
		pr_err("kds_resource_term failed\n");
		ret = ret ?: -EBUSY;
	}
	return ret;
}

static atomic_t kds_trace_test_runs = ATOMIC_INIT(0);

static void kds_trace_test_work(void *data, u64 cookie)
{
	atomic_inc(&kds_trace_test_runs);
}

static noinline int kds_trace_test_async(void)
{
	struct kds_async_work *w = kds_async_work_create(kds_trace_test_work, NULL, GFP_KERNEL);
	u64 cookie;

	if (!w)
		return -ENOMEM;
	kds_async_work_set_name(w, "trace-work");
	cookie = kds_async_queue(NULL, w);
	kds_async_synchronize(NULL);
	kds_async_work_put(w);
	if (!cookie || atomic_read(&kds_trace_test_runs) != 1) {
		pr_err("work item: cookie %llu, %d runs\n", cookie,
		       atomic_read(&kds_trace_test_runs));
		return -EINVAL;
	}
	pr_info("trace-work: cookie=%llu\n", cookie);
	return 0;
}

static int __init kds_trace_test_init(void)
{
	int ret;

	ret = kds_trace_test_fences();
	if (!ret)
		ret = kds_trace_test_sets();
	if (!ret)
		ret = kds_trace_test_async();
	return ret;
}
module_init(kds_trace_test_init);

static void __exit kds_trace_test_exit(void)
{
}
module_exit(kds_trace_test_exit);

MODULE_DESCRIPTION("kds test: a known scenario for the trace events");
MODULE_LICENSE("GPL");
