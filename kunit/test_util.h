/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers and checks the C suites of kds_test.ko share.
 *
 * Copyright (C) 2026 The kds authors
 */
#ifndef KDS_TEST_UTIL_H
#define KDS_TEST_UTIL_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/dma-fence.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <kds.h>

/* kunit_add_action() form of kds_fence_put(). */
static inline void kds_test_fence_put_action(void *f)
{
	kds_fence_put(f);
}

/* A new pending fence, whose reference is put when the test ends, however it ends. */
static inline struct kds_fence *kds_test_fence(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kds_test_fence_put_action, f), 0);
	return f;
}

/* A bounded class, for fences that are exported (one per test file). */
static DEFINE_KDS_FENCE_CLASS(kds_test_bounded, KDS_CLASS_BOUNDED);

/* A new pending fence of the bounded class kds_test_bounded, put when the test ends. */
static inline struct kds_fence *kds_test_bounded_fence(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create_class(&kds_test_bounded, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kds_test_fence_put_action, f), 0);
	return f;
}

/* A grant callback that does nothing. */
static inline void kds_test_nop_grant(void *param, void *extra)
{
}

/* A reference to @f of the test's own, put when the test ends. */
static inline struct kds_fence *kds_test_hold(struct kunit *test, struct kds_fence *f)
{
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kds_test_fence_put_action, f), 0);
	return f;
}

/*
 * @f is a fence kds completes itself (a resource set's or a work item's),
 * still pending: users' get/put pairs do not affect it, and every call
 * that would add an event or an error to it is refused, warns, and
 * changes nothing.
 */
static inline void kds_expect_kds_owned_fence(struct kunit *test, struct kds_fence *f)
{
	struct kds_fence *other = kds_fence_create(GFP_KERNEL);
	struct dma_fence *stub = dma_fence_get_stub();
	struct completion c;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, other);
	init_completion(&c);
	for (i = 0; i < 4; i++)
		kds_fence_put(kds_fence_get(f));
	kunit_warning_suppress(test) {
		kds_fence_await(f);
		kds_fence_complete(f);
		kds_fence_set_error(f, -EIO);
		KUNIT_EXPECT_EQ(test, kds_fence_await_fence(f, other, GFP_KERNEL), -EPERM);
		KUNIT_EXPECT_EQ(test, kds_fence_await_completion(f, &c, GFP_KERNEL), -EPERM);
		KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(f, ms_to_ktime(1), CLOCK_MONOTONIC,
							      HRTIMER_MODE_REL, 0, GFP_KERNEL),
				-EPERM);
		KUNIT_EXPECT_EQ(test, kds_fence_await_dma_fence(f, stub, 0, GFP_KERNEL), -EPERM);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 7);
	}
	KUNIT_EXPECT_FALSE(test, kds_fence_done(f));
	dma_fence_put(stub);
	kds_fence_complete(other);
	kds_fence_put(other);
}

/*
 * Counts the slab allocations that kds.ko makes in this task between
 * kds_test_allocs_begin() and kds_test_allocs_end() (in ->count), through
 * the kmalloc and kmem_cache_alloc tracepoints. Only allocations whose call
 * site is in kds.ko count: debugging code allocates on the task's behalf
 * too (kmemleak's objects, debugobjects' pool), which is not kds's cost.
 * (Rust's allocations reach kmalloc through krealloc, whose caller, the
 * call site, is kds's code.) begin() returns -ENOENT where the tracepoints
 * cannot be attached; end() is then a no-op.
 */
struct kds_test_allocs {
	struct task_struct *task;
	bool attached;
	atomic_t n;
	int count;
};

#ifdef CONFIG_TRACEPOINTS
#include <linux/kallsyms.h>
#include <trace/events/kmem.h>

static void kds_test_count_alloc(struct kds_test_allocs *a, unsigned long call_site,
				 const void *ptr)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t len;

	if (!ptr || !in_task() || current != READ_ONCE(a->task))
		return;
	len = sprint_symbol(sym, call_site);
	if (len >= 6 && !strcmp(sym + len - 6, " [kds]"))
		atomic_inc(&a->n);
}

static void kds_test_count_kmalloc(void *data, unsigned long call_site, const void *ptr,
				   size_t bytes_req, size_t bytes_alloc, gfp_t gfp, int node)
{
	kds_test_count_alloc(data, call_site, ptr);
}

static void kds_test_count_cache_alloc(void *data, unsigned long call_site, const void *ptr,
				       struct kmem_cache *s, gfp_t gfp, int node)
{
	kds_test_count_alloc(data, call_site, ptr);
}

static inline int kds_test_allocs_begin(struct kds_test_allocs *a)
{
	memset(a, 0, sizeof(*a));
	if (register_trace_kmalloc(kds_test_count_kmalloc, a))
		return -ENOENT;
	if (register_trace_kmem_cache_alloc(kds_test_count_cache_alloc, a)) {
		unregister_trace_kmalloc(kds_test_count_kmalloc, a);
		tracepoint_synchronize_unregister();
		return -ENOENT;
	}
	a->attached = true;
	/* Count from here: registering allocates too. */
	WRITE_ONCE(a->task, current);
	return 0;
}

static inline void kds_test_allocs_end(struct kds_test_allocs *a)
{
	if (!a->attached)
		return;
	/* Up to here: unregistering allocates too. */
	WRITE_ONCE(a->task, NULL);
	a->count = atomic_read(&a->n);
	unregister_trace_kmem_cache_alloc(kds_test_count_cache_alloc, a);
	unregister_trace_kmalloc(kds_test_count_kmalloc, a);
	tracepoint_synchronize_unregister();
	a->attached = false;
}
#else
static inline int kds_test_allocs_begin(struct kds_test_allocs *a)
{
	memset(a, 0, sizeof(*a));
	return -ENOENT;
}

static inline void kds_test_allocs_end(struct kds_test_allocs *a)
{
}
#endif

#ifdef CONFIG_FAILSLAB
/*
 * Makes every slab allocation of this task fail (failslab, which the
 * guest's init sets up for tasks that ask), or skips the test where that
 * is not set up. Clear current->make_it_fail to end it.
 */
static inline void kds_test_fail_allocations(struct kunit *test)
{
	void *probe;

	current->make_it_fail = true;
	probe = kmalloc(16, GFP_KERNEL);
	if (probe) {
		current->make_it_fail = false;
		kfree(probe);
		kunit_skip(test, "failslab is not set up for this task");
	}
}
#endif

#endif /* KDS_TEST_UTIL_H */
