// SPDX-License-Identifier: GPL-2.0
/*
 * kds - exports and load-time checks.
 *
 * The Rust crate (rust/) implements most of the API declared in
 * include/kds.h as #[no_mangle] extern "C" functions; this file exports
 * them to other modules (EXPORT_SYMBOL_GPL can only be used from C), checks
 * at load time that the Rust crate and the header agree, sets up the other
 * C files, and holds the live-objects parameter and the misuse warnings.
 *
 * The other C files: kds_wrappers.c (static inline kernel functions for
 * the Rust abstractions in rust/sys/), kds_dma_export.c (kds fences as
 * dma_fences) and kds_sleepers.c (workers that sleep for kds: completion
 * waits, drivers' callback workqueues).
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/rcupdate.h>
#include <linux/sprintf.h>
#include <linux/stdarg.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include <kds.h>

#include "kds_internal.h"

/*
 * The functions of include/kds.h that the Rust crate defines (rust/capi/).
 * The ones defined in C are exported where they are defined:
 * kds_fence_export_dma_fence() in kds_dma_export.c, and
 * kds_fence_await_completion(), kds_callback_init(),
 * kds_callback_init_class() and kds_callback_term() in kds_sleepers.c,
 * and __kds_fence_class_init() in kds_classes.c.
 */
EXPORT_SYMBOL_GPL(kds_version);
EXPORT_SYMBOL_GPL(kds_version_string);

EXPORT_SYMBOL_GPL(kds_fence_blame);
EXPORT_SYMBOL_GPL(kds_fence_begin_signalling);
EXPORT_SYMBOL_GPL(kds_fence_end_signalling);
EXPORT_SYMBOL_GPL(kds_fence_get);
EXPORT_SYMBOL_GPL(kds_fence_put);
EXPORT_SYMBOL_GPL(kds_fence_await);
EXPORT_SYMBOL_GPL(kds_fence_complete);
EXPORT_SYMBOL_GPL(kds_fence_await_fence);
EXPORT_SYMBOL_GPL(kds_fence_await_fence_link);
EXPORT_SYMBOL_GPL(kds_fence_set_error);
EXPORT_SYMBOL_GPL(kds_fence_get_status);
EXPORT_SYMBOL_GPL(kds_fence_done);
EXPORT_SYMBOL_GPL(kds_fence_add_callback);
EXPORT_SYMBOL_GPL(kds_fence_remove_callback);
EXPORT_SYMBOL_GPL(kds_fence_await_hrtimer);
EXPORT_SYMBOL_GPL(kds_fence_await_dma_fence);
EXPORT_SYMBOL_GPL(kds_fence_await_dma_resv);
EXPORT_SYMBOL_GPL(kds_fence_wait_timeout);
EXPORT_SYMBOL_GPL(kds_fence_wait);

EXPORT_SYMBOL_GPL(kds_resource_term);
EXPORT_SYMBOL_GPL(kds_async_waitall);
EXPORT_SYMBOL_GPL(kds_resource_set_fence);
EXPORT_SYMBOL_GPL(kds_resource_set_release);
EXPORT_SYMBOL_GPL(kds_resource_set_release_sync);

EXPORT_SYMBOL_GPL(kds_async_domain_create);
EXPORT_SYMBOL_GPL(kds_async_domain_create_class);
EXPORT_SYMBOL_GPL(kds_async_domain_destroy);
EXPORT_SYMBOL_GPL(kds_async_work_create);
EXPORT_SYMBOL_GPL(kds_async_work_create_class);
EXPORT_SYMBOL_GPL(kds_async_work_after);
EXPORT_SYMBOL_GPL(kds_async_work_before);
EXPORT_SYMBOL_GPL(kds_async_work_fence);
EXPORT_SYMBOL_GPL(kds_async_queue);
EXPORT_SYMBOL_GPL(kds_async_work_put);
EXPORT_SYMBOL_GPL(kds_async_schedule);
EXPORT_SYMBOL_GPL(kds_async_barrier);
EXPORT_SYMBOL_GPL(kds_async_synchronize);
EXPORT_SYMBOL_GPL(kds_async_synchronize_cookie);
EXPORT_SYMBOL_GPL(kds_async_graph_create);
EXPORT_SYMBOL_GPL(kds_async_graph_add);
EXPORT_SYMBOL_GPL(kds_async_graph_run);
EXPORT_SYMBOL_GPL(kds_async_graph_destroy);

/* rust/fence/link.rs asserts the same three words for its RawLink. */
static_assert(sizeof(struct kds_fence_link) == 3 * sizeof(void *));

/**
 * kds_c_init() - Load-time checks of the C ABI; called by the Rust module init.
 *
 * Return: 0, -EINVAL when the Rust core was built against another header,
 * -ENOMEM.
 */
int kds_c_init(void)
{
	static const size_t cb_layout[] = {
		sizeof(struct kds_fence_cb),
		offsetof(struct kds_fence_cb, node),
		offsetof(struct kds_fence_cb, func),
	};
	int ret;

	if (kds_version() != KDS_VERSION_CODE) {
		pr_err("Rust core is version %#x, include/kds.h says %#x\n",
		       kds_version(), KDS_VERSION_CODE);
		return -EINVAL;
	}
	static const size_t callback_layout[] = {
		sizeof(struct kds_callback),
		offsetof(struct kds_callback, user_cb),
		offsetof(struct kds_callback, direct),
		offsetof(struct kds_callback, wq),
		offsetof(struct kds_callback, inflight),
		offsetof(struct kds_callback, cls),
	};
	static const size_t class_layout[] = {
		sizeof(struct kds_fence_class),
		offsetof(struct kds_fence_class, map),
	};
	static const size_t signalling_layout[] = {
		sizeof(struct kds_signalling),
		offsetof(struct kds_signalling, n),
		offsetof(struct kds_signalling, dma),
	};

	if (memcmp(cb_layout, kds_rust_fence_cb_layout, sizeof(cb_layout))) {
		pr_err("struct kds_fence_cb differs between C and Rust\n");
		return -EINVAL;
	}
	if (memcmp(callback_layout, kds_rust_callback_layout, sizeof(callback_layout))) {
		pr_err("struct kds_callback differs between C and Rust\n");
		return -EINVAL;
	}
	if (memcmp(class_layout, kds_rust_class_layout, sizeof(class_layout))) {
		pr_err("struct kds_fence_class differs between C and Rust\n");
		return -EINVAL;
	}
	if (memcmp(signalling_layout, kds_rust_signalling_layout, sizeof(signalling_layout))) {
		pr_err("struct kds_signalling differs between C and Rust\n");
		return -EINVAL;
	}
	if (kds_rust_resource_layout[0] > sizeof(struct kds_resource) ||
	    kds_rust_resource_layout[1] > __alignof__(struct kds_resource)) {
		pr_err("struct kds_resource is too small for the Rust core\n");
		return -EINVAL;
	}
	if (kds_rust_set_inline_links != KDS_SET_INLINE_RESOURCES) {
		pr_err("KDS_SET_INLINE_RESOURCES differs between C and Rust\n");
		return -EINVAL;
	}
	ret = kds_queues_init();
	if (ret)
		return ret;
	ret = kds_sleepers_init();
	if (ret)
		kds_queues_exit();
	return ret;
}

/**
 * kds_c_exit() - Undo kds_c_init(); called by the Rust module exit.
 */
void kds_c_exit(void)
{
	kds_sleepers_exit();
	kds_queues_exit();
	/*
	 * Signalled exported dma_fences drop their ops, but a reader may still
	 * be inside one of ours under rcu_read_lock() (see
	 * dma_fence_driver_name()); and kds's own callbacks run with
	 * interrupts off. Let them all finish before the module text goes.
	 */
	synchronize_rcu();
}

/*
 * The parameter's file exists before module init has run and after module
 * exit has begun; the counts may only be read in between.
 */
static DEFINE_MUTEX(kds_live_lock);
static bool kds_live_ready;	/* protected by kds_live_lock */

/**
 * kds_live_enable() - Let /sys/module/kds/parameters/live read the counts.
 * @on: true at the end of module init, false at the start of module exit.
 */
void kds_live_enable(bool on)
{
	mutex_lock(&kds_live_lock);
	kds_live_ready = on;
	mutex_unlock(&kds_live_lock);
}

static int kds_live_get(char *buf, const struct kernel_param *kp)
{
	s64 n[3];
	int ret;

	mutex_lock(&kds_live_lock);
	if (kds_live_ready) {
		kds_live_counts(n);
		ret = sysfs_emit(buf, "fences=%lld graph_nodes=%lld graph_edges=%lld\n",
				 n[0], n[1], n[2]);
	} else {
		ret = sysfs_emit(buf, "unavailable\n");
	}
	mutex_unlock(&kds_live_lock);
	return ret;
}

static const struct kernel_param_ops kds_live_ops = {
	.get = kds_live_get,
};

/*
 * /sys/module/kds/parameters/live: what kds holds now. Every resource set,
 * work item and domain holds fences, so once nothing uses kds all three
 * are 0 (the default async domain's own fences are not counted); make
 * check and make torture check that before unloading kds. The fence count
 * is a sum of per-CPU counts: exact when kds is idle, approximate (even
 * below 0) while fences are created and freed on several CPUs.
 */
module_param_cb(live, &kds_live_ops, NULL, 0444);
MODULE_PARM_DESC(live, "objects kds holds now: fences, graph nodes and edges (read-only)");

/**
 * kds_misuse() - Warn, once per kind, that a caller misused the API.
 * @kind: an &enum kds_misuse.
 * @func: the API function that was misused.
 *
 * Each kind has its own WARN_ONCE(), so one misuse does not hide another;
 * KUnit tests that provoke misuse on purpose suppress and count these.
 */
void kds_misuse(unsigned int kind, const char *func)
{
	switch (kind) {
	case KDS_MISUSE_NULL:
		WARN_ONCE(1, "kds: %s: NULL argument\n", func);
		break;
	case KDS_MISUSE_BAD_OBJECT:
		WARN_ONCE(1, "kds: %s: not a live kds object\n", func);
		break;
	case KDS_MISUSE_AWAIT_DONE:
		WARN_ONCE(1, "kds: %s: the fence is already done\n", func);
		break;
	case KDS_MISUSE_OVER_COMPLETE:
		WARN_ONCE(1, "kds: %s: more events completed than awaited\n", func);
		break;
	case KDS_MISUSE_BAD_ERROR:
		WARN_ONCE(1, "kds: %s: not a negative errno\n", func);
		break;
	case KDS_MISUSE_ERROR_AFTER_DONE:
		WARN_ONCE(1, "kds: %s: error set on a fence that is done\n", func);
		break;
	case KDS_MISUSE_RELEASED_PENDING:
		WARN_ONCE(1, "kds: %s: last reference to a pending fence that has waiters\n",
			  func);
		break;
	case KDS_MISUSE_NO_CALLBACK:
		WARN_ONCE(1, "kds: %s: no callback function\n", func);
		break;
	case KDS_MISUSE_BAD_ARGUMENT:
		WARN_ONCE(1, "kds: %s: invalid argument\n", func);
		break;
	case KDS_MISUSE_DUPLICATE:
		WARN_ONCE(1, "kds: %s: the same resource twice in one set\n", func);
		break;
	case KDS_MISUSE_REQUEUE:
		WARN_ONCE(1, "kds: %s: the work item is queued already\n", func);
		break;
	case KDS_MISUSE_INTERNAL:
		WARN_ONCE(1, "kds: %s: kds completes this fence itself (a resource set's or a work item's)\n",
			  func);
		break;
	case KDS_MISUSE_BUSY:
		WARN_ONCE(1, "kds: %s: resource sets still use it\n", func);
		break;
	default:
		WARN_ONCE(1, "kds: %s: misuse %u\n", func, kind);
		break;
	}
}

/*
 * The functions that name their object after their caller (_RET_IP_,
 * which Rust cannot read), and those that take a printf format (which
 * Rust cannot define): each calls its Rust half.
 */
struct kds_fence *kds_fence_create(gfp_t gfp)
{
	return __kds_fence_create(gfp, _RET_IP_);
}
EXPORT_SYMBOL_GPL(kds_fence_create);

struct kds_fence *kds_fence_create_class(struct kds_fence_class *cls, gfp_t gfp)
{
	return __kds_fence_create_class(cls, gfp, _RET_IP_);
}
EXPORT_SYMBOL_GPL(kds_fence_create_class);

void kds_resource_init(struct kds_resource *res)
{
	__kds_resource_init(res, _RET_IP_);
}
EXPORT_SYMBOL_GPL(kds_resource_init);

struct kds_resource_set *kds_waitall(int number_resources,
				     unsigned long *exclusive_access_bitmap,
				     struct kds_resource **resource_list,
				     unsigned long jiffies_timeout)
{
	return __kds_waitall(number_resources, exclusive_access_bitmap, resource_list,
			     jiffies_timeout, _RET_IP_);
}
EXPORT_SYMBOL_GPL(kds_waitall);

/* Formats a name for kds_*_set_name(); false (and a warning) for no @fmt. */
static bool kds_vname(char *name, const char *func, const char *fmt, va_list args)
{
	if (!fmt) {
		kds_misuse(KDS_MISUSE_NULL, func);
		return false;
	}
	vscnprintf(name, KDS_NAME_LEN, fmt, args);
	return true;
}

void kds_fence_set_name(struct kds_fence *f, const char *fmt, ...)
{
	char name[KDS_NAME_LEN];
	va_list args;

	va_start(args, fmt);
	if (kds_vname(name, __func__, fmt, args))
		__kds_fence_set_name(f, name);
	va_end(args);
}
EXPORT_SYMBOL_GPL(kds_fence_set_name);

void kds_resource_set_name(struct kds_resource *res, const char *fmt, ...)
{
	char name[KDS_NAME_LEN];
	va_list args;

	va_start(args, fmt);
	if (kds_vname(name, __func__, fmt, args))
		__kds_resource_set_name(res, name);
	va_end(args);
}
EXPORT_SYMBOL_GPL(kds_resource_set_name);

void kds_resource_set_set_name(struct kds_resource_set *rset, const char *fmt, ...)
{
	char name[KDS_NAME_LEN];
	va_list args;

	va_start(args, fmt);
	if (kds_vname(name, __func__, fmt, args))
		__kds_resource_set_set_name(rset, name);
	va_end(args);
}
EXPORT_SYMBOL_GPL(kds_resource_set_set_name);

void kds_async_domain_set_name(struct kds_async_domain *d, const char *fmt, ...)
{
	char name[KDS_NAME_LEN];
	va_list args;

	va_start(args, fmt);
	if (kds_vname(name, __func__, fmt, args))
		__kds_async_domain_set_name(d, name);
	va_end(args);
}
EXPORT_SYMBOL_GPL(kds_async_domain_set_name);

void kds_async_work_set_name(struct kds_async_work *w, const char *fmt, ...)
{
	char name[KDS_NAME_LEN];
	va_list args;

	va_start(args, fmt);
	if (kds_vname(name, __func__, fmt, args))
		__kds_async_work_set_name(w, name);
	va_end(args);
}
EXPORT_SYMBOL_GPL(kds_async_work_set_name);
