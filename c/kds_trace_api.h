/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - the trace events of c/kds_trace.h, as functions the Rust core can
 * call (rust/sys/trace.rs declares them). Each calls trace_<name>() with
 * its arguments; see c/kds_trace.h for what they mean. Strings are copied
 * into the trace; addresses are only printed.
 *
 * Copyright (C) 2026 The kds authors
 */
#ifndef _KDS_TRACE_API_H
#define _KDS_TRACE_API_H

#include <linux/types.h>

void kds_trace_fence_create(u64 id, unsigned long ip, const char *cls);
void kds_trace_fence_name(u64 id, const char *name);
void kds_trace_fence_await(u64 waiter, u64 signaler, const char *kind);
void kds_trace_fence_complete(u64 id, int error);
void kds_trace_fence_done(u64 id, int status);
void kds_trace_fence_wait_start(u64 id);
void kds_trace_fence_wait_end(u64 id, long ret);

void kds_trace_set_queue(u64 set, unsigned long ip, unsigned int nr, bool exclusive_any);
void kds_trace_set_grant(u64 set);
void kds_trace_set_release(u64 set);
void kds_trace_set_cancel(u64 set);

void kds_trace_work_queue(u64 fence, u64 cookie, const char *domain, void *fn);
void kds_trace_work_start(u64 fence, u64 cookie, void *fn);
void kds_trace_work_end(u64 fence, u64 cookie, void *fn);

#endif /* _KDS_TRACE_API_H */
