// SPDX-License-Identifier: GPL-2.0
/*
 * kds_observe: names, blame and debugfs ("names and diagnostics" in
 * include/kds.h).
 *
 * A fence's name and what it waits for are read back the way a developer
 * reads them: through kds_fence_blame(), the files in
 * /sys/kernel/debug/kds/ (read with the file's own read operation, into a
 * user buffer of the test's own mm, as read(2) does), and the kernel log
 * (kmsg_dump_get_line()), for the messages of kds.blame_ms and of a
 * dma_fence wait that timed out.
 *
 * Copyright (C) 2026 The kds authors
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-fence.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/hrtimer.h>
#include <linux/kmsg_dump.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <kds.h>

#include "test_util.h"

#define BLAME_BYTES	2048
#define DEBUGFS		"/sys/kernel/debug/kds/"
#define FILE_BYTES	(576 * 1024)	/* more than kds's 512 KiB bound */

KUNIT_DEFINE_ACTION_WRAPPER(obs_dma_put_action, dma_fence_put, struct dma_fence *);
KUNIT_DEFINE_ACTION_WRAPPER(obs_kvfree_action, kvfree, const void *);

/* kvzalloc() memory freed when the test ends (or by obs_kvfree()). */
static void *obs_kvzalloc(struct kunit *test, size_t size)
{
	void *p = kvzalloc(size, GFP_KERNEL);

	if (p && kunit_add_action_or_reset(test, obs_kvfree_action, p))
		return NULL;
	return p;
}

static void obs_kvfree(struct kunit *test, void *p)
{
	kunit_release_action(test, obs_kvfree_action, p);
}

static const char *obs_driver_name(struct dma_fence *f)
{
	return "kds_obs";
}

static const char *obs_timeline_name(struct dma_fence *f)
{
	return "obs-timeline";
}

static const struct dma_fence_ops obs_dma_ops = {
	.get_driver_name = obs_driver_name,
	.get_timeline_name = obs_timeline_name,
};

/* An unsignalled dma_fence of seqno @seqno ("kds_obs:obs-timeline:@seqno"). */
static struct dma_fence *obs_dma(struct kunit *test, u64 seqno)
{
	struct dma_fence *d = kzalloc_obj(*d, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, d);
	dma_fence_init(d, &obs_dma_ops, NULL, dma_fence_context_alloc(1), seqno);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obs_dma_put_action, d), 0);
	return d;
}

/* Signals @d; a test does it before it ends, so that nothing waits on. */
KUNIT_DEFINE_ACTION_WRAPPER(obs_dma_signal_action, dma_fence_signal, struct dma_fence *);

static void obs_signal_at_end(struct kunit *test, struct dma_fence *d)
{
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obs_dma_signal_action, d), 0);
}

/*
 * Opens @path as user space sees it: kthreads, KUnit's included, resolve
 * paths in an empty root of their own.
 */
static struct file *obs_open(const char *path, int flags)
{
	struct file *f;

	scoped_with_init_fs()
		f = filp_open(path, flags, 0);
	return f;
}

/*
 * A resource, terminated when the test ends; if a test failed with a set
 * still queued on it, it is left allocated rather than freed while kds
 * lists it.
 */
static void obs_resource_term_action(void *res)
{
	if (kds_resource_term(res) == 0)
		kfree(res);
}

static struct kds_resource *obs_resource(struct kunit *test)
{
	struct kds_resource *res = kzalloc_obj(*res, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, res);
	kds_resource_init(res);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obs_resource_term_action, res), 0);
	return res;
}

/* kds_fence_blame() of @f, in a buffer freed when the test ends. */
static char *blame(struct kunit *test, struct kds_fence *f)
{
	char *buf = kunit_kzalloc(test, BLAME_BYTES, GFP_KERNEL);
	int n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	n = kds_fence_blame(f, buf, BLAME_BYTES);
	KUNIT_ASSERT_GT_MSG(test, n, 0, "kds_fence_blame: %d", n);
	KUNIT_EXPECT_EQ(test, (size_t)n, strlen(buf));
	return buf;
}

#define EXPECT_HAS(test, text, needle) do {					\
	const char *__t = (text), *__n = (needle);				\
										\
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(__t, __n),			\
				  "no \"%s\" in:\n%s", __n, __t);		\
} while (0)
#define EXPECT_HAS_NOT(test, text, needle) do {				\
	const char *__t = (text), *__n = (needle);				\
										\
	KUNIT_EXPECT_NULL_MSG(test, strstr(__t, __n),				\
			      "\"%s\" should not be in:\n%s", __n, __t);	\
} while (0)

/* The default name of what a function of this module made: "%ps" of it. */
#define OWN_NAME(buf, func)	snprintf(buf, sizeof(buf), "\"%s [kds_test]\"", func)

/* How many times @needle occurs in @text. */
static int count(const char *text, const char *needle)
{
	int n = 0;

	for (text = strstr(text, needle); text; text = strstr(text + 1, needle))
		n++;
	return n;
}

/* The quoted name on the first line of a blame ("fence N "name" waits"). */
static bool first_name(const char *text, char *name, size_t size)
{
	const char *a = strchr(text, '"'), *b;

	if (!a)
		return false;
	b = strchr(a + 1, '"');
	if (!b || b - a - 1 >= size)
		return false;
	memcpy(name, a + 1, b - a - 1);
	name[b - a - 1] = '\0';
	return true;
}

/*
 * The text of /sys/kernel/debug/kds/@file, read as read(2) reads it: its
 * ->read() with a user buffer (of an mm KUnit attaches to the test).
 * NUL-terminated, freed when the test ends.
 */
static char *read_debugfs(struct kunit *test, const char *file)
{
	unsigned long ubuf = (unsigned long)test->priv;
	char path[64];
	struct file *filp;
	char *text;
	loff_t pos = 0;
	size_t len = 0;

	if (!ubuf) {
		ubuf = kunit_vm_mmap(test, NULL, 0, FILE_BYTES, PROT_READ | PROT_WRITE,
				     MAP_ANONYMOUS | MAP_PRIVATE, 0);
		KUNIT_ASSERT_NE_MSG(test, ubuf, 0, "no user memory");
		test->priv = (void *)ubuf;
	}
	text = obs_kvzalloc(test, FILE_BYTES + 1);
	KUNIT_ASSERT_NOT_NULL(test, text);
	snprintf(path, sizeof(path), DEBUGFS "%s", file);
	filp = obs_open(path, O_RDONLY);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(filp), "open %s: %ld", path, PTR_ERR(filp));
	for (;;) {
		ssize_t n = filp->f_op->read(filp, (char __user *)ubuf, FILE_BYTES - len, &pos);

		if (n <= 0) {
			KUNIT_EXPECT_EQ_MSG(test, n, 0, "read %s", path);
			break;
		}
		KUNIT_ASSERT_EQ(test, copy_from_user(text + len, (char __user *)ubuf, n), 0);
		len += n;
		if (len == FILE_BYTES)
			break;
	}
	filp_close(filp, NULL);
	text[len] = '\0';
	return text;
}

/* Writes @s to /sys/kernel/debug/kds/blame; the write's result. */
static ssize_t write_blame(struct kunit *test, const char *s)
{
	unsigned long ubuf = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
					   MAP_ANONYMOUS | MAP_PRIVATE, 0);
	struct file *filp;
	loff_t pos = 0;
	ssize_t n;

	KUNIT_ASSERT_NE(test, ubuf, 0);
	KUNIT_ASSERT_EQ(test, copy_to_user((char __user *)ubuf, s, strlen(s)), 0);
	filp = obs_open(DEBUGFS "blame", O_WRONLY);
	KUNIT_ASSERT_FALSE(test, IS_ERR(filp));
	n = filp->f_op->write(filp, (const char __user *)ubuf, strlen(s), &pos);
	filp_close(filp, NULL);
	return n;
}

/*
 * The kernel log since the mark log_mark() printed: the lines after the
 * last line that holds @mark, joined, freed when the test ends.
 */
struct log_mark {
	char mark[40];
};

static void log_mark(struct log_mark *m)
{
	snprintf(m->mark, sizeof(m->mark), "kds_observe mark %08x", get_random_u32());
	pr_info("%s\n", m->mark);
}

#define LOG_BYTES	(256 * 1024)

/* log_since()'s text into @text (LOG_BYTES); any thread. */
static void log_since_into(const struct log_mark *m, char *text)
{
	struct kmsg_dump_iter iter;
	char line[512];
	size_t len = 0, n;

	kmsg_dump_rewind(&iter);
	while (kmsg_dump_get_line(&iter, false, line, sizeof(line) - 1, &n)) {
		line[n] = '\0';
		if (strstr(line, m->mark)) {
			len = 0;
			continue;
		}
		if (len + n + 1 < LOG_BYTES) {
			memcpy(text + len, line, n);
			len += n;
		}
	}
	text[len] = '\0';
}

static char *log_since(struct kunit *test, const struct log_mark *m)
{
	char *text = obs_kvzalloc(test, LOG_BYTES);

	KUNIT_ASSERT_NOT_NULL(test, text);
	log_since_into(m, text);
	return text;
}

/* Sets kds.blame_ms for this test (through sysfs); restored at its end. */
static unsigned int obs_saved_blame_ms;

static int write_blame_ms(unsigned int ms)
{
	struct file *filp = obs_open("/sys/module/kds/parameters/blame_ms", O_WRONLY);
	char s[16];
	loff_t pos = 0;
	ssize_t n;

	if (IS_ERR(filp))
		return PTR_ERR(filp);
	snprintf(s, sizeof(s), "%u\n", ms);
	n = kernel_write(filp, s, strlen(s), &pos);
	filp_close(filp, NULL);
	return n < 0 ? n : 0;
}

static void obs_restore_blame_ms(void *unused)
{
	write_blame_ms(obs_saved_blame_ms);
}

static void set_blame_ms(struct kunit *test, unsigned int ms)
{
	struct file *filp = obs_open("/sys/module/kds/parameters/blame_ms", O_RDONLY);
	char s[16] = {};
	loff_t pos = 0;

	KUNIT_ASSERT_FALSE(test, IS_ERR(filp));
	KUNIT_ASSERT_GT(test, kernel_read(filp, s, sizeof(s) - 1, &pos), 0);
	filp_close(filp, NULL);
	KUNIT_ASSERT_EQ(test, kstrtouint(strim(s), 10, &obs_saved_blame_ms), 0);
	KUNIT_ASSERT_EQ(test, write_blame_ms(ms), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obs_restore_blame_ms, NULL), 0);
}

/* A completion with a symbol, so that "%ps" of its address names it. */
static struct completion obs_firmware;

/* A work function that blocks until @data (a completion) completes. */
static void obs_block_fn(void *data, u64 cookie)
{
	wait_for_completion(data);
}

/* A work function that does nothing. */
static void obs_nop_fn(void *data, u64 cookie)
{
}

/* Default names say where an object came from: its creator, its function. */
static void observe_default_names(struct kunit *test)
{
	struct kds_fence *f = kds_fence_create(GFP_KERNEL);
	struct completion release;
	struct kds_async_work *w;
	struct kds_fence *wf;
	char *text, own[64];

	KUNIT_ASSERT_NOT_NULL(test, f);
	kds_test_hold(test, f);
	text = blame(test, f);
	/* "%ps" of a module's function ends with " [module]". */
	OWN_NAME(own, __func__);
	EXPECT_HAS(test, text, own);
	EXPECT_HAS(test, text, "\" waits for 1 fence through 0 others:\n");

	init_completion(&release);
	w = kds_async_work_create(obs_block_fn, &release, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	wf = kds_test_hold(test, kds_async_work_fence(w));
	kds_async_queue(NULL, w);
	text = blame(test, wf);
	EXPECT_HAS(test, text, "\"obs_block_fn [kds_test]\"");
	/* A fence awaiting it blames the work item's function. */
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(f, wf, GFP_KERNEL), 1);
	kds_fence_complete(f);
	text = blame(test, f);
	EXPECT_HAS(test, text, "\"obs_block_fn [kds_test]\": its function has not returned");
	complete(&release);
	kds_fence_wait(f);
	KUNIT_EXPECT_STREQ(test, blame(test, f), "done\n");
	kds_async_work_put(w);
}

/* Names are printf formats, cut to KDS_NAME_LEN - 1 bytes. */
static void observe_names_format_and_cut(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	char name[KDS_NAME_LEN + 8];
	char want[64];

	kds_fence_set_name(f, "%s-%d", "job", 42);
	EXPECT_HAS(test, blame(test, f), "\"job-42\" waits for");
	kds_fence_set_name(f, "%s", "a-name-that-is-much-longer-than-thirty-one-bytes");
	KUNIT_ASSERT_TRUE(test, first_name(blame(test, f), name, sizeof(name)));
	strscpy(want, "a-name-that-is-much-longer-than-thirty-one-bytes", KDS_NAME_LEN);
	KUNIT_EXPECT_EQ(test, strlen(name), KDS_NAME_LEN - 1);
	KUNIT_EXPECT_STREQ(test, name, want);
	/* An empty name brings the default back. */
	kds_fence_set_name(f, "%s", "");
	OWN_NAME(want, __func__);
	EXPECT_HAS(test, blame(test, f), want);
}

/* Names may be set from hard IRQ and under a raw spinlock. */
struct irq_names {
	struct hrtimer timer;
	struct kds_fence *f;
	struct kds_resource *res;
	struct kds_resource_set *rset;
	struct kds_async_work *w;
	struct kds_async_domain *d;
	bool in_hardirq;
	struct completion done;
};

static void irq_names_set(struct irq_names *n, const char *how)
{
	kds_fence_set_name(n->f, "fence-%s", how);
	kds_resource_set_name(n->res, "res-%s", how);
	kds_resource_set_set_name(n->rset, "set-%s", how);
	kds_async_work_set_name(n->w, "work-%s", how);
	kds_async_domain_set_name(n->d, "domain-%s", how);
}

static enum hrtimer_restart irq_names_fn(struct hrtimer *t)
{
	struct irq_names *n = container_of(t, struct irq_names, timer);

	n->in_hardirq = in_hardirq();
	irq_names_set(n, "irq");
	complete(&n->done);
	return HRTIMER_NORESTART;
}

static void irq_names_expect(struct kunit *test, struct irq_names *n, struct kds_fence *wait,
			     struct kds_fence *wf, const char *how)
{
	char s[48];
	char *text;

	snprintf(s, sizeof(s), "\"fence-%s\" waits for", how);
	EXPECT_HAS(test, blame(test, n->f), s);
	/* A set waiting behind n->rset names both, and the resource. */
	text = blame(test, wait);
	snprintf(s, sizeof(s), "\"res-%s\" (shared) behind", how);
	EXPECT_HAS(test, text, s);
	snprintf(s, sizeof(s), "\"set-%s\" (holds it)", how);
	EXPECT_HAS(test, text, s);
	snprintf(s, sizeof(s), "\"work-%s\"", how);
	EXPECT_HAS(test, blame(test, wf), s);
	text = read_debugfs(test, "domains");
	snprintf(s, sizeof(s), "domain \"domain-%s\"", how);
	EXPECT_HAS(test, text, s);
}

static void observe_names_any_context(struct kunit *test)
{
	static DEFINE_RAW_SPINLOCK(lock);
	unsigned long excl = 1, flags;
	struct completion release;
	struct kds_resource *r = obs_resource(test);
	struct kds_fence *wf;
	struct irq_names n = {};

	init_completion(&n.done);
	init_completion(&release);
	n.f = kds_test_fence(test);
	n.res = r;
	n.rset = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(n.rset));
	n.d = kds_async_domain_create("obs-any", 0);
	KUNIT_ASSERT_NOT_NULL(test, n.d);
	n.w = kds_async_work_create(obs_block_fn, &release, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, n.w);
	wf = kds_test_hold(test, kds_async_work_fence(n.w));
	kds_async_queue(n.d, n.w);

	{
		struct kds_callback cb;
		struct kds_resource_set *behind = NULL;
		struct kds_fence *bf;

		KUNIT_ASSERT_EQ(test, kds_callback_init(&cb, 1, kds_test_nop_grant), 0);
		KUNIT_ASSERT_EQ(test, kds_async_waitall(&behind, KDS_FLAG_LOCKED_WAIT, &cb, NULL,
							NULL, 1, NULL, &r), 0);
		bf = kds_resource_set_fence(behind);
		KUNIT_ASSERT_NOT_NULL(test, bf);

		raw_spin_lock_irqsave(&lock, flags);
		irq_names_set(&n, "locked");
		raw_spin_unlock_irqrestore(&lock, flags);
		irq_names_expect(test, &n, bf, wf, "locked");

		hrtimer_setup_on_stack(&n.timer, irq_names_fn, CLOCK_MONOTONIC,
				       HRTIMER_MODE_REL_HARD);
		hrtimer_start(&n.timer, us_to_ktime(100), HRTIMER_MODE_REL_HARD);
		wait_for_completion(&n.done);
		hrtimer_cancel(&n.timer);
		destroy_hrtimer_on_stack(&n.timer);
		KUNIT_EXPECT_TRUE(test, n.in_hardirq);
		irq_names_expect(test, &n, bf, wf, "irq");

		kds_resource_set_release(&n.rset);
		kds_fence_wait(bf);
		kds_fence_put(bf);
		kds_resource_set_release_sync(&behind);
		kds_callback_term(&cb);
	}
	complete(&release);
	kds_async_synchronize(n.d);
	kds_async_work_put(n.w);
	kds_async_domain_destroy(n.d);
}

/*
 * Readers never see half a name: two threads rename a fence over and over
 * between a 31-byte name and a 1-byte one while the test reads it back.
 */
struct renamer {
	struct kds_fence *f;
	const char *name;
	atomic_t *stop;
	struct completion done;
};

static int renamer_fn(void *data)
{
	struct renamer *r = data;

	while (!atomic_read(r->stop)) {
		kds_fence_set_name(r->f, "%s", r->name);
		cond_resched();
	}
	complete(&r->done);
	return 0;
}

static void observe_names_never_torn(struct kunit *test)
{
	static const char *const names[] = { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "b" };
	struct kds_fence *f = kds_test_fence(test);
	struct renamer r[2];
	atomic_t stop = ATOMIC_INIT(0);
	char name[KDS_NAME_LEN + 8];
	int i, reads, torn = 0, fallback = 0, seen[2] = {};

	kds_fence_set_name(f, "%s", names[0]);
	for (i = 0; i < 2; i++) {
		struct task_struct *t;

		r[i] = (struct renamer){ .f = f, .name = names[i], .stop = &stop };
		init_completion(&r[i].done);
		t = kthread_run(renamer_fn, &r[i], "kds_obs_rename%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	for (reads = 0; reads < 500; reads++) {
		char buf[256];

		if (kds_fence_blame(f, buf, sizeof(buf)) <= 0 ||
		    !first_name(buf, name, sizeof(name))) {
			torn++;
			continue;
		}
		if (!strcmp(name, names[0]))
			seen[0]++;
		else if (!strcmp(name, names[1]))
			seen[1]++;
		else if (!strncmp(name, __func__, strlen(__func__)))
			fallback++;
		else if (torn++ < 3)
			kunit_info(test, "torn name \"%s\"", name);
	}
	atomic_set(&stop, 1);
	for (i = 0; i < 2; i++)
		wait_for_completion(&r[i].done);
	KUNIT_EXPECT_EQ(test, torn, 0);
	KUNIT_EXPECT_EQ(test, seen[0] + seen[1] + fallback, reads);
	kunit_info(test, "%d reads: %d long, %d short, %d default (the renames kept winning)",
		   reads, seen[0], seen[1], fallback);
}

/* Each source describes itself, on the frontier line of its fence. */
static void observe_source_descriptions(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct dma_fence *d = obs_dma(test, 7);
	char *text;

	obs_signal_at_end(test, d);
	init_completion(&obs_firmware);
	kds_fence_set_name(f, "obs-sources");
	KUNIT_ASSERT_EQ(test, kds_fence_await_dma_fence(f, d, 0, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_completion(f, &obs_firmware, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_hrtimer(f, ms_to_ktime(600000), CLOCK_MONOTONIC,
						      HRTIMER_MODE_REL, 0, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_hrtimer(f, ms_to_ktime(600000), CLOCK_BOOTTIME,
						      HRTIMER_MODE_REL, 0, GFP_KERNEL), 1);
	kds_fence_complete(f);
	text = blame(test, f);
	EXPECT_HAS(test, text, "waits for 1 fence through 0 others:\n");
	EXPECT_HAS(test, text, "  fence ");
	EXPECT_HAS(test, text, "\"obs-sources\": ");
	EXPECT_HAS(test, text, "dma_fence kds_obs:obs-timeline:7");
	EXPECT_HAS(test, text, "completion obs_firmware");
	/* 600 s ahead, less the time this test took: "in 59x.xxx ms". */
	EXPECT_HAS(test, text, "hrtimer CLOCK_MONOTONIC in 59");
	EXPECT_HAS(test, text, "hrtimer CLOCK_BOOTTIME in 59");
	/* Every event of f is a source: nothing is "counted" besides. */
	EXPECT_HAS_NOT(test, text, "counted event");

	/* The fences file lists the same sources. */
	text = read_debugfs(test, "fences");
	EXPECT_HAS(test, text, "\"obs-sources\" fence class=kds_fence");
	EXPECT_HAS(test, text, "pending=4+0f");
	EXPECT_HAS(test, text, "  source: dma_fence kds_obs:obs-timeline:7\n");
	EXPECT_HAS(test, text, "  source: completion obs_firmware [kds_test]\n");

	/*
	 * Signalled, the completion and the dma_fence leave; the put at the
	 * end cancels the timers (nothing waits for f any more).
	 */
	complete_all(&obs_firmware);
	dma_fence_signal(d);
}

/*
 * The blocking frontier of a diamond: top awaits left and right, both
 * await bottom, which awaits an unsignalled dma_fence (and a fence that
 * is done). Blame names the dma_fence, once, through the three others.
 */
static void observe_diamond_frontier(struct kunit *test)
{
	struct kds_fence *top = kds_test_fence(test);
	struct kds_fence *left = kds_test_fence(test);
	struct kds_fence *right = kds_test_fence(test);
	struct kds_fence *bottom = kds_test_fence(test);
	struct kds_fence *early = kds_test_fence(test);
	struct dma_fence *d = obs_dma(test, 1234);
	char *text;

	obs_signal_at_end(test, d);
	kds_fence_set_name(top, "obs-top");
	kds_fence_set_name(left, "obs-left");
	kds_fence_set_name(right, "obs-right");
	kds_fence_set_name(bottom, "obs-bottom");
	kds_fence_set_name(early, "obs-early");
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(top, left, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(top, right, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(left, bottom, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(right, bottom, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(bottom, early, GFP_KERNEL), 1);
	KUNIT_ASSERT_EQ(test, kds_fence_await_dma_fence(bottom, d, 0, GFP_KERNEL), 1);
	kds_fence_complete(top);
	kds_fence_complete(left);
	kds_fence_complete(right);
	kds_fence_complete(bottom);

	/*
	 * early still has its setup event: the frontier is the dma_fence
	 * (on bottom) and that event, through left and right.
	 */
	text = blame(test, top);
	EXPECT_HAS(test, text, "\"obs-top\" waits for 2 fences through 2 others:\n");
	EXPECT_HAS(test, text, "\"obs-bottom\": dma_fence kds_obs:obs-timeline:1234\n");
	EXPECT_HAS(test, text, "\"obs-early\": 1 counted event not completed yet\n");
	KUNIT_EXPECT_EQ(test, count(text, "\n"), 3);
	EXPECT_HAS_NOT(test, text, "obs-left");

	kds_fence_complete(early);
	text = blame(test, top);
	EXPECT_HAS(test, text, "\"obs-top\" waits for 1 fence through 2 others:\n");
	EXPECT_HAS(test, text, "\"obs-bottom\": dma_fence kds_obs:obs-timeline:1234\n");
	KUNIT_EXPECT_EQ(test, count(text, "\n"), 2);
	EXPECT_HAS_NOT(test, text, "obs-left");
	EXPECT_HAS_NOT(test, text, "obs-right");
	EXPECT_HAS_NOT(test, text, "counted event");

	/* From a side, the same leaf. */
	text = blame(test, left);
	EXPECT_HAS(test, text, "\"obs-left\" waits for 1 fence through 0 others:\n");
	EXPECT_HAS(test, text, "\"obs-bottom\": dma_fence kds_obs:obs-timeline:1234\n");

	/* graph.dot has the five pending fences' edges. */
	text = read_debugfs(test, "graph.dot");
	EXPECT_HAS(test, text, "digraph");
	EXPECT_HAS(test, text, "obs-top");
	EXPECT_HAS(test, text, "obs-bottom");
	EXPECT_HAS(test, text, "kds_obs:obs-timeline:1234");

	dma_fence_signal(d);
	kds_fence_wait(top);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(top), 1);
	KUNIT_EXPECT_STREQ(test, blame(test, top), "done\n");
}

/* A set waiting behind a named holder: blame names the holder and the resource. */
static void observe_set_behind_holder(struct kunit *test)
{
	struct kds_resource *r[2] = { obs_resource(test), obs_resource(test) };
	unsigned long excl = 1, both = 3;
	struct kds_resource_set *holder, *queued = NULL, *waiter = NULL;
	struct kds_callback cb;
	struct kds_fence *wf, *job;
	char *text;

	kds_resource_set_name(r[0], "obs-buffer-%d", 0);
	kds_resource_set_name(r[1], "obs-buffer-%d", 1);
	KUNIT_ASSERT_EQ(test, kds_callback_init(&cb, 1, kds_test_nop_grant), 0);

	holder = kds_waitall(1, &excl, &r[0], KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
	kds_resource_set_set_name(holder, "obs-holder");
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&queued, KDS_FLAG_LOCKED_WAIT, &cb, NULL, NULL,
						1, &excl, &r[0]), 0);
	kds_resource_set_set_name(queued, "obs-queued");
	KUNIT_ASSERT_EQ(test, kds_async_waitall(&waiter, KDS_FLAG_LOCKED_WAIT, &cb, NULL, NULL,
						2, &both, r), 0);
	kds_resource_set_set_name(waiter, "obs-waiter");
	wf = kds_resource_set_fence(waiter);
	KUNIT_ASSERT_NOT_NULL(test, wf);
	kds_test_hold(test, wf);

	text = blame(test, wf);
	EXPECT_HAS(test, text, "resource set ");
	EXPECT_HAS(test, text, "\"obs-waiter\" waits for \"obs-buffer-0\" (exclusive) behind set ");
	EXPECT_HAS(test, text, "\"obs-holder\" (holds it) set ");
	EXPECT_HAS(test, text, "\"obs-queued\" (waiting);");
	/* obs-buffer-1 is free: granted, so not named. */
	EXPECT_HAS_NOT(test, text, "obs-buffer-1");

	/* A job awaiting the set blames the set, not itself. */
	job = kds_test_fence(test);
	kds_fence_set_name(job, "obs-job");
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(job, wf, GFP_KERNEL), 1);
	kds_fence_complete(job);
	text = blame(test, job);
	EXPECT_HAS(test, text, "\"obs-job\" waits for 1 fence through 0 others:\n");
	EXPECT_HAS(test, text, "(holds it)");

	/* The resources file: each queue in order, holders first. */
	text = read_debugfs(test, "resources");
	EXPECT_HAS(test, text, "resource \"obs-buffer-0\"\n  holder: set ");
	EXPECT_HAS(test, text, "\"obs-holder\" exclusive\n  waiter: set ");
	EXPECT_HAS(test, text, "\"obs-queued\" exclusive\n  waiter: set ");
	EXPECT_HAS(test, text, "\"obs-waiter\" exclusive\n");
	EXPECT_HAS(test, text, "resource \"obs-buffer-1\"\n  holder: set ");

	kds_resource_set_release(&holder);
	kds_resource_set_release_sync(&queued);
	kds_fence_wait(job);
	KUNIT_EXPECT_STREQ(test, blame(test, wf), "done\n");
	kds_resource_set_release_sync(&waiter);
	kds_callback_term(&cb);
	KUNIT_EXPECT_EQ(test, kds_resource_term(r[0]), 0);
	KUNIT_EXPECT_EQ(test, kds_resource_term(r[1]), 0);
	/* Terminated resources leave the file (and may be initialised again). */
	EXPECT_HAS_NOT(test, read_debugfs(test, "resources"), "obs-buffer-0");
	kds_resource_init(r[0]);
	kds_resource_init(r[1]);
}

/* The fences and domains files and the blame file, for a known graph. */
static void observe_debugfs_files(struct kunit *test)
{
	struct kds_fence *a = kds_test_fence(test);
	struct kds_fence *b = kds_test_fence(test);
	struct kds_async_domain *d;
	struct kds_async_work *w;
	struct completion release;
	struct kds_fence *wf;
	struct log_mark m;
	char *text, s[64];
	u64 cookie;

	kds_fence_set_name(a, "obs-dbg-a");
	kds_fence_set_name(b, "obs-dbg-b");
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(b, a, GFP_KERNEL), 1);
	kds_fence_set_error(a, -EIO);
	text = read_debugfs(test, "fences");
	KUNIT_EXPECT_EQ(test, strncmp(text, "# pending fences", 16), 0);
	EXPECT_HAS(test, text, "\"obs-dbg-a\" fence class=kds_fence age=");
	EXPECT_HAS(test, text, "pending=1+0f error=-5\n  waiter: fence ");
	EXPECT_HAS(test, text, "\"obs-dbg-b\" fence class=kds_fence age=");
	EXPECT_HAS(test, text, "pending=1+1f\n");
	text = read_debugfs(test, "graph.dot");
	EXPECT_HAS(test, text, "label=\"obs-dbg-a");
	EXPECT_HAS(test, text, "label=\"obs-dbg-b");
	EXPECT_HAS(test, text, " -> f");

	/* The blame file prints the frontier in the log. */
	log_mark(&m);
	KUNIT_EXPECT_EQ(test, write_blame(test, "not-a-number"), -EINVAL);
	KUNIT_EXPECT_EQ(test, write_blame(test, "0"), 1);
	{
		/* b's id, from the fences file: "fence <id> "obs-dbg-b"". */
		char *p = strstr(text = read_debugfs(test, "fences"), "\"obs-dbg-b\"");
		char *q;
		u64 id;

		KUNIT_ASSERT_NOT_NULL(test, p);
		*--p = '\0';
		q = strrchr(text, ' ');
		KUNIT_ASSERT_NOT_NULL(test, q);
		KUNIT_ASSERT_EQ(test, kstrtou64(q + 1, 10, &id), 0);
		snprintf(s, sizeof(s), "%llu\n", id);
		KUNIT_EXPECT_EQ(test, write_blame(test, s), (ssize_t)strlen(s));
		text = log_since(test, &m);
		EXPECT_HAS(test, text, "kds: blame: no pending fence 0");
		snprintf(s, sizeof(s), "kds: blame: fence %llu \"obs-dbg-b\" waits for 2 fences",
			 id);
		EXPECT_HAS(test, text, s);
		EXPECT_HAS(test, text, "\"obs-dbg-a\": 1 counted event not completed yet");
	}

	/* The domains file: pending work by cookie, with its fence's name. */
	init_completion(&release);
	d = kds_async_domain_create("obs-dbg-domain", 0);
	KUNIT_ASSERT_NOT_NULL(test, d);
	w = kds_async_work_create(obs_block_fn, &release, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	kds_async_work_set_name(w, "obs-dbg-work");
	wf = kds_test_hold(test, kds_async_work_fence(w));
	cookie = kds_async_queue(d, w);
	text = read_debugfs(test, "domains");
	EXPECT_HAS(test, text, "domain \"obs-dbg-domain\" next_cookie=");
	snprintf(s, sizeof(s), "  cookie %llu obs_block_fn [kds_test] fence ", cookie);
	EXPECT_HAS(test, text, s);
	EXPECT_HAS(test, text, "\"obs-dbg-work\"\n");
	complete(&release);
	kds_async_synchronize(d);
	kds_async_work_put(w);
	kds_async_domain_destroy(d);
	EXPECT_HAS_NOT(test, read_debugfs(test, "domains"), "obs-dbg-domain");

	kds_fence_complete(a);
	kds_fence_complete(b);
	kds_fence_wait(b);
	text = read_debugfs(test, "fences");
	EXPECT_HAS_NOT(test, text, "obs-dbg-a");
	EXPECT_HAS_NOT(test, text, "obs-dbg-b");
}

/*
 * Reading the files while the graph changes: threads create, link,
 * rename, complete and free fences and resource sets, and queue work,
 * while the test reads every file (KASAN, lockdep and the debug objects
 * watch; the files must stay well formed).
 */
struct churn {
	atomic_t *stop;
	struct kds_resource **res;
	struct completion done;
	int rounds;
};

static int churn_fn(void *data)
{
	struct churn *c = data;
	struct kds_resource **r = c->res;

	while (!atomic_read(c->stop)) {
		struct kds_fence *f = kds_fence_create(GFP_KERNEL);
		struct kds_fence *g = kds_fence_create(GFP_KERNEL);
		struct kds_resource_set *s;
		unsigned long excl = c->rounds & 3;

		if (f && g) {
			kds_fence_set_name(f, "churn-%d", c->rounds);
			kds_fence_await_fence(g, f, GFP_KERNEL);
			kds_fence_await_hrtimer(g, us_to_ktime(50), CLOCK_MONOTONIC,
						HRTIMER_MODE_REL, 0, GFP_KERNEL);
			kds_fence_complete(g);
			kds_fence_complete(f);
		}
		s = kds_waitall(2, &excl, r, KDS_WAIT_BLOCKING);
		if (!IS_ERR_OR_NULL(s)) {
			kds_resource_set_set_name(s, "churn-set-%d", c->rounds);
			kds_resource_set_release(&s);
		}
		if (g)
			kds_fence_wait(g);
		kds_fence_put(g);
		kds_fence_put(f);
		kds_async_schedule(NULL, obs_nop_fn, NULL);
		c->rounds++;
		cond_resched();
	}
	complete(&c->done);
	return 0;
}

static void observe_debugfs_while_changing(struct kunit *test)
{
	static const char *const files[] = { "fences", "resources", "domains", "graph.dot" };
	struct kds_resource *res[2] = { obs_resource(test), obs_resource(test) };
	struct churn c[2];
	atomic_t stop = ATOMIC_INIT(0);
	int i, round;

	for (i = 0; i < 2; i++) {
		struct task_struct *t;

		c[i] = (struct churn){ .stop = &stop, .res = res };
		init_completion(&c[i].done);
		t = kthread_run(churn_fn, &c[i], "kds_obs_churn%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	for (round = 0; round < 25; round++) {
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			char *text = read_debugfs(test, files[i]);

			KUNIT_EXPECT_TRUE_MSG(test, text[0] == '#' || !strncmp(text, "digraph", 7),
					      "%s starts with %.40s", files[i], text);
			KUNIT_EXPECT_EQ_MSG(test, text[strlen(text) - 1], '\n', "%s", files[i]);
			obs_kvfree(test, text);
		}
	}
	atomic_set(&stop, 1);
	for (i = 0; i < 2; i++)
		wait_for_completion(&c[i].done);
	kds_async_synchronize(NULL);
	kunit_info(test, "churned %d + %d rounds", c[0].rounds, c[1].rounds);
	KUNIT_EXPECT_GT(test, c[0].rounds + c[1].rounds, 0);
}

/* kds.blame_ms: a wait that lasts that long prints its frontier, once. */
static void observe_blame_ms_fence_wait(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct log_mark m;
	char *text;

	kds_fence_set_name(f, "obs-slow");
	set_blame_ms(test, 0);
	log_mark(&m);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, msecs_to_jiffies(200)), 0);
	EXPECT_HAS_NOT(test, log_since(test, &m), "obs-slow");

	set_blame_ms(test, 50);
	log_mark(&m);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, true, msecs_to_jiffies(400)), 0);
	text = log_since(test, &m);
	KUNIT_EXPECT_EQ_MSG(test, count(text, "kds_fence_wait_timeout: waited 50 ms: fence "), 1,
			    "%s", text);
	EXPECT_HAS(test, text, "\"obs-slow\" waits for 1 fence through 0 others:");
	EXPECT_HAS(test, text, "\"obs-slow\": 1 counted event not completed yet");

	/* A wait shorter than blame_ms says nothing. */
	log_mark(&m);
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, msecs_to_jiffies(20)), 0);
	EXPECT_HAS_NOT(test, log_since(test, &m), "obs-slow");
}

/* kds_waitall(): its wait blames the holders. */
static void observe_blame_ms_waitall(struct kunit *test)
{
	struct kds_resource *r = obs_resource(test);
	unsigned long excl = 1;
	struct kds_resource_set *holder, *s;
	struct log_mark m;
	char *text;

	kds_resource_set_name(r, "obs-slow-buffer");
	holder = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(holder));
	kds_resource_set_set_name(holder, "obs-slow-holder");
	set_blame_ms(test, 50);
	log_mark(&m);
	s = kds_waitall(1, NULL, &r, msecs_to_jiffies(400));
	KUNIT_EXPECT_NULL(test, s);
	text = log_since(test, &m);
	KUNIT_EXPECT_EQ_MSG(test, count(text, "kds_waitall: waited 50 ms: "), 1, "%s", text);
	EXPECT_HAS(test, text, "\"obs-slow-buffer\" (shared) behind set ");
	EXPECT_HAS(test, text, "\"obs-slow-holder\" (holds it)");
	kds_resource_set_release(&holder);
}

/*
 * kds_async_synchronize(): its wait blames the oldest pending work item. A
 * thread releases the item once the blame is in the log (or after 30 s,
 * and the test fails), so that nothing depends on timing.
 */
struct releaser {
	char *text;	/* LOG_BYTES */
	struct log_mark *m;
	const char *needle;	/* what to wait for in the log */
	struct completion *release;	/* completed then, or */
	struct kds_fence *fence;	/* completed then */
	bool seen;
	struct completion done;
};

static int releaser_fn(void *data)
{
	struct releaser *r = data;
	int i;

	for (i = 0; i < 3000 && !r->seen; i++) {
		log_since_into(r->m, r->text);
		r->seen = strstr(r->text, r->needle);
		if (!r->seen)
			msleep(20);
	}
	if (r->release)
		complete(r->release);
	if (r->fence)
		kds_fence_complete(r->fence);
	complete(&r->done);
	return 0;
}

static void observe_blame_ms_synchronize(struct kunit *test)
{
	struct completion release;
	struct kds_async_domain *d;
	struct kds_async_work *w;
	struct releaser r;
	struct task_struct *t;
	struct log_mark m;
	char *text;

	init_completion(&release);
	d = kds_async_domain_create("obs-slow-domain", 0);
	KUNIT_ASSERT_NOT_NULL(test, d);
	w = kds_async_work_create(obs_block_fn, &release, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	kds_async_work_set_name(w, "obs-slow-work");
	kds_async_queue(d, w);
	kds_async_work_put(w);
	set_blame_ms(test, 50);
	log_mark(&m);
	r = (struct releaser){ .m = &m, .release = &release,
			       .needle = "kds_async_synchronize: waited 50 ms: " };
	r.text = obs_kvzalloc(test, LOG_BYTES);
	if (!r.text)
		complete(&release);
	KUNIT_ASSERT_NOT_NULL(test, r.text);
	init_completion(&r.done);
	t = kthread_run(releaser_fn, &r, "kds_obs_release");
	if (IS_ERR(t))
		complete(&release);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	kds_async_synchronize(d);
	wait_for_completion(&r.done);
	KUNIT_EXPECT_TRUE(test, r.seen);
	text = log_since(test, &m);
	KUNIT_EXPECT_EQ_MSG(test, count(text, "kds_async_synchronize: waited 50 ms: "), 1,
			    "%s", text);
	EXPECT_HAS(test, text, "domain \"obs-slow-domain\"");
	EXPECT_HAS(test, text, "obs-slow-work");
	EXPECT_HAS(test, text, "its function has not returned");
	kds_async_domain_destroy(d);
}

/*
 * A blamed wait without a timeout still returns MAX_SCHEDULE_TIMEOUT, as
 * an unblamed one and dma_fence_wait_timeout() do: done within blame_ms,
 * and done after the blame (a thread completes the fence once the blame
 * is in the log).
 */
struct obs_timer_fence {
	struct timer_list timer;
	struct kds_fence *f;
};

static void obs_fence_complete_timer_cb(struct timer_list *t)
{
	struct obs_timer_fence *tf = timer_container_of(tf, t, timer);

	kds_fence_complete(tf->f);
}

static void observe_blame_ms_infinite_wait(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct kds_fence *g = kds_test_fence(test);
	struct obs_timer_fence tf = { .f = f };
	struct task_struct *t;
	struct releaser r;
	struct log_mark m;

	/* Done 10 ms in, long before the 10 s of blame_ms. */
	set_blame_ms(test, 10000);
	timer_setup_on_stack(&tf.timer, obs_fence_complete_timer_cb, 0);
	mod_timer(&tf.timer, jiffies + msecs_to_jiffies(10));
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(f, false, MAX_SCHEDULE_TIMEOUT),
			MAX_SCHEDULE_TIMEOUT);
	timer_delete_sync(&tf.timer);
	timer_destroy_on_stack(&tf.timer);

	/* Done after the blame. */
	kds_fence_set_name(g, "obs-forever");
	set_blame_ms(test, 50);
	log_mark(&m);
	r = (struct releaser){ .m = &m, .fence = g,
			       .needle = "kds_fence_wait_timeout: waited 50 ms: " };
	r.text = obs_kvzalloc(test, LOG_BYTES);
	if (!r.text)
		kds_fence_complete(g);
	KUNIT_ASSERT_NOT_NULL(test, r.text);
	init_completion(&r.done);
	t = kthread_run(releaser_fn, &r, "kds_obs_release");
	if (IS_ERR(t))
		kds_fence_complete(g);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	KUNIT_EXPECT_EQ(test, kds_fence_wait_timeout(g, true, MAX_SCHEDULE_TIMEOUT),
			MAX_SCHEDULE_TIMEOUT);
	wait_for_completion(&r.done);
	KUNIT_EXPECT_TRUE(test, r.seen);
}

/* A huge buffer: the frontier, without a huge allocation (or its warning). */
KUNIT_DEFINE_ACTION_WRAPPER(obs_vfree_action, vfree, const void *);

static void observe_blame_big_buffer(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	size_t size = 64 << 20;
	char *buf = vmalloc(size);
	int n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obs_vfree_action, buf), 0);
	kds_fence_set_name(f, "obs-big");
	kunit_warning_suppress(test) {
		n = kds_fence_blame(f, buf, size);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 0);
	}
	KUNIT_EXPECT_GT(test, n, 0);
	KUNIT_EXPECT_EQ(test, (size_t)n, strlen(buf));
	EXPECT_HAS(test, buf, "\"obs-big\" waits for 1 fence");
}

/* A graph's work items are named after their nodes. */
struct graph_run {
	struct kds_async_graph *g;
	struct kds_async_domain *d;
	int ret;
	struct completion done;
};

static int graph_run_fn(void *data)
{
	struct graph_run *r = data;

	r->ret = kds_async_graph_run(r->g, r->d);
	complete(&r->done);
	return 0;
}

static void observe_graph_node_names(struct kunit *test)
{
	struct completion release;
	struct graph_run r = {};
	struct task_struct *t;
	char *text = NULL;
	int i;

	init_completion(&release);
	init_completion(&r.done);
	r.d = kds_async_domain_create("obs-graph", 0);
	KUNIT_ASSERT_NOT_NULL(test, r.d);
	r.g = kds_async_graph_create(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r.g);
	KUNIT_ASSERT_EQ(test, kds_async_graph_add(r.g, "obs-node:first", obs_block_fn,
						  &release, NULL), 0);
	KUNIT_ASSERT_EQ(test, kds_async_graph_add(r.g, "obs-node:second", obs_nop_fn, NULL,
						  "obs-node:first"), 0);
	t = kthread_run(graph_run_fn, &r, "kds_obs_graph");
	if (IS_ERR(t))
		complete(&release);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/* Until both are queued (the first blocks until released). */
	for (i = 0; i < 3000; i++) {
		text = read_debugfs(test, "domains");
		if (strstr(text, "\"obs-node:second\""))
			break;
		obs_kvfree(test, text);
		text = NULL;
		msleep(20);
	}
	complete(&release);
	wait_for_completion(&r.done);
	KUNIT_EXPECT_EQ(test, r.ret, 0);
	KUNIT_ASSERT_NOT_NULL(test, text);
	EXPECT_HAS(test, text, "domain \"obs-graph\"");
	EXPECT_HAS(test, text, "obs_block_fn [kds_test] fence ");
	EXPECT_HAS(test, text, "\"obs-node:first\"\n");
	EXPECT_HAS(test, text, "obs_nop_fn [kds_test] fence ");
	kds_async_graph_destroy(r.g);
	kds_async_domain_destroy(r.d);
}

/* A dma_fence wait that times out names the dma_fence and blames. */
static void observe_dma_timeout_message(struct kunit *test)
{
	struct kds_fence *f = kds_test_bounded_fence(test);
	struct dma_fence *d = obs_dma(test, 99);
	struct log_mark m;
	char *text;

	obs_signal_at_end(test, d);
	kds_fence_set_name(f, "obs-dma-timeout");
	log_mark(&m);
	KUNIT_ASSERT_EQ(test, kds_fence_await_dma_fence(f, d, msecs_to_jiffies(20), GFP_KERNEL), 1);
	kds_fence_complete(f);
	kds_fence_wait(f);
	KUNIT_EXPECT_EQ(test, kds_fence_get_status(f), -ETIMEDOUT);
	text = log_since(test, &m);
	EXPECT_HAS(test, text, " blocked by: fence ");
	EXPECT_HAS(test, text, "\"obs-dma-timeout\" waits for 1 fence through 0 others:");
	EXPECT_HAS(test, text, "\"obs-dma-timeout\": dma_fence kds_obs:obs-timeline:99");
}

/*
 * kds_fence_blame() does not sleep: it may be called with bottom halves
 * off and under a spinlock_t (the atomic-sleep checks of the debug and rt
 * kernels watch).
 */
static void observe_blame_does_not_sleep(struct kunit *test)
{
	static DEFINE_SPINLOCK(lock);
	struct kds_fence *f = kds_test_fence(test);
	struct kds_fence *g = kds_test_fence(test);
	char buf[256];
	int n;

	kds_fence_set_name(f, "obs-atomic");
	KUNIT_ASSERT_EQ(test, kds_fence_await_fence(f, g, GFP_KERNEL), 1);
	local_bh_disable();
	n = kds_fence_blame(f, buf, sizeof(buf));
	local_bh_enable();
	KUNIT_EXPECT_GT(test, n, 0);
	EXPECT_HAS(test, buf, "\"obs-atomic\" waits for 2 fences");
	spin_lock(&lock);
	n = kds_fence_blame(f, buf, sizeof(buf));
	spin_unlock(&lock);
	KUNIT_EXPECT_GT(test, n, 0);
	EXPECT_HAS(test, buf, "\"obs-atomic\" waits for 2 fences");	kds_fence_complete(g);
	kds_fence_complete(f);
}

/*
 * Setting up a live resource again is refused with a warning: its queue
 * and its place on kds's list stay as they were.
 */
static void observe_resource_init_twice_refused(struct kunit *test)
{
	struct kds_resource *r = obs_resource(test);
	unsigned long excl = 1;
	struct kds_resource_set *s;

	kds_resource_set_name(r, "obs-twice");
	s = kds_waitall(1, &excl, &r, KDS_WAIT_BLOCKING);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(s));
	kunit_warning_suppress(test) {
		kds_resource_init(r);
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 1);
	}
	/* Still held, still named, listed once. */
	KUNIT_EXPECT_NULL(test, kds_waitall(1, NULL, &r, 0));
	KUNIT_EXPECT_EQ(test, count(read_debugfs(test, "resources"), "resource \"obs-twice\"\n"),
			1);
	kds_resource_set_release(&s);
}

/* Bad arguments: -EINVAL or nothing, and a warning; never a crash. */
static void observe_bad_arguments(struct kunit *test)
{
	struct kds_fence *f = kds_test_fence(test);
	struct kds_fence *done = kds_test_fence(test);
	char buf[16];

	kds_fence_set_name(f, "obs-a-long-name-to-be-cut");
	kds_fence_complete(done);
	kunit_warning_suppress(test) {
		KUNIT_EXPECT_EQ(test, kds_fence_blame(NULL, buf, sizeof(buf)), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_blame(f, NULL, sizeof(buf)), -EINVAL);
		KUNIT_EXPECT_EQ(test, kds_fence_blame(f, buf, 0), -EINVAL);
		kds_fence_set_name(NULL, "x");
		kds_fence_set_name(f, NULL);
		kds_resource_set_name(NULL, "x");
		kds_resource_set_set_name(NULL, "x");
		kds_async_work_set_name(NULL, "x");
		KUNIT_EXPECT_SUPPRESSED_WARNING_COUNT(test, 8);
	}
	/* The name did not change. */
	EXPECT_HAS(test, blame(test, f), "\"obs-a-long-name-to-be-cut\"");
	/* A small buffer gets the start of the text, NUL-terminated. */
	memset(buf, 'x', sizeof(buf));
	KUNIT_EXPECT_EQ(test, kds_fence_blame(f, buf, sizeof(buf)), (int)sizeof(buf) - 1);
	KUNIT_EXPECT_EQ(test, buf[sizeof(buf) - 1], '\0');
	KUNIT_EXPECT_EQ(test, strncmp(buf, "fence ", 6), 0);
	memset(buf, 'x', sizeof(buf));
	KUNIT_EXPECT_EQ(test, kds_fence_blame(f, buf, 1), 0);
	KUNIT_EXPECT_EQ(test, buf[0], '\0');
	KUNIT_EXPECT_EQ(test, buf[1], 'x');
	KUNIT_EXPECT_STREQ(test, blame(test, done), "done\n");
}

static struct kunit_case kds_observe_cases[] = {
	KUNIT_CASE(observe_default_names),
	KUNIT_CASE(observe_names_format_and_cut),
	KUNIT_CASE(observe_names_any_context),
	KUNIT_CASE(observe_names_never_torn),
	KUNIT_CASE(observe_source_descriptions),
	KUNIT_CASE(observe_diamond_frontier),
	KUNIT_CASE(observe_set_behind_holder),
	KUNIT_CASE(observe_debugfs_files),
	KUNIT_CASE(observe_debugfs_while_changing),
	KUNIT_CASE(observe_blame_ms_fence_wait),
	KUNIT_CASE(observe_blame_ms_waitall),
	KUNIT_CASE(observe_blame_ms_synchronize),
	KUNIT_CASE(observe_blame_ms_infinite_wait),
	KUNIT_CASE(observe_blame_big_buffer),
	KUNIT_CASE(observe_graph_node_names),
	KUNIT_CASE(observe_dma_timeout_message),
	KUNIT_CASE(observe_blame_does_not_sleep),
	KUNIT_CASE(observe_resource_init_twice_refused),
	KUNIT_CASE(observe_bad_arguments),
	{}
};

static struct kunit_suite kds_observe_suite = {
	.name = "kds_observe",
	.test_cases = kds_observe_cases,
};

kunit_test_suites(&kds_observe_suite);
