// SPDX-License-Identifier: GPL-2.0
/*
 * kds - fence classes and their lockdep annotations.
 *
 * kds's default classes and __kds_fence_class_init(). A class's map is
 * used as dma_fence_lockdep_map is in drivers/dma-buf/dma-fence.c: a wait
 * acquires it, a signalling section holds it as a read trylock (the
 * calls are in kds_wrappers.c, for rust/sys/lockdep.rs).
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/export.h>
#include <linux/lockdep.h>

#include <kds.h>

#include "kds_internal.h"

/* kds_fence_create()'s, resource sets' and async domains' classes. */
static DEFINE_KDS_FENCE_CLASS(kds_fence, 0);
static DEFINE_KDS_FENCE_CLASS(kds_resource_set, 0);
static DEFINE_KDS_FENCE_CLASS(kds_async, 0);

void __kds_fence_class_init(struct kds_fence_class *cls, const char *name,
			    unsigned int flags, struct lock_class_key *key)
{
	cls->name = name;
	cls->flags = flags;
	lockdep_init_map(&cls->map, name, key, 0);
}
EXPORT_SYMBOL_GPL(__kds_fence_class_init);

/**
 * kds_default_class() - One of kds's own classes.
 * @which: 0 for "kds_fence", 1 for "kds_resource_set", 2 for "kds_async".
 *
 * Return: the class; valid while kds.ko is loaded.
 */
struct kds_fence_class *kds_default_class(unsigned int which)
{
	switch (which) {
	case 1:
		return &kds_resource_set;
	case 2:
		return &kds_async;
	default:
		return &kds_fence;
	}
}
