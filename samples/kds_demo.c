// SPDX-License-Identifier: GPL-2.0
/*
 * kds_demo - a sample driver that uses kds the way a real one would.
 *
 * One device, "demo0", uses each of kds's three primitives:
 *
 * - Probe: an async graph runs the probe's phases, each as soon as the
 *   phases it needs have run: power; clocks and firmware after power;
 *   display after clocks and firmware; audio after clocks; ready after
 *   display and audio. The firmware phase waits for a fence, "firmware
 *   image", that awaits a struct completion: the image arrives when it
 *   arrives. The display phase waits for a 30 ms panel power-on delay, a
 *   fence that awaits an hrtimer.
 *
 * - Engines: two engines share two buffers through resource sets. Engine A
 *   renders into buffer 0, which it holds exclusively while its hardware
 *   job runs; the job is a fence of a bounded class, completed by the
 *   engine's interrupt or, if that never comes, by its watchdog. Engine B
 *   frames buffer 0 (shared) into buffer 1 (exclusive): its set queues
 *   behind engine A's, and its job, an async work item, runs once the set
 *   is granted and engine A's job is done. At the end, the CPU reads both
 *   buffers, shared, with kds_waitall().
 *
 * - Hand-off: a fence of a bounded class awaits engine A's job and is
 *   exported as a dma_fence, for which a consumer from another driver, an
 *   "encoder" that knows nothing of kds, waits with dma_fence_wait_timeout().
 *   Engine B's job cannot be exported so: it waits for a resource set,
 *   which a client may hold for ever, and kds refuses with -EPERM. Engine
 *   A's job may not await the hand-off either: that would close a cycle,
 *   and kds refuses with -EDEADLK.
 *
 * Module init sets all of this up and returns with the demo stuck
 * mid-way: the probe waits for the firmware, engine A's hardware has not
 * finished, engine B waits for buffer 0, the encoder for the hand-off.
 * /sys/kernel/debug/kds/ shows it (`make run` renders graph.dot). Writing
 * 1 to /sys/module/kds_demo/parameters/go releases it: the firmware
 * arrives and engine A's hardware finishes; "done" ends the log. Loading
 * with go=1 runs it straight through, and unloading releases whatever is
 * still pending.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/completion.h>
#include <linux/dma-fence.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include <kds.h>

/* The device, in the names of its kds objects. */
#define DEMO_DEV		"demo0"
/* Engine A's hardware has this long before its watchdog resets it. */
#define ENGINE_WATCHDOG_MS	60000
/* The longest the consumers wait for a frame. */
#define FRAME_TIMEOUT		(120 * HZ)
/* Room for kds_fence_blame()'s text. */
#define BLAME_SIZE		1024

/*
 * Fence classes, one per purpose. The panel delay (a timer) and the
 * engines' jobs (the hardware, or its watchdog) complete in bounded time,
 * and so does the hand-off, which only awaits engine A's job: it may back
 * a dma_fence. The firmware arrives when it arrives: not bounded.
 */
static DEFINE_KDS_FENCE_CLASS(kds_demo_probe, KDS_CLASS_BOUNDED);
static DEFINE_KDS_FENCE_CLASS(kds_demo_firmware, 0);
static DEFINE_KDS_FENCE_CLASS(kds_demo_engine, KDS_CLASS_BOUNDED);
static DEFINE_KDS_FENCE_CLASS(kds_demo_handoff, KDS_CLASS_BOUNDED);

/* A buffer the engines share: a kds resource in the shared object. */
struct demo_buffer {
	struct kds_resource res;
	char data[64];
};

static struct demo_buffer buffers[2];
static bool buffers_ready;

/* The probe. */
static struct kds_async_domain *probe_domain;
static struct kds_async_graph *probe_graph;
static DECLARE_COMPLETION(firmware_arrived);
static struct kds_fence *firmware;		/* "firmware image" */

/* The engines. */
static struct kds_callback engine_cb;
static bool engine_cb_ready;
static struct kds_async_domain *engine_domain;
static struct kds_resource_set *engine_a_set;
static struct kds_resource_set *engine_b_set;
static struct kds_fence *engine_a_job;		/* engine A's hardware job */
static unsigned long engine_a_finished;		/* bit 0: its job is complete */
static struct kds_async_work *engine_b_job;
static struct kds_fence *engine_b_fence;	/* engine_b_job's fence */
static struct kds_fence_cb engine_b_cb;
static bool engine_b_cb_added;

/* The hand-off. */
static struct kds_fence *handoff;
static struct dma_fence *handoff_dma;

static void engine_a_timeout(struct work_struct *work);
static void encoder_consume(struct work_struct *work);
static void demo_run(struct work_struct *work);

static DECLARE_DELAYED_WORK(engine_a_watchdog, engine_a_timeout);
static DECLARE_WORK(encoder_work, encoder_consume);
static DECLARE_WORK(run_work, demo_run);

/* Under kernel_param_lock(THIS_MODULE), like the "go" parameter itself. */
static bool demo_live;		/* set up, not torn down yet: go acts at once */
static bool demo_released;
static bool go;

/* 0 when @f is done without error; its error, or why the wait ended. */
static int waited_status(struct kds_fence *f, long left)
{
	int status;

	if (left <= 0)
		return left ? (int)left : -ETIMEDOUT;
	status = kds_fence_get_status(f);
	return status < 0 ? status : 0;
}

/* Prints what @f waits for, as kds_fence_blame() tells it. */
static void print_blame(struct kds_fence *f, const char *what)
{
	char *buf = kmalloc(BLAME_SIZE, GFP_KERNEL);
	char *text, *line;
	int n;

	if (!buf)
		return;
	n = kds_fence_blame(f, buf, BLAME_SIZE);
	if (n < 0) {
		pr_info("%s: kds_fence_blame() failed: %d\n", what, n);
	} else {
		pr_info("%s; kds_fence_blame() says:\n", what);
		text = buf;
		while ((line = strsep(&text, "\n"))) {
			if (*line)
				pr_info("  %s\n", line);
		}
	}
	kfree(buf);
}

/* --- the probe ------------------------------------------------------------ */

static void probe_power(void *data, u64 cookie)
{
	pr_info("probe:power: regulators on\n");
}

static void probe_clocks(void *data, u64 cookie)
{
	pr_info("probe:clocks: PLLs locked\n");
}

static void probe_firmware(void *data, u64 cookie)
{
	long left;

	pr_info("probe:firmware: waits for \"firmware image\", a fence awaiting a completion\n");
	/* Interruptible: a long wait is not a hung task (a kworker gets no signal). */
	left = kds_fence_wait_timeout(firmware, true, MAX_SCHEDULE_TIMEOUT);
	pr_info("probe:firmware: loaded (status %d)\n", waited_status(firmware, left));
}

static void probe_display(void *data, u64 cookie)
{
	struct kds_fence *panel = kds_fence_create_class(&kds_demo_probe, GFP_KERNEL);
	int ret;

	if (!panel) {
		pr_info("probe:display: out of memory\n");
		return;
	}
	kds_fence_set_name(panel, "panel power-on");
	ret = kds_fence_await_hrtimer(panel, ms_to_ktime(30), CLOCK_MONOTONIC, HRTIMER_MODE_REL,
				      0, GFP_KERNEL);
	if (ret < 0)
		kds_fence_set_error(panel, ret);
	kds_fence_complete(panel);		/* commit: only the timer is left */
	kds_fence_wait(panel);
	pr_info("probe:display: panel on after its 30 ms power-on delay (status %d)\n",
		waited_status(panel, 1));
	kds_fence_put(panel);
}

static void probe_audio(void *data, u64 cookie)
{
	pr_info("probe:audio: codec up\n");
}

static void probe_ready(void *data, u64 cookie)
{
	pr_info("probe:ready: " DEMO_DEV " is ready\n");
}

static const struct {
	const char *name;
	kds_async_func_t fn;
	const char *depends;
} probe_phases[] = {
	{ "probe:power", probe_power, NULL },
	{ "probe:clocks", probe_clocks, "probe:power" },
	{ "probe:firmware", probe_firmware, "probe:power" },
	{ "probe:display", probe_display, "probe:clocks,probe:firmware" },
	{ "probe:audio", probe_audio, "probe:clocks" },
	{ "probe:ready", probe_ready, "probe:display,probe:audio" },
};

static int setup_probe(void)
{
	unsigned int i;
	int ret;

	firmware = kds_fence_create_class(&kds_demo_firmware, GFP_KERNEL);
	if (!firmware)
		return -ENOMEM;
	kds_fence_set_name(firmware, "firmware image");
	ret = kds_fence_await_completion(firmware, &firmware_arrived, GFP_KERNEL);
	if (ret < 0)
		kds_fence_set_error(firmware, ret);
	kds_fence_complete(firmware);		/* commit: only the completion is left */
	if (ret < 0)
		return ret;

	probe_domain = kds_async_domain_create("kds_demo", 0);
	if (!probe_domain)
		return -ENOMEM;
	kds_async_domain_set_name(probe_domain, "%s probe", DEMO_DEV);
	probe_graph = kds_async_graph_create(GFP_KERNEL);
	if (!probe_graph)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(probe_phases); i++) {
		ret = kds_async_graph_add(probe_graph, probe_phases[i].name, probe_phases[i].fn,
					  NULL, probe_phases[i].depends);
		if (ret)
			return ret;
	}
	pr_info("probe: a graph of %zu phases; the firmware phase waits for the firmware\n",
		ARRAY_SIZE(probe_phases));
	return 0;
}

/* --- the engines ---------------------------------------------------------- */

/*
 * A direct grant callback: it runs in the context that grants the set,
 * which here is always process context (module init, the "go" write, the
 * watchdog, module exit). It only prints.
 */
static void engine_granted(void *param, void *extra)
{
	pr_info("%s\n", (const char *)param);
}

/*
 * Engine A's hardware is done with its job, or its watchdog reset it
 * (@err). Returns false when that had happened already.
 */
static bool engine_a_finish(int err)
{
	struct kds_signalling s;

	if (test_and_set_bit(0, &engine_a_finished))
		return false;
	if (engine_a_job) {
		/* Completing a bounded fence: a signalling section, for lockdep. */
		kds_fence_begin_signalling(engine_a_job, &s);
		if (err)
			kds_fence_set_error(engine_a_job, err);
		else
			strscpy(buffers[0].data, "frame 1 by engine A");
		kds_fence_complete(engine_a_job);
		kds_fence_end_signalling(&s);
	}
	/* Buffer 0 goes to the next set in its queue: engine B's. */
	kds_resource_set_release(&engine_a_set);
	return true;
}

static void engine_a_timeout(struct work_struct *work)
{
	if (engine_a_finish(-ETIMEDOUT))
		pr_info("engine A: no interrupt for %d s: its watchdog resets it (-ETIMEDOUT)\n",
			ENGINE_WATCHDOG_MS / 1000);
}

/* Engine B's job: its set holds buffer 0 shared and buffer 1 exclusively. */
static void engine_b_run(void *data, u64 cookie)
{
	snprintf(buffers[1].data, sizeof(buffers[1].data), "%s, framed by engine B",
		 buffers[0].data);
	pr_info("engine B: job 1 runs: frames buffer 0 into buffer 1\n");
}

/* Engine B's job is done, or cancelled: its buffers go on. */
static void engine_b_done(struct kds_fence *f, struct kds_fence_cb *cb)
{
	kds_resource_set_release(&engine_b_set);
}

static int setup_engines(void)
{
	struct kds_resource *res[] = { &buffers[0].res, &buffers[1].res };
	unsigned long a_exclusive = BIT(0);	/* buffer 0 */
	unsigned long b_exclusive = BIT(1);	/* buffer 1; buffer 0 shared */
	struct kds_fence *b_set_fence;
	struct dma_fence *dma;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(buffers); i++) {
		kds_resource_init(&buffers[i].res);
		kds_resource_set_name(&buffers[i].res, "buffer %u", i);
	}
	buffers_ready = true;
	ret = kds_callback_init(&engine_cb, 1, engine_granted);
	if (ret)
		return ret;
	engine_cb_ready = true;
	engine_domain = kds_async_domain_create("kds_demo", 0);
	if (!engine_domain)
		return -ENOMEM;
	kds_async_domain_set_name(engine_domain, "%s engines", DEMO_DEV);

	/* Engine A: nothing holds buffer 0 yet, so its set is granted at once. */
	engine_a_job = kds_fence_create_class(&kds_demo_engine, GFP_KERNEL);
	if (!engine_a_job)
		return -ENOMEM;
	kds_fence_set_name(engine_a_job, "engine-A job 1");
	ret = kds_async_waitall(&engine_a_set, KDS_FLAG_LOCKED_WAIT, &engine_cb,
				"engine A: granted buffer 0 (exclusive): its hardware renders",
				NULL, 1, &a_exclusive, &res[0]);
	if (ret)
		return ret;
	kds_resource_set_set_name(engine_a_set, "engine-A set 1");
	schedule_delayed_work(&engine_a_watchdog, msecs_to_jiffies(ENGINE_WATCHDOG_MS));

	/* Engine B: its set waits for engine A's to release buffer 0. */
	ret = kds_async_waitall(&engine_b_set, KDS_FLAG_LOCKED_WAIT, &engine_cb,
				"engine B: granted buffer 0 (shared) and buffer 1 (exclusive)",
				NULL, ARRAY_SIZE(res), &b_exclusive, res);
	if (ret)
		return ret;
	kds_resource_set_set_name(engine_b_set, "engine-B set 1");
	pr_info("engine B: wants buffer 0 (shared) and buffer 1 (exclusive): waits for engine A\n");
	b_set_fence = kds_resource_set_fence(engine_b_set);
	if (!b_set_fence)
		return -ENOMEM;
	engine_b_job = kds_async_work_create_class(&kds_demo_engine, engine_b_run, NULL,
						   GFP_KERNEL);
	if (!engine_b_job) {
		kds_fence_put(b_set_fence);
		return -ENOMEM;
	}
	kds_async_work_set_name(engine_b_job, "engine-B job 1");
	/* It runs once engine B holds its buffers and engine A's frame is done. */
	ret = kds_async_work_after(engine_b_job, b_set_fence, GFP_KERNEL);
	kds_fence_put(b_set_fence);
	if (ret >= 0)
		ret = kds_async_work_after(engine_b_job, engine_a_job, GFP_KERNEL);
	if (ret < 0)
		return ret;
	engine_b_fence = kds_async_work_fence(engine_b_job);
	if (!engine_b_fence)
		return -EINVAL;
	ret = kds_fence_add_callback(engine_b_fence, &engine_b_cb, engine_b_done);
	if (ret)
		return ret;
	engine_b_cb_added = true;

	/* A set may be held for ever: a dma_fence must not wait for one. */
	dma = kds_fence_export_dma_fence(engine_b_fence, GFP_KERNEL);
	ret = PTR_ERR_OR_ZERO(dma);
	pr_info("exporting engine B's job as a dma_fence: %d (%s)\n", ret,
		ret == -EPERM ? "-EPERM: it waits for a resource set" : "unexpected");
	if (!IS_ERR(dma))
		dma_fence_put(dma);
	if (!kds_async_queue(engine_domain, engine_b_job))
		return -EINVAL;
	return 0;
}

/* --- the hand-off --------------------------------------------------------- */

static int setup_handoff(void)
{
	const char __rcu *driver, *timeline;
	int ret, cycle;

	handoff = kds_fence_create_class(&kds_demo_handoff, GFP_KERNEL);
	if (!handoff)
		return -ENOMEM;
	kds_fence_set_name(handoff, "handoff A->encoder");
	ret = kds_fence_await_fence(handoff, engine_a_job, GFP_KERNEL);
	if (ret >= 0) {
		cycle = kds_fence_await_fence(engine_a_job, handoff, GFP_KERNEL);
		pr_info("engine A's job awaiting the hand-off would close a cycle: %d (%s)\n",
			cycle, cycle == -EDEADLK ? "-EDEADLK, refused" : "unexpected");
	}
	if (ret < 0)
		kds_fence_set_error(handoff, ret);
	kds_fence_complete(handoff);		/* commit: only engine A's job is left */
	if (ret < 0)
		return ret;

	/* Bounded, awaiting only bounded fences: it may be a dma_fence. */
	handoff_dma = kds_fence_export_dma_fence(handoff, GFP_KERNEL);
	if (IS_ERR(handoff_dma)) {
		ret = PTR_ERR(handoff_dma);
		handoff_dma = NULL;
		pr_info("exporting the hand-off failed: %d\n", ret);
		return ret;
	}
	rcu_read_lock();
	driver = dma_fence_driver_name(handoff_dma);
	timeline = dma_fence_timeline_name(handoff_dma);
	pr_info("the hand-off, awaiting engine A's job, is exported as dma_fence %s:%s\n",
		rcu_dereference(driver), rcu_dereference(timeline));
	rcu_read_unlock();
	return 0;
}

/* The consumer, in another driver: it knows dma_fences, not kds. */
static void encoder_consume(struct work_struct *work)
{
	long left;
	int status;

	pr_info("encoder: waits for the hand-off with dma_fence_wait_timeout()\n");
	left = dma_fence_wait_timeout(handoff_dma, true, FRAME_TIMEOUT);
	if (left <= 0) {
		pr_info("encoder: no frame: the wait returned %ld\n", left);
		return;
	}
	status = dma_fence_get_status(handoff_dma);
	if (status < 0) {
		pr_info("encoder: the hand-off signalled with error %d: no frame\n", status);
		return;
	}
	pr_info("encoder: the hand-off signalled: encodes \"%s\" from buffer 0\n",
		buffers[0].data);
}

/* --- running, releasing, tearing down ------------------------------------- */

/* Runs the probe, then waits for the engines and reads their result. */
static void demo_run(struct work_struct *work)
{
	struct kds_resource *res[] = { &buffers[0].res, &buffers[1].res };
	struct kds_resource_set *rset;
	int probe, engine_b;
	long left;

	probe = kds_async_graph_run(probe_graph, probe_domain);
	pr_info("probe: every phase has run: %d\n", probe);
	flush_work(&encoder_work);
	left = kds_fence_wait_timeout(engine_b_fence, true, FRAME_TIMEOUT);
	engine_b = waited_status(engine_b_fence, left);
	pr_info("engine B: job 1 done with status %d\n", engine_b);

	/* Both buffers, shared: granted once no set holds them exclusively. */
	rset = kds_waitall(ARRAY_SIZE(res), NULL, res, FRAME_TIMEOUT);
	if (IS_ERR_OR_NULL(rset)) {
		pr_info("cpu: no readback: %ld\n", rset ? PTR_ERR(rset) : -ETIMEDOUT);
	} else {
		kds_resource_set_set_name(rset, "cpu readback");
		pr_info("cpu: reads buffer 1 (shared): \"%s\"\n", buffers[1].data);
		kds_resource_set_release(&rset);
	}
	pr_info("done: probe %d, engine B %d\n", probe, engine_b);
}

/*
 * The firmware arrives and engine A's hardware finishes its job, or, with
 * @err (unloading), the job is cancelled. Once only; under
 * kernel_param_lock(THIS_MODULE).
 */
static void demo_release(int err)
{
	if (demo_released)
		return;
	demo_released = true;
	if (err)
		pr_info("releasing what is pending: the firmware, engine A's job (%d)\n", err);
	else
		pr_info("go: the firmware arrives, and engine A's hardware finishes its job\n");
	complete(&firmware_arrived);
	engine_a_finish(err);
}

static int go_set(const char *val, const struct kernel_param *kp)
{
	bool v;
	int ret = kstrtobool(val, &v);

	if (ret)
		return ret;
	if (v) {
		*(bool *)kp->arg = true;
		if (demo_live)
			demo_release(0);
	}
	return 0;
}

static const struct kernel_param_ops go_ops = {
	.set = go_set,
	.get = param_get_bool,
};

module_param_cb(go, &go_ops, &go, 0644);
MODULE_PARM_DESC(go, "write 1 to release the demo (again: nothing happens)");

/* Releases and frees everything, from any stage of set-up. */
static void demo_teardown(void)
{
	unsigned int i;

	kernel_param_lock(THIS_MODULE);
	demo_live = false;
	demo_release(-ECANCELED);
	kernel_param_unlock(THIS_MODULE);
	cancel_delayed_work_sync(&engine_a_watchdog);
	flush_work(&run_work);
	flush_work(&encoder_work);

	/* Engine B's job: cancelled if it was never queued. */
	kds_async_work_put(engine_b_job);
	engine_b_job = NULL;
	if (engine_b_fence) {
		kds_fence_wait(engine_b_fence);
		/* Waits for engine_b_done() if it is running elsewhere. */
		if (engine_b_cb_added)
			kds_fence_remove_callback(engine_b_fence, &engine_b_cb);
		kds_fence_put(engine_b_fence);
		engine_b_fence = NULL;
	}
	kds_resource_set_release(&engine_b_set);
	kds_resource_set_release(&engine_a_set);
	if (firmware) {
		/* kds is done with firmware_arrived once the fence is done. */
		kds_fence_wait(firmware);
		kds_fence_put(firmware);
		firmware = NULL;
	}
	kds_async_graph_destroy(probe_graph);
	probe_graph = NULL;
	kds_async_domain_destroy(probe_domain);
	probe_domain = NULL;
	kds_async_domain_destroy(engine_domain);
	engine_domain = NULL;
	if (handoff_dma)
		dma_fence_put(handoff_dma);
	handoff_dma = NULL;
	kds_fence_put(handoff);
	handoff = NULL;
	kds_fence_put(engine_a_job);
	engine_a_job = NULL;
	if (engine_cb_ready)
		kds_callback_term(&engine_cb);
	engine_cb_ready = false;
	if (buffers_ready) {
		for (i = 0; i < ARRAY_SIZE(buffers); i++)
			kds_resource_term(&buffers[i].res);
	}
	buffers_ready = false;
}

static int __init kds_demo_init(void)
{
	int ret;

	if (kds_version() < KDS_VERSION_CODE ||
	    KDS_VERSION_CODE >> 8 != kds_version() >> 8) {
		pr_err("built for kds %d.%d.%d, found kds %s\n", KDS_VERSION_MAJOR,
		       KDS_VERSION_MINOR, KDS_VERSION_PATCH, kds_version_string());
		return -ENODEV;
	}
	pr_info("using kds %s for device %s\n", kds_version_string(), DEMO_DEV);
	ret = setup_engines();
	if (!ret)
		ret = setup_handoff();
	if (!ret)
		ret = setup_probe();
	if (ret) {
		pr_info("set-up failed: %d\n", ret);
		demo_teardown();
		return ret;
	}
	print_blame(engine_b_fence, "engine B's job waits");
	queue_work(system_dfl_long_wq, &encoder_work);
	queue_work(system_dfl_long_wq, &run_work);

	kernel_param_lock(THIS_MODULE);
	demo_live = true;
	if (go)
		demo_release(0);
	else
		pr_info("init returns, the demo stuck: echo 1 > /sys/module/%s/parameters/go\n",
			KBUILD_MODNAME);
	kernel_param_unlock(THIS_MODULE);
	return 0;
}

static void __exit kds_demo_exit(void)
{
	demo_teardown();
	pr_info("unloaded: every fence, set, work item and buffer released\n");
}

module_init(kds_demo_init);
module_exit(kds_demo_exit);

MODULE_DESCRIPTION("A sample driver that uses kds");
MODULE_LICENSE("GPL");
