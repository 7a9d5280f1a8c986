// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of kds async domains and the graph resolver, through the
 * exported C API. Modelled on the 2016 kfence series' test-async-domain
 * and test-async-dependency-graph.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/async.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <kds.h>

#include "test_util.h"

/* A log of which calls ran, in order. */
struct run_log {
	spinlock_t lock;	/* protects ids and n */
	int ids[1024];
	int n;
};

static void log_add(struct run_log *log, int id)
{
	unsigned long flags;

	spin_lock_irqsave(&log->lock, flags);
	if (log->n < ARRAY_SIZE(log->ids))
		log->ids[log->n++] = id;
	spin_unlock_irqrestore(&log->lock, flags);
}

static struct run_log *new_log(struct kunit *test)
{
	struct run_log *log = kunit_kzalloc(test, sizeof(*log), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, log);
	spin_lock_init(&log->lock);
	return log;
}

/* One call: what it saw when it ran. */
struct call {
	struct run_log *log;
	int id;
	atomic_t runs;
	u64 cookie;
	struct task_struct *task;
	struct kds_fence *must_be_pending;	/* checked when it runs */
	bool saw_pending;
	struct completion *wait_for;		/* blocks on it */
	atomic_t *counter;			/* incremented when done */
	int expect_counter;			/* counter value it expects to see */
	bool counter_ok;
};

static void call_fn(void *data, u64 cookie)
{
	struct call *c = data;

	c->cookie = cookie;
	c->task = current;
	if (c->must_be_pending)
		c->saw_pending = !kds_fence_done(c->must_be_pending);
	if (c->counter)
		c->counter_ok = atomic_read(c->counter) >= c->expect_counter;
	if (c->wait_for)
		wait_for_completion(c->wait_for);
	if (c->log)
		log_add(c->log, c->id);
	atomic_inc(&c->runs);
}

KUNIT_DEFINE_ACTION_WRAPPER(domain_destroy_action, kds_async_domain_destroy,
			    struct kds_async_domain *);

static struct kds_async_domain *new_domain(struct kunit *test, unsigned int flags)
{
	struct kds_async_domain *d = kds_async_domain_create("kds_test", flags);

	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, domain_destroy_action, d), 0);
	return d;
}

/* A work item's fence: a reference of the test's own, put when it ends. */
static struct kds_fence *work_fence(struct kunit *test, struct kds_async_work *w)
{
	return kds_test_hold(test, kds_async_work_fence(w));
}

static struct kds_async_work *new_work(struct kunit *test, struct call *c)
{
	struct kds_async_work *w = kds_async_work_create(call_fn, c, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, w);
	return w;
}

static void async_single_work(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct call c = {};
	u64 cookie = kds_async_schedule(d, call_fn, &c);

	KUNIT_ASSERT_NE(test, cookie, 0ULL);
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	KUNIT_EXPECT_EQ(test, c.cookie, cookie);
	/* Never in the caller's context. */
	KUNIT_EXPECT_PTR_NE(test, c.task, current);
	/* The default domain works too, and cookies increase. */
	memset(&c, 0, sizeof(c));
	cookie = kds_async_schedule(NULL, call_fn, &c);
	KUNIT_ASSERT_NE(test, cookie, 0ULL);
	KUNIT_EXPECT_GT(test, kds_async_schedule(NULL, call_fn, &(struct call){}), cookie);
	kds_async_synchronize(NULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
}

static void async_after_fence(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *f = kds_test_fence(test);
	struct call c = {};
	struct kds_async_work *w = new_work(test, &c);

	KUNIT_EXPECT_EQ(test, kds_async_work_after(w, f, GFP_KERNEL), 1);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, w), 0ULL);
	msleep(20);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 0);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(work_fence(test, w)));
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(work_fence(test, w), false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, w)), 1);
	kds_async_work_put(w);
}

/*
 * A work item's fence is kds's: users get references of their own, and
 * cannot add events or errors to it (include/kds.h, "fences").
 */
static void async_work_fence_belongs_to_kds(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *f = kds_test_fence(test);
	struct call c = {}, c2 = {};
	struct kds_async_work *w = new_work(test, &c), *w2 = new_work(test, &c2);
	struct kds_fence *wf = work_fence(test, w);

	KUNIT_EXPECT_EQ(test, kds_async_work_after(w, f, GFP_KERNEL), 1);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, w), 0ULL);
	kds_expect_kds_owned_fence(test, wf);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_async_work_before(w2, wf, GFP_KERNEL), -EPERM);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 0);
	kds_fence_complete(f);
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(wf), 1);
	kds_async_work_put(w);
	kds_async_work_put(w2);
}

static void async_before_fence(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *f = kds_test_fence(test);
	struct call c = { .must_be_pending = f };
	struct kds_async_work *w = new_work(test, &c);

	KUNIT_EXPECT_EQ(test, kds_async_work_before(w, f, GFP_KERNEL), 1);
	kds_fence_complete(f);		/* commit: only w holds it back */
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	KUNIT_ASSERT_NE(test, kds_async_queue(d, w), 0ULL);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	KUNIT_EXPECT_TRUE(test, c.saw_pending);
	kds_async_work_put(w);
}

/* A, then a fence, then B: B runs after A, through the fence. */
static void async_chain_a_fence_b(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct run_log *log = new_log(test);
	struct kds_fence *f = kds_test_fence(test);
	struct call a = { .log = log, .id = 1 }, b = { .log = log, .id = 2 };
	struct kds_async_work *wa = new_work(test, &a), *wb = new_work(test, &b);

	KUNIT_EXPECT_EQ(test, kds_async_work_before(wa, f, GFP_KERNEL), 1);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_async_work_after(wb, f, GFP_KERNEL), 1);
	/* A after B as well as before it: a cycle, refused. */
	KUNIT_EXPECT_EQ(test, kds_async_work_after(wa, work_fence(test, wb), GFP_KERNEL),
			-EDEADLK);
	/* Queue B first: the order comes from the dependencies. */
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wb), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wa), 0ULL);
	kds_async_synchronize(d);
	KUNIT_ASSERT_EQ(test, log->n, 2);
	KUNIT_EXPECT_EQ(test, log->ids[0], 1);
	KUNIT_EXPECT_EQ(test, log->ids[1], 2);
	kds_async_work_put(wa);
	kds_async_work_put(wb);
}

/* An unsignalled fence pauses a domain's work; completing it resumes. */
static void async_pause_and_resume(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *pause = kds_test_fence(test);
	struct call c[8] = {};
	int i;

	for (i = 0; i < 8; i++) {
		struct kds_async_work *w = new_work(test, &c[i]);

		KUNIT_EXPECT_EQ(test, kds_async_work_after(w, pause, GFP_KERNEL), 1);
		KUNIT_ASSERT_NE(test, kds_async_queue(d, w), 0ULL);
		kds_async_work_put(w);
	}
	msleep(20);
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&c[i].runs), 0);
	kds_fence_complete(pause);
	kds_async_synchronize(d);
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&c[i].runs), 1);
}

/* synchronize_cookie() waits for earlier work only; synchronize() for all. */
static void async_synchronize_cookie_waits_for_earlier_only(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct completion go;
	struct call early = {}, late = { .wait_for = &go };
	u64 c_early, c_late;

	init_completion(&go);
	c_early = kds_async_schedule(d, call_fn, &early);
	c_late = kds_async_schedule(d, call_fn, &late);
	KUNIT_ASSERT_GT(test, c_late, c_early);
	kds_async_synchronize_cookie(d, c_late);
	KUNIT_EXPECT_EQ(test, atomic_read(&early.runs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&late.runs), 0);
	complete(&go);
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&late.runs), 1);
}

static void async_two_domains_independent(struct kunit *test)
{
	struct kds_async_domain *d1 = new_domain(test, 0), *d2 = new_domain(test, 0);
	struct completion go;
	struct call blocked = { .wait_for = &go }, free = {};

	init_completion(&go);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d1, call_fn, &blocked), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d2, call_fn, &free), 0ULL);
	kds_async_synchronize(d2);	/* does not wait for d1 */
	KUNIT_EXPECT_EQ(test, atomic_read(&free.runs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&blocked.runs), 0);
	complete(&go);
	kds_async_synchronize(d1);
	KUNIT_EXPECT_EQ(test, atomic_read(&blocked.runs), 1);
}

static void slow_inc_fn(void *data, u64 cookie)
{
	usleep_range(1000, 3000);
	atomic_inc(data);
}

/* Fan out, collate, fan out: n items on either side of a barrier. */
static void barrier_with(struct kunit *test, int n)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct call *after = kunit_kcalloc(test, n, sizeof(*after), GFP_KERNEL);
	atomic_t before = ATOMIC_INIT(0);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, after);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, slow_inc_fn, &before), 0ULL);
	KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
	for (i = 0; i < n; i++) {
		after[i].counter = &before;
		after[i].expect_counter = n;
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &after[i]), 0ULL);
	}
	kds_async_synchronize(d);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ(test, atomic_read(&after[i].runs), 1);
		KUNIT_EXPECT_TRUE(test, after[i].counter_ok);
	}
}

static void async_barrier_1(struct kunit *test)
{
	barrier_with(test, 1);
}

static void async_barrier_16(struct kunit *test)
{
	barrier_with(test, 16);
}

/* Two barriers with nothing between them still order the work around them. */
static void async_barrier_back_to_back(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	atomic_t before = ATOMIC_INIT(0);
	struct call after = { .counter = &before, .expect_counter = 4 };
	int i;

	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, slow_inc_fn, &before), 0ULL);
	KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
	KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &after), 0ULL);
	kds_async_synchronize(d);
	KUNIT_EXPECT_TRUE(test, after.counter_ok);
}

/*
 * kds_async_schedule() makes one allocation, in a domain without barriers
 * and behind a barrier that is done. Behind a pending barrier it makes
 * more (a gate that waits for it), and the call still waits for the work
 * before the barrier.
 */
static void async_schedule_allocates_once(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *hold = kds_test_fence(test);
	struct call z = {}, a = {}, b = {}, c = {};
	struct kds_async_work *wz = new_work(test, &z);
	struct kds_test_allocs allocs;

	if (kds_test_allocs_begin(&allocs))
		kunit_skip(test, "no kmalloc tracepoints to count allocations");
	kds_test_allocs_end(&allocs);

	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&allocs), 0);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &a), 0ULL);
	kds_test_allocs_end(&allocs);
	KUNIT_EXPECT_EQ_MSG(test, allocs.count, 1, "without a barrier");

	KUNIT_EXPECT_EQ(test, kds_async_work_after(wz, hold, GFP_KERNEL), 1);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wz), 0ULL);
	KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
	b.must_be_pending = work_fence(test, wz);
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&allocs), 0);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &b), 0ULL);
	kds_test_allocs_end(&allocs);
	/* Its own gate, not a callback on the barrier (see kds.h). */
	KUNIT_EXPECT_GT_MSG(test, allocs.count, 1, "behind a pending barrier");

	kds_fence_complete(hold);
	kds_async_synchronize(d);
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&allocs), 0);
	KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &c), 0ULL);
	kds_test_allocs_end(&allocs);
	KUNIT_EXPECT_EQ_MSG(test, allocs.count, 1, "behind a barrier that is done");
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&z.runs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&b.runs), 1);
	KUNIT_EXPECT_FALSE(test, b.saw_pending);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	kds_async_work_put(wz);
}

/*
 * A cookie from kds_async_schedule() means the function is called: when
 * the call cannot be ordered behind a pending barrier, or behind the
 * previous item of a deterministic domain, for want of memory, it returns
 * 0 and the function never runs. Every allocation of the call is failed
 * in turn (current->fail_nth).
 */
static void async_schedule_cookie_means_called(struct kunit *test)
{
#ifndef CONFIG_FAULT_INJECTION
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION (the debug flavour has it)");
#else
	int nth, flags, zero = 0;

	for (flags = 0; flags <= KDS_ASYNC_DETERMINISTIC; flags += KDS_ASYNC_DETERMINISTIC)
		for (nth = 1; nth <= 12; nth++) {
			struct kds_async_domain *d = new_domain(test, flags);
			struct kds_fence *hold = kds_test_fence(test);
			struct call z = {}, x = {};
			struct kds_async_work *wz = new_work(test, &z);
			u64 cookie;

			KUNIT_EXPECT_EQ(test, kds_async_work_after(wz, hold, GFP_KERNEL), 1);
			KUNIT_ASSERT_NE(test, kds_async_queue(d, wz), 0ULL);
			if (!flags)
				KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
			current->fail_nth = nth;
			cookie = kds_async_schedule(d, call_fn, &x);
			current->fail_nth = 0;
			zero += !cookie;
			kds_fence_complete(hold);
			kds_async_synchronize(d);
			KUNIT_EXPECT_EQ_MSG(test, atomic_read(&x.runs), cookie ? 1 : 0,
					    "flags %d nth %d cookie %llu", flags, nth, cookie);
			kds_async_work_put(wz);
		}
	kunit_info(test, "%d of 24 calls failed\n", zero);
	KUNIT_EXPECT_GT(test, zero, 0);
#endif
}

/* A deterministic domain runs kds_async_schedule() calls in queue order. */
static void async_deterministic_schedule_in_order(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, KDS_ASYNC_DETERMINISTIC);
	struct run_log *log = new_log(test);
	struct call *c = kunit_kcalloc(test, 32, sizeof(*c), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, c);
	for (i = 0; i < 32; i++) {
		c[i].log = log;
		c[i].id = i;
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &c[i]), 0ULL);
	}
	kds_async_synchronize(d);
	KUNIT_ASSERT_EQ(test, log->n, 32);
	for (i = 0; i < 32; i++)
		KUNIT_EXPECT_EQ(test, log->ids[i], i);
}

/* If a prerequisite fails, its dependents do not run and carry its error. */
static void async_error_cancels_dependents(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *f = kds_test_fence(test);
	struct call a = {}, b = {};
	struct kds_async_work *wa = new_work(test, &a), *wb = new_work(test, &b);

	KUNIT_EXPECT_EQ(test, kds_async_work_after(wa, f, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_async_work_after(wb, work_fence(test, wa), GFP_KERNEL), 1);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wa), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wb), 0ULL);
	kds_fence_set_error(f, -EIO);
	kds_fence_complete(f);
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&b.runs), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, wa)), -EIO);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, wb)), -EIO);
	kds_async_work_put(wa);
	kds_async_work_put(wb);
}

/*
 * In a deterministic domain, queue order is an order, not a dependency:
 * an item whose prerequisite failed is cancelled, and so is an item that
 * declared a dependency on it, but the items queued after it still run, in
 * order.
 */
static void async_deterministic_error_stays_local(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, KDS_ASYNC_DETERMINISTIC);
	struct kds_fence *f = kds_test_fence(test);
	struct call a = {}, b = {}, c = {}, e = {};
	struct kds_async_work *wa = new_work(test, &a), *wb = new_work(test, &b);
	struct kds_async_work *wc = new_work(test, &c), *we = new_work(test, &e);

	KUNIT_EXPECT_EQ(test, kds_async_work_after(wa, f, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_async_work_after(wc, work_fence(test, wa), GFP_KERNEL), 1);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wa), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wb), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, wc), 0ULL);
	KUNIT_ASSERT_NE(test, kds_async_queue(d, we), 0ULL);
	kds_fence_set_error(f, -EIO);
	kds_fence_complete(f);
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&b.runs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&e.runs), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, wa)), -EIO);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, wb)), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, wc)), -EIO);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(work_fence(test, we)), 1);
	kds_async_work_put(wa);
	kds_async_work_put(wb);
	kds_async_work_put(wc);
	kds_async_work_put(we);
}

/* A work item put without being queued is cancelled: its waiters do not hang. */
static void async_unqueued_work_cancels(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct call c = {};
	struct kds_async_work *w = new_work(test, &c);

	KUNIT_EXPECT_EQ(test, kds_async_work_before(w, f, GFP_KERNEL), 1);
	kds_fence_complete(f);
	kds_async_work_put(w);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -ECANCELED);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 0);
}

static void release_all_fn(void *data, u64 cookie)
{
	complete_all(data);
}

/*
 * More work items block than there are CPUs, each waiting for an item
 * queued after all of them: the pool must still run that one.
 */
static void async_more_blocked_than_cpus(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	int n = 4 * num_online_cpus() + 4, i;
	struct call *c = kunit_kcalloc(test, n, sizeof(*c), GFP_KERNEL);
	struct completion *go = kunit_kzalloc(test, sizeof(*go), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, go);
	init_completion(go);
	for (i = 0; i < n; i++) {
		c[i].wait_for = go;
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &c[i]), 0ULL);
	}
	KUNIT_ASSERT_NE(test, kds_async_schedule(d, release_all_fn, go), 0ULL);
	kds_async_synchronize(d);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&c[i].runs), 1);
	kunit_info(test, "%d items blocked at once on %u CPUs\n", n, num_online_cpus());
}

static void async_misuse(struct kunit *test)
{
	struct kds_async_domain *d = new_domain(test, 0);
	struct kds_fence *f = kds_test_fence(test);
	struct call c = {};
	struct kds_async_work *w = new_work(test, &c);

	KUNIT_ASSERT_NE(test, kds_async_queue(d, w), 0ULL);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_async_queue(d, w), 0ULL);
		KUNIT_EXPECT_EQ(test, kds_async_work_after(w, f, GFP_KERNEL), -EBUSY);
		KUNIT_EXPECT_NULL(test, kds_async_work_create(NULL, NULL, GFP_KERNEL));
		KUNIT_EXPECT_EQ(test, kds_async_schedule(d, NULL, NULL), 0ULL);
		KUNIT_EXPECT_NULL(test, kds_async_work_fence(NULL));
		KUNIT_EXPECT_EQ(test, kds_async_queue(d, NULL), 0ULL);
		KUNIT_EXPECT_NULL(test, kds_async_domain_create("bad", 0x100));
		KUNIT_EXPECT_EQ(test, kds_async_graph_add(NULL, "a", call_fn, NULL, NULL), -EINVAL);
		/* A work item is not a domain. */
		KUNIT_EXPECT_EQ(test, kds_async_barrier((struct kds_async_domain *)w),
				-EINVAL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 9);
	}
	kds_async_synchronize(d);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.runs), 1);
	kds_async_work_put(w);
}

/* Graphs: every node checks that its dependencies ran before it. */
struct gnode {
	struct run_log *log;
	int id;
	int ndeps;
	struct gnode *deps[2];
	atomic_t runs;
	bool deps_ok;
};

static void gnode_fn(void *data, u64 cookie)
{
	struct gnode *g = data;
	int i;

	g->deps_ok = true;
	for (i = 0; i < g->ndeps; i++)
		if (atomic_read(&g->deps[i]->runs) != 1)
			g->deps_ok = false;
	if (g->log)
		log_add(g->log, g->id);
	atomic_inc(&g->runs);
}

KUNIT_DEFINE_ACTION_WRAPPER(graph_destroy_action, kds_async_graph_destroy,
			    struct kds_async_graph *);

static struct kds_async_graph *new_graph(struct kunit *test)
{
	struct kds_async_graph *g = kds_async_graph_create(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, graph_destroy_action, g), 0);
	return g;
}

static void graph_add(struct kunit *test, struct kds_async_graph *g, struct gnode *n,
		      const char *name, const char *deps)
{
	KUNIT_ASSERT_EQ(test, kds_async_graph_add(g, name, gnode_fn, n, deps), 0);
}

#define GRID 26

static void async_graph_grid_26x26(struct kunit *test)
{
	struct kds_async_graph *g = new_graph(test);
	struct gnode *n = kunit_kcalloc(test, GRID * GRID, sizeof(*n), GFP_KERNEL);
	int i, j, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, n);
	for (i = 0; i < GRID; i++) {
		for (j = 0; j < GRID; j++) {
			struct gnode *x = &n[i * GRID + j];
			char name[8], deps[16] = "";

			snprintf(name, sizeof(name), "%c%c", 'a' + i, 'a' + j);
			if (i) {
				x->deps[x->ndeps++] = &n[(i - 1) * GRID + j];
				snprintf(deps, sizeof(deps), "%c%c", 'a' + i - 1, 'a' + j);
			}
			if (j) {
				x->deps[x->ndeps++] = &n[i * GRID + j - 1];
				snprintf(deps + strlen(deps), sizeof(deps) - strlen(deps),
					 "%s%c%c", i ? "," : "", 'a' + i, 'a' + j - 1);
			}
			graph_add(test, g, x, name, deps);
		}
	}
	KUNIT_ASSERT_EQ(test, kds_async_graph_run(g, NULL), 0);
	for (i = 0; i < GRID * GRID; i++)
		if (atomic_read(&n[i].runs) != 1 || !n[i].deps_ok)
			bad++;
	KUNIT_EXPECT_EQ(test, bad, 0);
}

static void async_graph_chain_and_fan(struct kunit *test)
{
	struct kds_async_graph *g = new_graph(test);
	struct gnode *n = kunit_kcalloc(test, 80, sizeof(*n), GFP_KERNEL);
	char name[8], deps[8];
	int i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, n);
	/* A chain of 16, added backwards. */
	for (i = 15; i >= 0; i--) {
		snprintf(name, sizeof(name), "c%d", i);
		deps[0] = '\0';
		if (i) {
			snprintf(deps, sizeof(deps), "c%d", i - 1);
			n[i].deps[n[i].ndeps++] = &n[i - 1];
		}
		graph_add(test, g, &n[i], name, deps);
	}
	/* A root, 62 leaves after it, a sink after two of them. */
	graph_add(test, g, &n[16], "root", "c15");
	n[16].deps[n[16].ndeps++] = &n[15];
	for (i = 17; i < 79; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		n[i].deps[n[i].ndeps++] = &n[16];
		graph_add(test, g, &n[i], name, "root");
	}
	n[79].deps[0] = &n[17];
	n[79].deps[1] = &n[78];
	n[79].ndeps = 2;
	graph_add(test, g, &n[79], "sink", " l17 , l78 ");
	KUNIT_ASSERT_EQ(test, kds_async_graph_run(g, NULL), 0);
	for (i = 0; i < 80; i++)
		if (atomic_read(&n[i].runs) != 1 || !n[i].deps_ok)
			bad++;
	KUNIT_EXPECT_EQ(test, bad, 0);
	/* A graph runs again. */
	KUNIT_ASSERT_EQ(test, kds_async_graph_run(g, NULL), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&n[79].runs), 2);
}

/* Nothing runs when a graph has a cycle or an unknown name. */
static void expect_refused(struct kunit *test, const char *const *spec, int nodes, int err)
{
	struct kds_async_graph *g = new_graph(test);
	struct gnode n[4] = {};
	int i, runs = 0;

	for (i = 0; i < nodes; i++)
		graph_add(test, g, &n[i], spec[2 * i], spec[2 * i + 1]);
	KUNIT_EXPECT_EQ(test, kds_async_graph_run(g, NULL), err);
	kds_async_synchronize(NULL);
	for (i = 0; i < nodes; i++)
		runs += atomic_read(&n[i].runs);
	KUNIT_EXPECT_EQ(test, runs, 0);
}

static void async_graph_refused(struct kunit *test)
{
	static const char *const self[] = { "x", "", "a", "a" };
	static const char *const ab[] = { "a", "b", "b", "a" };
	static const char *const abc[] = { "a", "c", "b", "a", "c", "b", "d", "" };
	static const char *const unknown[] = { "a", "", "b", "a,nope" };

	expect_refused(test, self, 2, -EDEADLK);
	expect_refused(test, ab, 2, -EDEADLK);
	expect_refused(test, abc, 4, -EDEADLK);
	expect_refused(test, unknown, 2, -ENOENT);
}

static void async_graph_add_errors(struct kunit *test)
{
	struct kds_async_graph *g = new_graph(test);

	KUNIT_EXPECT_EQ(test, kds_async_graph_add(g, "a", call_fn, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, kds_async_graph_add(g, "a", call_fn, NULL, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, kds_async_graph_add(g, "a,b", call_fn, NULL, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, kds_async_graph_add(g, " ", call_fn, NULL, NULL), -EINVAL);
}

/* Deterministic mode: one at a time, stable topological order, every run. */
static void async_graph_deterministic(struct kunit *test)
{
	/* Added in this order; e.g. "e" is ready first but added last. */
	static const char *const spec[][2] = {
		{ "a", "d" }, { "b", "" }, { "c", "a,b" }, { "d", "" }, { "e", "" },
	};
	static const int expect[] = { 1, 3, 0, 2, 4 };	/* b d a c e */
	struct gnode n[5] = {};
	struct run_log *log = new_log(test);
	int run, i;

	for (run = 0; run < 3; run++) {
		struct kds_async_domain *d = new_domain(test, KDS_ASYNC_DETERMINISTIC);
		struct kds_async_graph *g = new_graph(test);

		log->n = 0;
		for (i = 0; i < 5; i++) {
			n[i].log = log;
			n[i].id = i;
			graph_add(test, g, &n[i], spec[i][0], spec[i][1]);
		}
		KUNIT_ASSERT_EQ(test, kds_async_graph_run(g, d), 0);
		KUNIT_ASSERT_EQ(test, log->n, 5);
		for (i = 0; i < 5; i++)
			KUNIT_EXPECT_EQ(test, log->ids[i], expect[i]);
	}
}

/*
 * Allocation failure: with failslab failing every allocation of this task
 * (set up by the guest's init), a graph run and a schedule fail and run
 * nothing.
 */
static void async_allocation_failure(struct kunit *test)
{
#ifndef CONFIG_FAILSLAB
	kunit_skip(test, "needs CONFIG_FAILSLAB (the debug flavour has it)");
#else
	struct kds_async_graph *g = new_graph(test);
	struct gnode n[3] = {};
	u64 cookie;
	int ret;

	graph_add(test, g, &n[0], "a", "");
	graph_add(test, g, &n[1], "b", "a");
	graph_add(test, g, &n[2], "c", "a");
	kds_test_fail_allocations(test);
	ret = kds_async_graph_run(g, NULL);
	cookie = kds_async_schedule(NULL, gnode_fn, &n[0]);
	current->make_it_fail = false;
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	KUNIT_EXPECT_EQ(test, cookie, 0ULL);
	kds_async_synchronize(NULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&n[0].runs) + atomic_read(&n[1].runs) +
			atomic_read(&n[2].runs), 0);
	/* And with memory, it runs. */
	KUNIT_EXPECT_EQ(test, kds_async_graph_run(g, NULL), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&n[2].runs), 1);
#endif
}

/*
 * A barrier that runs out of memory returns -ENOMEM and changes nothing:
 * the barrier before it still holds back the work after it, and the next
 * barrier orders the work after it after everything before. The failing
 * barrier comes right after another, with nothing between them: a barrier
 * placed but not ordered after the previous one would be done at once,
 * and release the work behind it early. Which allocation fails is
 * current->fail_nth, tried from 1 up (a debug kernel counts kmemleak's own
 * allocations too); at least one try must fail the barrier.
 */
static void async_failed_barrier_changes_nothing(struct kunit *test)
{
#ifndef CONFIG_FAULT_INJECTION
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION (the debug flavour has it)");
#else
	int nth, failed = 0;

	for (nth = 1; nth <= 8; nth++) {
		struct kds_async_domain *d = new_domain(test, 0);
		struct kds_fence *hold = kds_test_fence(test);
		struct call z = {}, a = {}, y = {};
		struct kds_async_work *wz = new_work(test, &z);
		struct kds_fence *fz = work_fence(test, wz);
		int ret;

		KUNIT_EXPECT_EQ(test, kds_async_work_after(wz, hold, GFP_KERNEL), 1);
		KUNIT_ASSERT_NE(test, kds_async_queue(d, wz), 0ULL);
		KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
		current->fail_nth = nth;
		ret = kds_async_barrier(d);
		current->fail_nth = 0;
		if (ret) {
			KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
			failed++;
		}
		a.must_be_pending = fz;
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &a), 0ULL);
		KUNIT_ASSERT_EQ(test, kds_async_barrier(d), 0);
		y.must_be_pending = fz;
		KUNIT_ASSERT_NE(test, kds_async_schedule(d, call_fn, &y), 0ULL);
		/* z is held: nothing behind the barriers may start. */
		msleep(20);
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&a.runs), 0, "nth %d", nth);
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&y.runs), 0, "nth %d", nth);
		kds_fence_complete(hold);
		kds_async_synchronize(d);
		KUNIT_EXPECT_EQ(test, atomic_read(&z.runs), 1);
		KUNIT_EXPECT_EQ(test, atomic_read(&a.runs), 1);
		KUNIT_EXPECT_EQ(test, atomic_read(&y.runs), 1);
		KUNIT_EXPECT_FALSE_MSG(test, a.saw_pending, "nth %d: ran before z", nth);
		KUNIT_EXPECT_FALSE_MSG(test, y.saw_pending, "nth %d: ran before z", nth);
		kds_async_work_put(wz);
	}
	kunit_info(test, "the barrier failed for %d of 8 allocation failures\n", failed);
	KUNIT_EXPECT_GT(test, failed, 0);
#endif
}

static void noop_fn(void *data, u64 cookie)
{
}

static void noop_async_fn(void *data, async_cookie_t cookie)
{
}

/* Not a pass/fail test: per-item cost of a no-op, next to async_schedule(). */
static void async_noop_overhead(struct kunit *test)
{
	ASYNC_DOMAIN_EXCLUSIVE(peer);
	struct kds_async_domain *d = new_domain(test, 0);
	const int n = 2000;
	ktime_t t0, t1, t2;
	int i;

	t0 = ktime_get();
	for (i = 0; i < n; i++)
		kds_async_schedule(d, noop_fn, NULL);
	kds_async_synchronize(d);
	t1 = ktime_get();
	for (i = 0; i < n; i++)
		async_schedule_domain(noop_async_fn, NULL, &peer);
	async_synchronize_full_domain(&peer);
	t2 = ktime_get();
	kunit_info(test, "no-op work: kds %lld ns/item, async_schedule() %lld ns/item, ratio %lld%%\n",
		   ktime_to_ns(ktime_sub(t1, t0)) / n, ktime_to_ns(ktime_sub(t2, t1)) / n,
		   100 * ktime_to_ns(ktime_sub(t1, t0)) /
		   max_t(s64, 1, ktime_to_ns(ktime_sub(t2, t1))));
}

static struct kunit_case kds_async_cases[] = {
	KUNIT_CASE(async_single_work),
	KUNIT_CASE(async_after_fence),
	KUNIT_CASE(async_work_fence_belongs_to_kds),
	KUNIT_CASE(async_before_fence),
	KUNIT_CASE(async_chain_a_fence_b),
	KUNIT_CASE(async_pause_and_resume),
	KUNIT_CASE(async_synchronize_cookie_waits_for_earlier_only),
	KUNIT_CASE(async_two_domains_independent),
	KUNIT_CASE(async_barrier_1),
	KUNIT_CASE(async_barrier_16),
	KUNIT_CASE(async_barrier_back_to_back),
	KUNIT_CASE(async_schedule_allocates_once),
	KUNIT_CASE(async_deterministic_schedule_in_order),
	KUNIT_CASE(async_schedule_cookie_means_called),
	KUNIT_CASE(async_error_cancels_dependents),
	KUNIT_CASE(async_deterministic_error_stays_local),
	KUNIT_CASE(async_failed_barrier_changes_nothing),
	KUNIT_CASE(async_unqueued_work_cancels),
	KUNIT_CASE(async_more_blocked_than_cpus),
	KUNIT_CASE(async_misuse),
	KUNIT_CASE(async_graph_grid_26x26),
	KUNIT_CASE(async_graph_chain_and_fan),
	KUNIT_CASE(async_graph_refused),
	KUNIT_CASE(async_graph_add_errors),
	KUNIT_CASE(async_graph_deterministic),
	KUNIT_CASE(async_allocation_failure),
	KUNIT_CASE_SLOW(async_noop_overhead),
	{}
};

static struct kunit_suite kds_async_suite = {
	.name = "kds_async",
	.test_cases = kds_async_cases,
};

kunit_test_suites(&kds_async_suite);
