// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of kds fences, through the exported C API as a driver uses it.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <kds.h>

#include "test_util.h"

#include "test_scale.h"

static void fence_fresh_is_pending_commit_makes_done(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(f));
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
}

static void fence_external_events(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	kds_fence_await(f);
	kds_fence_await(f);
	kds_fence_complete(f);			/* commit */
	kds_fence_complete(f);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	kds_fence_complete(f);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(f));
}

static void fence_get_put(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	KUNIT_EXPECT_PTR_EQ(test, kds_fence_get(f), f);
	kds_fence_put(f);
	KUNIT_EXPECT_NULL(test, kds_fence_get(NULL));
	kds_fence_put(NULL);
}

static void fence_a_awaits_b(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test), *b = kds_test_fence(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, GFP_KERNEL), 1);
	kds_fence_complete(a);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(a));
	kds_fence_complete(b);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(b));
	KUNIT_EXPECT_TRUE(test, kds_fence_done(a));
	/* Awaiting a done fence adds nothing. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(kds_test_fence(test), b, GFP_KERNEL), 0);
}

static void fence_chain_abc(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test), *b = kds_test_fence(test);
	struct kds_fence *c = kds_test_fence(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(b, c, GFP_KERNEL), 1);
	kds_fence_complete(a);
	kds_fence_complete(b);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(a));
	KUNIT_EXPECT_FALSE(test, kds_fence_done(b));
	kds_fence_complete(c);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(a));
}

#define FAN 64

static void fence_fan_in(struct kunit *test)
{
	struct kds_fence *sink = kds_test_fence(test), *src[FAN];
	int i;

	for (i = 0; i < FAN; i++) {
		src[i] = kds_test_fence(test);
		KUNIT_ASSERT_EQ(test, kds_fence_await_fence(sink, src[i], GFP_KERNEL), 1);
	}
	kds_fence_complete(sink);
	for (i = 0; i < FAN; i++) {
		KUNIT_EXPECT_FALSE(test, kds_fence_done(sink));
		kds_fence_complete(src[(i * 7) % FAN]);	/* any order */
	}
	KUNIT_EXPECT_TRUE(test, kds_fence_done(sink));
}

static void fence_fan_out(struct kunit *test)
{
	struct kds_fence *src = kds_test_fence(test), *w[FAN];
	int i;

	for (i = 0; i < FAN; i++) {
		w[i] = kds_test_fence(test);
		KUNIT_ASSERT_EQ(test, kds_fence_await_fence(w[i], src, GFP_KERNEL), 1);
		kds_fence_complete(w[i]);
	}
	kds_fence_complete(src);
	for (i = 0; i < FAN; i++)
		KUNIT_EXPECT_TRUE(test, kds_fence_done(w[i]));
}

/*
 * A chain of n fences, each awaiting the one before; completing the head
 * completes all. The cascade must not recurse: 100,000 levels of recursion
 * would overflow the kernel stack.
 */
static void fence_chain(struct kunit *test, int n)
{
	struct kds_fence **f = vmalloc_array(n, sizeof(*f));
	ktime_t t0 = ktime_get(), t1, t2;
	int i, ok = 1;

	KUNIT_ASSERT_NOT_NULL(test, f);
	for (i = 0; i < n; i++) {
		f[i] = kds_fence_create(GFP_KERNEL);
		if (!f[i] || (i && kds_fence_await_fence(f[i], f[i - 1], GFP_KERNEL) != 1)) {
			ok = 0;
			break;
		}
	}
	t1 = ktime_get();
	if (ok) {
		for (i = n - 1; i > 0; i--)
			kds_fence_complete(f[i]);
		KUNIT_EXPECT_FALSE(test, kds_fence_done(f[n - 1]));
		t1 = ktime_get();
		kds_fence_complete(f[0]);	/* the whole chain completes here */
		t2 = ktime_get();
		for (i = 0; i < n; i++)
			ok &= kds_fence_get_status(f[i]) == 1;
		KUNIT_EXPECT_TRUE(test, ok);
		/* Where the time goes, for whoever makes this faster. */
		kunit_info(test, "%d fences: built and committed in %lld ms, completed in %lld ms\n",
			   n, ktime_ms_delta(t1, t0), ktime_ms_delta(t2, t1));
	} else {
		KUNIT_FAIL(test, "building the chain failed at %d", i);
		n = i + 1;
	}
	for (i = n - 1; i >= 0; i--)
		kds_fence_put(f[i]);
	vfree(f);
}

static void fence_chain_4096(struct kunit *test)
{
	fence_chain(test, 4096);
}

/* 100,000 links; 20,000 under KASAN (see test_scale.h). */
static void fence_chain_long(struct kunit *test)
{
	fence_chain(test, kds_test_rounds(100000));
}

static void fence_cycles_rejected(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test), *b = kds_test_fence(test);
	struct kds_fence *c = kds_test_fence(test);

	/* AA */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, a, GFP_KERNEL), -EDEADLK);
	/* ABA */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(b, a, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, GFP_KERNEL), -EDEADLK);
	/* ABCA */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(c, b, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, c, GFP_KERNEL), -EDEADLK);

	/* The refused edges changed nothing: a is still free to complete. */
	kds_fence_complete(a);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(a));
	kds_fence_complete(b);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(b));
	kds_fence_complete(c);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(c));
}

/* A cycle built against creation order, so every edge reorders the graph. */
static void fence_triangle_rejected(struct kunit *test)
{
	struct kds_fence *x = kds_test_fence(test), *y = kds_test_fence(test);
	struct kds_fence *z = kds_test_fence(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(x, y, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(y, z, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(z, x, GFP_KERNEL), -EDEADLK);
	/* The transitive edge is legal. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(x, z, GFP_KERNEL), 1);
	kds_fence_complete(x);
	kds_fence_complete(y);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(x));
	kds_fence_complete(z);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(x));
}

static void fence_diamond_accepted(struct kunit *test)
{
	struct kds_fence *top = kds_test_fence(test), *l = kds_test_fence(test);
	struct kds_fence *r = kds_test_fence(test), *bottom = kds_test_fence(test);

	/* bottom awaits l and r, which both await top; added in odd order. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(bottom, l, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(r, top, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(bottom, r, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(l, top, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(bottom, top, GFP_KERNEL), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(top, bottom, GFP_KERNEL), -EDEADLK);
	kds_fence_complete(bottom);
	kds_fence_complete(l);
	kds_fence_complete(r);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(bottom));
	kds_fence_complete(top);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(bottom));
}

static void fence_first_error_wins(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test), *b = kds_test_fence(test);

	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, GFP_KERNEL), 1);
	kds_fence_set_error(b, -EIO);
	kds_fence_set_error(b, -EBUSY);		/* ignored: not the first */
	kds_fence_complete(b);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(b), -EIO);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(a));	/* an error is no shortcut */
	kds_fence_complete(a);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(a), -EIO);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(a));
}

static void fence_error_inherited_from_done_source(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test), *b = kds_test_fence(test);
	struct kds_fence *c = kds_test_fence(test);

	kds_fence_set_error(b, -ENODEV);
	kds_fence_complete(b);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, GFP_KERNEL), 0);
	kds_fence_complete(a);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(a), -ENODEV);

	/* An error the fence set itself first wins over an inherited one. */
	kds_fence_set_error(c, -EPERM);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(c, b, GFP_KERNEL), 0);
	kds_fence_complete(c);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(c), -EPERM);
}

static void fence_wait_timeout_times_out(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 0), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 2), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, true, 2), 0);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
}

static void fence_wait_timeout_done(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 0), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, true, 100), 100);
	kds_fence_wait(f);
}

struct completer {
	struct kds_fence *f;
	unsigned int delay_ms;
	int *data;
};

static int completer_fn(void *arg)
{
	struct completer *c = arg;

	msleep(c->delay_ms);
	if (c->data)
		*c->data = 42;
	kds_fence_complete(c->f);
	return 0;
}

static void fence_wait_timeout_woken(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct completer c = { .f = f, .delay_ms = 20 };
	struct task_struct *t;
	long ret;

	t = kthread_run(completer_fn, &c, "kds_completer");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	ret = kds_fence_wait_timeout(f, true, 10 * HZ);
	KUNIT_EXPECT_GT(test, ret, 0);
	KUNIT_EXPECT_LE(test, ret, 10 * HZ);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(f));
}

static void fence_wait_interrupted_by_signal(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	allow_signal(SIGUSR1);
	send_sig(SIGUSR1, current, 0);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, true, 10 * HZ), -ERESTARTSYS);
	/* An uninterruptible wait ignores the signal and times out. */
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 2), 0);
	flush_signals(current);
	disallow_signal(SIGUSR1);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
}

struct sleeper {
	struct kds_fence *f;
	long ret;
	struct completion started, finished;
};

static int sleeper_fn(void *arg)
{
	struct sleeper *s = arg;

	allow_signal(SIGUSR1);
	complete(&s->started);
	s->ret = kds_fence_wait_timeout(s->f, true, 60 * HZ);
	complete(&s->finished);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* A signal that arrives while the waiter sleeps ends the wait. */
static void fence_wait_interrupted_while_asleep(struct kunit *test)
{
	struct sleeper s = { .f = kds_test_fence(test) };
	struct task_struct *t;

	init_completion(&s.started);
	init_completion(&s.finished);
	t = kthread_run(sleeper_fn, &s, "kds_sleeper");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	get_task_struct(t);
	wait_for_completion(&s.started);
	msleep(20);
	send_sig(SIGUSR1, t, 0);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&s.finished, 10 * HZ), 0UL);
	kthread_stop(t);
	put_task_struct(t);
	KUNIT_EXPECT_EQ(test, s.ret, -ERESTARTSYS);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(s.f));
}

static void fence_completion_source(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test), *g = kds_test_fence(test);
	struct completion c, d;

	init_completion(&c);
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(f, &c, GFP_KERNEL), 1);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, 2), 0);
	complete(&c);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);

	/* Already completed: consumed at once. */
	init_completion(&d);
	complete(&d);
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(g, &d, GFP_KERNEL), 0);
	KUNIT_EXPECT_FALSE(test, completion_done(&d));
	complete_all(&d);
	KUNIT_EXPECT_EQ(test, kds_fence_await_completion(g, &d, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, completion_done(&d));
	kds_fence_complete(g);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(g));
}

struct test_cb {
	struct kds_fence_cb cb;
	struct kds_fence *seen;
	int calls;
	int status;
	bool put;
	bool in_hardirq;	/* the call ran in hard IRQ context */
};

static void test_cb_fn(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct test_cb *t = container_of(cb, struct test_cb, cb);

	t->seen = f;
	t->calls++;
	t->status = kds_fence_get_status(f);
	t->in_hardirq = in_hardirq();
	if (t->put)
		kds_fence_put(f);
}

static void fence_callbacks(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct test_cb a = {}, b = {}, late = {};

	KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, &a.cb, test_cb_fn), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, &b.cb, test_cb_fn), 0);
	KUNIT_EXPECT_TRUE(test, kds_fence_remove_callback(f, &b.cb));
	kds_fence_set_error(f, -EAGAIN);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, a.calls, 1);
	KUNIT_EXPECT_PTR_EQ(test, a.seen, f);
	KUNIT_EXPECT_EQ(test, a.status, -EAGAIN);	/* done when called */
	KUNIT_EXPECT_EQ(test, b.calls, 0);
	/* After the fact: not added, not called, safe to remove. */
	KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, &late.cb, test_cb_fn), -ENOENT);
	KUNIT_EXPECT_EQ(test, late.calls, 0);
	KUNIT_EXPECT_FALSE(test, kds_fence_remove_callback(f, &late.cb));
	KUNIT_EXPECT_FALSE(test, kds_fence_remove_callback(f, &a.cb));
}

/*
 * A callback in kmalloc'd memory, which the remover frees once
 * kds_fence_remove_callback() returns, as the header allows either way: a
 * wrong "false" (called) for a callback that has not run lets it run on
 * freed memory, which KASAN reports, and counts a call.
 */
struct victim_cb {
	struct kds_fence_cb cb;
	int *calls;
};

static void victim_fn(struct kds_fence *f, struct kds_fence_cb *cb)
{
	(*container_of(cb, struct victim_cb, cb)->calls)++;
}

struct remover_cb {
	struct kds_fence_cb cb;
	struct kds_fence *from;		/* the fence the victim is on */
	struct victim_cb *victim;
	struct kds_fence *complete;	/* completed first, if set */
	int removed;
};

static void remover_fn(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct remover_cb *r = container_of(cb, struct remover_cb, cb);

	if (r->complete) {
		kds_fence_complete(r->complete);
		return;
	}
	r->removed = kds_fence_remove_callback(r->from, &r->victim->cb);
	kfree(r->victim);
}

static struct victim_cb *new_victim(struct kunit *test, int *calls)
{
	struct victim_cb *v = kzalloc_obj(*v, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, v);
	v->calls = calls;
	return v;
}

/* cb1 removes cb2, which has not run yet: true, and cb2 never runs. */
static void fence_remove_pending_callback_from_callback(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	int calls = 0;
	struct remover_cb r = { .from = f, .victim = new_victim(test, &calls) };

	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &r.cb, remover_fn), 0);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &r.victim->cb, victim_fn), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, r.removed, 1);
	KUNIT_EXPECT_EQ(test, calls, 0);
}

/* cb1 removes cb2, which ran before it: false, and cb2 ran once. */
static void fence_remove_called_callback_from_callback(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	int calls = 0;
	struct remover_cb r = { .from = f, .victim = new_victim(test, &calls) };

	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &r.victim->cb, victim_fn), 0);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &r.cb, remover_fn), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, r.removed, 0);
	KUNIT_EXPECT_EQ(test, calls, 1);
}

/*
 * Through another fence: cb1 on F completes G, whose callback removes cb2
 * from F. cb2 has not run: true, and it never runs.
 */
static void fence_remove_callback_through_another_fence(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test), *g = kds_test_fence(test);
	int calls = 0;
	struct remover_cb first = { .complete = g };
	struct remover_cb r = { .from = f, .victim = new_victim(test, &calls) };

	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(g, &r.cb, remover_fn), 0);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &first.cb, remover_fn), 0);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &r.victim->cb, victim_fn), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_TRUE(test, kds_fence_done(g));
	KUNIT_EXPECT_EQ(test, r.removed, 1);
	KUNIT_EXPECT_EQ(test, calls, 0);
}

/* The callback holds the last reference to its fence and drops it. */
static void fence_callback_drops_last_reference(struct kunit *test)
{
	struct kds_fence *g = kds_test_fence(test);
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	struct test_cb t = { .put = true };

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), 1);
	kds_fence_complete(f);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &t.cb, test_cb_fn), 0);
	/* Our reference goes to the callback; only the dependency keeps f. */
	kds_fence_complete(g);
	KUNIT_EXPECT_EQ(test, t.calls, 1);
	KUNIT_EXPECT_EQ(test, t.status, 1);
	/* KASAN reports any use of f after the callback freed it. */
}

/* The caller hands its only reference to the callback, then commits. */
static void fence_callback_takes_the_callers_reference(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	struct test_cb t = { .put = true };

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &t.cb, test_cb_fn), 0);
	kds_fence_complete(f);	/* f is freed by the callback, inside this call */
	KUNIT_EXPECT_EQ(test, t.calls, 1);
	KUNIT_EXPECT_EQ(test, t.status, 1);
}

#define ORDER_ROUNDS 200

struct order_state {
	struct kds_fence *f[ORDER_ROUNDS];
	int data[ORDER_ROUNDS];
	int bad;
	struct completion done;
};

static int order_reader(void *arg)
{
	struct order_state *s = arg;
	int i;

	for (i = 0; i < ORDER_ROUNDS; i++) {
		kds_fence_wait(s->f[i]);
		if (s->data[i] != i + 1)	/* plain read, on purpose */
			s->bad++;
	}
	complete(&s->done);
	return 0;
}

/* A waiter sees what was written before the fence completed. */
static void fence_ordering_publishes_data(struct kunit *test)
{
	struct order_state *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct task_struct *t;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, s);
	for (i = 0; i < ORDER_ROUNDS; i++)
		s->f[i] = kds_test_fence(test);
	init_completion(&s->done);
	t = kthread_run(order_reader, s, "kds_reader");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	for (i = 0; i < ORDER_ROUNDS; i++) {
		s->data[i] = i + 1;		/* plain write, on purpose */
		kds_fence_complete(s->f[i]);
		if (i % 16 == 0)
			usleep_range(50, 100);
	}
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&s->done, 60 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, s->bad, 0);
}

#define RACE_ROUNDS 300
#define RACE_EVENTS 64

struct race {
	struct kds_fence *f;
	atomic_t go;
	struct completion done[2];
	struct test_cb cb;
};

static int race_fn(void *arg)
{
	struct race *r = arg;
	int me = atomic_inc_return(&r->go) - 1, i;

	while (atomic_read(&r->go) < 2)
		cpu_relax();
	for (i = 0; i < RACE_EVENTS; i++)
		kds_fence_complete(r->f);
	complete(&r->done[me]);
	return 0;
}

/* Two CPUs complete the events of one fence at once: done exactly once. */
static void fence_concurrent_completion(struct kunit *test)
{
	struct race *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	int round, i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, r);
	for (round = 0; round < RACE_ROUNDS; round++) {
		r->f = kds_fence_create(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r->f);
		for (i = 0; i < 2 * RACE_EVENTS - 1; i++)
			kds_fence_await(r->f);	/* plus the setup reference */
		memset(&r->cb, 0, sizeof(r->cb));
		KUNIT_ASSERT_EQ(test, kds_fence_add_callback(r->f, &r->cb.cb, test_cb_fn), 0);
		atomic_set(&r->go, 0);
		init_completion(&r->done[0]);
		init_completion(&r->done[1]);
		for (i = 0; i < 2; i++) {
			struct task_struct *t;

			t = kthread_run_on_cpu(race_fn, r, i % num_online_cpus(), "kds_race/%u");
			KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		}
		for (i = 0; i < 2; i++)
			wait_for_completion(&r->done[i]);
		if (r->cb.calls != 1 || kds_fence_get_status(r->f) != 1)
			bad++;
		kds_fence_put(r->f);
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
}

#define RING 3
#define RING_ROUNDS 600

/*
 * Three awaits that together close a ring f0 <- f1 <- f2 <- f0, made at
 * once by two kthreads and the test itself. Most fence-on-fence awaits
 * take no global lock (see Documentation/fences.rst), so this races the
 * fast and slow paths against each other: they must never all succeed.
 */
struct ring_race {
	struct kds_fence *f[RING];
	int ret[RING];
	atomic_t start, finished;
};

static void ring_await(struct ring_race *r, int me)
{
	r->ret[me] = kds_fence_await_fence(r->f[me], r->f[(me + 1) % RING], GFP_KERNEL);
	atomic_inc(&r->finished);
}

static int ring_fn(void *arg)
{
	struct ring_race *r = arg;
	int me = atomic_inc_return(&r->finished) - 1, round;

	for (round = 1; round <= RING_ROUNDS; round++) {
		while (atomic_read_acquire(&r->start) < round)
			cond_resched();
		ring_await(r, me);
	}
	return 0;
}

static void fence_concurrent_awaits_never_close_a_cycle(struct kunit *test)
{
	struct ring_race *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct kds_fence *extra[RING];
	int round, i, all_added = 0, refused = 0, stuck = 0, other = 0;

	KUNIT_ASSERT_NOT_NULL(test, r);
	for (i = 0; i < RING - 1; i++) {
		struct task_struct *t;

		t = kthread_run_on_cpu(ring_fn, r, i % num_online_cpus(), "kds_ring/%u");
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	while (atomic_read(&r->finished) < RING - 1)
		cond_resched();
	for (round = 1; round <= RING_ROUNDS; round++) {
		int added = 0;

		for (i = 0; i < RING; i++) {
			r->f[i] = kds_fence_create(GFP_KERNEL);
			extra[i] = kds_fence_create(GFP_KERNEL);
			KUNIT_ASSERT_TRUE(test, r->f[i] && extra[i]);
			/*
			 * Rounds 1, 4, ...: each already has a waiter, so an await
			 * into it moves an edge into the graph. Rounds 2, 5, ...:
			 * each already awaits a fence. Rounds 3, 6, ...: fresh.
			 */
			if (round % 3 == 1)
				KUNIT_ASSERT_EQ(test, kds_fence_await_fence(extra[i], r->f[i],
									    GFP_KERNEL), 1);
			else if (round % 3 == 2)
				KUNIT_ASSERT_EQ(test, kds_fence_await_fence(r->f[i], extra[i],
									    GFP_KERNEL), 1);
		}
		atomic_set(&r->finished, 0);
		atomic_set_release(&r->start, round);
		ring_await(r, RING - 1);
		while (atomic_read(&r->finished) < RING)
			cond_resched();
		for (i = 0; i < RING; i++) {
			if (r->ret[i] == 1)
				added++;
			else if (r->ret[i] == -EDEADLK)
				refused++;
			else
				other++;
		}
		if (added == RING)
			all_added++;
		/* No cycle: committing everything makes everything done. */
		for (i = 0; i < RING; i++) {
			kds_fence_complete(extra[i]);
			kds_fence_complete(r->f[i]);
		}
		for (i = 0; i < RING; i++) {
			if (!kds_fence_done(r->f[i]) || !kds_fence_done(extra[i]))
				stuck++;
			kds_fence_put(r->f[i]);
			kds_fence_put(extra[i]);
		}
	}
	KUNIT_EXPECT_EQ(test, all_added, 0);
	KUNIT_EXPECT_EQ(test, stuck, 0);
	KUNIT_EXPECT_EQ(test, other, 0);
	/* Any two of the three awaits make no cycle: exactly one is refused. */
	KUNIT_EXPECT_EQ(test, refused, RING_ROUNDS);
}

/* ---- caller-provided links ------------------------------------------- */

#define LINKS 16

/*
 * kds_fence_await_fence_link() keeps nothing on failure or when the
 * signaler is done, so the link can be reused at once; a link in use is
 * not disturbed by completing the waiter too often (refused, it never
 * stands in for an awaited fence).
 */
static void fence_link_reuse_and_misuse(struct kunit *test)
{
	struct kds_fence *w = kds_test_fence(test), *s = kds_test_fence(test);
	struct kds_fence *done = kds_test_fence(test), *t = kds_test_fence(test);
	struct kds_fence_link link, link2;

	kds_fence_complete(done);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence_link(w, done, &link, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence_link(w, s, &link, GFP_KERNEL), 1);
	/* s awaiting w now closes a cycle: refused, and link2 is free again. */
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence_link(s, w, &link2, GFP_KERNEL), -EDEADLK);
	memset(&link2, 0x5a, sizeof(link2));
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence_link(s, t, &link2, GFP_KERNEL), 1);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_fence_await_fence_link(w, s, NULL, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	kds_fence_complete(w);				/* commit */
	kunit_warning_suppress(test) {
		kds_fence_complete(w);			/* one too many */
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	KUNIT_EXPECT_FALSE(test, kds_fence_done(w));	/* still awaits s */
	kds_fence_complete(t);
	kds_fence_set_error(s, -EIO);
	kds_fence_complete(s);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(w), -EIO);
}

/*
 * Awaits with links allocate nothing: with every slab allocation of this
 * task failing, the link form still joins 16 fences, where the allocating
 * form gets -ENOMEM.
 */
static void fence_link_allocates_nothing(struct kunit *test)
{
#ifndef CONFIG_FAILSLAB
	kunit_skip(test, "needs CONFIG_FAILSLAB (the debug flavour has it)");
#else
	struct kds_fence_link *links = kunit_kcalloc(test, LINKS, sizeof(*links), GFP_KERNEL);
	struct kds_fence *src[LINKS], *sink = kds_test_fence(test);
	int i, added = 0, plain;

	KUNIT_ASSERT_NOT_NULL(test, links);
	for (i = 0; i < LINKS; i++)
		src[i] = kds_test_fence(test);
	kds_test_fail_allocations(test);
	plain = kds_fence_await_fence(sink, src[0], GFP_KERNEL);
	for (i = 0; i < LINKS; i++)
		added += kds_fence_await_fence_link(sink, src[i], &links[i], GFP_KERNEL) == 1;
	current->make_it_fail = false;
	KUNIT_EXPECT_EQ(test, plain, -ENOMEM);
	KUNIT_EXPECT_EQ(test, added, LINKS);
	kds_fence_complete(sink);
	for (i = 0; i < LINKS; i++) {
		KUNIT_EXPECT_FALSE(test, kds_fence_done(sink));
		kds_fence_complete(src[i]);
	}
	KUNIT_EXPECT_TRUE(test, kds_fence_done(sink));
#endif
}

/*
 * The link is the caller's again once the waiter is done: here the
 * waiter's callback frees the links, while two CPUs complete the two
 * fences it awaits at once. kds must not touch a link after the count it
 * stands for dropped (KASAN on the debug flavour reports any use after
 * free as a splat, which fails the run).
 */
struct link_race {
	struct kds_fence *src[2];
	struct kds_fence_link *links;
	struct kds_fence_cb cb;
	atomic_t go, freed;
	struct completion done[2];
};

static void link_free_cb(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct link_race *r = container_of(cb, struct link_race, cb);

	kfree(r->links);
	r->links = NULL;
	atomic_inc(&r->freed);
}

static int link_race_fn(void *arg)
{
	struct link_race *r = arg;
	int me = atomic_inc_return(&r->go) - 1;

	while (atomic_read(&r->go) < 2)
		cpu_relax();
	kds_fence_complete(r->src[me]);
	complete(&r->done[me]);
	return 0;
}

static void fence_link_freed_by_waiter_callback(struct kunit *test)
{
	struct link_race *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	int round, i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, r);
	for (round = 0; round < RACE_ROUNDS; round++) {
		struct kds_fence *w = kds_fence_create(GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, w);
		r->links = kcalloc(2, sizeof(*r->links), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r->links);
		for (i = 0; i < 2; i++) {
			r->src[i] = kds_fence_create(GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, r->src[i]);
			KUNIT_ASSERT_EQ(test, kds_fence_await_fence_link(w, r->src[i], &r->links[i],
									 GFP_KERNEL), 1);
		}
		KUNIT_ASSERT_EQ(test, kds_fence_add_callback(w, &r->cb, link_free_cb), 0);
		kds_fence_complete(w);
		atomic_set(&r->go, 0);
		atomic_set(&r->freed, 0);
		init_completion(&r->done[0]);
		init_completion(&r->done[1]);
		for (i = 0; i < 2; i++) {
			struct task_struct *t;

			t = kthread_run_on_cpu(link_race_fn, r, i % num_online_cpus(),
					       "kds_link/%u");
			KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		}
		for (i = 0; i < 2; i++)
			wait_for_completion(&r->done[i]);
		if (atomic_read(&r->freed) != 1 || kds_fence_get_status(w) != 1)
			bad++;
		for (i = 0; i < 2; i++)
			kds_fence_put(r->src[i]);
		kds_fence_put(w);
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
}

struct irq_completer {
	struct hrtimer timer;
	struct kds_fence *f;
};

static enum hrtimer_restart irq_complete_fn(struct hrtimer *timer)
{
	struct irq_completer *c = container_of(timer, struct irq_completer, timer);

	kds_fence_set_error(c->f, -ETIME);
	kds_fence_complete(c->f);
	kds_fence_put(c->f);
	return HRTIMER_NORESTART;
}

/* Completing from hard IRQ runs callbacks and dependents there. */
static void fence_complete_from_hardirq(struct kunit *test)
{
	struct kds_fence *f, *dep;
	struct irq_completer c = {};
	struct test_cb t = {};

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	f = kds_test_fence(test);
	dep = kds_test_fence(test);
	c.f = kds_fence_get(f);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(dep, f, GFP_KERNEL), 1);
	kds_fence_complete(dep);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &t.cb, test_cb_fn), 0);
	hrtimer_setup_on_stack(&c.timer, irq_complete_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	hrtimer_start(&c.timer, ms_to_ktime(5), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(dep, false, 10 * HZ), 0L);
	hrtimer_cancel(&c.timer);
	destroy_hrtimer_on_stack(&c.timer);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(dep), -ETIME);
	KUNIT_EXPECT_EQ(test, t.calls, 1);
}

static const char *parked_stub_name(struct dma_fence *f)
{
	return "kds_test";
}

static const struct dma_fence_ops parked_stub_ops = {
	.get_driver_name = parked_stub_name,
	.get_timeline_name = parked_stub_name,
};

/* Every fence call whose Context: line says "hard IRQ", from a hard hrtimer. */
struct irq_api {
	struct hrtimer timer;
	struct kds_fence *f;
	struct test_cb keep, drop;
	int add_keep, add_drop, status;
	bool done, removed;
	struct completion fired;
};

static enum hrtimer_restart irq_api_fn(struct hrtimer *timer)
{
	struct irq_api *a = container_of(timer, struct irq_api, timer);
	struct kds_fence *g = kds_fence_get(a->f);

	kds_fence_await(g);
	a->status = kds_fence_get_status(g);
	a->done = kds_fence_done(g);
	a->add_keep = kds_fence_add_callback(g, &a->keep.cb, test_cb_fn);
	a->add_drop = kds_fence_add_callback(g, &a->drop.cb, test_cb_fn);
	a->removed = kds_fence_remove_callback(g, &a->drop.cb);
	kds_fence_set_error(g, -EIO);
	kds_fence_complete(g);
	kds_fence_put(g);
	complete(&a->fired);
	return HRTIMER_NORESTART;
}

/*
 * get, await, get_status, done, add_callback, remove_callback, set_error,
 * complete and put, all called in hard IRQ context (lockdep and the
 * atomic-sleep checks of the debug kernel watch), with their effects
 * checked afterwards.
 */
static void fence_api_from_hardirq(struct kunit *test)
{
	struct irq_api a = {};

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	a.f = kds_test_fence(test);
	init_completion(&a.fired);
	hrtimer_setup_on_stack(&a.timer, irq_api_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	hrtimer_start(&a.timer, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&a.fired, 10 * HZ), 0UL);
	hrtimer_cancel(&a.timer);
	destroy_hrtimer_on_stack(&a.timer);
	KUNIT_EXPECT_EQ(test, a.status, 0);
	KUNIT_EXPECT_FALSE(test, a.done);
	KUNIT_EXPECT_EQ(test, a.add_keep, 0);
	KUNIT_EXPECT_EQ(test, a.add_drop, 0);
	KUNIT_EXPECT_TRUE(test, a.removed);
	/* Still pending: the creator's commit is owed. */
	KUNIT_EXPECT_FALSE(test, kds_fence_done(a.f));
	KUNIT_EXPECT_EQ(test, a.keep.calls, 0);
	kds_fence_complete(a.f);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(a.f), -EIO);
	KUNIT_EXPECT_EQ(test, a.keep.calls, 1);
	KUNIT_EXPECT_EQ(test, a.drop.calls, 0);
}

#define PARKED 600

/*
 * 600 pending completion awaits (more than the 512 workers that may sleep
 * on completions at once) hold up no other kds work: a dma_fence wait's
 * timeout still fires. Every fence is done once its completion is.
 */
static void fence_parked_completions_hold_up_nothing(struct kunit *test)
{
	struct completion *c = kunit_kcalloc(test, PARKED, sizeof(*c), GFP_KERNEL);
	struct kds_fence **f = kunit_kcalloc(test, PARKED, sizeof(*f), GFP_KERNEL);
	struct kds_fence *timed = kds_test_fence(test);
	struct dma_fence *stuck = kzalloc_obj(*stuck, GFP_KERNEL);
	static DEFINE_SPINLOCK(stuck_lock);
	int i, last_done;

	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_NOT_NULL(test, stuck);
	dma_fence_init(stuck, &parked_stub_ops, &stuck_lock, dma_fence_context_alloc(1), 1);
	for (i = 0; i < PARKED; i++) {
		init_completion(&c[i]);
		f[i] = kds_test_fence(test);
		KUNIT_ASSERT_EQ(test, kds_fence_await_completion(f[i], &c[i], GFP_KERNEL), 1);
		kds_fence_complete(f[i]);
	}
	KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(timed, stuck, msecs_to_jiffies(20),
							GFP_KERNEL), 1);
	kds_fence_complete(timed);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(timed, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(timed), -ETIMEDOUT);
	/* The limit, as seen: completing the last one alone. */
	complete(&c[PARKED - 1]);
	last_done = kds_fence_wait_timeout(f[PARKED - 1], false, HZ / 5) > 0;
	kunit_info(test, "%d completion awaits pending; the last one's fence %s done 0.2 s after its completion",
		   PARKED, last_done ? "was" : "was not");
	for (i = 0; i < PARKED - 1; i++)
		complete(&c[i]);
	for (i = 0; i < PARKED; i++)
		KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f[i], false, 10 * HZ), 0L);
	dma_fence_signal(stuck);
	dma_fence_put(stuck);
}

#define BOUNDED_CHAIN 2000

/* Completes a chain's head from hard IRQ. */
struct irq_chain {
	struct hrtimer timer;
	struct kds_fence **f;
	bool head_done;		/* the head was done when the call returned */
	struct completion fired;
};

static enum hrtimer_restart irq_chain_fn(struct hrtimer *timer)
{
	struct irq_chain *c = container_of(timer, struct irq_chain, timer);

	kds_fence_complete(c->f[0]);
	c->head_done = kds_fence_done(c->f[0]);
	complete(&c->fired);
	return HRTIMER_NORESTART;
}

/*
 * "In hard IRQ context the work is bounded": completing the head of a
 * 2,000-fence chain from a hard hrtimer retires about 128 fences there;
 * the rest, callbacks included, are done shortly after, in process context.
 * Callbacks along the chain tell where they ran.
 */
static void fence_chain_from_hardirq_is_bounded(struct kunit *test)
{
	static const int at[] = { 0, 100, 200, 1000, BOUNDED_CHAIN - 1 };
	struct test_cb cbs[ARRAY_SIZE(at)] = {};
	struct irq_chain c = {};
	int i;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	c.f = kunit_kcalloc(test, BOUNDED_CHAIN, sizeof(*c.f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c.f);
	init_completion(&c.fired);
	for (i = 0; i < BOUNDED_CHAIN; i++) {
		c.f[i] = kds_test_fence(test);
		if (i) {
			KUNIT_ASSERT_EQ(test,
					kds_fence_await_fence(c.f[i], c.f[i - 1], GFP_KERNEL), 1);
			kds_fence_complete(c.f[i]);
		}
	}
	for (i = 0; i < ARRAY_SIZE(at); i++)
		KUNIT_ASSERT_EQ(test,
				kds_fence_add_callback(c.f[at[i]], &cbs[i].cb, test_cb_fn), 0);
	hrtimer_setup_on_stack(&c.timer, irq_chain_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	hrtimer_start(&c.timer, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&c.fired, 10 * HZ), 0UL);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(c.f[BOUNDED_CHAIN - 1], false, 10 * HZ), 0L);
	hrtimer_cancel(&c.timer);
	destroy_hrtimer_on_stack(&c.timer);
	KUNIT_EXPECT_TRUE(test, c.head_done);
	for (i = 0; i < ARRAY_SIZE(at); i++) {
		KUNIT_EXPECT_EQ(test, cbs[i].calls, 1);
		/* Within the budget in the interrupt, past it outside. */
		KUNIT_EXPECT_EQ_MSG(test, cbs[i].in_hardirq, at[i] <= 100, "fence %d", at[i]);
	}
}

static void fence_misuse_over_complete(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	kds_fence_complete(f);
	kunit_warning_suppress(test) {
		kds_fence_complete(f);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
}

static void fence_misuse_await_done(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test), *g = kds_test_fence(test);
	struct completion c;

	init_completion(&c);
	kds_fence_complete(f);
	kunit_warning_suppress(test) {
		kds_fence_await(f);
		KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_completion(f, &c, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 3);
	}
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	kds_fence_complete(g);
}

/*
 * "GFP_NOFS and GFP_NOIO are honoured": no allocation kds makes for such a
 * caller (and kds makes more than the caller's object, with the Rust
 * allocator's GFP_KERNEL) may recurse into filesystem reclaim. Inside
 * fs_reclaim_acquire(), such a recursion is a lockdep report, which fails
 * the run on the debug kernel; everywhere, the task's reclaim scope must
 * be as it was after each call.
 */
static void fence_gfp_nofs_noio_scopes(struct kunit *test)
{
	static const gfp_t gfps[] = { GFP_NOFS, GFP_NOIO };
	unsigned int outer;
	int i, j;

	for (i = 0; i < ARRAY_SIZE(gfps); i++) {
		for (j = 0; j < 2; j++) {
			unsigned int before;
			struct kds_fence *a, *b;

			/* j = 1: the caller has a scope of its own already. */
			outer = j ? memalloc_nofs_save() : 0;
			before = current->flags & (PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO);
			fs_reclaim_acquire(GFP_KERNEL);
			a = kds_fence_create(gfps[i]);
			b = kds_fence_create(gfps[i]);
			if (a && b) {
				KUNIT_EXPECT_EQ(test, kds_fence_await_fence(a, b, gfps[i]), 1);
				KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(a, ms_to_ktime(1),
									      CLOCK_MONOTONIC,
									      HRTIMER_MODE_REL, 0,
									      gfps[i]), 1);
			}
			fs_reclaim_release(GFP_KERNEL);
			KUNIT_EXPECT_EQ(test,
					current->flags & (PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO),
					before);
			if (j)
				memalloc_nofs_restore(outer);
			KUNIT_ASSERT_NOT_NULL(test, a);
			KUNIT_ASSERT_NOT_NULL(test, b);
			kds_fence_complete(b);
			kds_fence_complete(a);
			KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(a, false, 10 * HZ), 0L);
			kds_fence_put(a);
			kds_fence_put(b);
		}
	}
}

static void fence_misuse_bad_arguments(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct test_cb t = {};

	kunit_warning_suppress(test) {
		kds_fence_await(NULL);
		kds_fence_complete(NULL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_fence(NULL, f, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, NULL, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_completion(f, NULL, GFP_KERNEL), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_get_status(NULL), -EINVAL);
		KUNIT_EXPECT_FALSE(test, kds_fence_done(NULL));
		KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(NULL, false, 1), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, NULL, test_cb_fn), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, &t.cb, NULL), -EINVAL);
		KUNIT_EXPECT_FALSE(test, kds_fence_remove_callback(NULL, &t.cb));
		kds_fence_set_error(f, 5);
		kds_fence_set_error(f, -5000);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 13);
	}
	kunit_warning_suppress(test) {
		/* As dma_fence_wait_timeout(): a negative timeout is -EINVAL. */
		KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, -5), -EINVAL);
		/* A zeroed callback that was never added: no links to undo. */
		KUNIT_EXPECT_FALSE(test, kds_fence_remove_callback(f, &t.cb));
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 2);
	}
	KUNIT_EXPECT_EQ(test, t.calls, 0);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	kunit_warning_suppress(test) {
		kds_fence_set_error(f, -EIO);		/* too late */
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
}

/*
 * The last reference to a pending fence that has a callback and a waiting
 * fence goes away: kds warns and completes it with -EDEADLK, so nobody hangs.
 */
static void fence_misuse_released_pending(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL), *w = kds_test_fence(test);
	struct test_cb t = {};

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(w, f, GFP_KERNEL), 1);
	kds_fence_complete(w);
	KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f, &t.cb, test_cb_fn), 0);
	kunit_warning_suppress(test) {
		kds_fence_put(f);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	KUNIT_EXPECT_EQ(test, t.calls, 1);
	KUNIT_EXPECT_EQ(test, t.status, -EDEADLK);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(w), -EDEADLK);
}

static struct kunit_case kds_fence_cases[] = {
	KUNIT_CASE(fence_fresh_is_pending_commit_makes_done),
	KUNIT_CASE(fence_external_events),
	KUNIT_CASE(fence_get_put),
	KUNIT_CASE(fence_gfp_nofs_noio_scopes),
	KUNIT_CASE(fence_a_awaits_b),
	KUNIT_CASE(fence_chain_abc),
	KUNIT_CASE(fence_fan_in),
	KUNIT_CASE(fence_fan_out),
	KUNIT_CASE(fence_chain_4096),
	KUNIT_CASE_SLOW(fence_chain_long),
	KUNIT_CASE(fence_cycles_rejected),
	KUNIT_CASE(fence_triangle_rejected),
	KUNIT_CASE(fence_diamond_accepted),
	KUNIT_CASE(fence_first_error_wins),
	KUNIT_CASE(fence_error_inherited_from_done_source),
	KUNIT_CASE(fence_wait_timeout_times_out),
	KUNIT_CASE(fence_wait_timeout_done),
	KUNIT_CASE(fence_wait_timeout_woken),
	KUNIT_CASE(fence_wait_interrupted_by_signal),
	KUNIT_CASE(fence_wait_interrupted_while_asleep),
	KUNIT_CASE(fence_completion_source),
	KUNIT_CASE(fence_callbacks),
	KUNIT_CASE(fence_callback_drops_last_reference),
	KUNIT_CASE(fence_callback_takes_the_callers_reference),
	KUNIT_CASE(fence_ordering_publishes_data),
	KUNIT_CASE_SLOW(fence_concurrent_completion),
	KUNIT_CASE_SLOW(fence_concurrent_awaits_never_close_a_cycle),
	KUNIT_CASE(fence_link_reuse_and_misuse),
	KUNIT_CASE(fence_link_allocates_nothing),
	KUNIT_CASE_SLOW(fence_link_freed_by_waiter_callback),
	KUNIT_CASE(fence_complete_from_hardirq),
	KUNIT_CASE(fence_api_from_hardirq),
	KUNIT_CASE_SLOW(fence_parked_completions_hold_up_nothing),
	KUNIT_CASE(fence_chain_from_hardirq_is_bounded),
	KUNIT_CASE(fence_remove_pending_callback_from_callback),
	KUNIT_CASE(fence_remove_called_callback_from_callback),
	KUNIT_CASE(fence_remove_callback_through_another_fence),
	KUNIT_CASE(fence_misuse_over_complete),
	KUNIT_CASE(fence_misuse_await_done),
	KUNIT_CASE(fence_misuse_bad_arguments),
	KUNIT_CASE(fence_misuse_released_pending),
	{}
};

static struct kunit_suite kds_fence_suite = {
	.name = "kds_fence",
	.test_cases = kds_fence_cases,
};

kunit_test_suites(&kds_fence_suite);
