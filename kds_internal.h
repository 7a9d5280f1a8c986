/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - declarations shared by kds.ko's C files and its Rust crate only.
 * Nothing here is API: drivers include <kds.h>.
 */
#ifndef _KDS_INTERNAL_H
#define _KDS_INTERNAL_H

#include <linux/dma-resv.h>
#include <linux/spinlock_types.h>
#include <linux/types.h>

#include "c/kds_trace_api.h"

struct delayed_work;
struct dma_fence;
struct dma_resv;
struct dma_resv_iter;
struct kds_fence;
struct kds_resource_set;
struct list_head;
struct workqueue_struct;

/*
 * Provided by the C files to the Rust crate: one declaration each in
 * rust/ffi.rs, one safe wrapper each in the Rust file named.
 */

/* c/kds_exports.c: set-up and the misuse table (rust/capi.rs, rust/misuse.rs). */
int kds_c_init(void);
void kds_c_exit(void);
void kds_live_enable(bool on);
void kds_misuse(unsigned int kind, const char *func);

/* c/kds_wrappers.c: workqueues (rust/sys/workqueue.rs). */
struct workqueue_struct *kds_workqueue(void);
struct workqueue_struct *kds_direct_workqueue(void);
bool kds_kick_delayed_work(struct delayed_work *dwork);
void kds_kvfree_atomic(const void *p);
void kds_queue_deferred(void);

/* c/kds_wrappers.c: dma_fence and dma_resv (rust/sys/dma_fence.rs). */
struct dma_fence *kds_dma_fence_get(struct dma_fence *fence);
void kds_dma_fence_put(struct dma_fence *fence);
bool kds_dma_fence_is_signaled(struct dma_fence *fence);
void kds_dma_resv_iter_begin(struct dma_resv_iter *cursor, struct dma_resv *resv,
			     enum dma_resv_usage usage);
void kds_dma_resv_iter_end(struct dma_resv_iter *cursor);

/* c/kds_wrappers.c: raw spinlocks (rust/sys/raw_spinlock.rs). */
void kds_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
			    struct lock_class_key *key);
unsigned long kds_raw_spin_lock_irqsave(raw_spinlock_t *lock);
void kds_raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags);
bool kds_raw_spin_trylock_irqsave(raw_spinlock_t *lock, unsigned long *flags);
void kds_raw_spin_assert_held(raw_spinlock_t *lock);
unsigned long kds_order_begin(void);
void kds_order_end(unsigned long flags);
void kds_raw_spin_lock_ordered(raw_spinlock_t *lock);
bool kds_raw_spin_trylock_ordered(raw_spinlock_t *lock);
void kds_raw_spin_unlock(raw_spinlock_t *lock);

/* c/kds_wrappers.c: lists (rust/sys/list.rs). */
void kds_list_del_init(struct list_head *entry);
bool kds_list_empty(const struct list_head *head);
void kds_list_splice_tail_init(struct list_head *list, struct list_head *head);

/* c/kds_wrappers.c: contexts and the current task (rust/sys/task.rs). */
bool kds_in_hardirq(void);
unsigned int kds_irq_level(void);
void kds_set_current_state(bool intr);
void kds_set_current_running(void);
unsigned int kds_memalloc_begin(gfp_t gfp);
void kds_memalloc_end(unsigned int token);
unsigned long kds_hardirq_budget_begin(unsigned long budget);
void kds_hardirq_budget_end(void);

/* c/kds_wrappers.c: per-CPU counters and ids (rust/sys/percpu.rs). */
enum kds_pcpu_counter {
	KDS_PCPU_FENCES,	/* live fences: Counter::FENCES */
	KDS_PCPU_COUNTERS
};

void kds_pcpu_add(unsigned int idx, s64 delta);
s64 kds_pcpu_sum(unsigned int idx);
u64 kds_next_id(void);
int kds_snprint_sym(char *buf, size_t len, unsigned long ip);
unsigned int kds_this_cpu(void);
unsigned long kds_jiffies(void);
unsigned int kds_jiffies_to_msecs(unsigned long j);
int kds_dma_fence_describe(char *buf, size_t len, struct dma_fence *dma);

/* c/kds_wrappers.c: module references (rust/sys/module.rs). */
bool kds_module_get(void);
void kds_module_put(void);

/* c/kds_dma_export.c (rust/fence/dma.rs). */
void kds_dma_fence_timed_out(struct dma_fence *dma, u64 waiter, const char *name,
			     unsigned long timeout);
int kds_dma_fence_sources(struct dma_fence *dma, struct kds_fence **out, int max, bool *itself);

/* Between the C files. */
int kds_queues_init(void);
void kds_queues_exit(void);
/* kds_classes.c */
struct kds_fence_class *kds_default_class(unsigned int which);
void kds_lockdep_might_wait(struct lockdep_map *map);
bool kds_lockdep_begin_signalling(struct lockdep_map *map);
void kds_lockdep_end_signalling(struct lockdep_map *map);
bool kds_lockdep_enabled(void);
void kds_dma_might_wait(void);
bool kds_dma_begin_signalling(void);
void kds_dma_end_signalling(bool cookie);

int kds_sleepers_init(void);
void kds_sleepers_exit(void);

/* Kinds of API misuse; the same numbers as Misuse in rust/misuse.rs. */
enum kds_misuse {
	KDS_MISUSE_NULL,
	KDS_MISUSE_BAD_OBJECT,
	KDS_MISUSE_AWAIT_DONE,
	KDS_MISUSE_OVER_COMPLETE,
	KDS_MISUSE_BAD_ERROR,
	KDS_MISUSE_ERROR_AFTER_DONE,
	KDS_MISUSE_RELEASED_PENDING,
	KDS_MISUSE_NO_CALLBACK,
	KDS_MISUSE_BAD_ARGUMENT,
	KDS_MISUSE_DUPLICATE,
	KDS_MISUSE_BUSY,
	KDS_MISUSE_REQUEUE,
	KDS_MISUSE_INTERNAL,
};

/*
 * Provided by the Rust crate's C API edge (rust/capi/) to the C files,
 * besides the exports of include/kds.h.
 */
bool kds_fence_check(struct kds_fence *f, const char *func);
u64 kds_fence_id(struct kds_fence *f);
int kds_fence_try_await(struct kds_fence *f, const char *func);
int kds_fence_await_indefinite(struct kds_fence *f, const char *func, gfp_t gfp);
int kds_fence_mark_exported(struct kds_fence *f);
void kds_fence_note_completion(struct kds_fence *f, const void *c, gfp_t gfp);
void kds_fence_forget_completion(struct kds_fence *f, const void *c);
extern const size_t kds_rust_class_layout[2];
extern const size_t kds_rust_signalling_layout[3];
struct kds_fence *kds_fence_ref_internal(struct kds_fence *f);
void kds_fence_unref_internal(struct kds_fence *f);
void kds_fence_run_deferred(void);
void kds_live_counts(s64 *n);
extern const size_t kds_rust_fence_cb_layout[3];
extern const size_t kds_rust_resource_layout[2];
extern const size_t kds_rust_set_inline_links;
extern const size_t kds_rust_callback_layout[6];

/* The Rust halves of exports that c/kds_exports.c defines. */
struct kds_resource;
struct kds_resource_set;
struct kds_async_domain;
struct kds_async_work;
struct kds_fence *__kds_fence_create(gfp_t gfp, unsigned long ip);
struct kds_fence *__kds_fence_create_class(struct kds_fence_class *cls, gfp_t gfp,
					   unsigned long ip);
void __kds_resource_init(struct kds_resource *res, unsigned long ip);
struct kds_resource_set *__kds_waitall(int n, unsigned long *bitmap,
				       struct kds_resource **list, unsigned long timeout,
				       unsigned long ip);
void __kds_fence_set_name(struct kds_fence *f, const char *name);
void __kds_resource_set_name(struct kds_resource *res, const char *name);
void __kds_resource_set_set_name(struct kds_resource_set *rset, const char *name);
void __kds_async_domain_set_name(struct kds_async_domain *d, const char *name);
void __kds_async_work_set_name(struct kds_async_work *w, const char *name);

/* debugfs (c/kds_debugfs.c): the text of a file, and blame by fence id. */
enum kds_debugfs_file {
	KDS_DEBUGFS_FENCES,
	KDS_DEBUGFS_RESOURCES,
	KDS_DEBUGFS_DOMAINS,
	KDS_DEBUGFS_GRAPH,
};

void *kds_debugfs_text(unsigned int which, size_t *len);
void kds_debugfs_blame(u64 id);
unsigned long kds_blame_jiffies(void);
unsigned int kds_blame_ms_get(void);
void kds_debugfs_init(void);
void kds_debugfs_exit(void);

#endif /* _KDS_INTERNAL_H */
