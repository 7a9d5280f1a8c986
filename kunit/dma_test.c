// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the dma-fence bridge: kds fences awaiting dma_fences and
 * dma_resv objects, and kds fences exported as dma_fences.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-array.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-fence-unwrap.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/sync_file.h>

#include <kds.h>

#include "test_util.h"

#include "test_scale.h"

KUNIT_DEFINE_ACTION_WRAPPER(dma_fence_put_action, dma_fence_put, struct dma_fence *);

static const char *mock_name(struct dma_fence *f)
{
	return "mock";
}

/* No release op: dma_fence_free() (kfree_rcu) frees it, as it must. */
static const struct dma_fence_ops mock_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_name,
};

/* A dma_fence this test signals by hand; put when the test ends. */
static struct dma_fence *mock(struct kunit *test)
{
	struct dma_fence *f = kzalloc_obj(*f, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	dma_fence_init(f, &mock_ops, NULL, dma_fence_context_alloc(1), 1);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, dma_fence_put_action, f), 0);
	return f;
}

static void dma_signalled_before_await(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d = mock(test);

	dma_fence_set_error(d, -EIO);
	dma_fence_signal(d);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, 0, GFP_KERNEL), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -EIO);
}

static void dma_signalled_after_await(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d = mock(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, 0, GFP_KERNEL), 1);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 2), 0);
	dma_fence_signal(d);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
}

static void dma_error_inherited(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d = mock(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, 0, GFP_KERNEL), 1);
	kds_fence_complete(f);
	dma_fence_set_error(d, -ENODEV);
	dma_fence_signal(d);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -ENODEV);
}

/* Two kds fences on one dma_fence; only the one with a timeout times out. */
static void dma_timeout_only_where_asked(struct kunit *test)
{
	struct kds_fence *patient = kds_test_bounded_fence(test);
	struct kds_fence *hasty = kds_test_bounded_fence(test);
	struct dma_fence *d = mock(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(patient, d, 0, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(hasty, d, msecs_to_jiffies(20),
							GFP_KERNEL), 1);
	kds_fence_complete(patient);
	kds_fence_complete(hasty);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(hasty, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(hasty), -ETIMEDOUT);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(patient));
	dma_fence_signal(d);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(patient, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(patient), 1);
}

#define RACE_ROUNDS 200
#define RACE_TIMEOUT 2		/* jiffies */

struct dma_racer {
	struct dma_fence *d;
	unsigned int delay_us;
	atomic_t go;
	struct completion done;
};

static int dma_racer_fn(void *arg)
{
	struct dma_racer *r = arg;

	while (!atomic_read(&r->go))
		cpu_relax();
	udelay(r->delay_us);
	dma_fence_signal(r->d);
	complete(&r->done);
	return 0;
}

/*
 * The signal races the timeout, from another CPU, many times: the racer is
 * already running when the await starts, and signals after a delay spread
 * around the timeout. Each round ends in exactly one of the two outcomes,
 * and KASAN sees no use after free. (How often each side wins depends on
 * timing and is only reported.)
 */
static void dma_signal_races_timeout(struct kunit *test)
{
	unsigned int span = 2 * jiffies_to_usecs(RACE_TIMEOUT);
	int round, ok = 0, timed_out = 0, bad = 0;

	for (round = 0; round < RACE_ROUNDS; round++) {
		struct kds_fence *f = kds_fence_create(GFP_KERNEL);
		struct dma_racer r = { .delay_us = (round * 997) % span };
		struct task_struct *t;
		int status;

		KUNIT_ASSERT_NOT_NULL(test, f);
		r.d = kzalloc_obj(*r.d, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r.d);
		dma_fence_init(r.d, &mock_ops, NULL, dma_fence_context_alloc(1), 1);
		init_completion(&r.done);
		atomic_set(&r.go, 0);
		t = kthread_run_on_cpu(dma_racer_fn, &r, (round + 1) % num_online_cpus(),
				       "kds_dma/%u");
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		KUNIT_ASSERT_EQ(test,
				kds_fence_await_dma_fence(f, r.d, RACE_TIMEOUT, GFP_KERNEL), 1);
		atomic_set(&r.go, 1);
		kds_fence_complete(f);
		kds_fence_wait(f);
		wait_for_completion(&r.done);
		status = kds_fence_get_status(f);
		if (status == 1)
			ok++;
		else if (status == -ETIMEDOUT)
			timed_out++;
		else
			bad++;
		kds_fence_put(f);
		dma_fence_put(r.d);
	}
	kunit_info(test, "%d signalled first, %d timed out first\n", ok, timed_out);
	KUNIT_EXPECT_EQ(test, bad, 0);
}

static void dma_export_signals_after_dependencies(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *dep = kds_test_bounded_fence(test);
	struct dma_fence *d;

	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(f, dep, GFP_KERNEL), 1);
	d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	kds_fence_complete(f);
	KUNIT_EXPECT_FALSE(test, dma_fence_is_signaled(d));
	KUNIT_EXPECT_EQ(test, dma_fence_wait_timeout(d, true, 2), 0L);
	kds_fence_set_error(dep, -EPIPE);
	kds_fence_complete(dep);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, true, HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), -EPIPE);
	dma_fence_put(d);
}

struct kds_completer {
	struct kds_fence *f;
	struct completion done;
};

static int kds_completer_fn(void *arg)
{
	struct kds_completer *c = arg;

	msleep(20);
	kds_fence_complete(c->f);
	complete(&c->done);
	return 0;
}

static void dma_export_wait_timeout(struct kunit *test)
{
	struct kds_completer c = { .f = kds_test_bounded_fence(test) };
	struct dma_fence *d = kds_fence_export_dma_fence(c.f, GFP_KERNEL);
	struct task_struct *t;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	init_completion(&c.done);
	t = kthread_run(kds_completer_fn, &c, "kds_completer");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, true, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), 1);
	wait_for_completion(&c.done);
	dma_fence_put(d);
}

/* The exported fence outlives every kds reference, and names itself. */
static void dma_export_outlives_kds(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create_class(&kds_test_bounded, GFP_KERNEL);
	struct dma_fence *d;
	const char __rcu *driver;

	KUNIT_ASSERT_NOT_NULL(test, f);
	d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	rcu_read_lock();
	driver = dma_fence_driver_name(d);
	KUNIT_EXPECT_STREQ(test, rcu_dereference(driver), "kds");
	rcu_read_unlock();
	kds_fence_complete(f);
	kds_fence_put(f);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), 1);
	dma_fence_put(d);
}

static void dma_export_of_done_fence(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d;

	kds_fence_set_error(f, -EBADF);
	kds_fence_complete(f);
	/* A caller that may sleep gets it signalled on return... */
	d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	KUNIT_EXPECT_TRUE(test, dma_fence_is_signaled(d));
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), -EBADF);
	dma_fence_put(d);
	/* ...an atomic one shortly after, from the irq_work. */
	d = kds_fence_export_dma_fence(f, GFP_ATOMIC);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), -EBADF);
	dma_fence_put(d);
}

struct dma_irq_completer {
	struct hrtimer timer;
	struct kds_fence *f;
};

static enum hrtimer_restart dma_irq_complete_fn(struct hrtimer *t)
{
	struct dma_irq_completer *c = container_of(t, struct dma_irq_completer, timer);

	WARN_ON_ONCE(!in_hardirq());
	kds_fence_set_error(c->f, -ETIME);
	kds_fence_complete(c->f);
	return HRTIMER_NORESTART;
}

/*
 * A kds fence completed in a hard-IRQ hrtimer, where a spinlock_t may not
 * be taken (PREEMPT_RT or not): its export signals, with the error, and
 * without a splat.
 */
static void dma_export_completed_from_hardirq(struct kunit *test)
{
	struct dma_irq_completer c = { .f = kds_test_bounded_fence(test) };
	struct dma_fence *d;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	d = kds_fence_export_dma_fence(c.f, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	hrtimer_setup_on_stack(&c.timer, dma_irq_complete_fn, CLOCK_MONOTONIC,
			       HRTIMER_MODE_REL_HARD);
	hrtimer_start(&c.timer, ms_to_ktime(2), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	hrtimer_cancel(&c.timer);
	destroy_hrtimer_on_stack(&c.timer);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), -ETIME);
	dma_fence_put(d);
}

static void dma_export_in_sync_file(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	struct sync_file *sf;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	sf = sync_file_create(d);
	KUNIT_ASSERT_NOT_NULL(test, sf);
	KUNIT_EXPECT_PTR_EQ(test, sf->fence, d);
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(sf->fence, false, HZ), 0L);
	fput(sf->file);
	dma_fence_put(d);
}

/* Awaiting its own export would hang: it is a cycle, and refused. */
static void dma_export_cycle_detected(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *g = kds_test_bounded_fence(test);
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	struct dma_fence *e;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, 0, GFP_KERNEL), -EDEADLK);
	/* And through another fence: f -> g -> export(f). */
	e = kds_fence_export_dma_fence(g, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, e);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(g, d, 0, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, e, 0, GFP_KERNEL), -EDEADLK);
	kds_fence_complete(f);
	kds_fence_complete(g);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(e, false, HZ), 0L);
	dma_fence_put(e);
	dma_fence_put(d);
}

/* A timeout is honoured when the awaited dma_fence is a kds export too. */
static void dma_export_timeout_honoured(struct kunit *test)
{
	struct kds_fence *src = kds_test_bounded_fence(test), *f = kds_test_bounded_fence(test);
	struct kds_fence *g = kds_test_bounded_fence(test);
	struct dma_fence *d = kds_fence_export_dma_fence(src, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, msecs_to_jiffies(20), GFP_KERNEL),
			1);
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -ETIMEDOUT);
	/* And cycle detection still sees through it: src -> g -> export(src). */
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(g, d, 100 * HZ, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(src, g, GFP_KERNEL), -EDEADLK);
	kds_fence_complete(src);
	kds_fence_complete(g);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(g, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
	dma_fence_put(d);
}

/*
 * Exports inside a dma_fence_array (a merged sync_file is one), or a
 * dma_fence_chain, are seen by cycle detection too.
 */
static void dma_export_in_container_cycle_detected(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *g = kds_test_bounded_fence(test);
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	struct dma_fence *m = mock(test);
	struct dma_fence_chain *chain;
	struct dma_fence *merged;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	merged = dma_fence_unwrap_merge(m, d);
	KUNIT_ASSERT_NOT_NULL(test, merged);
	KUNIT_EXPECT_TRUE(test, dma_fence_is_array(merged));
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, merged, 0, GFP_KERNEL), -EDEADLK);
	/* Through another fence: f -> g -> array -> export(f). */
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(g, merged, 0, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), -EDEADLK);
	chain = dma_fence_chain_alloc();
	KUNIT_ASSERT_NOT_NULL(test, chain);
	dma_fence_chain_init(chain, NULL, dma_fence_get(d), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, &chain->base, 0, GFP_KERNEL),
			-EDEADLK);
	/* With a timeout, awaiting the export itself is refused too. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, d, HZ, GFP_KERNEL), -EDEADLK);
	dma_fence_signal(m);
	kds_fence_complete(f);
	kds_fence_complete(g);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(g, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
	dma_fence_put(&chain->base);
	dma_fence_put(merged);
	dma_fence_put(d);
}

struct resv_fixture {
	struct dma_resv resv;
	struct dma_fence *write, *read;
};

static void resv_setup(struct kunit *test, struct resv_fixture *r)
{
	dma_resv_init(&r->resv);
	r->write = mock(test);
	r->read = mock(test);
	KUNIT_ASSERT_EQ(test, dma_resv_lock(&r->resv, NULL), 0);
	KUNIT_ASSERT_EQ(test, dma_resv_reserve_fences(&r->resv, 2), 0);
	dma_resv_add_fence(&r->resv, r->write, DMA_RESV_USAGE_WRITE);
	dma_resv_add_fence(&r->resv, r->read, DMA_RESV_USAGE_READ);
	dma_resv_unlock(&r->resv);
}

/* WRITE usage waits for the writer only; READ waits for readers and writers. */
static void dma_resv_usage(struct kunit *test)
{
	struct kds_fence *w = kds_test_bounded_fence(test), *r = kds_test_bounded_fence(test);
	struct resv_fixture fx;

	resv_setup(test, &fx);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_resv(w, &fx.resv, DMA_RESV_USAGE_WRITE, 0,
						       GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_resv(r, &fx.resv, DMA_RESV_USAGE_READ, 0,
						       GFP_KERNEL), 1);
	kds_fence_complete(w);
	kds_fence_complete(r);
	dma_fence_signal(fx.write);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(w, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(r, false, msecs_to_jiffies(20)), 0L);
	dma_fence_signal(fx.read);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(r, false, 10 * HZ), 0L);
	dma_resv_fini(&fx.resv);
}

/* An exported fence in a dma_resv, awaited back by kds through the resv. */
static void dma_export_in_resv(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *reader = kds_test_bounded_fence(test);
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	struct dma_resv resv;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	dma_resv_init(&resv);
	KUNIT_ASSERT_EQ(test, dma_resv_lock(&resv, NULL), 0);
	KUNIT_ASSERT_EQ(test, dma_resv_reserve_fences(&resv, 1), 0);
	dma_resv_add_fence(&resv, d, DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(&resv);
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_resv(reader, &resv, DMA_RESV_USAGE_READ, 0,
						       GFP_KERNEL), 1);
	kds_fence_complete(reader);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(reader));
	kds_fence_complete(f);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(reader));
	KUNIT_EXPECT_GT(test, dma_resv_wait_timeout(&resv, DMA_RESV_USAGE_READ, false, HZ), 0L);
	dma_resv_fini(&resv);
	dma_fence_put(d);
}

static void dma_bad_arguments(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);

	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, NULL, 0, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(NULL, mock(test), 0, GFP_KERNEL),
				-EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_dma_resv(f, NULL, DMA_RESV_USAGE_READ, 0,
							       GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_PTR_EQ(test, kds_fence_export_dma_fence(NULL, GFP_KERNEL),
				    ERR_PTR(-EINVAL));
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 4);
	}
	kds_fence_complete(f);
}

static struct kunit_case kds_dma_cases[] = {
	KUNIT_CASE(dma_signalled_before_await),
	KUNIT_CASE(dma_signalled_after_await),
	KUNIT_CASE(dma_error_inherited),
	KUNIT_CASE(dma_timeout_only_where_asked),
	KUNIT_CASE_SLOW(dma_signal_races_timeout),
	KUNIT_CASE(dma_export_signals_after_dependencies),
	KUNIT_CASE(dma_export_wait_timeout),
	KUNIT_CASE(dma_export_outlives_kds),
	KUNIT_CASE(dma_export_of_done_fence),
	KUNIT_CASE(dma_export_completed_from_hardirq),
	KUNIT_CASE(dma_export_in_sync_file),
	KUNIT_CASE(dma_export_cycle_detected),
	KUNIT_CASE(dma_export_timeout_honoured),
	KUNIT_CASE(dma_export_in_container_cycle_detected),
	KUNIT_CASE(dma_resv_usage),
	KUNIT_CASE(dma_export_in_resv),
	KUNIT_CASE(dma_bad_arguments),
	{}
};

static struct kunit_suite kds_dma_suite = {
	.name = "kds_dma",
	.test_cases = kds_dma_cases,
};

kunit_test_suites(&kds_dma_suite);
