// SPDX-License-Identifier: GPL-2.0
/*
 * kds_bench - kds against the kernel's own primitives, in the same boot.
 *
 * Loading the module runs every benchmark and prints, per operation, the
 * median and spread (min-max) over @reps repetitions of kds and of its
 * peer (dma_fence, dma_fence_array, ww_mutex, kernel/async.c, struct
 * completion), and their ratio; one "csv," line each for
 * bench/report.py, which writes build/bench/results.csv and the chart.
 * Everything runs at load time; unloading frees nothing more.
 *
 * Beside each time it prints the allocations per operation, counted
 * globally through the kmalloc and kmem_cache_alloc tracepoints in one
 * extra, untimed repetition (vmalloc and page allocations are not counted;
 * a kernel without tracepoints prints "-").
 *
 * Nothing here passes or fails: the numbers are for people. The peers do
 * the same work as kds for each row (what that work is, is in each
 * function's comment); both run alternately, repetition by repetition,
 * so that drift in the guest hits both alike.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/async.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-array.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/ww_mutex.h>

#include <kds.h>

static unsigned int reps = 7;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "repetitions per measurement (median and spread over them)");

static unsigned int quick;
module_param(quick, uint, 0444);
MODULE_PARM_DESC(quick, "1: a few iterations each, to check that every benchmark runs");

#define MAX_REPS 31

/*
 * Set when a benchmark could not do its work (out of memory, no thread):
 * its row is not reported, rather than reported too fast.
 */
static bool row_failed;

/* Iterations of one repetition: @full normally, a twentieth with quick=1. */
static unsigned int iters(unsigned int full)
{
	return quick ? max(full / 20, 1U) : full;
}

/* One measurement: the total time of one repetition, in ns. */
typedef u64 (*bench_fn)(unsigned int n);

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	u64 med, min, max;	/* per operation, in ps (ns * 1000) */
};

static void summarise(u64 *t, unsigned int r, unsigned int n, struct stats *s)
{
	sort(t, r, sizeof(*t), cmp_u64, NULL);
	s->med = div_u64(t[r / 2] * 1000, n);
	s->min = div_u64(t[0] * 1000, n);
	s->max = div_u64(t[r - 1] * 1000, n);
}

/* "12.345" from a value in thousandths, in @buf. */
struct milli {
	char s[24];
};

static const char *milli(struct milli *m, u64 x)
{
	u32 frac = do_div(x, 1000);

	snprintf(m->s, sizeof(m->s), "%llu.%03u", x, frac);
	return m->s;
}

/* ---- allocations per operation ---------------------------------------- */

static struct tracepoint *tp_kmalloc, *tp_cache_alloc;
static atomic_long_t nr_allocs;

static void count_kmalloc(void *data, unsigned long call_site, const void *ptr,
			  size_t bytes_req, size_t bytes_alloc, gfp_t gfp, int node)
{
	if (ptr)
		atomic_long_inc(&nr_allocs);
}

static void count_cache_alloc(void *data, unsigned long call_site, const void *ptr,
			      struct kmem_cache *s, gfp_t gfp, int node)
{
	if (ptr)
		atomic_long_inc(&nr_allocs);
}

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "kmalloc"))
		tp_kmalloc = tp;
	else if (!strcmp(tp->name, "kmem_cache_alloc"))
		tp_cache_alloc = tp;
}

/*
 * Slab allocations per operation of @f over @n operations, on every CPU,
 * in thousandths; -1 when they cannot be counted. The probes are attached
 * for this run only, so that they cost the timed runs nothing.
 */
static long allocs_per_op(bench_fn f, unsigned int n)
{
#ifdef CONFIG_TRACEPOINTS
	long a;

	if (!tp_kmalloc || !tp_cache_alloc || !n)
		return -1;
	if (tracepoint_probe_register(tp_kmalloc, count_kmalloc, NULL))
		return -1;
	if (tracepoint_probe_register(tp_cache_alloc, count_cache_alloc, NULL)) {
		tracepoint_probe_unregister(tp_kmalloc, count_kmalloc, NULL);
		tracepoint_synchronize_unregister();
		return -1;
	}
	atomic_long_set(&nr_allocs, 0);
	f(n);
	a = atomic_long_read(&nr_allocs);
	tracepoint_probe_unregister(tp_cache_alloc, count_cache_alloc, NULL);
	tracepoint_probe_unregister(tp_kmalloc, count_kmalloc, NULL);
	tracepoint_synchronize_unregister();
	return div_u64((u64)a * 1000 + n / 2, n);
#else
	return -1;
#endif
}

/* "1.500" from thousandths, or "-" for -1. */
static const char *allocs_str(struct milli *m, long a)
{
	if (a < 0)
		return "-";
	return milli(m, a);
}

/*
 * Prints one row: kds and peer per-op times, allocations per op and
 * kds/peer; @goal is the target ratio in thousandths (0: none).
 */
static void report(const char *op, const char *peer, struct stats *k, struct stats *p,
		   long ka, long pa, unsigned int goal)
{
	u64 ratio = p->med ? div64_u64(k->med * 1000, p->med) : 0;
	struct milli m[9];

	pr_info("%-22s kds %10s ns [%s-%s] %s allocs  %-18s %10s ns [%s-%s] %s allocs  ratio %s\n",
		op, milli(&m[0], k->med), milli(&m[1], k->min), milli(&m[2], k->max),
		allocs_str(&m[7], ka), peer, milli(&m[3], p->med), milli(&m[4], p->min),
		milli(&m[5], p->max), allocs_str(&m[8], pa), milli(&m[6], ratio));
	pr_info("csv,%s,%s,ns,%llu,%llu,%llu,%llu,%llu,%llu,%u,%ld,%ld\n", op, peer,
		k->med, k->min, k->max, p->med, p->min, p->max, goal, ka, pa);
}

/* Runs @kf and @pf @reps times each, alternately, @n operations a time. */
static void measure(const char *op, bench_fn kf, const char *peer, bench_fn pf,
		    unsigned int n, unsigned int goal)
{
	u64 kt[MAX_REPS], pt[MAX_REPS];
	struct stats k, p;
	long ka, pa;
	unsigned int r = clamp(reps, 1U, (unsigned int)MAX_REPS), i;

	row_failed = false;
	kf(max(n / 10, 1U));	/* warm up caches and pools */
	pf(max(n / 10, 1U));
	for (i = 0; i < r; i++) {
		/* Who goes first alternates: what one leaves behind hits both. */
		if (i & 1) {
			pt[i] = pf(n);
			kt[i] = kf(n);
		} else {
			kt[i] = kf(n);
			pt[i] = pf(n);
		}
		cond_resched();
	}
	if (row_failed) {
		pr_info("%-22s not reported: a repetition could not do its work\n", op);
		return;
	}
	summarise(kt, r, n, &k);
	summarise(pt, r, n, &p);
	ka = allocs_per_op(kf, n);
	pa = allocs_per_op(pf, n);
	report(op, peer, &k, &p, row_failed ? -1 : ka, row_failed ? -1 : pa, goal);
}

/* ---- unit costs: what the rows are made of, in this boot ------------ */

/*
 * Not comparisons: the time of one kmalloc() + kfree() of a kds fence's
 * size, one fully ordered atomic read-modify-write, one raw spinlock
 * section with interrupts saved, and one simple instruction, so that a
 * row's gap can be put in these units (Documentation/development.rst,
 * "Where the time goes").
 */
static atomic_long_t unit_word;
static DEFINE_RAW_SPINLOCK(unit_lock);

static u64 unit_alloc_free(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		void *p = kmalloc(192, GFP_KERNEL);

		if (!p) {
			row_failed = true;
			break;
		}
		OPTIMIZER_HIDE_VAR(p);
		kfree(p);
	}
	return ktime_get_ns() - t;
}

static u64 unit_atomic(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		atomic_long_add_return(1, &unit_word);
	return ktime_get_ns() - t;
}

static u64 unit_irqsave_lock(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < n; i++) {
		raw_spin_lock_irqsave(&unit_lock, flags);
		raw_spin_unlock_irqrestore(&unit_lock, flags);
	}
	return ktime_get_ns() - t;
}

/* 100 dependent additions per operation, reported per addition. */
static u64 unit_instruction(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned long x = n;
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < 100; j++) {
			x += j;
			OPTIMIZER_HIDE_VAR(x);
		}
	atomic_long_set(&unit_word, x);
	return div_u64(ktime_get_ns() - t, 100);
}

static void measure_unit(const char *name, bench_fn fn, unsigned int n)
{
	unsigned int r = clamp(reps, 1U, (unsigned int)MAX_REPS), i;
	u64 t[MAX_REPS];
	struct milli m[3];
	struct stats s;

	row_failed = false;
	fn(max(n / 10, 1U));
	for (i = 0; i < r; i++) {
		t[i] = fn(n);
		cond_resched();
	}
	if (row_failed)
		return;
	summarise(t, r, n, &s);
	pr_info("unit %-17s %10s ns [%s-%s]\n", name, milli(&m[0], s.med),
		milli(&m[1], s.min), milli(&m[2], s.max));
	pr_info("csvunit,%s,%llu,%llu,%llu\n", name, s.med, s.min, s.max);
}

/* ---- dma_fence peers ------------------------------------------------- */

static const char *bench_name(struct dma_fence *f)
{
	return "kds_bench";
}

/*
 * Freed at once on the last put, as a kds fence is: these fences have no
 * RCU readers, so the default kfree_rcu() (dma_fence_free()) would only
 * move the peer's freeing out of its timed window.
 */
static void bench_release(struct dma_fence *f)
{
	kfree(f);
}

static const struct dma_fence_ops bench_ops = {
	.get_driver_name = bench_name,
	.get_timeline_name = bench_name,
	.release = bench_release,
};

static u64 bench_context;

static struct dma_fence *dma_new(void)
{
	struct dma_fence *f = kzalloc_obj(*f, GFP_KERNEL);

	if (f)
		dma_fence_init(f, &bench_ops, NULL, bench_context, 1);
	else
		row_failed = true;
	return f;
}

/* ---- lifecycle ------------------------------------------------------- */

/* kds: create, commit (the fence is then done), put. */
static u64 kds_lifecycle(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct kds_fence *f = kds_fence_create(GFP_KERNEL);

		if (!f) {
			row_failed = true;
			break;
		}
		kds_fence_complete(f);
		kds_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* dma_fence: allocate, init, signal, put. */
static u64 dma_lifecycle(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct dma_fence *f = dma_new();

		if (!f)
			break;
		dma_fence_signal(f);
		dma_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* ---- the lifecycle in parts: create + put, and the completion alone -- */

static struct kds_fence **kparts;
static struct dma_fence **dparts;
#define PARTS 4096

/* kds: create, put (a pending fence nobody awaits). */
static u64 kds_create_put(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct kds_fence *f = kds_fence_create(GFP_KERNEL);

		if (!f) {
			row_failed = true;
			break;
		}
		kds_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* dma_fence: allocate, init, put (unsignalled). */
static u64 dma_create_put(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct dma_fence *f = dma_new();

		if (!f)
			break;
		dma_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* kds: kds_fence_complete() of a fresh fence's commit, timed alone. */
static u64 kds_signal(unsigned int n)
{
	unsigned int i;
	u64 t;

	if (WARN_ON_ONCE(n > PARTS))
		n = PARTS;
	for (i = 0; i < n; i++) {
		kparts[i] = kds_fence_create(GFP_KERNEL);
		if (!kparts[i]) {
			row_failed = true;
			while (i--)
				kds_fence_put(kparts[i]);
			return 0;
		}
	}
	t = ktime_get_ns();
	for (i = 0; i < n; i++)
		kds_fence_complete(kparts[i]);
	t = ktime_get_ns() - t;
	for (i = 0; i < n; i++)
		kds_fence_put(kparts[i]);
	return t;
}

/* dma_fence: dma_fence_signal() of a fresh fence, timed alone. */
static u64 dma_signal(unsigned int n)
{
	unsigned int i;
	u64 t;

	if (WARN_ON_ONCE(n > PARTS))
		n = PARTS;
	for (i = 0; i < n; i++) {
		dparts[i] = dma_new();
		if (!dparts[i]) {
			while (i--)
				dma_fence_put(dparts[i]);
			return 0;
		}
	}
	t = ktime_get_ns();
	for (i = 0; i < n; i++)
		dma_fence_signal(dparts[i]);
	t = ktime_get_ns() - t;
	for (i = 0; i < n; i++)
		dma_fence_put(dparts[i]);
	return t;
}

/* ---- join 64 --------------------------------------------------------- */

#define JOIN 64

/*
 * kds: 64 fences and one that awaits them all; complete them; put all.
 * With @links, the awaits are in caller-provided links, one array
 * allocated per join, as dma_fence_array allocates one object.
 */
static u64 kds_join_in(unsigned int n, bool links)
{
	struct kds_fence *src[JOIN];
	u64 t = ktime_get_ns();
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		struct kds_fence_link *link = NULL;
		struct kds_fence *sink;

		if (links) {
			link = kmalloc_array(JOIN, sizeof(*link), GFP_KERNEL);
			if (!link) {
				row_failed = true;
				break;
			}
		}
		sink = kds_fence_create(GFP_KERNEL);
		if (!sink) {
			kfree(link);
			row_failed = true;
			break;
		}
		for (j = 0; j < JOIN; j++) {
			src[j] = kds_fence_create(GFP_KERNEL);
			if (!src[j])
				row_failed = true;
			else if (links)
				kds_fence_await_fence_link(sink, src[j], &link[j], GFP_KERNEL);
			else
				kds_fence_await_fence(sink, src[j], GFP_KERNEL);
		}
		kds_fence_complete(sink);
		for (j = 0; j < JOIN; j++) {
			if (!src[j])
				continue;
			kds_fence_complete(src[j]);
			kds_fence_put(src[j]);
		}
		WARN_ON_ONCE(!kds_fence_done(sink));
		kds_fence_put(sink);
		kfree(link);
	}
	return ktime_get_ns() - t;
}

static u64 kds_join(unsigned int n)
{
	return kds_join_in(n, false);
}

static u64 kds_join_link(unsigned int n)
{
	return kds_join_in(n, true);
}

/* dma_fence_array of 64 new fences, signalling enabled; signal them; put. */
static u64 dma_join(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		struct dma_fence **fences = kmalloc_array(JOIN, sizeof(*fences), GFP_KERNEL);
		struct dma_fence_array *array = NULL;

		if (!fences) {
			row_failed = true;
			break;
		}
		for (j = 0; j < JOIN; j++) {
			fences[j] = dma_new();
			if (!fences[j])
				break;
		}
		if (j == JOIN)
			array = dma_fence_array_create(JOIN, fences, bench_context, 1);
		if (!array) {
			while (j--)
				dma_fence_put(fences[j]);
			kfree(fences);
			row_failed = true;
			break;
		}
		dma_fence_enable_signaling(&array->base);
		for (j = 0; j < JOIN; j++)
			dma_fence_signal(fences[j]);
		/* As kds's sink, done before the put (it signals from irq_work). */
		dma_fence_wait(&array->base, false);
		dma_fence_put(&array->base);
	}
	return ktime_get_ns() - t;
}

/* ---- fan-out: 1 fence, 1,000 callbacks -------------------------------- */

#define FAN 1000

static void kds_noop_cb(struct kds_fence *f, struct kds_fence_cb *cb)
{
}

static void dma_noop_cb(struct dma_fence *f, struct dma_fence_cb *cb)
{
}

static struct kds_fence_cb *kds_cbs;
static struct dma_fence_cb *dma_cbs;

/* kds: one fence, 1,000 callbacks added, completed, put. */
static u64 kds_fanout(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		struct kds_fence *f = kds_fence_create(GFP_KERNEL);

		if (!f) {
			row_failed = true;
			break;
		}
		for (j = 0; j < FAN; j++)
			kds_fence_add_callback(f, &kds_cbs[j], kds_noop_cb);
		kds_fence_complete(f);
		kds_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* dma_fence: one fence, 1,000 callbacks added, signalled, put. */
static u64 dma_fanout(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		struct dma_fence *f = dma_new();

		if (!f)
			break;
		for (j = 0; j < FAN; j++)
			dma_fence_add_callback(f, &dma_cbs[j], dma_noop_cb);
		dma_fence_signal(f);
		dma_fence_put(f);
	}
	return ktime_get_ns() - t;
}

/* ---- 4 exclusive resources, uncontended ------------------------------ */

#define NRES 4

static struct kds_resource kres[2][NRES];
static DEFINE_WW_CLASS(bench_ww_class);
static struct ww_mutex wwm[2][NRES];

/*
 * Locks @m[0] to @m[n - 1] under @ctx, with the -EDEADLK back-off of
 * Documentation/locking/ww-mutex-design.rst. Any ww_mutex_lock() may
 * return -EDEADLK, uncontended too (CONFIG_DEBUG_WW_MUTEX_SLOWPATH
 * injects it), so every ww_mutex row uses this.
 */
static void ww_lock_all(struct ww_mutex **m, unsigned int n, struct ww_acquire_ctx *ctx)
{
	struct ww_mutex *contended = NULL;
	unsigned int j, k;

retry:
	for (j = 0; j < n; j++) {
		if (m[j] == contended) {
			contended = NULL;
			continue;
		}
		if (ww_mutex_lock(m[j], ctx) == -EDEADLK) {
			for (k = 0; k < j; k++)
				if (m[k] != contended)
					ww_mutex_unlock(m[k]);
			if (contended)
				ww_mutex_unlock(contended);
			contended = m[j];
			ww_mutex_lock_slow(contended, ctx);
			goto retry;
		}
	}
	ww_acquire_done(ctx);
}

/*
 * kds: kds_waitall() of 4 exclusive resources, then release. The kds side
 * includes allocating the set (a handle the driver keeps); ww_mutex
 * allocates nothing.
 */
static u64 kds_res4(unsigned int n)
{
	struct kds_resource *list[NRES];
	unsigned long excl = GENMASK(NRES - 1, 0);
	u64 t;
	unsigned int i;

	for (i = 0; i < NRES; i++)
		list[i] = &kres[0][i];
	t = ktime_get_ns();
	for (i = 0; i < n; i++) {
		struct kds_resource_set *set = kds_waitall(NRES, &excl, list, KDS_WAIT_BLOCKING);

		if (IS_ERR_OR_NULL(set))
			break;
		kds_resource_set_release(&set);
	}
	return ktime_get_ns() - t;
}

/* ww_mutex: ww_acquire_init, lock 4, ww_acquire_done, unlock 4, fini. */
static u64 ww_res4(unsigned int n)
{
	struct ww_mutex *m[NRES];
	struct ww_acquire_ctx ctx;
	unsigned int i, j;
	u64 t;

	for (j = 0; j < NRES; j++)
		m[j] = &wwm[0][j];
	t = ktime_get_ns();
	for (i = 0; i < n; i++) {
		ww_acquire_init(&ctx, &bench_ww_class);
		ww_lock_all(m, NRES, &ctx);
		for (j = 0; j < NRES; j++)
			ww_mutex_unlock(m[j]);
		ww_acquire_fini(&ctx);
	}
	return ktime_get_ns() - t;
}

/* ---- async no-op ----------------------------------------------------- */

static struct kds_async_domain *kdom;
static ASYNC_DOMAIN_EXCLUSIVE(bench_async_domain);

static void kds_noop_work(void *data, u64 cookie)
{
}

static void async_noop_work(void *data, async_cookie_t cookie)
{
}

/* kds: n x kds_async_schedule() of a no-op, then kds_async_synchronize(). */
static u64 kds_async_noop(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		kds_async_schedule(kdom, kds_noop_work, NULL);
	kds_async_synchronize(kdom);
	return ktime_get_ns() - t;
}

/* async.c: n x async_schedule_domain() of a no-op, then synchronize. */
static u64 async_async_noop(unsigned int n)
{
	u64 t = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		async_schedule_domain(async_noop_work, NULL, &bench_async_domain);
	async_synchronize_full_domain(&bench_async_domain);
	return ktime_get_ns() - t;
}

/* ---- a chain of 4,096: per link, against one lifecycle --------------- */

#define CHAIN 4096

/*
 * kds: chains of 4,096 fences (fewer with quick=1), each awaiting the one
 * before and committed; completing the first completes them all; put
 * them. @n links in all: the time per link.
 */
static u64 kds_chain(unsigned int n)
{
	unsigned int len = min_t(unsigned int, n, CHAIN), i, j;
	struct kds_fence **f = kvmalloc_array(len, sizeof(*f), GFP_KERNEL);
	u64 t;

	if (!f) {
		row_failed = true;
		return 0;
	}
	t = ktime_get_ns();
	for (i = 0; i < n / len; i++) {
		for (j = 0; j < len; j++) {
			f[j] = kds_fence_create(GFP_KERNEL);
			if (!f[j]) {
				row_failed = true;
				break;
			}
			if (j)
				kds_fence_await_fence(f[j], f[j - 1], GFP_KERNEL);
			else
				kds_fence_await(f[0]);	/* the chain's event */
			kds_fence_complete(f[j]);	/* commit */
		}
		if (j)
			kds_fence_complete(f[0]);
		while (j--)
			kds_fence_put(f[j]);
	}
	t = ktime_get_ns() - t;
	kvfree(f);
	return t;
}

/* ---- await onto the tail of a 100k chain vs onto a lone fence --------- */

#define LONG_CHAIN 100000

static struct kds_fence **long_chain;
static struct kds_fence *lone;

static u64 await_onto(struct kds_fence *target, unsigned int n)
{
	struct kds_fence **w = kvmalloc_array(n, sizeof(*w), GFP_KERNEL);
	u64 t, dt;
	unsigned int i;

	if (!w) {
		row_failed = true;
		return 0;
	}
	for (i = 0; i < n; i++) {
		w[i] = kds_fence_create(GFP_KERNEL);
		if (!w[i])
			row_failed = true;
	}
	t = ktime_get_ns();
	for (i = 0; i < n; i++)
		if (w[i])
			kds_fence_await_fence(w[i], target, GFP_KERNEL);
	dt = ktime_get_ns() - t;
	for (i = 0; i < n; i++) {
		if (!w[i])
			continue;
		kds_fence_complete(w[i]);
		kds_fence_put(w[i]);	/* still pending: freed with target */
	}
	kvfree(w);
	return dt;
}

static u64 kds_await_tail(unsigned int n)
{
	return await_onto(long_chain[LONG_CHAIN - 1], n);
}

static u64 kds_await_lone(unsigned int n)
{
	return await_onto(lone, n);
}

static int build_long_chain(void)
{
	unsigned int j;

	long_chain = kvmalloc_array(LONG_CHAIN, sizeof(*long_chain), GFP_KERNEL);
	lone = kds_fence_create(GFP_KERNEL);
	if (!long_chain || !lone)
		return -ENOMEM;
	for (j = 0; j < LONG_CHAIN; j++) {
		long_chain[j] = kds_fence_create(GFP_KERNEL);
		if (!long_chain[j])
			return -ENOMEM;
		if (j)
			kds_fence_await_fence(long_chain[j], long_chain[j - 1], GFP_KERNEL);
		else
			kds_fence_await(long_chain[0]);	/* the chain's own event */
		kds_fence_complete(long_chain[j]);	/* commit: pending on its source */
		if (!(j % 4096))
			cond_resched();
	}
	return 0;
}

static void free_long_chain(void)
{
	unsigned int j;

	if (lone) {
		kds_fence_complete(lone);
		kds_fence_put(lone);
	}
	if (!long_chain)
		return;
	if (long_chain[0]) {
		kds_fence_complete(long_chain[0]);
		for (j = 0; j < LONG_CHAIN && long_chain[j]; j++)
			kds_fence_put(long_chain[j]);
	}
	kvfree(long_chain);
	long_chain = NULL;
	lone = NULL;
}

/* ---- threads: cross-CPU wake, pairs on 1 and 2 CPUs, ABBA ------------ */

struct worker {
	struct task_struct *task;
	struct completion go, done;
	u64 (*fn)(struct worker *w);
	unsigned int n, id;
	u64 ns;
};

static int worker_fn(void *data)
{
	struct worker *w = data;

	if (wait_for_completion_interruptible(&w->go))
		return 0;	/* (never: kthreads ignore signals) */
	w->ns = w->fn(w);
	complete(&w->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

/*
 * Runs @fn on @nr CPUs at once (one kthread each, CPUs 0 to nr-1) and
 * returns the wall time until all finished.
 */
static u64 run_threads(u64 (*fn)(struct worker *w), unsigned int nr, unsigned int n)
{
	struct worker w[2];
	u64 t;
	unsigned int i;

	nr = min(nr, 2U);
	for (i = 0; i < nr; i++) {
		unsigned int cpu = cpumask_nth(i % num_online_cpus(), cpu_online_mask);

		w[i] = (struct worker){ .fn = fn, .n = n, .id = i };
		init_completion(&w[i].go);
		init_completion(&w[i].done);
		/* Not woken yet: on failure, the others are stopped unrun. */
		w[i].task = kthread_create_on_cpu(worker_fn, &w[i], cpu, "kds_bench/%u");
		if (IS_ERR(w[i].task)) {
			while (i--)
				kthread_stop(w[i].task);
			row_failed = true;
			return 0;
		}
	}
	for (i = 0; i < nr; i++)
		wake_up_process(w[i].task);
	t = ktime_get_ns();
	for (i = 0; i < nr; i++)
		complete(&w[i].go);
	for (i = 0; i < nr; i++)
		wait_for_completion(&w[i].done);
	t = ktime_get_ns() - t;
	for (i = 0; i < nr; i++)
		kthread_stop(w[i].task);
	return t;
}

/*
 * kds: a pair (a awaits b), complete b, a is done; put both. b awaits no
 * fence, so neither the await nor the completions take kds's global graph
 * lock (Documentation/fences.rst).
 */
static u64 kds_pairs(struct worker *wk)
{
	unsigned int i;

	for (i = 0; i < wk->n; i++) {
		struct kds_fence *a = kds_fence_create(GFP_KERNEL);
		struct kds_fence *b = kds_fence_create(GFP_KERNEL);

		if (a && b) {
			kds_fence_await_fence(a, b, GFP_KERNEL);
			kds_fence_complete(a);
			kds_fence_complete(b);
		}
		if (a)
			kds_fence_put(a);
		if (b)
			kds_fence_put(b);
	}
	return 0;
}

struct dma_pair {
	struct dma_fence_cb cb;
	struct dma_fence *a;
};

/*
 * @a is signalled under @b's lock: give @a a lock class of its own, as
 * dma_fence_array does, or lockdep would see recursion in one class.
 */
static struct lock_class_key dma_pair_key;

static void dma_pair_cb(struct dma_fence *b, struct dma_fence_cb *cb)
{
	dma_fence_signal(container_of(cb, struct dma_pair, cb)->a);
}

/* dma_fence: a pair (b's callback signals a), signal b; put both. */
static u64 dma_pairs(struct worker *wk)
{
	unsigned int i;

	for (i = 0; i < wk->n; i++) {
		struct dma_pair p = { .a = dma_new() };
		struct dma_fence *b = dma_new();

		if (p.a)
			lockdep_set_class(&p.a->inline_lock, &dma_pair_key);
		if (p.a && b) {
			dma_fence_add_callback(b, &p.cb, dma_pair_cb);
			dma_fence_signal(b);
		}
		if (p.a)
			dma_fence_put(p.a);
		if (b)
			dma_fence_put(b);
	}
	return 0;
}

/* kds: each thread its own 4 resources, acquired and released. */
static u64 kds_disjoint_sets(struct worker *wk)
{
	struct kds_resource *list[NRES];
	unsigned long excl = GENMASK(NRES - 1, 0);
	unsigned int i;

	for (i = 0; i < NRES; i++)
		list[i] = &kres[wk->id][i];
	for (i = 0; i < wk->n; i++) {
		struct kds_resource_set *set = kds_waitall(NRES, &excl, list, KDS_WAIT_BLOCKING);

		if (IS_ERR_OR_NULL(set))
			break;
		kds_resource_set_release(&set);
	}
	return 0;
}

/* ww_mutex: each thread its own 4 mutexes. */
static u64 ww_disjoint_sets(struct worker *wk)
{
	struct ww_mutex *m[NRES];
	struct ww_acquire_ctx ctx;
	unsigned int i, j;

	for (j = 0; j < NRES; j++)
		m[j] = &wwm[wk->id][j];
	for (i = 0; i < wk->n; i++) {
		ww_acquire_init(&ctx, &bench_ww_class);
		ww_lock_all(m, NRES, &ctx);
		for (j = 0; j < NRES; j++)
			ww_mutex_unlock(m[j]);
		ww_acquire_fini(&ctx);
	}
	return 0;
}

/*
 * kds: thread 0 takes the 4 shared resources in order, thread 1 reversed.
 * The row's "operation" is one acquisition by each thread (two in all).
 */
static u64 kds_abba(struct worker *wk)
{
	struct kds_resource *list[NRES];
	unsigned long excl = GENMASK(NRES - 1, 0);
	unsigned int i;

	for (i = 0; i < NRES; i++)
		list[i] = &kres[0][wk->id ? NRES - 1 - i : i];
	for (i = 0; i < wk->n; i++) {
		struct kds_resource_set *set = kds_waitall(NRES, &excl, list, KDS_WAIT_BLOCKING);

		if (IS_ERR_OR_NULL(set))
			break;
		kds_resource_set_release(&set);
	}
	return 0;
}

/* ww_mutex: the same, with the -EDEADLK back-off (ww_lock_all()). */
static u64 ww_abba(struct worker *wk)
{
	struct ww_mutex *m[NRES];
	struct ww_acquire_ctx ctx;
	unsigned int i, j;

	for (i = 0; i < NRES; i++)
		m[i] = &wwm[0][wk->id ? NRES - 1 - i : i];
	for (i = 0; i < wk->n; i++) {
		ww_acquire_init(&ctx, &bench_ww_class);
		ww_lock_all(m, NRES, &ctx);
		for (j = 0; j < NRES; j++)
			ww_mutex_unlock(m[j]);
		ww_acquire_fini(&ctx);
	}
	return 0;
}

/*
 * Ping-pong: thread 1 waits for ping[i] and answers pong[i]; 0 pings. The
 * row's "operation" is one round trip: two cross-CPU wake-ups.
 */
static struct kds_fence **ping, **pong;
static struct completion cping, cpong;

static u64 kds_pingpong(struct worker *wk)
{
	unsigned int i;

	for (i = 0; i < wk->n; i++) {
		if (wk->id) {
			kds_fence_wait(ping[i]);
			kds_fence_complete(pong[i]);
		} else {
			kds_fence_complete(ping[i]);
			kds_fence_wait(pong[i]);
		}
	}
	return 0;
}

static u64 completion_pingpong(struct worker *wk)
{
	unsigned int i;

	for (i = 0; i < wk->n; i++) {
		if (wk->id) {
			wait_for_completion(&cping);
			complete(&cpong);
		} else {
			complete(&cping);
			wait_for_completion(&cpong);
		}
	}
	return 0;
}

static unsigned int thread_n;

static u64 kds_pingpong_run(unsigned int n)
{
	unsigned int i;
	u64 t;

	for (i = 0; i < n; i++) {
		ping[i] = kds_fence_create(GFP_KERNEL);
		pong[i] = kds_fence_create(GFP_KERNEL);
		if (!ping[i] || !pong[i]) {
			n = i + 1;
			row_failed = true;
			goto put;
		}
	}
	t = run_threads(kds_pingpong, 2, n);
put:
	for (i = 0; i < n; i++) {
		if (ping[i])
			kds_fence_put(ping[i]);
		if (pong[i])
			kds_fence_put(pong[i]);
	}
	return row_failed ? 0 : t;
}

static u64 completion_pingpong_run(unsigned int n)
{
	init_completion(&cping);
	init_completion(&cpong);
	return run_threads(completion_pingpong, 2, n);
}

static u64 kds_pairs_1(unsigned int n) { return run_threads(kds_pairs, 1, n); }
static u64 dma_pairs_1(unsigned int n) { return run_threads(dma_pairs, 1, n); }
static u64 kds_sets_1(unsigned int n) { return run_threads(kds_disjoint_sets, 1, n); }
static u64 ww_sets_1(unsigned int n) { return run_threads(ww_disjoint_sets, 1, n); }
static u64 kds_abba_2(unsigned int n) { return run_threads(kds_abba, 2, n); }
static u64 ww_abba_2(unsigned int n) { return run_threads(ww_abba, 2, n); }

/*
 * Speed-up of @fn on 2 CPUs over 1 (each thread does @n operations), for
 * kds and its peer; the row's ratio is peer's speed-up over kds's (lower
 * is better, as in every other row).
 */
static void measure_scaling(const char *op, u64 (*kf)(struct worker *w), const char *peer,
			    u64 (*pf)(struct worker *w), unsigned int n, unsigned int goal)
{
	u64 k1[MAX_REPS], p1[MAX_REPS];
	unsigned int r = clamp(reps, 1U, (unsigned int)MAX_REPS), i;
	struct stats ks, ps;
	struct milli m[7];
	u64 ksp, psp, ratio;

	if (num_online_cpus() < 2) {
		pr_info("%-22s skipped: one CPU\n", op);
		return;
	}
	row_failed = false;
	run_threads(kf, 2, max(n / 10, 1U));	/* warm up */
	run_threads(pf, 2, max(n / 10, 1U));
	/* Each repetition's speed-up: 2 x (time on 1) / (time on 2), in 1/1000. */
	for (i = 0; i < r; i++) {
		u64 t1 = run_threads(kf, 1, n), t2 = run_threads(kf, 2, n);

		k1[i] = t2 ? div64_u64(2000 * t1, t2) : 0;
		t1 = run_threads(pf, 1, n);
		t2 = run_threads(pf, 2, n);
		p1[i] = t2 ? div64_u64(2000 * t1, t2) : 0;
	}
	if (row_failed) {
		pr_info("%-22s not reported: a repetition could not do its work\n", op);
		return;
	}
	sort(k1, r, sizeof(u64), cmp_u64, NULL);
	sort(p1, r, sizeof(u64), cmp_u64, NULL);
	ksp = k1[r / 2];
	psp = p1[r / 2];
	ks = (struct stats){ ksp, k1[0], k1[r - 1] };
	ps = (struct stats){ psp, p1[0], p1[r - 1] };
	ratio = ksp ? div64_u64(psp * 1000, ksp) : 0;
	pr_info("%-22s kds speed-up %s [%s-%s]  %-12s %s [%s-%s]  ratio %s\n",
		op, milli(&m[0], ks.med), milli(&m[1], ks.min), milli(&m[2], ks.max), peer,
		milli(&m[3], ps.med), milli(&m[4], ps.min), milli(&m[5], ps.max),
		milli(&m[6], ratio));
	pr_info("csv,%s,%s,speedup,%llu,%llu,%llu,%llu,%llu,%llu,%u,-1,-1\n", op, peer,
		ks.med, ks.min, ks.max, ps.med, ps.min, ps.max, goal);
}

static int __init kds_bench_init(void)
{
	unsigned int i, j, n;
	int ret;

	bench_context = dma_fence_context_alloc(1);
	kds_cbs = kvcalloc(FAN, sizeof(*kds_cbs), GFP_KERNEL);
	dma_cbs = kvcalloc(FAN, sizeof(*dma_cbs), GFP_KERNEL);
	kdom = kds_async_domain_create("kds_bench", 0);
	thread_n = iters(2000);
	ping = kvcalloc(thread_n, sizeof(*ping), GFP_KERNEL);
	pong = kvcalloc(thread_n, sizeof(*pong), GFP_KERNEL);
	kparts = kvcalloc(PARTS, sizeof(*kparts), GFP_KERNEL);
	dparts = kvcalloc(PARTS, sizeof(*dparts), GFP_KERNEL);
	ret = -ENOMEM;
	if (!kds_cbs || !dma_cbs || !kdom || !ping || !pong || !kparts || !dparts)
		goto out;
	for (i = 0; i < 2; i++)
		for (j = 0; j < NRES; j++) {
			kds_resource_init(&kres[i][j]);
			ww_mutex_init(&wwm[i][j], &bench_ww_class);
		}

#ifdef CONFIG_TRACEPOINTS
	for_each_kernel_tracepoint(find_tracepoint, NULL);
#endif
	pr_info("start: %u CPUs, %u repetitions%s; per operation: median [min-max]\n",
		num_online_cpus(), clamp(reps, 1U, (unsigned int)MAX_REPS),
		quick ? ", quick" : "");
	measure("lifecycle", kds_lifecycle, "dma_fence", dma_lifecycle, iters(20000), 800);
	measure("create_put", kds_create_put, "dma_fence", dma_create_put, iters(20000), 0);
	measure("signal", kds_signal, "dma_fence_signal", dma_signal, iters(PARTS), 0);
	measure("join64", kds_join, "dma_fence_array", dma_join, iters(400), 700);
	measure("join64_link", kds_join_link, "dma_fence_array", dma_join, iters(400), 700);
	measure("fanout1000", kds_fanout, "dma_fence", dma_fanout, iters(100), 1000);
	measure("res4_uncontended", kds_res4, "ww_mutex", ww_res4, iters(20000), 1000);
	measure("async_noop", kds_async_noop, "async_schedule", async_async_noop, iters(4000),
		1200);
	measure("chain4096_per_link", kds_chain, "kds lifecycle", kds_lifecycle, iters(8192), 0);
	measure("xcpu_wake", kds_pingpong_run, "completion", completion_pingpong_run,
		thread_n, 1100);
	n = iters(5000);
	measure("res4_abba_2threads", kds_abba_2, "ww_mutex", ww_abba_2, n, 1000);
	measure("pairs_1cpu", kds_pairs_1, "dma_fence", dma_pairs_1, iters(20000), 0);
	measure_scaling("pairs_scaling_2cpu", kds_pairs, "dma_fence", dma_pairs, iters(20000),
			1000);
	measure("sets_1cpu", kds_sets_1, "ww_mutex", ww_sets_1, iters(20000), 0);
	measure_scaling("sets_scaling_2cpu", kds_disjoint_sets, "ww_mutex", ww_disjoint_sets,
			iters(20000), 1000);
	ret = build_long_chain();
	if (!ret)
		measure("await_tail_100k", kds_await_tail, "kds lone await", kds_await_lone,
			iters(2000), 2000);
	free_long_chain();
	measure_unit("alloc_free_192", unit_alloc_free, iters(20000));
	measure_unit("atomic_rmw", unit_atomic, iters(100000));
	measure_unit("raw_lock_irqsave", unit_irqsave_lock, iters(100000));
	measure_unit("instruction", unit_instruction, iters(20000));
	pr_info("end\n");

	for (i = 0; i < 2; i++)
		for (j = 0; j < NRES; j++)
			WARN_ON(kds_resource_term(&kres[i][j]));
out:
	if (kdom)
		kds_async_domain_destroy(kdom);
	kvfree(ping);
	kvfree(pong);
	kvfree(kparts);
	kvfree(dparts);
	kvfree(kds_cbs);
	kvfree(dma_cbs);
	return ret;
}

/* Everything ran at load time; this only lets the module be unloaded. */
static void __exit kds_bench_exit(void)
{
}

module_init(kds_bench_init);
module_exit(kds_bench_exit);

MODULE_DESCRIPTION("kds_bench: kds against dma_fence, ww_mutex, async and completion");
MODULE_AUTHOR("The kds authors");
MODULE_LICENSE("GPL");
