// SPDX-License-Identifier: GPL-2.0
/*
 * kds_demo - a sample driver that uses kds the way a real one would.
 *
 * It models a device's probe as phases with dependencies, each phase a kds
 * fence: power, then clocks; firmware arrives later through a struct
 * completion; display needs clocks, firmware and a 30 ms panel power-on
 * delay (an hrtimer); audio needs clocks; "ready" needs display and audio.
 * The phases are of a bounded class, so a phase may back a dma_fence, but
 * "ready" may not: it depends on a struct completion, which may never
 * come, and kds refuses to export it. Callbacks report each phase as its
 * dependencies complete, a dependency that would close a cycle is refused,
 * and a failing phase propagates its error. `make run` loads it and shows
 * its log.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <linux/completion.h>
#include <linux/dma-fence.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/workqueue.h>

#include <kds.h>

enum { POWER, CLOCKS, DISPLAY, AUDIO, READY, NR_PHASES };

static const char *const phase_name[NR_PHASES] = {
	"power", "clocks", "display", "audio", "ready",
};

struct phase {
	struct kds_fence *fence;
	struct kds_fence_cb cb;
	const char *name;
};

static struct phase phases[NR_PHASES];
static struct completion firmware;

/* The probe's phases: bounded, each completed by code of this driver. */
static DEFINE_KDS_FENCE_CLASS(kds_demo_probe, KDS_CLASS_BOUNDED);
static struct delayed_work firmware_work;
static bool audio_fails;

static void phase_done(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct phase *p = container_of(cb, struct phase, cb);
	int status = kds_fence_get_status(f);

	if (status < 0)
		pr_info("kds_demo:   %-8s done with error %d\n", p->name, status);
	else
		pr_info("kds_demo:   %-8s done\n", p->name);
}

static void firmware_loaded(struct work_struct *work)
{
	pr_info("kds_demo:   (firmware loaded)\n");
	complete(&firmware);
}

static int depend(int waiter, int signaler)
{
	return kds_fence_await_fence(phases[waiter].fence, phases[signaler].fence, GFP_KERNEL);
}

static int run_probe(void)
{
	struct dma_fence *ready, *clocks;
	int i, ret;

	init_completion(&firmware);
	INIT_DELAYED_WORK(&firmware_work, firmware_loaded);
	for (i = 0; i < NR_PHASES; i++) {
		phases[i].name = phase_name[i];
		phases[i].fence = kds_fence_create_class(&kds_demo_probe, GFP_KERNEL);
		if (!phases[i].fence) {
			while (i--)
				kds_fence_complete(phases[i].fence);
			return -ENOMEM;
		}
	}

	/* The dependency graph. */
	ret = depend(CLOCKS, POWER);
	ret = ret < 0 ? ret : depend(DISPLAY, CLOCKS);
	ret = ret < 0 ? ret : depend(AUDIO, CLOCKS);
	ret = ret < 0 ? ret : kds_fence_await_completion(phases[DISPLAY].fence, &firmware,
							 GFP_KERNEL);
	ret = ret < 0 ? ret : kds_fence_await_hrtimer(phases[DISPLAY].fence, ms_to_ktime(30),
						      CLOCK_MONOTONIC, HRTIMER_MODE_REL, 0,
						      GFP_KERNEL);
	ret = ret < 0 ? ret : depend(READY, DISPLAY);
	ret = ret < 0 ? ret : depend(READY, AUDIO);
	if (ret < 0) {
		/* Fail every phase and commit it: nothing may be left pending. */
		for (i = 0; i < NR_PHASES; i++) {
			kds_fence_set_error(phases[i].fence, ret);
			kds_fence_complete(phases[i].fence);
		}
		return ret;
	}

	ret = depend(POWER, READY);
	pr_info("kds_demo: power awaiting ready would close a cycle: %d (%s)\n", ret,
		ret == -EDEADLK ? "-EDEADLK, refused" : "unexpected");

	for (i = 0; i < NR_PHASES; i++)
		kds_fence_add_callback(phases[i].fence, &phases[i].cb, phase_done);
	if (audio_fails)
		kds_fence_set_error(phases[AUDIO].fence, -EIO);

	/* "clocks" depends on power only: a dma_fence user may wait for it. */
	clocks = kds_fence_export_dma_fence(phases[CLOCKS].fence, GFP_KERNEL);
	/* "ready" waits for a completion, which may never come: refused. */
	ready = kds_fence_export_dma_fence(phases[READY].fence, GFP_KERNEL);
	ret = PTR_ERR_OR_ZERO(ready);
	pr_info("kds_demo: exporting \"ready\" as a dma_fence: %d (%s)\n", ret,
		ret == -EPERM ? "-EPERM, it may wait indefinitely" : "unexpected");
	ret = PTR_ERR_OR_ZERO(clocks);
	if (!IS_ERR(ready))
		dma_fence_put(ready);
	pr_info("kds_demo: committing every phase; power completes now, firmware in 50 ms\n");
	schedule_delayed_work(&firmware_work, msecs_to_jiffies(50));
	for (i = NR_PHASES - 1; i >= 0; i--)
		kds_fence_complete(phases[i].fence);	/* commit, last first */
	if (IS_ERR(clocks))
		return ret;

	/* A dma_fence user waits for "clocks" as for any other dma_fence. */
	if (dma_fence_wait_timeout(clocks, true, 5 * HZ) <= 0)
		ret = -ETIMEDOUT;
	else
		ret = dma_fence_get_status(clocks);
	pr_info("kds_demo:   dma_fence user: \"clocks\" signalled with status %d\n", ret);
	dma_fence_put(clocks);
	/* kds's own waiters may wait for anything. */
	if (kds_fence_wait_timeout(phases[READY].fence, true, 5 * HZ) <= 0)
		return -ETIMEDOUT;
	ret = kds_fence_get_status(phases[READY].fence);
	pr_info("kds_demo:   \"ready\" done with status %d\n", ret);
	return ret;
}

static void put_phases(void)
{
	int i;

	cancel_delayed_work_sync(&firmware_work);
	for (i = 0; i < NR_PHASES; i++) {
		kds_fence_put(phases[i].fence);
		phases[i].fence = NULL;
	}
}

static int __init kds_demo_init(void)
{
	int ret;

	pr_info("kds_demo: using kds %s\n", kds_version_string());
	pr_info("kds_demo: probe 1: every phase succeeds\n");
	ret = run_probe();
	pr_info("kds_demo: probe 1: ready with status %d\n", ret);
	put_phases();

	audio_fails = true;
	pr_info("kds_demo: probe 2: audio fails with -EIO\n");
	ret = run_probe();
	pr_info("kds_demo: probe 2: ready with status %d (the error propagated)\n", ret);
	put_phases();
	return 0;
}

static void __exit kds_demo_exit(void)
{
}

module_init(kds_demo_init);
module_exit(kds_demo_exit);

MODULE_DESCRIPTION("A sample driver that uses kds");
MODULE_LICENSE("GPL");
