// SPDX-License-Identifier: GPL-2.0
/*
 * kds_torture: torture test of kds, in the spirit of locktorture and
 * rcutorture.
 *
 * Loading the module runs it: @threads kthreads, a hard and a soft hrtimer
 * drive random sequences over the exported API for @duration seconds,
 * checking invariants as they go, then everything is torn down and
 * checked once more. The result is one line with the operation counts and
 * the seed (pass seed= to replay a run), and the load fails with -EIO if
 * any invariant broke (each break is logged, rate-limited).
 *
 * What it does, each a random choice per round:
 *  - fence batches: fences awaiting earlier fences, backward awaits that
 *    must be refused when they close a cycle, errors, hrtimer sources,
 *    extra events completed by this thread, by another fence's callback,
 *    or by the hard or the soft timer; callbacks that complete fences and
 *    remove other callbacks (from inside callbacks);
 *  - resource sets: kds_waitall() (sleeping and try), kds_async_waitall()
 *    with direct and queued callbacks that release their own set, cancels
 *    racing grants, releases from hard IRQ;
 *  - async work after fences that fail or not, in a plain and a
 *    deterministic domain, with barriers and small graph runs;
 *  - fences exported as dma_fences, completed from hard IRQ.
 * With failslab=1 (and the guest's failslab set up as qemu-test/init does)
 * a fifth of the rounds run with every allocation failing.
 *
 * Invariants: no two holders of a resource unless all are shared; every
 * callback runs exactly once, or never once it was removed; every fence
 * completes (nothing hangs: waits time out after 10 s), with an error
 * exactly when it or a dependency failed; work runs exactly when its
 * dependencies succeeded, once; every exported dma_fence signals with its
 * fence's status; nothing is left queued on any resource at the end.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <kds.h>

static int threads = 4;
module_param(threads, int, 0444);
MODULE_PARM_DESC(threads, "torture threads (default 4)");
static int duration = 5;
module_param(duration, int, 0444);
MODULE_PARM_DESC(duration, "seconds to run (default 5)");
static ulong seed;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "random seed (0: a random one, printed)");
static uint mix = 0x1f;
module_param(mix, uint, 0444);
MODULE_PARM_DESC(mix, "bits: 1 fences, 2 resource sets, 4 async work, 8 dma_fence exports, 0x10 hrtimer sources in fence batches");
static bool failslab;
module_param(failslab, bool, 0444);
MODULE_PARM_DESC(failslab, "fail every allocation in a fifth of the rounds (needs failslab)");

#define NRES		8	/* resources */
#define NF		6	/* fences per batch */
#define SLOTS		16	/* IRQ mailbox slots */
#define WAIT		(10 * HZ)

enum { OP_FENCE, OP_RES, OP_ASYNC, OP_EXPORT, OP_FAILSLAB, NR_OPS };
static const char *const op_names[NR_OPS] = {
	"fence batches", "resource sets", "async batches", "exports", "failslab rounds",
};

static struct {
	unsigned long end;
	atomic_long_t ops[NR_OPS];
	atomic_long_t detail[8];	/* see detail_names */
	atomic_t violations;
	struct kds_resource res[NRES];
	atomic_t excl[NRES], shared[NRES];
	struct kds_callback direct, queued;
	struct kds_async_domain *dom, *det;
	struct kds_fence *irq_fence[SLOTS];	/* completed by the timers */
	struct kds_resource_set *irq_set[SLOTS];	/* released by the hard timer */
	struct hrtimer hard, soft;
	bool stop;
} T;

enum {
	D_CYCLE, D_CB_REMOVED, D_IRQ_COMPLETE, D_IRQ_RELEASE, D_CANCEL, D_TRY_FAIL,
	D_ENOMEM, D_ERROR,
};

static const char *const detail_names[] = {
	"cycles refused", "callbacks removed", "completions in IRQ", "releases in IRQ",
	"cancels", "tries refused", "-ENOMEM seen", "errors propagated",
};

#define violation(fmt, ...) do {						\
	atomic_inc(&T.violations);						\
	pr_err_ratelimited("VIOLATION (seed %lu): " fmt "\n", seed, ##__VA_ARGS__); \
} while (0)

static void count(int d)
{
	atomic_long_inc(&T.detail[d]);
}

/* --- IRQ mailboxes ------------------------------------------------------- */

/* Hands one event of @f (a reference travels with it) to a timer. */
static void post_fence(struct kds_fence *f, u32 r)
{
	int i, start = r % SLOTS;

	for (i = 0; i < SLOTS; i++)
		if (!cmpxchg(&T.irq_fence[(start + i) % SLOTS], NULL, f))
			return;
	kds_fence_complete(f);	/* every slot busy: complete it here */
	kds_fence_put(f);
}

static void post_set(struct kds_resource_set *rset, u32 r)
{
	int i, start = r % SLOTS;

	for (i = 0; i < SLOTS; i++)
		if (!cmpxchg(&T.irq_set[(start + i) % SLOTS], NULL, rset))
			return;
	kds_resource_set_release(&rset);
}

static void drain_slots(bool sets)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		struct kds_fence *f = xchg(&T.irq_fence[i], NULL);

		if (f) {
			kds_fence_complete(f);
			kds_fence_put(f);
			count(D_IRQ_COMPLETE);
		}
		if (sets && READ_ONCE(T.irq_set[i])) {
			kds_resource_set_release(&T.irq_set[i]);
			count(D_IRQ_RELEASE);
		}
	}
}

static enum hrtimer_restart hard_fn(struct hrtimer *t)
{
	drain_slots(true);
	if (READ_ONCE(T.stop))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, us_to_ktime(200));
	return HRTIMER_RESTART;
}

static enum hrtimer_restart soft_fn(struct hrtimer *t)
{
	drain_slots(false);
	if (READ_ONCE(T.stop))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, us_to_ktime(300));
	return HRTIMER_RESTART;
}

/* --- fences ---------------------------------------------------------------- */

struct tcb {
	struct kds_fence_cb cb;
	struct kds_fence *owner;
	atomic_t calls;
	bool removed;		/* kds_fence_remove_callback() said true */
	int action;		/* 0 nothing, 1 complete @target, 2 remove @victim */
	struct kds_fence *target;	/* holds an event of it (and a reference) */
	struct tcb *victim;
};

static void tcb_fn(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct tcb *t = container_of(cb, struct tcb, cb);

	if (atomic_inc_return(&t->calls) != 1)
		violation("fence callback ran twice");
	if (READ_ONCE(t->removed))
		violation("a removed fence callback ran");
	if (f != t->owner)
		violation("fence callback got the wrong fence");
	if (!kds_fence_done(f))
		violation("fence callback ran before its fence was done");
	if (t->action == 1 && t->target) {
		kds_fence_complete(t->target);
		kds_fence_put(t->target);
		t->target = NULL;
	} else if (t->action == 2 && t->victim) {
		if (kds_fence_remove_callback(t->victim->owner, &t->victim->cb)) {
			struct tcb *v = t->victim;

			WRITE_ONCE(v->removed, true);
			count(D_CB_REMOVED);
			/* It will never run: keep its promise to complete. */
			if (v->action == 1 && v->target) {
				kds_fence_complete(v->target);
				kds_fence_put(v->target);
				v->target = NULL;
			}
		}
	}
}

static void op_fences(struct rnd_state *rs)
{
	struct kds_fence *f[NF] = {};
	struct tcb *cb;
	bool dep[NF][NF] = {}, cbdep[NF][NF] = {}, err[NF] = {};
	int i, j, n = 2 + prandom_u32_state(rs) % (NF - 1);

	cb = kcalloc(2 * NF, sizeof(*cb), GFP_KERNEL);
	if (!cb) {
		count(D_ENOMEM);
		return;
	}
	for (i = 0; i < n; i++) {
		f[i] = kds_fence_create(GFP_KERNEL);
		if (!f[i]) {
			count(D_ENOMEM);
			n = i;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		/* Forward edges: i awaits some earlier fences. */
		for (j = 0; j < i; j++) {
			if (prandom_u32_state(rs) % 3)
				continue;
			switch (kds_fence_await_fence(f[i], f[j], GFP_KERNEL)) {
			case 1:
				dep[i][j] = true;
				break;
			case -ENOMEM:
				count(D_ENOMEM);
				break;
			default:
				violation("await of a pending fence failed");
			}
		}
		if (!(prandom_u32_state(rs) % 5)) {
			kds_fence_set_error(f[i], -EIO);
			err[i] = true;
		}
		if ((mix & 0x10) && !(prandom_u32_state(rs) % 4)) {
			int r = kds_fence_await_hrtimer(f[i], 20 * NSEC_PER_USEC, CLOCK_MONOTONIC,
							HRTIMER_MODE_REL, 0, GFP_KERNEL);
			if (r < 0)
				count(D_ENOMEM);
		}
	}
	/*
	 * Two callbacks per fence, cb[2i] and cb[2i + 1]; extra events,
	 * completed by a callback, a timer, or at commit.
	 */
	for (i = 0; i < 2 * n; i++) {
		struct tcb *t = &cb[i];
		u32 r = prandom_u32_state(rs);

		t->owner = f[i / 2];
		t->action = r % 3;
		if (t->action == 1) {
			/* Complete an event of a later fence (no cycle). */
			j = i / 2 + 1 + (r >> 8) % NF;
			if (j < n) {
				kds_fence_await(f[j]);
				t->target = kds_fence_get(f[j]);
				cbdep[j][i / 2] = true;
			}
		} else if (t->action == 2) {
			/*
			 * Remove the other callback of the same fence: before or
			 * after it ran. (Not one of another fence: two callbacks
			 * on two CPUs that remove each other's would wait for
			 * each other, see kds_fence_remove_callback().)
			 */
			t->victim = &cb[i ^ 1];
		}
		if (i % 2 == 0 && !(r & 0x10000)) {
			kds_fence_await(f[i / 2]);
			post_fence(kds_fence_get(f[i / 2]), r);
		}
	}
	/*
	 * One backward edge: earlier fence j awaits later fence i. It closes a
	 * cycle exactly when i already awaits j, directly or not, and kds must
	 * refuse it then. A callback of fence c completing an event of fence d
	 * is a dependency too, one kds cannot see: an edge that only such a
	 * dependency closes would hang for real, so it is not tried. All edges
	 * so far go from higher to lower indices: one descending pass finds
	 * what i reaches.
	 */
	if (n >= 2) {
		bool reach[NF] = {}, reach_all[NF] = {};
		int s, t;

		i = 1 + prandom_u32_state(rs) % (n - 1);
		j = prandom_u32_state(rs) % i;
		reach[i] = true;
		reach_all[i] = true;
		for (s = i; s >= 0; s--) {
			for (t = 0; t < s; t++) {
				if (reach[s] && dep[s][t])
					reach[t] = true;
				if (reach_all[s] && (dep[s][t] || cbdep[s][t]))
					reach_all[t] = true;
			}
		}
		switch (reach_all[j] && !reach[j] ? 0 :
			kds_fence_await_fence(f[j], f[i], GFP_KERNEL)) {
		case 0:
			break;
		case 1:
			if (reach[j])
				violation("an await that closes a cycle was accepted");
			dep[j][i] = true;
			break;
		case -EDEADLK:
			if (!reach[j])
				violation("an await without a cycle was refused");
			count(D_CYCLE);
			break;
		case -ENOMEM:
			count(D_ENOMEM);
			break;
		default:
			violation("backward await: unexpected result");
		}
	}
	for (i = 0; i < n; i++) {
		int first = 2 * i + (prandom_u32_state(rs) & 1);	/* either order */

		if (kds_fence_add_callback(f[i], &cb[first].cb, tcb_fn) ||
		    kds_fence_add_callback(f[i], &cb[first ^ 1].cb, tcb_fn))
			violation("add_callback on a pending fence failed");
	}
	for (i = n - 1; i >= 0; i--)
		kds_fence_complete(f[i]);	/* commit */
	for (i = 0; i < n; i++) {
		if (kds_fence_wait_timeout(f[i], false, WAIT) <= 0)
			violation("fence %d of %d did not complete in 10 s", i, n);
	}
	for (i = 0; i < 2 * n; i++) {
		/* Waits for callbacks still running elsewhere. */
		if (kds_fence_remove_callback(cb[i].owner, &cb[i].cb))
			violation("a callback of a done fence was removed");
	}
	for (i = 0; i < n; i++) {
		bool want = err[i];
		int status = kds_fence_get_status(f[i]);
		bool failed = status < 0;

		for (j = 0; j < n; j++)
			if (dep[i][j] && kds_fence_get_status(f[j]) < 0)
				want = true;
		if (want != failed)
			violation("fence status %d, error expected: %d", status, want);
		if (status < 0)
			count(D_ERROR);
	}
	for (i = 0; i < 2 * n; i++) {
		if (atomic_read(&cb[i].calls) != (cb[i].removed ? 0 : 1))
			violation("callback ran %d times, removed: %d",
				  atomic_read(&cb[i].calls), cb[i].removed);
		if (cb[i].target)
			violation("a callback's completion did not run");
	}
	for (i = 0; i < n; i++)
		kds_fence_put(f[i]);
	kfree(cb);
}

/* --- resource sets ----------------------------------------------------------- */

static void enter(struct kds_resource **list, int m, unsigned long bits)
{
	int i;

	for (i = 0; i < m; i++) {
		int r = list[i] - T.res;

		if (test_bit(i, &bits)) {
			if (atomic_inc_return(&T.excl[r]) != 1 || atomic_read(&T.shared[r]))
				violation("resource %d: exclusive holder not alone", r);
		} else {
			atomic_inc(&T.shared[r]);
			if (atomic_read(&T.excl[r]))
				violation("resource %d: shared holder beside an exclusive one", r);
		}
	}
}

static void leave(struct kds_resource **list, int m, unsigned long bits)
{
	int i;

	for (i = 0; i < m; i++) {
		int r = list[i] - T.res;

		if (test_bit(i, &bits))
			atomic_dec(&T.excl[r]);
		else
			atomic_dec(&T.shared[r]);
	}
}

struct tset {
	struct kds_resource_set *rset;
	struct kds_resource *list[4];
	unsigned long bits;
	int m;
	bool release_in_cb;
	atomic_t calls;
	struct completion done;
};

static void tset_cb(void *param, void *extra)
{
	struct tset *s = param;

	if (atomic_inc_return(&s->calls) != 1)
		violation("grant callback ran twice");
	enter(s->list, s->m, s->bits);
	udelay(1);
	leave(s->list, s->m, s->bits);
	if (s->release_in_cb)
		kds_resource_set_release(&s->rset);
	complete(&s->done);
}

static void op_res(struct rnd_state *rs)
{
	struct tset *s = kzalloc_obj(*s, GFP_KERNEL);
	u32 r = prandom_u32_state(rs);
	int i, mode = r % 5, ret;

	if (!s) {
		count(D_ENOMEM);
		return;
	}
	init_completion(&s->done);
	s->m = 1 + (r >> 4) % 4;
	s->bits = (r >> 8) & 0xf;
	for (i = 0; i < s->m; i++) {
		int k, pick;

again:
		pick = prandom_u32_state(rs) % NRES;
		for (k = 0; k < i; k++)
			if (s->list[k] == &T.res[pick])
				goto again;
		s->list[i] = &T.res[pick];
	}
	switch (mode) {
	case 0:		/* sleeping, or a try */
	case 1: {
		struct kds_resource_set *rset;

		rset = kds_waitall(s->m, &s->bits, s->list, mode ? 0 : WAIT);
		if (IS_ERR(rset)) {
			if (PTR_ERR(rset) != -ENOMEM)
				violation("kds_waitall: %ld", PTR_ERR(rset));
			count(D_ENOMEM);
			break;
		}
		if (!rset) {
			if (!mode)
				violation("kds_waitall did not grant in 10 s");
			count(D_TRY_FAIL);
			break;
		}
		enter(s->list, s->m, s->bits);
		udelay(2);
		leave(s->list, s->m, s->bits);
		if (r & 0x1000)
			post_set(rset, r);	/* released in hard IRQ */
		else
			kds_resource_set_release(&rset);
		break;
	}
	default: {	/* async: direct or queued callback; maybe cancelled */
		bool cancel = (r >> 12) % 4 == 0;

		s->release_in_cb = !cancel && (r & 0x20000);
		ret = kds_async_waitall(&s->rset, KDS_FLAG_LOCKED_WAIT,
					mode == 2 ? &T.direct : &T.queued, s, NULL,
					s->m, &s->bits, s->list);
		if (ret) {
			if (ret != -ENOMEM)
				violation("kds_async_waitall: %d", ret);
			count(D_ENOMEM);
			break;
		}
		if (cancel) {
			count(D_CANCEL);
			kds_resource_set_release_sync(&s->rset);
			/* A callback that started has finished or is finishing. */
			if (atomic_read(&s->calls))
				wait_for_completion(&s->done);
		} else {
			if (!wait_for_completion_timeout(&s->done, WAIT))
				violation("a grant callback did not run in 10 s");
			kds_resource_set_release_sync(&s->rset);
		}
		if (atomic_read(&s->calls) > 1)
			violation("grant callback ran %d times", atomic_read(&s->calls));
	}
	}
	kfree(s);
}

/* --- async work ---------------------------------------------------------------- */

struct twork {
	atomic_t runs;
};

static void twork_fn(void *data, u64 cookie)
{
	atomic_inc(&((struct twork *)data)->runs);
}

static void op_async(struct rnd_state *rs)
{
	struct kds_async_work *w[4] = {};
	struct twork tw[4] = {}, ts[4] = {};
	u64 scheduled[4] = {};
	struct kds_fence *dep = kds_fence_create(GFP_KERNEL);
	struct kds_async_domain *d = prandom_u32_state(rs) & 1 ? T.dom : T.det;
	bool fail = !(prandom_u32_state(rs) % 3), after[4] = {};
	int i;

	if (!dep) {
		count(D_ENOMEM);
		return;
	}
	for (i = 0; i < 4; i++) {
		w[i] = kds_async_work_create(twork_fn, &tw[i], GFP_KERNEL);
		if (!w[i]) {
			count(D_ENOMEM);
			continue;
		}
		if (prandom_u32_state(rs) & 1) {
			int r = kds_async_work_after(w[i], dep, GFP_KERNEL);

			if (r == 1)
				after[i] = true;
			else if (r != -ENOMEM)
				violation("kds_async_work_after: %d", r);
		}
		if (!kds_async_queue(d, w[i]))
			violation("kds_async_queue of a fresh item failed");
		/* A call with no handle: no fences outside a pending barrier. */
		scheduled[i] = kds_async_schedule(d, twork_fn, &ts[i]);
		if (!(prandom_u32_state(rs) % 4)) {
			int r = kds_async_barrier(d);

			if (r && r != -ENOMEM)
				violation("kds_async_barrier: %d", r);
		}
	}
	if (fail)
		kds_fence_set_error(dep, -EIO);
	kds_fence_complete(dep);
	kds_async_synchronize(d);
	for (i = 0; i < 4; i++) {
		struct kds_fence *wf;
		int want;

		if (!w[i])
			continue;
		/* An item that could not be ordered (no memory) is cancelled. */
		want = after[i] && fail ? 0 : 1;
		wf = kds_async_work_fence(w[i]);
		if (atomic_read(&tw[i].runs) > 1 ||
		    (atomic_read(&tw[i].runs) != want && kds_fence_get_status(wf) != -ENOMEM))
			violation("work ran %d times, expected %d", atomic_read(&tw[i].runs), want);
		kds_fence_put(wf);
		kds_async_work_put(w[i]);
	}
	for (i = 0; i < 4; i++)
		if (atomic_read(&ts[i].runs) != !!scheduled[i])
			violation("scheduled call (cookie %llu) ran %d times", scheduled[i],
				  atomic_read(&ts[i].runs));
	kds_fence_put(dep);
}

/* --- exports --------------------------------------------------------------------- */

/* Exported fences are of a bounded class. */
static DEFINE_KDS_FENCE_CLASS(torture_bounded, KDS_CLASS_BOUNDED);

static void op_export(struct rnd_state *rs)
{
	struct kds_fence *f = kds_fence_create_class(&torture_bounded, GFP_KERNEL);
	struct dma_fence *d;
	bool err = prandom_u32_state(rs) & 1;

	if (!f) {
		count(D_ENOMEM);
		return;
	}
	d = kds_fence_export_dma_fence(f, GFP_KERNEL);
	if (IS_ERR(d)) {
		if (PTR_ERR(d) != -ENOMEM)
			violation("export of a bounded fence: %ld", PTR_ERR(d));
		d = NULL;
	}
	if (err)
		kds_fence_set_error(f, -EPIPE);
	kds_fence_await(f);
	post_fence(kds_fence_get(f), prandom_u32_state(rs));	/* hard or soft IRQ */
	kds_fence_complete(f);
	if (d) {
		if (dma_fence_wait_timeout(d, false, WAIT) <= 0)
			violation("an exported dma_fence did not signal in 10 s");
		else if (dma_fence_get_status(d) != (err ? -EPIPE : 1))
			violation("export status %d", dma_fence_get_status(d));
		dma_fence_put(d);
	} else {
		count(D_ENOMEM);
	}
	kds_fence_put(f);
}

/* --- threads ------------------------------------------------------------------------ */

/* failslab (set up by the guest) fails this task's allocations while on. */
static void fail_allocations(bool on)
{
#ifdef CONFIG_FAULT_INJECTION
	current->make_it_fail = on;
#endif
}

struct tthread {
	struct task_struct *task;
	struct completion finished;
	u64 seed;
};

static int torture_fn(void *arg)
{
	struct tthread *t = arg;
	struct rnd_state rs;

	prandom_seed_state(&rs, t->seed);
	while (time_before(jiffies, T.end)) {
		u32 op = prandom_u32_state(&rs) % 4;
		bool fail = failslab && !(prandom_u32_state(&rs) % 5);

		if (!(mix & BIT(op)))
			continue;
		if (fail) {
			fail_allocations(true);
			atomic_long_inc(&T.ops[OP_FAILSLAB]);
		}
		switch (op) {
		case OP_FENCE:
			op_fences(&rs);
			break;
		case OP_RES:
			op_res(&rs);
			break;
		case OP_ASYNC:
			op_async(&rs);
			break;
		case OP_EXPORT:
			op_export(&rs);
			break;
		}
		if (fail)
			fail_allocations(false);
		atomic_long_inc(&T.ops[op]);
		cond_resched();
	}
	complete(&t->finished);
	return 0;
}

static const enum hrtimer_mode hard_mode =
	IS_ENABLED(CONFIG_PREEMPT_RT) ? HRTIMER_MODE_REL_SOFT : HRTIMER_MODE_REL_HARD;

static int __init kds_torture_init(void)
{
	struct tthread *t;
	int i, ret = 0, n = clamp(threads, 1, 64);

	if (!seed)
		seed = get_random_u32() | 1;
	pr_info("start: seed %lu, %d threads, %d s, mix %#x%s\n", seed, n, duration, mix,
		failslab ? ", failslab" : "");
	for (i = 0; i < NRES; i++)
		kds_resource_init(&T.res[i]);
	if (kds_callback_init(&T.direct, 1, tset_cb) ||
	    kds_callback_init(&T.queued, 0, tset_cb))
		return -ENOMEM;
	T.dom = kds_async_domain_create("kds_torture", 0);
	T.det = kds_async_domain_create("kds_torture_det", KDS_ASYNC_DETERMINISTIC);
	t = kcalloc(n, sizeof(*t), GFP_KERNEL);
	if (!T.dom || !T.det || !t) {
		ret = -ENOMEM;
		goto out;
	}
	T.end = jiffies + duration * HZ;
	/*
	 * On PREEMPT_RT kds may not be called from hard IRQ (it may free
	 * memory): both timers are soft there.
	 */
	hrtimer_setup(&T.hard, hard_fn, CLOCK_MONOTONIC, hard_mode);
	hrtimer_setup(&T.soft, soft_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	hrtimer_start(&T.hard, us_to_ktime(200), hard_mode);
	hrtimer_start(&T.soft, us_to_ktime(300), HRTIMER_MODE_REL_SOFT);
	for (i = 0; i < n; i++) {
		init_completion(&t[i].finished);
		t[i].seed = seed + i;
		t[i].task = kthread_run(torture_fn, &t[i], "kds_torture/%d", i);
		if (IS_ERR(t[i].task)) {
			complete(&t[i].finished);
			ret = PTR_ERR(t[i].task);
		}
	}
	/* Interruptible: a long run must not look like a hung insmod. */
	for (i = 0; i < n; i++)
		while (!wait_for_completion_timeout(&t[i].finished, HZ))
			if (time_after(jiffies, T.end + 60 * HZ)) {
				violation("thread %d still running 60 s after the end", i);
				break;
			}
	WRITE_ONCE(T.stop, true);
	hrtimer_cancel(&T.hard);
	hrtimer_cancel(&T.soft);
	drain_slots(true);
	kds_async_synchronize(T.dom);
	kds_async_synchronize(T.det);
out:
	kds_callback_term(&T.direct);
	kds_callback_term(&T.queued);
	for (i = 0; i < NRES; i++)
		if (kds_resource_term(&T.res[i]))
			violation("resource %d: sets still queued at the end", i);
	if (T.dom)
		kds_async_domain_destroy(T.dom);
	if (T.det)
		kds_async_domain_destroy(T.det);
	kfree(t);
	for (i = 0; i < NR_OPS; i++)
		pr_info("%s: %ld\n", op_names[i], atomic_long_read(&T.ops[i]));
	for (i = 0; i < ARRAY_SIZE(detail_names); i++)
		pr_info("  %s: %ld\n", detail_names[i], atomic_long_read(&T.detail[i]));
	pr_info("end: seed %lu: %d violations: %s\n", seed, atomic_read(&T.violations),
		atomic_read(&T.violations) ? "FAILED" : "passed");
	if (ret)
		return ret;
	return atomic_read(&T.violations) ? -EIO : 0;
}
module_init(kds_torture_init);

static void __exit kds_torture_exit(void)
{
}
module_exit(kds_torture_exit);

MODULE_DESCRIPTION("kds torture test");
MODULE_LICENSE("GPL");
