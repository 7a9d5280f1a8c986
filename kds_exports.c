// SPDX-License-Identifier: GPL-2.0
/*
 * kds - the C side of kds.ko.
 *
 * The Rust core implements the API declared in include/kds.h as
 * #[no_mangle] extern "C" functions; this file exports them to other
 * modules (EXPORT_SYMBOL_GPL can only be used from C), checks at load time
 * that the Rust core and the header agree, and holds the few C helpers the
 * Rust core needs for static inline kernel functions and macros.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <linux/export.h>
#include <linux/module.h>
#include <linux/printk.h>

#include <kds.h>

#include "kds_internal.h"

EXPORT_SYMBOL_GPL(kds_version);
EXPORT_SYMBOL_GPL(kds_version_string);

/**
 * kds_c_init() - Load-time checks of the C ABI; called by the Rust module init.
 *
 * Return: 0, or -EINVAL when the Rust core was built against another header.
 */
int kds_c_init(void)
{
	if (kds_version() != KDS_VERSION_CODE) {
		pr_err("kds: Rust core is version %#x, include/kds.h says %#x\n",
		       kds_version(), KDS_VERSION_CODE);
		return -EINVAL;
	}
	return 0;
}
