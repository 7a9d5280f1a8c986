// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of kds resource sets, through the exported C API as a driver
 * uses it.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kmemleak.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <kds.h>

#include "test_scale.h"
#include "test_util.h"

/* The order in which grant callbacks ran. */
struct grant_log {
	spinlock_t lock;	/* protects ids and n */
	int ids[32];
	int n;
};

/* One client of the resources: a set and what its callback saw. */
struct client {
	struct kds_resource_set *rset;
	struct grant_log *log;
	int id;
	atomic_t calls;
	struct task_struct *task;	/* that ran the callback */
	bool saw_rset;			/* *pprset was set when it ran */
	bool in_hardirq;		/* it ran in hard IRQ context */
	bool release_in_cb;		/* the callback releases the set */
	struct completion granted;
	struct completion *go;		/* the callback waits for this */
	struct completion entered;
};

static void client_cb(void *param, void *extra)
{
	struct client *c = param;
	struct grant_log *log = extra;
	unsigned long flags;

	c->task = current;
	c->saw_rset = READ_ONCE(c->rset);
	c->in_hardirq = in_hardirq();
	if (log) {
		spin_lock_irqsave(&log->lock, flags);
		if (log->n < ARRAY_SIZE(log->ids))
			log->ids[log->n++] = c->id;
		spin_unlock_irqrestore(&log->lock, flags);
	}
	complete(&c->entered);
	if (c->go)
		wait_for_completion(c->go);
	atomic_inc(&c->calls);
	if (c->release_in_cb)
		kds_resource_set_release(&c->rset);
	complete(&c->granted);
}

static void client_init(struct client *c, int id, struct grant_log *log)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->log = log;
	init_completion(&c->granted);
	init_completion(&c->entered);
}

static void log_init(struct grant_log *log)
{
	spin_lock_init(&log->lock);
	log->n = 0;
}

struct res_ctx {
	struct kds_callback direct, queued;
	struct kds_resource r[4];
	bool termed;	/* res_ctx_term() ran */
};

/*
 * The resources stay listed by kds until they are terminated, so a test
 * that ends early (a skip, a failed assertion) terminates them here; if
 * one is still in use (the test failed), the context is left allocated
 * rather than freed under kds's list.
 */
static void res_ctx_exit(void *arg)
{
	struct res_ctx *ctx = arg;
	bool busy = false;
	int i;

	kds_callback_term(&ctx->direct);
	kds_callback_term(&ctx->queued);
	if (!ctx->termed)
		for (i = 0; i < ARRAY_SIZE(ctx->r); i++)
			busy |= kds_resource_term(&ctx->r[i]) != 0;
	if (!busy)
		kfree(ctx);
}

static struct res_ctx *res_ctx(struct kunit *test)
{
	struct res_ctx *ctx = kzalloc_obj(*ctx, GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&ctx->direct, 1, client_cb), 0);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&ctx->queued, 0, client_cb), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, res_ctx_exit, ctx), 0);
	for (i = 0; i < ARRAY_SIZE(ctx->r); i++)
		kds_resource_init(&ctx->r[i]);
	return ctx;
}

/* Every resource must be free again: nothing stays queued. */
static void res_ctx_term(struct kunit *test, struct res_ctx *ctx)
{
	int i, ret = 0;

	for (i = 0; i < ARRAY_SIZE(ctx->r); i++)
		ret |= kds_resource_term(&ctx->r[i]);
	KUNIT_EXPECT_EQ(test, ret, 0);
	ctx->termed = !ret;
}

/* Queue client @c for one resource, with a direct callback. */
static int ask(struct res_ctx *ctx, struct client *c, struct kds_resource *r,
	       bool exclusive, bool direct)
{
	unsigned long bits = exclusive;

	return kds_async_waitall(&c->rset, KDS_FLAG_LOCKED_WAIT,
				 direct ? &ctx->direct : &ctx->queued, c, c->log,
				 1, &bits, &r);
}

static void res_exclusive_fifo(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct grant_log log;
	struct client c[4];
	int i;

	log_init(&log);
	for (i = 0; i < 4; i++) {
		client_init(&c[i], i, &log);
		KUNIT_ASSERT_EQ(test, ask(ctx, &c[i], &ctx->r[0], true, true), 0);
	}
	for (i = 0; i < 4; i++) {
		int j;

		for (j = 0; j < 4; j++)
			KUNIT_EXPECT_EQ(test, atomic_read(&c[j].calls), j <= i ? 1 : 0);
		kds_resource_set_release(&c[i].rset);
		KUNIT_EXPECT_NULL(test, c[i].rset);
	}
	KUNIT_ASSERT_EQ(test, log.n, 4);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, log.ids[i], i);
	res_ctx_term(test, ctx);
}

static void res_shared_holders_together(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_resource_set *s;
	struct client c[3];
	int i;

	for (i = 0; i < 3; i++) {
		client_init(&c[i], i, NULL);
		KUNIT_ASSERT_EQ(test, ask(ctx, &c[i], r, false, true), 0);
		KUNIT_EXPECT_EQ(test, atomic_read(&c[i].calls), 1);
	}
	/* A synchronous reader joins them at once... */
	s = kds_waitall(1, NULL, &r, 0);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(s));
	kds_resource_set_release(&s);
	/* ...but a writer does not. */
	s = kds_waitall(1, (unsigned long[]){ 1 }, &r, 0);
	KUNIT_EXPECT_NULL(test, s);
	for (i = 0; i < 3; i++)
		kds_resource_set_release(&c[i].rset);
	res_ctx_term(test, ctx);
}

static void res_writer_waits_for_readers(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct client s1, s2, w, s3;

	client_init(&s1, 1, NULL);
	client_init(&s2, 2, NULL);
	client_init(&w, 3, NULL);
	client_init(&s3, 4, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &s1, r, false, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &s2, r, false, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &w, r, true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &s3, r, false, true), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s1.calls) + atomic_read(&s2.calls), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&w.calls), 0);
	/* A reader behind a waiting writer waits: writers do not starve. */
	KUNIT_EXPECT_EQ(test, atomic_read(&s3.calls), 0);

	kds_resource_set_release(&s1.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&w.calls), 0);
	kds_resource_set_release(&s2.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&w.calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&s3.calls), 0);
	kds_resource_set_release(&w.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&s3.calls), 1);
	kds_resource_set_release(&s3.rset);
	res_ctx_term(test, ctx);
}

/* One release grants every compatible reader at the front at once. */
static void res_readers_granted_in_one_pass(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct client w1, s[3], w2;
	int i;

	client_init(&w1, 0, NULL);
	client_init(&w2, 9, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &w1, r, true, true), 0);
	for (i = 0; i < 3; i++) {
		client_init(&s[i], i + 1, NULL);
		KUNIT_ASSERT_EQ(test, ask(ctx, &s[i], r, false, true), 0);
	}
	KUNIT_ASSERT_EQ(test, ask(ctx, &w2, r, true, true), 0);
	kds_resource_set_release(&w1.rset);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&s[i].calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&w2.calls), 0);
	for (i = 0; i < 3; i++)
		kds_resource_set_release(&s[i].rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&w2.calls), 1);
	kds_resource_set_release(&w2.rset);
	res_ctx_term(test, ctx);
}

/* Granted at once, a direct callback runs in the caller, after *pprset is set. */
static void res_immediate_grant_direct(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct client c;

	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, &ctx->r[0], true, true), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	KUNIT_EXPECT_PTR_EQ(test, c.task, current);
	KUNIT_EXPECT_TRUE(test, c.saw_rset);
	kds_resource_set_release(&c.rset);
	res_ctx_term(test, ctx);
}

/* Granted at once, a queued callback never runs in the caller. */
static void res_immediate_grant_queued(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct client c;

	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, &ctx->r[0], true, false), 0);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&c.granted, 10 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	KUNIT_EXPECT_PTR_NE(test, c.task, current);
	KUNIT_EXPECT_TRUE(test, c.saw_rset);
	kds_resource_set_release_sync(&c.rset);
	res_ctx_term(test, ctx);
}

static void res_waitall_try(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	unsigned long excl = 1;
	struct kds_resource_set *s;
	struct client h;

	client_init(&h, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	KUNIT_EXPECT_NULL(test, kds_waitall(1, &excl, &r, 0));
	KUNIT_EXPECT_NULL(test, kds_waitall(1, NULL, &r, 0));
	/* A failed try queues nothing: the resource can be retired at once. */
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, kds_resource_term(r), 0);
	kds_resource_init(r);
	s = kds_waitall(1, &excl, &r, 0);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(s));
	kds_resource_set_release(&s);
	res_ctx_term(test, ctx);
}

static void res_waitall_timeout(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r[2] = { &ctx->r[0], &ctx->r[1] };
	unsigned long excl = 3;
	struct client h;

	client_init(&h, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r[1], true, true), 0);
	KUNIT_EXPECT_NULL(test, kds_waitall(2, &excl, r, msecs_to_jiffies(30)));
	/* Nothing stays queued, on the free resource either. */
	KUNIT_EXPECT_EQ(test, kds_resource_term(r[0]), 0);
	kds_resource_init(r[0]);
	kds_resource_set_release(&h.rset);
	res_ctx_term(test, ctx);
}

static void res_waitall_interrupted(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	unsigned long excl = 1;
	struct client h;

	client_init(&h, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	allow_signal(SIGUSR1);
	send_sig(SIGUSR1, current, 0);
	KUNIT_EXPECT_PTR_EQ(test, kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING),
			    ERR_PTR(-ERESTARTSYS));
	flush_signals(current);
	disallow_signal(SIGUSR1);
	kds_resource_set_release(&h.rset);
	res_ctx_term(test, ctx);
}

struct sync_taker {
	struct kds_resource **r;
	int n;
	unsigned long excl;
	struct kds_resource_set *s;
	struct completion started, finished;
};

static int sync_taker_fn(void *arg)
{
	struct sync_taker *t = arg;

	complete(&t->started);
	t->s = kds_waitall(t->n, &t->excl, t->r, KDS_WAIT_BLOCKING);
	complete(&t->finished);
	return 0;
}

/* kds_waitall() sleeps until the holder releases, then owns the set. */
static void res_waitall_blocks_until_release(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r[2] = { &ctx->r[1], &ctx->r[0] };
	struct sync_taker t = { .r = r, .n = 2, .excl = 1 };
	struct task_struct *task;
	struct client h;

	client_init(&h, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r[1], true, true), 0);
	init_completion(&t.started);
	init_completion(&t.finished);
	task = kthread_run(sync_taker_fn, &t, "kds_taker");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	wait_for_completion(&t.started);
	msleep(20);
	KUNIT_EXPECT_FALSE(test, completion_done(&t.finished));
	kds_resource_set_release(&h.rset);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t.finished, 10 * HZ), 0UL);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(t.s));
	/* Now the taker's set holds r[0] (bit 0) exclusively. */
	KUNIT_EXPECT_NULL(test, kds_waitall(1, NULL, &r[0], 0));
	kds_resource_set_release(&t.s);
	res_ctx_term(test, ctx);
}

static void res_cancel_pending(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct client h, c, next;
	struct kds_fence *f;

	client_init(&h, 0, NULL);
	client_init(&c, 1, NULL);
	client_init(&next, 2, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &next, r, false, true), 0);
	f = kds_resource_set_fence(c.rset);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	kds_resource_set_release(&c.rset);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -ECANCELED);
	kds_fence_put(f);
	KUNIT_EXPECT_EQ(test, atomic_read(&next.calls), 0);
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&next.calls), 1);
	kds_resource_set_release(&next.rset);
	res_ctx_term(test, ctx);
}

/* The set's fence: a resource set is a dependency like any other. */
static void res_set_fence(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_fence *f, *g, *w = kds_fence_create(GFP_KERNEL);
	struct client h, c;

	KUNIT_ASSERT_NOT_NULL(test, w);
	client_init(&h, 0, NULL);
	client_init(&c, 1, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	f = kds_resource_set_fence(h.rset);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
	g = kds_resource_set_fence(c.rset);
	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_EXPECT_EQ(test, kds_fence_await_fence(w, g, GFP_KERNEL), 1);
	kds_fence_complete(w);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(w));
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(w), 1);
	/* The fence outlives the set. */
	kds_resource_set_release(&c.rset);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
	kds_fence_put(f);
	kds_fence_put(g);
	kds_fence_put(w);
	res_ctx_term(test, ctx);
}

/*
 * A set's fence is kds's: users get references of their own, and cannot
 * add events or errors to it (include/kds.h, "fences").
 */
static void res_set_fence_belongs_to_kds(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct client h, c;
	struct kds_fence *g;

	client_init(&h, 0, NULL);
	client_init(&c, 1, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
	g = kds_resource_set_fence(c.rset);
	KUNIT_ASSERT_NOT_NULL(test, g);
	kds_expect_kds_owned_fence(test, g);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 0);
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(g), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	kds_resource_set_release(&c.rset);
	kds_fence_put(g);
	res_ctx_term(test, ctx);
}

/* KDS_FLAG_LOCKED_*: what async sets do about kds_waitall() holders. */
static void res_locked_flags(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	unsigned long excl = 1;
	struct kds_resource_set *s = kds_waitall(1, &excl, &r, 0);
	struct client fail, ignore, wait;

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(s));
	client_init(&fail, 0, NULL);
	client_init(&ignore, 1, NULL);
	client_init(&wait, 2, NULL);
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&fail.rset, KDS_FLAG_LOCKED_FAIL,
						&ctx->direct, &fail, NULL, 1, &excl, &r),
			-EBUSY);
	KUNIT_EXPECT_NULL(test, fail.rset);
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&ignore.rset, KDS_FLAG_LOCKED_IGNORE,
						&ctx->direct, &ignore, NULL, 1, &excl, &r),
			0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ignore.calls), 1);
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&wait.rset, KDS_FLAG_LOCKED_WAIT,
						&ctx->direct, &wait, NULL, 1, &excl, &r),
			0);
	KUNIT_EXPECT_EQ(test, atomic_read(&wait.calls), 0);
	kds_resource_set_release(&s);
	/* The ignoring set is queued, and the waiting one is behind it. */
	KUNIT_EXPECT_EQ(test, atomic_read(&wait.calls), 0);
	kds_resource_set_release(&ignore.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&wait.calls), 1);
	kds_resource_set_release(&wait.rset);
	/* With no kds_waitall() set left, FAIL queues normally. */
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&fail.rset, KDS_FLAG_LOCKED_FAIL,
						&ctx->direct, &fail, NULL, 1, &excl, &r),
			0);
	KUNIT_EXPECT_EQ(test, atomic_read(&fail.calls), 1);
	kds_resource_set_release(&fail.rset);
	res_ctx_term(test, ctx);
}

struct releaser {
	struct kds_resource_set **pprset;
	bool sync;
	struct completion finished;
	struct completion released;	/* late_releaser_fn(): after the release */
};

static int releaser_fn(void *arg)
{
	struct releaser *t = arg;

	if (t->sync)
		kds_resource_set_release_sync(t->pprset);
	else
		kds_resource_set_release(t->pprset);
	complete(&t->finished);
	return 0;
}

static void res_release_sync_waits_for_callback(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct releaser t = { .sync = true };
	struct completion go;
	struct task_struct *task;
	struct client c;

	init_completion(&go);
	init_completion(&t.finished);
	client_init(&c, 0, NULL);
	c.go = &go;
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, &ctx->r[0], true, false), 0);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&c.entered, 10 * HZ), 0UL);
	t.pprset = &c.rset;
	task = kthread_run(releaser_fn, &t, "kds_releaser");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	msleep(30);
	/* The callback is still blocked, so release_sync must still wait. */
	KUNIT_EXPECT_FALSE(test, completion_done(&t.finished));
	complete(&go);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t.finished, 10 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	res_ctx_term(test, ctx);
}

/* A set granted after client @a: did it see @a's callback still running? */
struct after_a {
	struct client *a;
	bool a_running;
	struct completion granted;
};

static void after_a_cb(void *param, void *extra)
{
	struct after_a *b = param;

	b->a_running = !completion_done(&b->a->granted);
	complete(&b->granted);
}

/*
 * kds_resource_set_release_sync() on a set whose callback runs on another
 * task: "no other set is granted them while the callback still runs".
 * The releaser is left until it sleeps; had it handed the resource on
 * before waiting, B's direct callback would have run by then.
 */
static void res_release_sync_hands_on_after_callback(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct releaser t = { .sync = true };
	struct kds_resource_set *bset;
	struct after_a b = {};
	struct kds_callback bcb;
	struct task_struct *task;
	struct completion go;
	unsigned long excl = 1;
	struct client a;
	int i;

	init_completion(&go);
	init_completion(&t.finished);
	init_completion(&b.granted);
	client_init(&a, 0, NULL);
	a.go = &go;
	b.a = &a;
	KUNIT_ASSERT_EQ(test, kds_callback_init(&bcb, 1, after_a_cb), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &a, r, true, false), 0);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&a.entered, 10 * HZ), 0UL);
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&bset, KDS_FLAG_LOCKED_WAIT, &bcb, &b, NULL,
						1, &excl, &r), 0);
	t.pprset = &a.rset;
	task = kthread_run(releaser_fn, &t, "kds_releaser");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);	/* it cannot exit before @go */
	for (i = 0; i < 100000 && READ_ONCE(task->__state) != TASK_UNINTERRUPTIBLE; i++)
		usleep_range(100, 200);
	KUNIT_EXPECT_EQ(test, READ_ONCE(task->__state), TASK_UNINTERRUPTIBLE);
	KUNIT_EXPECT_FALSE(test, completion_done(&b.granted));
	complete(&go);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t.finished, 10 * HZ), 0UL);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&b.granted, 10 * HZ), 0UL);
	KUNIT_EXPECT_FALSE(test, b.a_running);
	put_task_struct(task);
	kds_resource_set_release(&bset);
	kds_callback_term(&bcb);
	res_ctx_term(test, ctx);
}

/* Set A's direct callback releases A, which grants B behind it. */
struct trampolined {
	struct kds_resource_set *holder, *a, *b;
	struct completion b_granted;
	atomic_t b_calls;
};

static void trampolined_a_cb(void *param, void *extra)
{
	struct trampolined *t = param;

	kds_resource_set_release(&t->a);	/* B now waits for this call to return */
	complete(&t->b_granted);
	msleep(100);
}

static void trampolined_b_cb(void *param, void *extra)
{
	struct trampolined *t = param;

	atomic_inc(&t->b_calls);
}

/*
 * kds_callback_term() "waits for every call of @cb that a grant has
 * started anywhere", here one that waits in another task's trampoline
 * behind the direct callback that granted it.
 */
static void res_term_waits_for_trampolined_call(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct releaser rel = {};
	struct kds_callback acb, bcb;
	struct trampolined t = {};
	struct task_struct *task;
	unsigned long excl = 1;

	init_completion(&t.b_granted);
	init_completion(&rel.finished);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&acb, 1, trampolined_a_cb), 0);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&bcb, 1, trampolined_b_cb), 0);
	t.holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(t.holder));
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&t.a, KDS_FLAG_LOCKED_WAIT, &acb, &t, NULL,
						1, &excl, &r), 0);
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&t.b, KDS_FLAG_LOCKED_WAIT, &bcb, &t, NULL,
						1, &excl, &r), 0);
	rel.pprset = &t.holder;
	task = kthread_run(releaser_fn, &rel, "kds_releaser");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t.b_granted, 10 * HZ), 0UL);
	kds_callback_term(&bcb);
	KUNIT_EXPECT_EQ(test, atomic_read(&t.b_calls), 1);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&rel.finished, 10 * HZ), 0UL);
	kds_resource_set_release(&t.b);
	kds_callback_term(&acb);
	res_ctx_term(test, ctx);
}

/* Releases the holder each time the round number moves. */
struct term_race {
	struct kds_resource_set *holder;
	atomic_t round, done;
	bool stop;
};

static int term_race_fn(void *arg)
{
	struct term_race *t = arg;
	int last = 0;

	while (!READ_ONCE(t->stop)) {
		int r = atomic_read_acquire(&t->round);

		if (r == last) {
			cond_resched();
			continue;
		}
		last = r;
		kds_resource_set_release(&t->holder);
		atomic_set_release(&t->done, r);
	}
	return 0;
}

static void term_race_cb(void *param, void *extra)
{
	atomic_inc(param);
}

/*
 * The driver releases a waiting set, terminates its callback and frees it,
 * while another thread's release grants that same set: the grant must not
 * touch the freed struct kds_callback (KASAN would report it).
 */
static void res_term_races_grant(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	int rounds = kds_test_rounds(3000), i;
	struct kds_resource_set *set;
	struct task_struct *task;
	struct term_race t = {};
	unsigned long excl = 1;
	atomic_t calls;

	atomic_set(&calls, 0);
	task = kthread_run(term_race_fn, &t, "kds_term_race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);
	for (i = 1; i <= rounds; i++) {
		struct kds_callback *cb = kmalloc_obj(*cb, GFP_KERNEL);

		if (!cb)
			break;
		if (kds_callback_init(cb, i % 8 != 0, term_race_cb)) {
			kfree(cb);
			break;
		}
		t.holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
		if (IS_ERR_OR_NULL(t.holder) ||
		    kds_async_waitall(&set, KDS_FLAG_LOCKED_WAIT, cb, &calls, NULL, 1, &excl, &r)) {
			KUNIT_FAIL(test, "round %d: could not queue", i);
			kds_resource_set_release(&t.holder);
			kds_callback_term(cb);
			kfree(cb);
			break;
		}
		atomic_set_release(&t.round, i);
		udelay(i * 7 % 400);
		kds_resource_set_release(&set);
		/* While the other thread's release may still be granting @set. */
		kds_callback_term(cb);
		kfree(cb);
		while (atomic_read_acquire(&t.done) != i)
			cond_resched();
	}
	WRITE_ONCE(t.stop, true);
	kthread_stop(task);
	put_task_struct(task);
	kunit_info(test, "%d rounds, %d granted before their release", i - 1,
		   atomic_read(&calls));
	res_ctx_term(test, ctx);
}

static int late_releaser_fn(void *arg)
{
	struct releaser *t = arg;

	msleep(50);
	complete(&t->finished);
	kds_resource_set_release(t->pprset);
	complete(&t->released);
	return 0;
}

/*
 * kds_callback_term() with a set that still waits for its grant: it waits
 * until someone releases that set (the set could still call @cb).
 */
static void res_term_waits_for_waiting_set(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_resource_set *holder, *set;
	struct releaser t = { .pprset = &set };
	struct task_struct *task;
	struct kds_callback cb;
	unsigned long excl = 1;
	atomic_t calls;

	atomic_set(&calls, 0);
	init_completion(&t.finished);
	init_completion(&t.released);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&cb, 1, term_race_cb), 0);
	holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&set, KDS_FLAG_LOCKED_WAIT, &cb, &calls, NULL,
						1, &excl, &r), 0);
	task = kthread_run(late_releaser_fn, &t, "kds_late_releaser");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	kds_callback_term(&cb);
	KUNIT_EXPECT_TRUE(test, completion_done(&t.finished));
	KUNIT_EXPECT_NULL(test, READ_ONCE(set));
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t.released, 10 * HZ), 0UL);
	kds_resource_set_release(&holder);
	KUNIT_EXPECT_EQ(test, atomic_read(&calls), 0);
	res_ctx_term(test, ctx);
}

/* A callback that releases its own set, even with _sync, does not wait for itself. */
static void sync_self_release_cb(void *param, void *extra)
{
	struct client *c = param;

	kds_resource_set_release_sync(&c->rset);
	atomic_inc(&c->calls);
	complete(&c->granted);
}

static void res_release_sync_from_own_callback(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_callback cb;
	struct client c;

	KUNIT_ASSERT_EQ(test, kds_callback_init(&cb, 0, sync_self_release_cb), 0);
	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&c.rset, KDS_FLAG_LOCKED_WAIT, &cb, &c,
						NULL, 1, NULL, &r), 0);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&c.granted, 10 * HZ), 0UL);
	kds_callback_term(&cb);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	KUNIT_EXPECT_NULL(test, c.rset);
	res_ctx_term(test, ctx);
}

struct irq_release {
	struct hrtimer timer;
	struct kds_resource_set *rset;
};

static enum hrtimer_restart irq_release_fn(struct hrtimer *timer)
{
	struct irq_release *t = container_of(timer, struct irq_release, timer);

	kds_resource_set_release(&t->rset);
	return HRTIMER_NORESTART;
}

/*
 * Release works in hard IRQ context; the direct callback of the set it
 * grants is deferred to a workqueue rather than run there.
 */
static void res_release_from_hardirq(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	unsigned long excl = 1;
	struct irq_release t = {};
	struct client c;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	t.rset = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(t.rset));
	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
	hrtimer_setup_on_stack(&t.timer, irq_release_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	hrtimer_start(&t.timer, ms_to_ktime(2), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_GT(test, wait_for_completion_timeout(&c.granted, 10 * HZ), 0UL);
	hrtimer_cancel(&t.timer);
	destroy_hrtimer_on_stack(&t.timer);
	KUNIT_EXPECT_NULL(test, t.rset);
	KUNIT_EXPECT_FALSE(test, c.in_hardirq);
	KUNIT_EXPECT_NOT_NULL(test, c.task);
	kds_resource_set_release_sync(&c.rset);
	res_ctx_term(test, ctx);
}

/*
 * A holder's release (granting the waiter) races the waiter's cancel on
 * two CPUs; the waiter's callback also releases through the same pointer,
 * as drivers do. Exactly one release frees the set; the callback runs at
 * most once; the fence says which way it went; nothing stays queued.
 */
struct race {
	struct kds_resource_set **pprset;
	atomic_t ready;
	int round, done_round;
	bool stop;
	wait_queue_head_t wq;
};

static int race_cancel_fn(void *arg)
{
	struct race *rc = arg;
	int seen = 0;

	while (!READ_ONCE(rc->stop)) {
		wait_event(rc->wq, READ_ONCE(rc->round) != seen || READ_ONCE(rc->stop));
		if (READ_ONCE(rc->stop))
			break;
		seen = READ_ONCE(rc->round);
		atomic_inc(&rc->ready);
		while (atomic_read(&rc->ready) < 2)
			cpu_relax();
		kds_resource_set_release(rc->pprset);
		/* Pairs with the test's smp_load_acquire(): the release is seen. */
		smp_store_release(&rc->done_round, seen);
		wake_up(&rc->wq);
	}
	return 0;
}

/* Starts the racer of @rc, bound to CPU 1, to release *@pprset each round. */
static struct task_struct *race_start(struct race *rc, struct kds_resource_set **pprset)
{
	struct task_struct *task;

	init_waitqueue_head(&rc->wq);
	rc->pprset = pprset;
	task = kthread_create(race_cancel_fn, rc, "kds_race");
	if (IS_ERR(task))
		return task;
	kthread_bind(task, 1);
	get_task_struct(task);
	wake_up_process(task);
	return task;
}

/* Starts round @i: returns once the racer is about to release, with us. */
static void race_go(struct race *rc, int i)
{
	atomic_set(&rc->ready, 0);
	WRITE_ONCE(rc->round, i);
	wake_up(&rc->wq);
	atomic_inc(&rc->ready);
	while (atomic_read(&rc->ready) < 2)
		cpu_relax();
}

/* Waits until the racer's release of round @i is done, and seen. */
static void race_wait(struct race *rc, int i)
{
	/* Pairs with the racer's smp_store_release(). */
	wait_event(rc->wq, smp_load_acquire(&rc->done_round) == i);
}

static void race_stop(struct race *rc, struct task_struct *task)
{
	WRITE_ONCE(rc->stop, true);
	wake_up(&rc->wq);
	kthread_stop(task);
	put_task_struct(task);
}

static void res_cancel_races_grant(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct race *rc = kunit_kzalloc(test, sizeof(*rc), GFP_KERNEL);
	struct client h, c;
	struct task_struct *task;
	int i, granted = 0, cancelled = 0, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, rc);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs 2 CPUs");
	task = race_start(rc, &c.rset);
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));

	for (i = 1; i <= kds_test_rounds(2000); i++) {
		struct kds_fence *f;
		int status;

		client_init(&h, 0, NULL);
		client_init(&c, 1, NULL);
		c.release_in_cb = true;
		KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
		KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
		f = kds_resource_set_fence(c.rset);
		if (!f) {
			/* Memory is short: the race is run without the fence. */
			bad++;
			kds_resource_set_release(&h.rset);
			kds_resource_set_release(&c.rset);
			break;
		}
		race_go(rc, i);
		kds_resource_set_release(&h.rset);
		race_wait(rc, i);
		status = kds_fence_get_status(f);
		if (atomic_read(&c.calls) > 1 || c.rset ||
		    (atomic_read(&c.calls) == 1 && status != 1) ||
		    (status != 1 && status != -ECANCELED))
			bad++;
		if (status == 1)
			granted++;
		else
			cancelled++;
		kds_fence_put(f);
	}
	race_stop(rc, task);
	kunit_info(test, "%d granted first, %d cancelled first\n", granted, cancelled);
	KUNIT_EXPECT_EQ(test, bad, 0);
	res_ctx_term(test, ctx);
}

/*
 * A set's fence is made on the first kds_resource_set_fence(), which may
 * run while another CPU grants the set. The header promises the fence
 * completes when the set is granted: made before the grant, the grant
 * completes it; made after, it is made complete; made during, exactly one
 * of the two completes it, never neither (a fence that never completes)
 * nor both (a warning about an over-completed fence, a splat).
 */
static void res_set_fence_made_while_granted(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct race *rc = kunit_kzalloc(test, sizeof(*rc), GFP_KERNEL);
	struct client h, c;
	struct task_struct *task;
	int i, before = 0, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, rc);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs 2 CPUs");
	task = race_start(rc, &h.rset);
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));

	for (i = 1; i <= kds_test_rounds(2000); i++) {
		struct kds_fence *f;
		bool done_before;

		client_init(&h, 0, NULL);
		client_init(&c, 1, NULL);
		KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
		KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
		race_go(rc, i);
		/* The racer releases h, granting c, now. */
		f = kds_resource_set_fence(c.rset);
		if (!f) {
			bad++;
			race_wait(rc, i);
			kds_resource_set_release(&c.rset);
			break;
		}
		done_before = kds_fence_done(f);
		race_wait(rc, i);
		if (kds_fence_wait_timeout(f, false, 10 * HZ) <= 0 ||
		    kds_fence_get_status(f) != 1 || atomic_read(&c.calls) != 1)
			bad++;
		before += done_before;
		kds_fence_put(f);
		kds_resource_set_release(&c.rset);
		if (bad)
			break;
	}
	race_stop(rc, task);
	kunit_info(test, "%d of the fences were made after the grant\n", before);
	KUNIT_EXPECT_EQ(test, bad, 0);
	res_ctx_term(test, ctx);
}

/*
 * kds.h: acquiring a set of up to KDS_SET_INLINE_RESOURCES resources makes
 * one slab allocation, a larger set two, and its fence is made only when
 * asked for. Counted through the kmalloc and kmem_cache_alloc tracepoints,
 * for this task only.
 */
static void res_acquire_allocates_once(struct kunit *test)
{
	static struct kds_resource r[KDS_SET_INLINE_RESOURCES + 1];
	struct kds_resource *list[ARRAY_SIZE(r)];
	struct res_ctx *ctx = res_ctx(test);
	unsigned long excl = 0x5;
	struct kds_resource_set *set;
	struct kds_test_allocs a;
	struct kds_fence *f;
	struct client c, h;
	int i, n;

	if (kds_test_allocs_begin(&a))
		kunit_skip(test, "no kmalloc tracepoints to count allocations");
	kds_test_allocs_end(&a);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		kds_resource_init(&r[i]);
		list[ARRAY_SIZE(r) - 1 - i] = &r[i];
	}
	for (n = 1; n <= ARRAY_SIZE(r); n++) {
		KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
		set = kds_waitall(n, &excl, list, KDS_WAIT_BLOCKING);
		kds_test_allocs_end(&a);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(set));
		KUNIT_EXPECT_EQ_MSG(test, a.count, n <= KDS_SET_INLINE_RESOURCES ? 1 : 2,
				    "kds_waitall() of %d resources", n);
		/* Releasing allocates nothing. */
		KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
		kds_resource_set_release(&set);
		kds_test_allocs_end(&a);
		KUNIT_EXPECT_EQ(test, a.count, 0);
	}

	/* An async set, granted at once with its direct callback: one. */
	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, KDS_FLAG_LOCKED_WAIT, &ctx->direct,
						&c, NULL, 4, &excl, list), 0);
	kds_test_allocs_end(&a);
	KUNIT_EXPECT_EQ(test, a.count, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	/* Its fence is made when asked for, once. */
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
	f = kds_resource_set_fence(c.rset);
	kds_test_allocs_end(&a);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_GT(test, a.count, 0);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
	kds_fence_put(kds_resource_set_fence(c.rset));
	kds_test_allocs_end(&a);
	KUNIT_EXPECT_EQ(test, a.count, 0);
	kds_fence_put(f);

	/* A release that grants a waiting set, callback and all: none. */
	client_init(&h, 1, NULL);
	KUNIT_EXPECT_EQ(test, kds_async_waitall(&h.rset, KDS_FLAG_LOCKED_WAIT, &ctx->direct,
						&h, NULL, 4, &excl, list), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&h.calls), 0);
	KUNIT_ASSERT_EQ(test, kds_test_allocs_begin(&a), 0);
	kds_resource_set_release(&c.rset);
	kds_test_allocs_end(&a);
	KUNIT_EXPECT_EQ(test, atomic_read(&h.calls), 1);
	KUNIT_EXPECT_EQ(test, a.count, 0);
	kds_resource_set_release(&h.rset);
	for (i = 0; i < ARRAY_SIZE(r); i++)
		KUNIT_EXPECT_EQ(test, kds_resource_term(&r[i]), 0);
	res_ctx_term(test, ctx);
}

/*
 * kds.h, kds_resource_set_fence(): the first call may be made in atomic
 * context (here under a spinlock_t), later calls in any context (here
 * under a raw_spinlock_t with interrupts off, where lockdep on the debug
 * flavour reports an allocation or a spinlock_t), and every call returns
 * the same fence.
 */
static void res_set_fence_contexts(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	static DEFINE_SPINLOCK(lock);
	static DEFINE_RAW_SPINLOCK(raw);
	struct kds_fence *f, *g;
	unsigned long flags;
	struct client h, c;

	client_init(&h, 0, NULL);
	client_init(&c, 1, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, &ctx->r[0], true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, &ctx->r[0], true, true), 0);
	spin_lock(&lock);
	f = kds_resource_set_fence(c.rset);
	spin_unlock(&lock);
	KUNIT_ASSERT_NOT_NULL(test, f);
	raw_spin_lock_irqsave(&raw, flags);
	g = kds_resource_set_fence(c.rset);
	raw_spin_unlock_irqrestore(&raw, flags);
	KUNIT_EXPECT_PTR_EQ(test, f, g);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	kds_fence_put(g);
	kds_fence_put(f);
	kds_resource_set_release(&c.rset);
	res_ctx_term(test, ctx);
}

#ifdef CONFIG_FAILSLAB
/*
 * kds.h: kds_resource_set_fence() returns NULL when the fence cannot be
 * made, and the set is unharmed: it is granted and released as usual, and
 * a later call makes the fence.
 */
static void res_set_fence_without_memory(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_fence *f;
	struct client h, c;

	/* Skips before anything is queued when failslab is not set up. */
	kds_test_fail_allocations(test);
	current->make_it_fail = false;
	client_init(&h, 0, NULL);
	client_init(&c, 1, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &h, r, true, true), 0);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, r, true, true), 0);
	current->make_it_fail = true;
	f = kds_resource_set_fence(c.rset);
	current->make_it_fail = false;
	KUNIT_EXPECT_NULL(test, f);
	kds_fence_put(f);
	f = kds_resource_set_fence(c.rset);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	kds_resource_set_release(&h.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 1);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	kds_fence_put(f);
	kds_resource_set_release(&c.rset);
	res_ctx_term(test, ctx);
}
#endif

/*
 * *pprset is published before the set is queued, and the header allows
 * releasing through it from any thread. A racer releases it the moment it
 * appears, while kds_async_waitall() is still queueing, in rounds that
 * grant, wait behind a holder, or are refused (KDS_FLAG_LOCKED_FAIL with a
 * kds_waitall() holder: -EBUSY). Afterwards nothing may be left queued: a
 * kds_waitall() of every resource succeeds at once and every resource
 * terminates. A set freed twice is a KASAN report.
 */
struct pub_race {
	struct kds_resource_set *rset;
	atomic_t ready;
	int round, returned, done_round;
	bool stop;
	wait_queue_head_t wq;
};

static int pub_race_fn(void *arg)
{
	struct pub_race *rc = arg;
	int seen = 0;

	for (;;) {
		wait_event(rc->wq, READ_ONCE(rc->round) != seen || READ_ONCE(rc->stop));
		if (READ_ONCE(rc->stop))
			break;
		seen = READ_ONCE(rc->round);
		atomic_inc(&rc->ready);
		while (!READ_ONCE(rc->rset) && READ_ONCE(rc->returned) != seen)
			cpu_relax();
		kds_resource_set_release(&rc->rset);
		/* Pairs with the test's smp_load_acquire(): the release is seen. */
		smp_store_release(&rc->done_round, seen);
		wake_up(&rc->wq);
	}
	return 0;
}

static void count_cb(void *param, void *extra)
{
	atomic_inc(param);
}

static void res_release_races_async_waitall(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *both[2] = { &ctx->r[0], &ctx->r[1] };
	struct pub_race *rc = kunit_kzalloc(test, sizeof(*rc), GFP_KERNEL);
	struct kds_callback direct, queued;
	struct kds_resource_set *holder, *all;
	struct task_struct *task;
	unsigned long excl = 3;
	atomic_t calls = ATOMIC_INIT(0);
	int i, outcome[3] = {};

	KUNIT_ASSERT_NOT_NULL(test, rc);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs 2 CPUs");
	KUNIT_ASSERT_EQ(test, kds_callback_init(&direct, 1, count_cb), 0);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&queued, 0, count_cb), 0);
	init_waitqueue_head(&rc->wq);
	task = kthread_create(pub_race_fn, rc, "kds_pub_race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	kthread_bind(task, 1);
	get_task_struct(task);
	wake_up_process(task);

	for (i = 1; i <= kds_test_rounds(5000); i++) {
		int kind = i % 3, ret;

		/* 0: granted at once; 1: waits behind a holder; 2: refused. */
		holder = NULL;
		if (kind) {
			holder = kds_waitall(1, &excl, &both[1], KDS_WAIT_BLOCKING);
			KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
		}
		atomic_set(&rc->ready, 0);
		WRITE_ONCE(rc->round, i);
		wake_up(&rc->wq);
		while (!atomic_read(&rc->ready))
			cpu_relax();
		ret = kds_async_waitall(&rc->rset, kind == 2 ? KDS_FLAG_LOCKED_FAIL :
					KDS_FLAG_LOCKED_WAIT, i & 4 ? &direct : &queued,
					&calls, NULL, 2, &excl, both);
		WRITE_ONCE(rc->returned, i);
		/* Pairs with the racer's smp_store_release(). */
		wait_event(rc->wq, smp_load_acquire(&rc->done_round) == i);
		if (ret == -EBUSY)
			outcome[2]++;
		else if (ret == 0)
			outcome[kind == 0 ? 0 : 1]++;
		else
			KUNIT_FAIL(test, "round %d: kds_async_waitall() returned %d", i, ret);
		KUNIT_EXPECT_NULL(test, rc->rset);
		if (holder)
			kds_resource_set_release(&holder);
	}
	WRITE_ONCE(rc->stop, true);
	wake_up(&rc->wq);
	kthread_stop(task);
	put_task_struct(task);
	kds_callback_term(&direct);
	kds_callback_term(&queued);
	kunit_info(test, "%d granted, %d queued, %d refused; %d callbacks ran\n",
		   outcome[0], outcome[1], outcome[2], atomic_read(&calls));
	/* Nothing is left queued: both resources are free at once. */
	all = kds_waitall(2, &excl, both, 0);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(all));
	if (!IS_ERR_OR_NULL(all))
		kds_resource_set_release(&all);
	res_ctx_term(test, ctx);
}

/*
 * A refused kds_async_waitall() leaves nothing queued, so its caller may
 * terminate and free the resources at once, even while another thread
 * that took the set out of *pprset (which the header allows the moment it
 * is published) has not released it yet. That release must not touch the
 * resources: KASAN reports it if it does. The racer takes the set with
 * xchg() as soon as it appears, waits until the resource is freed, and
 * only then releases it.
 */
struct refused_race {
	struct kds_resource_set *rset;
	atomic_t ready;
	int round, freed, done_round, taken;
	bool stop;
	wait_queue_head_t wq;
};

static int refused_race_fn(void *arg)
{
	struct refused_race *rc = arg;
	int seen = 0;

	for (;;) {
		struct kds_resource_set *s;

		wait_event(rc->wq, READ_ONCE(rc->round) != seen || READ_ONCE(rc->stop));
		if (READ_ONCE(rc->stop))
			break;
		seen = READ_ONCE(rc->round);
		atomic_inc(&rc->ready);
		do {
			s = xchg(&rc->rset, NULL);
		} while (!s && READ_ONCE(rc->freed) != seen);
		if (s) {
			rc->taken++;
			/* Pairs with the test's smp_store_release(). */
			while (smp_load_acquire(&rc->freed) != seen)
				cpu_relax();
			kds_resource_set_release(&s);
		}
		/* Pairs with the test's smp_load_acquire(). */
		smp_store_release(&rc->done_round, seen);
		wake_up(&rc->wq);
	}
	return 0;
}

static void res_release_of_refused_set_after_free(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct refused_race *rc = kunit_kzalloc(test, sizeof(*rc), GFP_KERNEL);
	struct kds_resource *held = &ctx->r[0];
	struct kds_resource_set *holder;
	struct task_struct *task;
	unsigned long excl = 3;
	atomic_t calls = ATOMIC_INIT(0);
	int i, refused = 0;

	KUNIT_ASSERT_NOT_NULL(test, rc);
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs 2 CPUs");
	init_waitqueue_head(&rc->wq);
	/* A kds_waitall() holder: KDS_FLAG_LOCKED_FAIL refuses with -EBUSY. */
	holder = kds_waitall(1, &excl, &held, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
	task = kthread_create(refused_race_fn, rc, "kds_refused_race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	kthread_bind(task, 1);
	get_task_struct(task);
	wake_up_process(task);

	for (i = 1; i <= kds_test_rounds(1000); i++) {
		struct kds_resource *list[2];
		struct kds_resource *r = kmalloc(sizeof(*r), GFP_KERNEL);
		int ret;

		if (!r)
			break;
		kds_resource_init(r);
		/* The freed one first in address order, some of the time. */
		list[i & 1] = r;
		list[!(i & 1)] = held;
		atomic_set(&rc->ready, 0);
		WRITE_ONCE(rc->round, i);
		wake_up(&rc->wq);
		while (!atomic_read(&rc->ready))
			cpu_relax();
		ret = kds_async_waitall(&rc->rset, KDS_FLAG_LOCKED_FAIL, &ctx->direct,
					&calls, NULL, 2, &excl, list);
		refused += ret == -EBUSY;
		KUNIT_EXPECT_EQ(test, ret, -EBUSY);
		/* Refused: nothing is queued, so the resource goes now. */
		KUNIT_EXPECT_EQ(test, kds_resource_term(r), 0);
		kfree(r);
		/* Pairs with the racer's smp_load_acquire(). */
		smp_store_release(&rc->freed, i);
		/* Pairs with the racer's smp_store_release(). */
		wait_event(rc->wq, smp_load_acquire(&rc->done_round) == i);
		KUNIT_EXPECT_NULL(test, READ_ONCE(rc->rset));
	}
	WRITE_ONCE(rc->stop, true);
	wake_up(&rc->wq);
	kthread_stop(task);
	put_task_struct(task);
	kds_resource_set_release(&holder);
	kunit_info(test, "%d refused, %d taken out of *pprset by the racer first\n", refused,
		   rc->taken);
	KUNIT_EXPECT_EQ(test, atomic_read(&calls), 0);
	res_ctx_term(test, ctx);
}

/*
 * Chains of direct callbacks, the usual KDS pattern: each callback
 * releases its own set. Every callback records its frame address; the
 * chain must run on a bounded stack (nesting one level per set would
 * overflow the stack long before 1,000 sets), in grant order.
 */
#define CHAIN_SETS 1000

struct chain;

struct chain_link {
	struct chain *ch;
	int i;
};

struct chain {
	struct kds_resource_set *rset[CHAIN_SETS];
	struct chain_link link[CHAIN_SETS];
	struct kds_resource *r;
	struct kds_callback cb;
	unsigned long lo, hi;	/* frame addresses seen */
	int calls;
	bool in_order;
	bool ask_next;		/* each callback also asks for the next set */
};

static void chain_cb(void *param, void *extra)
{
	struct chain_link *l = param;
	struct chain *ch = l->ch;
	unsigned long fp = (unsigned long)__builtin_frame_address(0);
	unsigned long excl = 1;

	ch->lo = min(ch->lo, fp);
	ch->hi = max(ch->hi, fp);
	if (ch->calls++ != l->i)
		ch->in_order = false;
	kds_resource_set_release(&ch->rset[l->i]);
	/* Granted at once: the resource is free again. */
	if (ch->ask_next && l->i + 1 < CHAIN_SETS)
		kds_async_waitall(&ch->rset[l->i + 1], KDS_FLAG_LOCKED_WAIT, &ch->cb,
				  &ch->link[l->i + 1], NULL, 1, &excl, &ch->r);
}

static struct chain *chain_new(struct kunit *test, struct kds_resource *r, bool ask_next)
{
	struct chain *ch = kunit_kzalloc(test, sizeof(*ch), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ch);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&ch->cb, 1, chain_cb), 0);
	ch->r = r;
	ch->lo = ULONG_MAX;
	ch->in_order = true;
	ch->ask_next = ask_next;
	for (i = 0; i < CHAIN_SETS; i++)
		ch->link[i] = (struct chain_link){ .ch = ch, .i = i };
	return ch;
}

static void chain_check(struct kunit *test, struct chain *ch)
{
	int i;

	kds_callback_term(&ch->cb);
	KUNIT_EXPECT_EQ(test, ch->calls, CHAIN_SETS);
	KUNIT_EXPECT_TRUE(test, ch->in_order);
	kunit_info(test, "%d callbacks, frames within %lu bytes\n", ch->calls, ch->hi - ch->lo);
	KUNIT_EXPECT_LT(test, ch->hi - ch->lo, 1024UL);
	for (i = 0; i < CHAIN_SETS; i++)
		KUNIT_EXPECT_NULL(test, ch->rset[i]);
}

/* Releasing the holder grants a queue of 1,000 self-releasing sets. */
static void res_direct_chain_of_releases(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct chain *ch = chain_new(test, r, false);
	struct kds_resource_set *holder;
	unsigned long excl = 1;
	int i;

	holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
	for (i = 0; i < CHAIN_SETS; i++)
		KUNIT_ASSERT_EQ(test, kds_async_waitall(&ch->rset[i], KDS_FLAG_LOCKED_WAIT,
							&ch->cb, &ch->link[i], NULL,
							1, &excl, &r), 0);
	KUNIT_EXPECT_EQ(test, ch->calls, 0);
	kds_resource_set_release(&holder);
	chain_check(test, ch);
	res_ctx_term(test, ctx);
}

/*
 * The same through immediate grants: each callback releases its set and
 * asks for the next, which kds_async_waitall() grants at once.
 */
static void res_direct_chain_of_immediate_grants(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct chain *ch = chain_new(test, r, true);
	unsigned long excl = 1;

	KUNIT_ASSERT_EQ(test, kds_async_waitall(&ch->rset[0], KDS_FLAG_LOCKED_WAIT, &ch->cb,
						&ch->link[0], NULL, 1, &excl, &r), 0);
	chain_check(test, ch);
	res_ctx_term(test, ctx);
}

struct slow_direct {
	struct hrtimer timer;
	struct kds_resource_set *holder;
	atomic_t calls;
};

static void slow_direct_cb(void *param, void *extra)
{
	struct slow_direct *s = param;

	mdelay(20);
	atomic_inc(&s->calls);
}

static enum hrtimer_restart slow_direct_release(struct hrtimer *timer)
{
	struct slow_direct *s = container_of(timer, struct slow_direct, timer);

	kds_resource_set_release(&s->holder);
	return HRTIMER_NORESTART;
}

/*
 * A direct callback granted in hard IRQ is deferred to a workqueue; right
 * after the grant, kds_callback_term() must still "run the queued calls
 * that have not run yet, and wait for them".
 */
static void res_term_waits_for_deferred_direct_callback(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *r = &ctx->r[0];
	struct kds_resource_set *rset;
	struct kds_callback cb;
	unsigned long excl = 1;
	struct slow_direct s = {};

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, KDS_RT_HARDIRQ_SKIP);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&cb, 1, slow_direct_cb), 0);
	s.holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(s.holder));
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&rset, KDS_FLAG_LOCKED_WAIT, &cb, &s, NULL,
						1, &excl, &r), 0);
	hrtimer_setup_on_stack(&s.timer, slow_direct_release, CLOCK_MONOTONIC,
			       HRTIMER_MODE_REL_HARD);
	hrtimer_start(&s.timer, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	while (READ_ONCE(s.holder))
		usleep_range(100, 200);
	hrtimer_cancel(&s.timer);
	destroy_hrtimer_on_stack(&s.timer);
	kds_callback_term(&cb);
	KUNIT_EXPECT_EQ(test, atomic_read(&s.calls), 1);
	kds_resource_set_release(&rset);
	res_ctx_term(test, ctx);
}

static void res_misuse_bad_arguments(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct kds_resource *dup[2] = { &ctx->r[0], &ctx->r[0] };
	struct kds_resource *null[2] = { &ctx->r[0], NULL };
	struct kds_resource *raw = kunit_kzalloc(test, sizeof(*raw), GFP_KERNEL);
	struct kds_resource *r = &ctx->r[0];
	struct kds_callback nocb = {};
	struct client c;

	KUNIT_ASSERT_NOT_NULL(test, raw);
	client_init(&c, 0, NULL);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(2, NULL, dup, 0), ERR_PTR(-EINVAL));
		KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, 0, &ctx->direct, &c, NULL,
							2, NULL, dup), -EINVAL);
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(2, NULL, null, 0), ERR_PTR(-EINVAL));
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(1, NULL, &raw, 0), ERR_PTR(-EINVAL));
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(0, NULL, &r, 0), ERR_PTR(-EINVAL));
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(KDS_MAX_RESOURCES + 1, NULL, &r, 0),
				    ERR_PTR(-EINVAL));
		KUNIT_EXPECT_PTR_EQ(test, kds_waitall(1, NULL, NULL, 0), ERR_PTR(-EINVAL));
		KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, 7, &ctx->direct, &c, NULL,
							1, NULL, &r), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, 0, &nocb, &c, NULL,
							1, NULL, &r), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_async_waitall(NULL, 0, &ctx->direct, &c, NULL,
							1, NULL, &r), -EINVAL);
		kds_resource_set_release(NULL);
		KUNIT_EXPECT_NULL(test, kds_resource_set_fence(NULL));
		KUNIT_EXPECT_EQ(test, kds_resource_term(raw), -EINVAL);
		/* "*pprset is reset to NULL on failure", whatever failed. */
		c.rset = ERR_PTR(-EFAULT);
		KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, 0, &ctx->direct, &c, NULL,
							0, NULL, &r), -EINVAL);
		KUNIT_EXPECT_NULL(test, c.rset);
		c.rset = ERR_PTR(-EFAULT);
		KUNIT_EXPECT_EQ(test, kds_async_waitall(&c.rset, 0, NULL, &c, NULL,
							1, NULL, &r), -EINVAL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 15);
	}
	KUNIT_EXPECT_NULL(test, c.rset);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.calls), 0);
	/* Releasing through a cleared pointer is the documented no-op. */
	kds_resource_set_release(&c.rset);
	res_ctx_term(test, ctx);
}

static void res_misuse_term_busy(struct kunit *test)
{
	struct res_ctx *ctx = res_ctx(test);
	struct client c;

	client_init(&c, 0, NULL);
	KUNIT_ASSERT_EQ(test, ask(ctx, &c, &ctx->r[0], true, true), 0);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_resource_term(&ctx->r[0]), -EBUSY);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	/* Still usable: */
	KUNIT_EXPECT_NULL(test, kds_waitall(1, NULL, (struct kds_resource *[]){ &ctx->r[0] }, 0));
	kds_resource_set_release(&c.rset);
	res_ctx_term(test, ctx);
}

/* Per-resource holder counts, to check exclusion while sets are held. */
struct holders {
	atomic_t excl, shared;
};

/* Enter: returns false if the set's access breaks exclusion. */
static bool holders_enter(struct holders *h, bool exclusive)
{
	if (exclusive)
		return atomic_inc_return(&h->excl) == 1 && atomic_read(&h->shared) == 0;
	return atomic_inc_return(&h->shared) > 0 && atomic_read(&h->excl) == 0;
}

static void holders_leave(struct holders *h, bool exclusive)
{
	atomic_dec(exclusive ? &h->excl : &h->shared);
}

struct abba {
	struct kds_resource *r[2];
	struct holders *h;
	int rounds;
	int done_rounds;
	atomic_t *violations;
	struct completion finished;
};

static int abba_fn(void *arg)
{
	struct abba *t = arg;
	unsigned long excl = 3;
	int i;

	for (i = 0; i < t->rounds; i++) {
		struct kds_resource_set *s = kds_waitall(2, &excl, t->r, KDS_WAIT_BLOCKING);

		if (IS_ERR_OR_NULL(s)) {
			atomic_inc(t->violations);
			break;
		}
		if (!holders_enter(t->h, true))
			atomic_inc(t->violations);
		holders_leave(t->h, true);
		kds_resource_set_release(&s);
		WRITE_ONCE(t->done_rounds, i + 1);
		if (!(i & 255))
			cond_resched();
	}
	complete(&t->finished);
	return 0;
}

/*
 * Two threads take {A,B} and {B,A} exclusively, over and over: no
 * deadlock, and never both at once. Every round of each thread contends
 * with the other; under TCG with KASAN and lockdep a round costs about
 * 3 ms, so there it runs a fifth of the rounds (see test_scale.h).
 */
#define ABBA_ROUNDS 10000
struct abba_state {
	struct kds_resource r[2];
	struct holders h;
	atomic_t violations;
	struct abba t[2];
};

static void res_abba(struct kunit *test)
{
	/* Not test-managed: on a hang the threads keep using it. */
	struct abba_state *st = kzalloc_obj(*st, GFP_KERNEL);
	unsigned long start = jiffies;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	kds_resource_init(&st->r[0]);
	kds_resource_init(&st->r[1]);
	for (i = 0; i < 2; i++) {
		struct abba *t = &st->t[i];
		struct task_struct *task;

		t->r[0] = &st->r[i];
		t->r[1] = &st->r[1 - i];
		t->h = &st->h;
		t->rounds = kds_test_rounds(ABBA_ROUNDS);
		t->violations = &st->violations;
		init_completion(&t->finished);
		task = kthread_run(abba_fn, t, "kds_abba%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	for (i = 0; i < 2; i++) {
		if (!wait_for_completion_timeout(&st->t[i].finished, 240 * HZ)) {
			int before = READ_ONCE(st->t[i].done_rounds);

			msleep(1000);
			kmemleak_not_leak(st);
			KUNIT_FAIL_AND_ABORT(test, "thread %d: %d rounds done, %d a second later",
					     i, before, READ_ONCE(st->t[i].done_rounds));
		}
	}
	kunit_info(test, "2 x %d acquisitions in %u ms\n", kds_test_rounds(ABBA_ROUNDS),
		   jiffies_to_msecs(jiffies - start));
	KUNIT_EXPECT_EQ(test, atomic_read(&st->violations), 0);
	KUNIT_EXPECT_EQ(test, kds_resource_term(&st->r[0]), 0);
	KUNIT_EXPECT_EQ(test, kds_resource_term(&st->r[1]), 0);
	kfree(st);
}

#define RING 6

struct ring_member {
	struct kds_resource *r[2];
	struct holders *h[2];
	int rounds;
	atomic_t *violations;
	struct completion finished;
};

static int ring_fn(void *arg)
{
	struct ring_member *m = arg;
	unsigned long excl = 3;
	int i;

	for (i = 0; i < m->rounds; i++) {
		struct kds_resource_set *s = kds_waitall(2, &excl, m->r, KDS_WAIT_BLOCKING);

		if (IS_ERR_OR_NULL(s)) {
			atomic_inc(m->violations);
			break;
		}
		if (!holders_enter(m->h[0], true) || !holders_enter(m->h[1], true))
			atomic_inc(m->violations);
		holders_leave(m->h[0], true);
		holders_leave(m->h[1], true);
		kds_resource_set_release(&s);
	}
	complete(&m->finished);
	return 0;
}

/* A ring of threads, each wanting its own and its neighbour's resource. */
static void res_ring(struct kunit *test)
{
	struct kds_resource *r = kunit_kcalloc(test, RING, sizeof(*r), GFP_KERNEL);
	struct holders *h = kunit_kcalloc(test, RING, sizeof(*h), GFP_KERNEL);
	struct ring_member *m = kunit_kcalloc(test, RING, sizeof(*m), GFP_KERNEL);
	atomic_t violations = ATOMIC_INIT(0);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_NOT_NULL(test, h);
	KUNIT_ASSERT_NOT_NULL(test, m);
	for (i = 0; i < RING; i++)
		kds_resource_init(&r[i]);
	for (i = 0; i < RING; i++) {
		struct task_struct *task;

		m[i].r[0] = &r[i];
		m[i].r[1] = &r[(i + 1) % RING];
		m[i].h[0] = &h[i];
		m[i].h[1] = &h[(i + 1) % RING];
		m[i].rounds = kds_test_rounds(1000);
		m[i].violations = &violations;
		init_completion(&m[i].finished);
		task = kthread_run(ring_fn, &m[i], "kds_ring%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	for (i = 0; i < RING; i++)
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&m[i].finished, 300 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&violations), 0);
	for (i = 0; i < RING; i++)
		KUNIT_EXPECT_EQ(test, kds_resource_term(&r[i]), 0);
}

#define STRESS_RESOURCES 12
#define STRESS_THREADS 5

struct stress {
	struct kds_resource r[STRESS_RESOURCES];
	struct holders h[STRESS_RESOURCES];
	struct kds_callback direct, queued;
	atomic_t violations, errors, modes[5];
};

struct stress_thread {
	struct stress *st;
	u32 seed;
	int rounds;
	struct completion finished;
};

static void stress_cb(void *param, void *extra)
{
	complete(param);
}

static int stress_fn(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *st = t->st;
	struct rnd_state rnd;
	int i;

	prandom_seed_state(&rnd, t->seed);
	for (i = 0; i < t->rounds; i++) {
		struct kds_resource *list[4];
		int idx[4], n = 1 + prandom_u32_state(&rnd) % 4, k, j;
		unsigned long excl = prandom_u32_state(&rnd) & 15;
		int mode = prandom_u32_state(&rnd) % 5;
		struct kds_resource_set *s = NULL;
		struct completion granted;

		for (k = 0; k < n; k++) {
again:
			idx[k] = prandom_u32_state(&rnd) % STRESS_RESOURCES;
			for (j = 0; j < k; j++)
				if (idx[j] == idx[k])
					goto again;
			list[k] = &st->r[idx[k]];
		}
		init_completion(&granted);
		switch (mode) {
		case 0:		/* sleep */
			s = kds_waitall(n, &excl, list, KDS_WAIT_BLOCKING);
			break;
		case 1:		/* try */
			s = kds_waitall(n, &excl, list, 0);
			break;
		case 2:		/* direct callback */
		case 3:		/* queued callback */
			if (kds_async_waitall(&s, KDS_FLAG_LOCKED_WAIT,
					      mode == 2 ? &st->direct : &st->queued,
					      &granted, NULL, n, &excl, list)) {
				s = NULL;
				break;
			}
			/* Now and then, cancel instead of waiting. */
			if (!(prandom_u32_state(&rnd) % 8)) {
				kds_resource_set_release_sync(&s);
				continue;
			}
			wait_for_completion(&granted);
			break;
		case 4: {	/* the set's fence */
			struct kds_fence *f;

			if (kds_async_waitall(&s, KDS_FLAG_LOCKED_WAIT, &st->queued, &granted,
					      NULL, n, &excl, list)) {
				s = NULL;
				break;
			}
			/* NULL only when memory is short: nothing to check then. */
			f = kds_resource_set_fence(s);
			if (!f)
				break;
			kds_fence_wait(f);
			if (kds_fence_get_status(f) != 1)
				atomic_inc(&st->errors);
			kds_fence_put(f);
			break;
		}
		}
		if (IS_ERR(s))
			atomic_inc(&st->errors);
		if (IS_ERR_OR_NULL(s))
			continue;
		atomic_inc(&st->modes[mode]);
		for (k = 0; k < n; k++)
			if (!holders_enter(&st->h[idx[k]], excl & BIT(k)))
				atomic_inc(&st->violations);
		if (!(prandom_u32_state(&rnd) % 4))
			udelay(5);
		for (k = 0; k < n; k++)
			holders_leave(&st->h[idx[k]], excl & BIT(k));
		kds_resource_set_release_sync(&s);
	}
	complete(&t->finished);
	return 0;
}

/* Random sets, modes and cancels on 12 resources from 5 threads. */
static void res_random_stress(struct kunit *test)
{
	struct stress *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct stress_thread *t = kunit_kcalloc(test, STRESS_THREADS, sizeof(*t), GFP_KERNEL);
	u32 seed = get_random_u32();
	int i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, t);
	kunit_info(test, "seed %u\n", seed);
	for (i = 0; i < STRESS_RESOURCES; i++)
		kds_resource_init(&st->r[i]);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&st->direct, 1, stress_cb), 0);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&st->queued, 0, stress_cb), 0);
	for (i = 0; i < STRESS_THREADS; i++) {
		struct task_struct *task;

		t[i].st = st;
		t[i].seed = seed + i;
		t[i].rounds = kds_test_rounds(1500);
		init_completion(&t[i].finished);
		task = kthread_run(stress_fn, &t[i], "kds_stress%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	for (i = 0; i < STRESS_THREADS; i++)
		KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&t[i].finished, 300 * HZ), 0UL);
	kds_callback_term(&st->direct);
	kds_callback_term(&st->queued);
	kunit_info(test, "granted: %d sleeping, %d tries, %d direct, %d queued, %d by fence\n",
		   atomic_read(&st->modes[0]), atomic_read(&st->modes[1]),
		   atomic_read(&st->modes[2]), atomic_read(&st->modes[3]),
		   atomic_read(&st->modes[4]));
	KUNIT_EXPECT_EQ(test, atomic_read(&st->violations), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&st->errors), 0);
	for (i = 0; i < STRESS_RESOURCES; i++)
		KUNIT_EXPECT_EQ(test, kds_resource_term(&st->r[i]), 0);
}

static struct kunit_case kds_resource_cases[] = {
	KUNIT_CASE(res_exclusive_fifo),
	KUNIT_CASE_SLOW(res_release_races_async_waitall),
	KUNIT_CASE_SLOW(res_release_of_refused_set_after_free),
	KUNIT_CASE(res_term_waits_for_deferred_direct_callback),
	KUNIT_CASE_SLOW(res_direct_chain_of_releases),
	KUNIT_CASE_SLOW(res_direct_chain_of_immediate_grants),
	KUNIT_CASE(res_shared_holders_together),
	KUNIT_CASE(res_writer_waits_for_readers),
	KUNIT_CASE(res_readers_granted_in_one_pass),
	KUNIT_CASE(res_immediate_grant_direct),
	KUNIT_CASE(res_immediate_grant_queued),
	KUNIT_CASE(res_waitall_try),
	KUNIT_CASE(res_waitall_timeout),
	KUNIT_CASE(res_waitall_interrupted),
	KUNIT_CASE(res_waitall_blocks_until_release),
	KUNIT_CASE(res_cancel_pending),
	KUNIT_CASE(res_set_fence),
	KUNIT_CASE(res_set_fence_belongs_to_kds),
	KUNIT_CASE(res_locked_flags),
	KUNIT_CASE(res_release_sync_waits_for_callback),
	KUNIT_CASE(res_release_sync_hands_on_after_callback),
	KUNIT_CASE(res_term_waits_for_trampolined_call),
	KUNIT_CASE_SLOW(res_term_races_grant),
	KUNIT_CASE(res_term_waits_for_waiting_set),
	KUNIT_CASE(res_release_sync_from_own_callback),
	KUNIT_CASE(res_release_from_hardirq),
	KUNIT_CASE_SLOW(res_cancel_races_grant),
	KUNIT_CASE_SLOW(res_set_fence_made_while_granted),
	KUNIT_CASE(res_acquire_allocates_once),
	KUNIT_CASE(res_set_fence_contexts),
#ifdef CONFIG_FAILSLAB
	KUNIT_CASE(res_set_fence_without_memory),
#endif
	KUNIT_CASE(res_misuse_bad_arguments),
	KUNIT_CASE(res_misuse_term_busy),
	KUNIT_CASE_SLOW(res_abba),
	KUNIT_CASE_SLOW(res_ring),
	KUNIT_CASE_SLOW(res_random_stress),
	{}
};

static struct kunit_suite kds_resource_suite = {
	.name = "kds_resource",
	.test_cases = kds_resource_cases,
};

kunit_test_suites(&kds_resource_suite);
