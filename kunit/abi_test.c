// SPDX-License-Identifier: GPL-2.0
/*
 * kds_test - KUnit tests that drive kds.ko through its exported C API, the
 * way a driver does: this module is built on its own against kds's
 * Module.symvers (KBUILD_EXTRA_SYMBOLS), exactly like an out-of-tree driver.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include <kds.h>

static void kds_test_version_matches_header(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kds_version(), (u32)KDS_VERSION_CODE);
}

static void kds_test_version_string(struct kunit *test)
{
	char expect[16];

	snprintf(expect, sizeof(expect), "%d.%d.%d", KDS_VERSION_MAJOR,
		 KDS_VERSION_MINOR, KDS_VERSION_PATCH);
	KUNIT_ASSERT_NOT_NULL(test, kds_version_string());
	KUNIT_EXPECT_STREQ(test, kds_version_string(), expect);
}

static struct kunit_case kds_abi_cases[] = {
	KUNIT_CASE(kds_test_version_matches_header),
	KUNIT_CASE(kds_test_version_string),
	{}
};

static struct kunit_suite kds_abi_suite = {
	.name = "kds_abi",
	.test_cases = kds_abi_cases,
};

kunit_test_suites(&kds_abi_suite);

MODULE_DESCRIPTION("KUnit tests of kds's C API");
MODULE_LICENSE("GPL");
