// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the hrtimer time source of kds fences.
 *
 * Correctness ("never early") is asserted; how late timers fire depends on
 * the machine (and on TCG, a lot), so it is only reported.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>

#include <kds.h>

#include "test_util.h"

static ktime_t now_on(clockid_t clock)
{
	switch (clock) {
	case CLOCK_BOOTTIME:
		return ktime_get_boottime();
	case CLOCK_REALTIME:
		return ktime_get_real();
	case CLOCK_TAI:
		return ktime_get_clocktai();
	default:
		return ktime_get();
	}
}

struct timed {
	struct kds_fence_cb cb;
	clockid_t clock;
	ktime_t at;
};

static void timed_cb(struct kds_fence *f, struct kds_fence_cb *cb)
{
	struct timed *t = container_of(cb, struct timed, cb);

	t->at = now_on(t->clock);
}

/*
 * Awaits a timer @delay_ns from now on @clock (absolute or relative), and
 * returns how late the fence completed, in ns; fails the test if it
 * completed early.
 */
static s64 await_timer(struct kunit *test, clockid_t clock, bool absolute, s64 delay_ns,
		       u64 slack_ns)
{
	struct kds_fence *f = kds_test_fence(test);
	struct timed t = { .clock = clock };
	ktime_t start = now_on(clock);
	ktime_t deadline = ktime_add_ns(start, delay_ns);
	ktime_t expires = absolute ? deadline : ns_to_ktime(delay_ns);
	enum hrtimer_mode mode = absolute ? HRTIMER_MODE_ABS : HRTIMER_MODE_REL;
	int ret;

	ret = kds_fence_await_hrtimer(f, expires, clock, mode, slack_ns, GFP_KERNEL);
	if (ret == 0) {
		/* Only an absolute expiry that has passed adds nothing. */
		KUNIT_EXPECT_TRUE(test, absolute);
		KUNIT_EXPECT_GE(test, ktime_to_ns(now_on(clock)), ktime_to_ns(deadline));
	} else {
		KUNIT_EXPECT_EQ(test, ret, 1);
	}
	KUNIT_EXPECT_EQ(test, kds_fence_add_callback(f, &t.cb, timed_cb), 0);
	kds_fence_complete(f);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(f, false, 10 * HZ), 0L);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), 1);
	KUNIT_EXPECT_GE_MSG(test, ktime_to_ns(t.at), ktime_to_ns(deadline),
			    "clock %d %s %lld ns: fired %lld ns early", clock,
			    absolute ? "abs" : "rel", delay_ns,
			    ktime_to_ns(ktime_sub(deadline, t.at)));
	return ktime_to_ns(ktime_sub(t.at, deadline));
}

static void timer_relative_and_absolute(struct kunit *test)
{
	await_timer(test, CLOCK_MONOTONIC, false, 2 * NSEC_PER_MSEC, 0);
	await_timer(test, CLOCK_MONOTONIC, true, 2 * NSEC_PER_MSEC, 0);
}

static void timer_every_clock(struct kunit *test)
{
	static const clockid_t clocks[] = {
		CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME, CLOCK_TAI,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(clocks); i++) {
		await_timer(test, clocks[i], false, NSEC_PER_MSEC, 0);
		await_timer(test, clocks[i], true, NSEC_PER_MSEC, 0);
	}
}

/* Prime delays up to 5 ms: never early; the worst lateness is reported. */
static void timer_sweep_never_early(struct kunit *test)
{
	static const unsigned int primes_us[] = {
		2, 3, 5, 7, 11, 13, 31, 61, 101, 211, 307, 401, 503, 601, 701,
		809, 907, 1009, 1511, 2003, 2503, 3001, 3511, 4001, 4507, 4999,
	};
	s64 late, worst = 0, sum = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(primes_us); i++) {
		late = await_timer(test, CLOCK_MONOTONIC, i % 2, primes_us[i] * NSEC_PER_USEC, 0);
		worst = max(worst, late);
		sum += late;
	}
	kunit_info(test, "%zu delays: latest by %lld us, on average %lld us\n",
		   ARRAY_SIZE(primes_us), worst / NSEC_PER_USEC,
		   sum / (s64)ARRAY_SIZE(primes_us) / NSEC_PER_USEC);
}

static void timer_slack(struct kunit *test)
{
	s64 late = await_timer(test, CLOCK_MONOTONIC, false, NSEC_PER_MSEC, 2 * NSEC_PER_MSEC);

	kunit_info(test, "1 ms with 2 ms of slack: %lld us late\n", late / NSEC_PER_USEC);
}

#define MANY 64

static void timer_many_at_once(struct kunit *test)
{
	struct kds_fence *all = kds_test_fence(test), **f;
	struct timed *t;
	/* Far enough ahead that none has normally passed before all are armed. */
	ktime_t start = ktime_add_ms(ktime_get(), 500);
	int i, early = 0;

	f = kunit_kcalloc(test, MANY, sizeof(*f), GFP_KERNEL);
	t = kunit_kcalloc(test, MANY, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_NOT_NULL(test, t);
	for (i = 0; i < MANY; i++) {
		/* Interleaved expiries, 100 us apart, in no particular order. */
		ktime_t at = ktime_add_us(start, 100 * ((i * 37) % MANY + 1));

		int ret;

		f[i] = kds_test_fence(test);
		t[i].clock = CLOCK_MONOTONIC;
		ret = kds_fence_await_hrtimer(f[i], at, CLOCK_MONOTONIC, HRTIMER_MODE_ABS, 0,
					      GFP_KERNEL);
		/* 0 only if, on a very slow machine, `at` has passed already. */
		KUNIT_ASSERT_TRUE(test, ret == 1 || (ret == 0 && !ktime_before(ktime_get(), at)));
		KUNIT_ASSERT_EQ(test, kds_fence_add_callback(f[i], &t[i].cb, timed_cb), 0);
		KUNIT_ASSERT_EQ(test, kds_fence_await_fence(all, f[i], GFP_KERNEL), 1);
		kds_fence_complete(f[i]);
	}
	kds_fence_complete(all);
	KUNIT_EXPECT_GT(test, kds_fence_wait_timeout(all, false, 10 * HZ), 0L);
	for (i = 0; i < MANY; i++)
		early += ktime_before(t[i].at, ktime_add_us(start, 100 * ((i * 37) % MANY + 1)));
	KUNIT_EXPECT_EQ(test, early, 0);
}

/* Released before it expires: the timer is cancelled and nothing leaks. */
static void timer_released_before_expiry(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(f, ns_to_ktime(60 * NSEC_PER_SEC),
							      CLOCK_MONOTONIC, HRTIMER_MODE_REL,
							      0, GFP_KERNEL), 1);
	kds_fence_complete(f);
	kds_fence_put(f);
	/* kmemleak and the module unload at the end of the run check the rest. */
}

static void timer_bad_arguments(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);

	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(f, 1000, CLOCK_PROCESS_CPUTIME_ID,
							      HRTIMER_MODE_REL, 0, GFP_KERNEL),
				-EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_await_hrtimer(NULL, 1000, CLOCK_MONOTONIC,
							      HRTIMER_MODE_REL, 0, GFP_KERNEL),
				-EINVAL);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 2);
	}
	kds_fence_complete(f);
}

static struct kunit_case kds_timer_cases[] = {
	KUNIT_CASE(timer_relative_and_absolute),
	KUNIT_CASE(timer_every_clock),
	KUNIT_CASE(timer_sweep_never_early),
	KUNIT_CASE(timer_slack),
	KUNIT_CASE(timer_many_at_once),
	KUNIT_CASE(timer_released_before_expiry),
	KUNIT_CASE(timer_bad_arguments),
	{}
};

static struct kunit_suite kds_timer_suite = {
	.name = "kds_timer",
	.test_cases = kds_timer_cases,
};

kunit_test_suites(&kds_timer_suite);
