// SPDX-License-Identifier: GPL-2.0
/*
 * kds - trace events.
 *
 * The events of TRACE_SYSTEM kds (c/kds_trace.h) follow the life of what
 * kds tracks: a fence is created (kds_fence_create), named
 * (kds_fence_name), made to await fences and other sources
 * (kds_fence_await), has events completed (kds_fence_complete), is done
 * (kds_fence_done) and is waited for (kds_fence_wait_start and _end); a
 * resource set is queued (kds_set_queue), then granted and released
 * (kds_set_grant, kds_set_release) or released while waiting
 * (kds_set_cancel); a work item is queued (kds_work_queue) and its
 * function runs (kds_work_start, kds_work_end). They carry ids and names,
 * not pointers, so that a trace joins the graph that debugfs prints.
 *
 * trace_*() are static inlines that Rust cannot call, so this file defines
 * one plain function per event (c/kds_trace_api.h), which the Rust core
 * calls (rust/sys/trace.rs). Whether the event is enabled is checked
 * inside trace_*() (a static key): a disabled event costs the call and
 * that test.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <linux/types.h>

#include "kds_trace_api.h"

#define CREATE_TRACE_POINTS
#include "kds_trace.h"

void kds_trace_fence_create(u64 id, unsigned long ip, const char *cls)
{
	trace_kds_fence_create(id, ip, cls);
}

void kds_trace_fence_name(u64 id, const char *name)
{
	trace_kds_fence_name(id, name);
}

void kds_trace_fence_await(u64 waiter, u64 signaler, const char *kind)
{
	trace_kds_fence_await(waiter, signaler, kind);
}

void kds_trace_fence_complete(u64 id, int error)
{
	trace_kds_fence_complete(id, error);
}

void kds_trace_fence_done(u64 id, int status)
{
	trace_kds_fence_done(id, status);
}

void kds_trace_fence_wait_start(u64 id)
{
	trace_kds_fence_wait_start(id);
}

void kds_trace_fence_wait_end(u64 id, long ret)
{
	trace_kds_fence_wait_end(id, ret);
}

void kds_trace_set_queue(u64 set, unsigned long ip, unsigned int nr, bool exclusive_any)
{
	trace_kds_set_queue(set, ip, nr, exclusive_any);
}

void kds_trace_set_grant(u64 set)
{
	trace_kds_set_grant(set);
}

void kds_trace_set_release(u64 set)
{
	trace_kds_set_release(set);
}

void kds_trace_set_cancel(u64 set)
{
	trace_kds_set_cancel(set);
}

void kds_trace_work_queue(u64 fence, u64 cookie, const char *domain, void *fn)
{
	trace_kds_work_queue(fence, cookie, domain, fn);
}

void kds_trace_work_start(u64 fence, u64 cookie, void *fn)
{
	trace_kds_work_start(fence, cookie, fn);
}

void kds_trace_work_end(u64 fence, u64 cookie, void *fn)
{
	trace_kds_work_end(fence, cookie, fn);
}
