// SPDX-License-Identifier: GPL-2.0
/*
 * kds_rules - fence classes and the dma_fence rules (include/kds.h,
 * "fence classes" and kds_fence_export_dma_fence()): what may be exported,
 * which awaits an export refuses, and that a refusal changes nothing.
 * The deadlocks lockdep must report are in kds_lockdep_test.c, one boot
 * each.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/dma-fence.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "test_util.h"

static DEFINE_KDS_FENCE_CLASS(rules_unbounded, 0);

/* Exports @f, expecting -EPERM. */
static void expect_refused(struct kunit *test, struct kds_fence *f)
{
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);

	KUNIT_EXPECT_PTR_EQ(test, d, ERR_PTR(-EPERM));
	if (!IS_ERR_OR_NULL(d))
		dma_fence_put(d);
}

/* Exports @f, expecting a dma_fence, and returns it. */
static struct dma_fence *expect_exported(struct kunit *test, struct kds_fence *f)
{
	struct dma_fence *d = kds_fence_export_dma_fence(f, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	return d;
}

/* kds_fence_create()'s class, and a driver's class without the flag, are not bounded. */
static void rules_unbounded_classes_refused(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct kds_fence *g = kds_test_hold(test, kds_fence_create_class(&rules_unbounded,
									   GFP_KERNEL));

	expect_refused(test, f);
	expect_refused(test, g);
	/* Refusal changes nothing: the fences complete as usual. */
	kds_fence_complete(f);
	kds_fence_complete(g);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
}

/* A done fence cannot wait: it is exported, whatever its class. */
static void rules_done_fence_exported(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct dma_fence *d;

	kds_fence_complete(f);
	d = expect_exported(test, f);
	KUNIT_EXPECT_TRUE(test, dma_fence_is_signaled(d));
	dma_fence_put(d);
}

/* Bounded sources: another bounded fence, a dma_fence, an hrtimer. */
static void rules_bounded_sources_exported(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *g = kds_test_bounded_fence(test);
	struct dma_fence *stub = dma_fence_get_stub();
	struct dma_fence *d;

	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), 1);
	KUNIT_EXPECT_GE(test, kds_fence_await_dma_fence(f, stub, 0, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(f, ms_to_ktime(1), CLOCK_MONOTONIC,
						      HRTIMER_MODE_REL, 0, GFP_KERNEL), 1);
	d = expect_exported(test, f);
	kds_fence_complete(g);
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), 1);
	dma_fence_put(d);
	dma_fence_put(stub);
}

/* Indefinite sources, directly or through another fence, make a fence unexportable. */
static void rules_indefinite_sources_refused(struct kunit *test)
{
	struct kds_fence *a = kds_test_bounded_fence(test), *b = kds_test_bounded_fence(test);
	struct kds_fence *c = kds_test_bounded_fence(test), *u = kds_test_fence(test);
	struct completion done;

	init_completion(&done);
	/* a awaits a completion. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(a, &done, GFP_KERNEL), 1);
	expect_refused(test, a);
	/* b awaits a fence of an unbounded class. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(b, u, GFP_KERNEL), 1);
	expect_refused(test, b);
	/* c awaits a, which awaits the completion. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(c, a, GFP_KERNEL), 1);
	expect_refused(test, c);
	complete(&done);
	kds_fence_complete(u);
	kds_fence_complete(a);
	kds_fence_complete(b);
	kds_fence_complete(c);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(c, false, 10 * HZ), 0L);
}

/* A resource set may be held for ever: its fence is never bounded, whatever its class. */
static void rules_resource_set_refused(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct kds_resource_set *holder, *waiter = NULL;
	struct kds_resource res, *list[1] = { &res };
	unsigned long excl = 1;
	struct kds_callback cb;
	struct kds_fence *sf;

	kds_resource_init(&res);
	KUNIT_ASSERT_EQ(test, kds_callback_init_class(&cb, 1, kds_test_nop_grant,
						      &kds_test_bounded), 0);
	holder = kds_waitall(1, &excl, list, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, holder);
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&waiter, KDS_FLAG_LOCKED_WAIT, &cb, NULL, NULL, 1,
						&excl, list), 0);
	sf = kds_test_hold(test, kds_resource_set_fence(waiter));
	expect_refused(test, sf);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, sf, GFP_KERNEL), 1);
	expect_refused(test, f);
	kds_fence_complete(f);
	kds_resource_set_release(&holder);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	kds_resource_set_release(&waiter);
	kds_callback_term(&cb);
	KUNIT_EXPECT_EQ(test, kds_resource_term(&res), 0);
}

/*
 * Once exported, a fence and everything it awaits stay bounded: an await
 * that would add an indefinite source is refused with -EPERM, and changes
 * nothing (the fences stay exportable and complete as before).
 */
static void rules_await_into_export_refused(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test), *g = kds_test_bounded_fence(test);
	struct kds_fence *h = kds_test_bounded_fence(test), *u = kds_test_fence(test);
	struct dma_fence *d, *e;
	struct completion done;

	init_completion(&done);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(g, h, GFP_KERNEL), 1);
	d = expect_exported(test, f);
	/* Directly into the export... */
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(f, &done, GFP_KERNEL), -EPERM);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, u, GFP_KERNEL), -EPERM);
	/* ...and two fences below it. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(h, &done, GFP_KERNEL), -EPERM);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(h, u, GFP_KERNEL), -EPERM);
	/* Nothing changed: h and g are still bounded. */
	e = expect_exported(test, h);
	kds_fence_complete(h);
	kds_fence_complete(g);
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), 1);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(e, false, 10 * HZ), 0L);
	kds_fence_complete(u);
	dma_fence_put(e);
	dma_fence_put(d);
}

static void rules_nop(void *data, u64 cookie)
{
}

/*
 * The race of an await into an export against the walk that taints the
 * fence it awaits: a bounded w awaits a completion on one CPU while an
 * exported v awaits w on the other. Never may both succeed (v's dma_fence
 * would wait for the completion); one of them gets -EPERM.
 */
struct rules_race {
	struct kds_fence *w;
	struct completion c;
	atomic_t start, done;
	int ret;
};

static int rules_race_fn(void *arg)
{
	struct rules_race *r = arg;
	int round = 1;

	while (!kthread_should_stop()) {
		if (atomic_read_acquire(&r->start) != round) {
			cpu_relax();
			cond_resched();
			continue;
		}
		r->ret = kds_fence_await_completion(r->w, &r->c, GFP_KERNEL);
		atomic_set_release(&r->done, round++);
	}
	return 0;
}

static void rules_await_races_taint(struct kunit *test)
{
	struct rules_race r = { };
	struct task_struct *t;
	int round, both = 0, refused = 0;

	init_completion(&r.c);
	t = kthread_run(rules_race_fn, &r, "kds_rules_race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	for (round = 1; round <= 300; round++) {
		struct kds_fence *v = kds_fence_create_class(&kds_test_bounded, GFP_KERNEL);
		struct kds_fence *w = kds_fence_create_class(&kds_test_bounded, GFP_KERNEL);
		struct dma_fence *d;
		int ret;

		KUNIT_ASSERT_NOT_NULL(test, v);
		KUNIT_ASSERT_NOT_NULL(test, w);
		d = kds_fence_export_dma_fence(v, GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
		r.w = w;
		reinit_completion(&r.c);
		atomic_set_release(&r.start, round);
		ret = kds_fence_await_fence(v, w, GFP_KERNEL);
		while (atomic_read_acquire(&r.done) != round)
			cpu_relax();
		both += ret == 1 && r.ret == 1;
		refused += ret == -EPERM || r.ret == -EPERM;
		complete(&r.c);
		kds_fence_complete(w);
		kds_fence_complete(v);
		KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
		dma_fence_put(d);
		kds_fence_put(w);
		kds_fence_put(v);
	}
	kthread_stop(t);
	kunit_info(test, "%d rounds refused one of the two\n", refused);
	KUNIT_EXPECT_EQ(test, both, 0);
	KUNIT_EXPECT_EQ(test, refused, 300);
}

/*
 * A domain's barrier waits for the work queued before it through events,
 * not edges: a bounded, exported item behind a barrier of unbounded work
 * would wait indefinitely. It is cancelled with -EPERM instead.
 */
static void rules_barrier_of_unbounded_work(struct kunit *test)
{
	struct kds_async_domain *dom = kds_async_domain_create_class("kds_test_rules", 0,
								     &kds_test_bounded);
	struct kds_async_work *w1, *w2;
	struct kds_fence *u = kds_test_fence(test), *f2;
	struct dma_fence *d;

	KUNIT_ASSERT_NOT_NULL(test, dom);
	w1 = kds_async_work_create(rules_nop, NULL, GFP_KERNEL);
	w2 = kds_async_work_create_class(&kds_test_bounded, rules_nop, NULL, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w1);
	KUNIT_ASSERT_NOT_NULL(test, w2);
	KUNIT_EXPECT_EQ(test, kds_async_work_after(w1, u, GFP_KERNEL), 1);
	KUNIT_EXPECT_NE(test, kds_async_queue(dom, w1), 0ULL);
	KUNIT_EXPECT_EQ(test, kds_async_barrier(dom), 0);
	f2 = kds_test_hold(test, kds_async_work_fence(w2));
	d = expect_exported(test, f2);
	KUNIT_EXPECT_NE(test, kds_async_queue(dom, w2), 0ULL);
	/* The export does not wait for u: w2 is cancelled. */
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), -EPERM);
	kds_fence_complete(u);
	kds_async_domain_destroy(dom);
	dma_fence_put(d);
	kds_async_work_put(w1);
	kds_async_work_put(w2);
}

/* A work item is bounded only with a bounded class. */
static void rules_work_class(struct kunit *test)
{
	struct kds_async_work *w = kds_async_work_create_class(&kds_test_bounded, rules_nop, NULL,
							       GFP_KERNEL);
	struct kds_async_work *v = kds_async_work_create(rules_nop, NULL, GFP_KERNEL);
	struct kds_fence *wf, *vf;
	struct dma_fence *d;

	KUNIT_ASSERT_NOT_NULL(test, w);
	KUNIT_ASSERT_NOT_NULL(test, v);
	wf = kds_test_hold(test, kds_async_work_fence(w));
	vf = kds_test_hold(test, kds_async_work_fence(v));
	d = expect_exported(test, wf);
	expect_refused(test, vf);
	/* Behind an unbounded item, the bounded one may wait for ever too. */
	KUNIT_EXPECT_EQ(test, kds_async_work_after(w, vf, GFP_KERNEL), -EPERM);
	kds_async_queue(NULL, w);
	kds_async_queue(NULL, v);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, dma_fence_get_status(d), 1);
	dma_fence_put(d);
	kds_async_work_put(w);
	kds_async_work_put(v);
}

/*
 * kds's signalling paths of an export allocate nothing with reclaim: with
 * fs_reclaim -> dma_fence_map recorded (a dma_fence wait in reclaim, as a
 * shrinker does), an allocation with GFP_KERNEL anywhere kds holds
 * dma_fence_map (the work's section, the completion, the propagation, the
 * export's signal) would close a cycle, and lockdep's report fail the boot.
 */
static void rules_signalling_paths_do_not_reclaim(struct kunit *test)
{
	struct kds_async_work *w = kds_async_work_create_class(&kds_test_bounded, rules_nop, NULL,
							       GFP_KERNEL);
	struct kds_fence *f = kds_test_bounded_fence(test), *wf;
	struct dma_fence *stub = dma_fence_get_stub();
	struct dma_fence *d, *e;

	KUNIT_ASSERT_NOT_NULL(test, w);
	wf = kds_test_hold(test, kds_async_work_fence(w));
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, wf, GFP_KERNEL), 1);
	d = expect_exported(test, f);
	e = expect_exported(test, wf);
	fs_reclaim_acquire(GFP_KERNEL);
	dma_fence_wait(stub, false);	/* records the order */
	fs_reclaim_release(GFP_KERNEL);
	dma_fence_put(stub);
	kds_fence_complete(f);
	kds_async_queue(NULL, w);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(e, false, 10 * HZ), 0L);
	dma_fence_put(e);
	dma_fence_put(d);
	kds_async_work_put(w);
}

/*
 * Classes set up at run time (kds_fence_class_init(), static key per call
 * site) work like defined ones: without lockdep complaining of a
 * non-static key, which the normal boots would catch. (The class lives as
 * long as the module: kds may still release its map just after the
 * fence's waiters have woken.)
 */
static struct kds_fence_class rules_dynamic;

static void rules_class_init_anywhere(struct kunit *test)
{
	struct kds_fence_class *cls = &rules_dynamic;
	struct kds_signalling s;
	struct kds_fence *f;
	struct dma_fence *d;

	kds_fence_class_init(cls, "kds_test_dynamic", KDS_CLASS_BOUNDED);
	f = kds_test_hold(test, kds_fence_create_class(cls, GFP_KERNEL));
	d = expect_exported(test, f);
	kds_fence_begin_signalling(f, &s);
	kds_fence_complete(f);
	kds_fence_end_signalling(&s);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, HZ), (long)HZ);
	KUNIT_EXPECT_GT(test, dma_fence_wait_timeout(d, false, 10 * HZ), 0L);
	dma_fence_put(d);
}

/* Bad classes are refused with the usual warning. */
static void rules_bad_arguments(struct kunit *test)
{
	struct kds_callback cb;

	kunit_warning_suppress(test) {
		KUNIT_EXPECT_NULL(test, kds_fence_create_class(NULL, GFP_KERNEL));
		KUNIT_EXPECT_NULL(test, kds_async_domain_create_class("x", 0, NULL));
		KUNIT_EXPECT_NULL(test, kds_async_work_create_class(NULL, rules_nop, NULL,
								    GFP_KERNEL));
		KUNIT_EXPECT_EQ(test, kds_callback_init_class(&cb, 1, kds_test_nop_grant, NULL),
				-EINVAL);
		kds_fence_begin_signalling(NULL, NULL);
		kds_fence_end_signalling(NULL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 6);
	}
}

static struct kunit_case kds_rules_cases[] = {
	KUNIT_CASE(rules_unbounded_classes_refused),
	KUNIT_CASE(rules_done_fence_exported),
	KUNIT_CASE(rules_bounded_sources_exported),
	KUNIT_CASE(rules_indefinite_sources_refused),
	KUNIT_CASE(rules_resource_set_refused),
	KUNIT_CASE(rules_await_into_export_refused),
	KUNIT_CASE(rules_work_class),
	KUNIT_CASE(rules_await_races_taint),
	KUNIT_CASE(rules_barrier_of_unbounded_work),
	KUNIT_CASE(rules_signalling_paths_do_not_reclaim),
	KUNIT_CASE(rules_class_init_anywhere),
	KUNIT_CASE(rules_bad_arguments),
	{}
};

static struct kunit_suite kds_rules_suite = {
	.name = "kds_rules",
	.test_cases = kds_rules_cases,
};

kunit_test_suites(&kds_rules_suite);
