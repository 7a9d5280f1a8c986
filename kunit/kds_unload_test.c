// SPDX-License-Identifier: GPL-2.0
/*
 * Unload with armed sources (qemu-test/init runs it; not a KUnit suite).
 *
 * Its init arms what a driver typically leaves behind: fence F awaits a 2 s
 * hrtimer, fence G awaits F; both are committed and put, and this module
 * is unloaded at once. Nothing can observe F or G any more, but the timer
 * is armed and owns them. The guest then unloads kds.ko: kds must refuse
 * (-EBUSY) while the timer can still fire, unload after it has fired, and
 * the timer must never run in freed module text.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/time64.h>

#include <kds.h>

static int __init kds_unload_test_init(void)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	struct kds_fence *g = kds_fence_create(GFP_KERNEL);
	int ret = -ENOMEM;

	if (!f || !g)
		goto out;
	ret = kds_fence_await_hrtimer(f, 2 * NSEC_PER_SEC, CLOCK_MONOTONIC,
				      HRTIMER_MODE_REL, 0, GFP_KERNEL);
	if (ret != 1)
		goto out;
	ret = kds_fence_await_fence(g, f, GFP_KERNEL);
	if (ret != 1)
		goto out;
	ret = 0;
out:
	if (f)
		kds_fence_complete(f);
	if (g)
		kds_fence_complete(g);
	kds_fence_put(g);
	kds_fence_put(f);
	return ret < 0 ? ret : 0;
}
module_init(kds_unload_test_init);

static void __exit kds_unload_test_exit(void)
{
}
module_exit(kds_unload_test_exit);

MODULE_DESCRIPTION("kds test: unload kds with armed sources");
MODULE_LICENSE("GPL");
