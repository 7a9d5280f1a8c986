/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - trace events: /sys/kernel/tracing/events/kds/.
 *
 * Every fence is named by its id, the number that debugfs's fences and
 * graph.dot print; a resource set by its id; a work item by the id of its
 * fence (0 for work without one: a kds_async_schedule() call may have
 * none). kds_fence_name records the names given with kds_*_set_name(), so
 * that a trace can be joined into the fence graph by id and read by name.
 * Addresses (the caller of a create or a queue, a work function) are
 * printed with %pS and %ps when the trace is read: read it before the
 * module they are in is unloaded.
 *
 * The Rust core calls the wrappers of c/kds_trace.c (c/kds_trace_api.h),
 * not trace_*() itself.
 *
 * Copyright (C) 2026 The kds authors
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kds

#if !defined(_KDS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KDS_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

/* A fence was created, of class @cls, by the function that returns to @ip. */
TRACE_EVENT(kds_fence_create,
	    TP_PROTO(u64 id, unsigned long ip, const char *cls),
	    TP_ARGS(id, ip, cls),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(unsigned long, ip)
			     __string(cls, cls)),
	    TP_fast_assign(__entry->id = id;
			   __entry->ip = ip;
			   __assign_str(cls);),
	    TP_printk("fence=%llu cls=%s ip=%pS",
		      __entry->id, __get_str(cls), (void *)__entry->ip)
);

/* A fence, or the set or work item it is the fence of, was named. */
TRACE_EVENT(kds_fence_name,
	    TP_PROTO(u64 id, const char *name),
	    TP_ARGS(id, name),
	    TP_STRUCT__entry(__field(u64, id)
			     __string(name, name)),
	    TP_fast_assign(__entry->id = id;
			   __assign_str(name);),
	    TP_printk("fence=%llu name=%s", __entry->id, __get_str(name))
);

/*
 * Fence @waiter awaits a source: @kind is "fence", "dma_fence", "hrtimer",
 * "completion" or "event" (kds_fence_await()); @signaler is the id of the
 * kds fence awaited, 0 for a source that is not one.
 */
TRACE_EVENT(kds_fence_await,
	    TP_PROTO(u64 waiter, u64 signaler, const char *kind),
	    TP_ARGS(waiter, signaler, kind),
	    TP_STRUCT__entry(__field(u64, waiter)
			     __field(u64, signaler)
			     __string(kind, kind)),
	    TP_fast_assign(__entry->waiter = waiter;
			   __entry->signaler = signaler;
			   __assign_str(kind);),
	    TP_printk("waiter=%llu signaler=%llu kind=%s",
		      __entry->waiter, __entry->signaler, __get_str(kind))
);

/* One event of a fence completed (kds_fence_complete()), with @error or 0. */
TRACE_EVENT(kds_fence_complete,
	    TP_PROTO(u64 id, int error),
	    TP_ARGS(id, error),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(int, error)),
	    TP_fast_assign(__entry->id = id;
			   __entry->error = error;),
	    TP_printk("fence=%llu error=%d", __entry->id, __entry->error)
);

/* A fence is done; @status as kds_fence_get_status() returns it. */
TRACE_EVENT(kds_fence_done,
	    TP_PROTO(u64 id, int status),
	    TP_ARGS(id, status),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(int, status)),
	    TP_fast_assign(__entry->id = id;
			   __entry->status = status;),
	    TP_printk("fence=%llu status=%d", __entry->id, __entry->status)
);

/* A task starts waiting for a fence (kds_fence_wait*()). */
TRACE_EVENT(kds_fence_wait_start,
	    TP_PROTO(u64 id),
	    TP_ARGS(id),
	    TP_STRUCT__entry(__field(u64, id)),
	    TP_fast_assign(__entry->id = id;),
	    TP_printk("fence=%llu", __entry->id)
);

/* The wait ends; @ret as kds_fence_wait_timeout() returns it. */
TRACE_EVENT(kds_fence_wait_end,
	    TP_PROTO(u64 id, long ret),
	    TP_ARGS(id, ret),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(long, ret)),
	    TP_fast_assign(__entry->id = id;
			   __entry->ret = ret;),
	    TP_printk("fence=%llu ret=%ld", __entry->id, __entry->ret)
);

/*
 * A resource set of @nr resources, at least one of them exclusive when
 * @exclusive_any, was queued by the function that returns to @ip.
 */
TRACE_EVENT(kds_set_queue,
	    TP_PROTO(u64 set, unsigned long ip, unsigned int nr, bool exclusive_any),
	    TP_ARGS(set, ip, nr, exclusive_any),
	    TP_STRUCT__entry(__field(u64, set)
			     __field(unsigned long, ip)
			     __field(unsigned int, nr)
			     __field(bool, exclusive_any)),
	    TP_fast_assign(__entry->set = set;
			   __entry->ip = ip;
			   __entry->nr = nr;
			   __entry->exclusive_any = exclusive_any;),
	    TP_printk("set=%llu nr=%u exclusive_any=%d ip=%pS",
		      __entry->set, __entry->nr, __entry->exclusive_any,
		      (void *)__entry->ip)
);

DECLARE_EVENT_CLASS(kds_set,
		    TP_PROTO(u64 set),
		    TP_ARGS(set),
		    TP_STRUCT__entry(__field(u64, set)),
		    TP_fast_assign(__entry->set = set;),
		    TP_printk("set=%llu", __entry->set)
);

/* The set was granted: it holds all its resources. */
DEFINE_EVENT(kds_set, kds_set_grant,
	     TP_PROTO(u64 set),
	     TP_ARGS(set)
);

/* A granted set was released. */
DEFINE_EVENT(kds_set, kds_set_release,
	     TP_PROTO(u64 set),
	     TP_ARGS(set)
);

/* A set was released before it was granted. */
DEFINE_EVENT(kds_set, kds_set_cancel,
	     TP_PROTO(u64 set),
	     TP_ARGS(set)
);

/* Work calling @fn, with fence @fence, was queued to @domain as @cookie. */
TRACE_EVENT(kds_work_queue,
	    TP_PROTO(u64 fence, u64 cookie, const char *domain, void *fn),
	    TP_ARGS(fence, cookie, domain, fn),
	    TP_STRUCT__entry(__field(u64, fence)
			     __field(u64, cookie)
			     __string(domain, domain)
			     __field(void *, fn)),
	    TP_fast_assign(__entry->fence = fence;
			   __entry->cookie = cookie;
			   __assign_str(domain);
			   __entry->fn = fn;),
	    TP_printk("fence=%llu cookie=%llu domain=%s fn=%ps",
		      __entry->fence, __entry->cookie, __get_str(domain), __entry->fn)
);

DECLARE_EVENT_CLASS(kds_work,
		    TP_PROTO(u64 fence, u64 cookie, void *fn),
		    TP_ARGS(fence, cookie, fn),
		    TP_STRUCT__entry(__field(u64, fence)
				     __field(u64, cookie)
				     __field(void *, fn)),
		    TP_fast_assign(__entry->fence = fence;
				   __entry->cookie = cookie;
				   __entry->fn = fn;),
		    TP_printk("fence=%llu cookie=%llu fn=%ps",
			      __entry->fence, __entry->cookie, __entry->fn)
);

/* A work function is called... */
DEFINE_EVENT(kds_work, kds_work_start,
	     TP_PROTO(u64 fence, u64 cookie, void *fn),
	     TP_ARGS(fence, cookie, fn)
);

/* ...and has returned. */
DEFINE_EVENT(kds_work, kds_work_end,
	     TP_PROTO(u64 fence, u64 cookie, void *fn),
	     TP_ARGS(fence, cookie, fn)
);

#endif /* _KDS_TRACE_H */

/*
 * Out of tree, define_trace.h finds this file through the -I$(src)/c that
 * Kbuild gives c/kds_trace.o (as samples/trace_events/Makefile does).
 */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE kds_trace
#include <trace/define_trace.h>
