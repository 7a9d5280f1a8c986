/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - kernel dependency primitives: fences, resource sets, async domains.
 *
 * The C API of kds.ko. Link against it by building your module with
 * KBUILD_EXTRA_SYMBOLS pointing at kds's Module.symvers (see README.md).
 *
 * Copyright (C) 2026 The kds authors
 */
#ifndef _KDS_H
#define _KDS_H

#include <linux/types.h>

/**
 * DOC: versioning
 *
 * kds follows the kernel's KERNEL_VERSION() scheme. KDS_VERSION_CODE is the
 * version of the header a driver was built against; kds_version() is the
 * version of the loaded kds.ko. kds.ko refuses to load when the Rust core
 * and its own C glue disagree, and a driver can refuse to probe when the
 * module it found is older than the header it was built against::
 *
 *	if (kds_version() < KDS_VERSION_CODE)
 *		return -ENODEV;
 */
#define KDS_VERSION(a, b, c)	(((a) << 16) + ((b) << 8) + (c))
#define KDS_VERSION_MAJOR	0
#define KDS_VERSION_MINOR	1
#define KDS_VERSION_PATCH	0
#define KDS_VERSION_CODE \
	KDS_VERSION(KDS_VERSION_MAJOR, KDS_VERSION_MINOR, KDS_VERSION_PATCH)

/**
 * kds_version() - Version of the loaded kds module.
 *
 * Context: Any context.
 * Return: The version as KDS_VERSION(major, minor, patch).
 */
u32 kds_version(void);

/**
 * kds_version_string() - Version of the loaded kds module, as text.
 *
 * Context: Any context.
 * Return: A static NUL-terminated string such as "0.1.0"; never NULL.
 */
const char *kds_version_string(void);

#endif /* _KDS_H */
