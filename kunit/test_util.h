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
