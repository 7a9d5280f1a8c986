/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How long the stress cases of kds_test.ko run on each kernel flavour.
 *
 * A stress case's round count is the one for kernels without KASAN (the
 * prod and rt flavours), where a round costs microseconds. Under KASAN,
 * lockdep and kmemleak in a TCG guest (the debug flavour) a round costs
 * 10 to 30 times more, so the case runs a fifth of the rounds there:
 * enough for KASAN and lockdep to see every path many times, while the
 * full count searches for the race itself on the faster kernels.
 *
 * Copyright (C) 2026 The kds authors
 */
#ifndef KDS_TEST_SCALE_H
#define KDS_TEST_SCALE_H

#include <linux/kconfig.h>
#include <linux/minmax.h>

static inline int kds_test_rounds(int rounds)
{
	return IS_ENABLED(CONFIG_KASAN) ? max(rounds / 5, 1) : rounds;
}

/*
 * On PREEMPT_RT, completing, putting or releasing may free memory, and the
 * allocator's locks sleep there: not from a non-threaded hard IRQ (as
 * dma_fence_signal() is not). Cases that do it from a hard hrtimer skip.
 */
#define KDS_RT_HARDIRQ_SKIP "PREEMPT_RT: kds may free memory, which hard IRQ context may not"

#endif /* KDS_TEST_SCALE_H */
