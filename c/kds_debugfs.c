// SPDX-License-Identifier: GPL-2.0
/*
 * kds - debugfs files and the blame parameter.
 *
 * /sys/kernel/debug/kds/{fences,resources,domains,graph.dot} are snapshots:
 * the Rust core (rust/debug.rs) writes a file's whole text when it is
 * opened, copying a few objects per lock hold, and reads serve that text.
 * /sys/kernel/debug/kds/blame takes a fence id and prints its blocking
 * frontier in the kernel log.
 *
 * kds.blame_ms: how long a wait lasts before kds says what it waits for.
 *
 * Copyright (C) 2026 The kds authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <kds.h>

#include "kds_internal.h"

static unsigned int kds_blame_ms = 10000;
module_param_named(blame_ms, kds_blame_ms, uint, 0644);
MODULE_PARM_DESC(blame_ms,
		 "print what a wait waits for once it has lasted this long, in ms (0: never)");

/* kds.blame_ms in jiffies, 0 for never (read by rust/capi.rs). */
unsigned long kds_blame_jiffies(void)
{
	unsigned int ms = READ_ONCE(kds_blame_ms);

	return ms ? max(msecs_to_jiffies(ms), 1UL) : 0;
}

unsigned int kds_blame_ms_get(void)
{
	return READ_ONCE(kds_blame_ms);
}

struct kds_debugfs_text {
	void *buf;
	size_t len;
};

static int kds_debugfs_open(struct inode *inode, struct file *file)
{
	struct kds_debugfs_text *t = kmalloc_obj(*t, GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	t->buf = kds_debugfs_text((uintptr_t)inode->i_private, &t->len);
	if (!t->buf) {
		kfree(t);
		return -ENOMEM;
	}
	file->private_data = t;
	return 0;
}

static ssize_t kds_debugfs_read(struct file *file, char __user *ubuf, size_t count,
				loff_t *ppos)
{
	struct kds_debugfs_text *t = file->private_data;

	return simple_read_from_buffer(ubuf, count, ppos, t->buf, t->len);
}

static int kds_debugfs_release(struct inode *inode, struct file *file)
{
	struct kds_debugfs_text *t = file->private_data;

	kvfree(t->buf);
	kfree(t);
	return 0;
}

static const struct file_operations kds_debugfs_text_fops = {
	.owner = THIS_MODULE,
	.open = kds_debugfs_open,
	.read = kds_debugfs_read,
	.release = kds_debugfs_release,
	.llseek = default_llseek,
};

static ssize_t kds_debugfs_blame_write(struct file *file, const char __user *ubuf,
				       size_t count, loff_t *ppos)
{
	u64 id;
	int ret;

	ret = kstrtou64_from_user(ubuf, count, 0, &id);
	if (ret)
		return ret;
	kds_debugfs_blame(id);
	return count;
}

static const struct file_operations kds_debugfs_blame_fops = {
	.owner = THIS_MODULE,
	.write = kds_debugfs_blame_write,
	.llseek = noop_llseek,
};

static struct dentry *kds_debugfs_dir;

/**
 * kds_debugfs_init() - Create /sys/kernel/debug/kds/.
 *
 * Failures are not fatal (as for every debugfs user): kds works without.
 */
void kds_debugfs_init(void)
{
	static const struct {
		const char *name;
		unsigned int which;
	} files[] = {
		{ "fences", KDS_DEBUGFS_FENCES },
		{ "resources", KDS_DEBUGFS_RESOURCES },
		{ "domains", KDS_DEBUGFS_DOMAINS },
		{ "graph.dot", KDS_DEBUGFS_GRAPH },
	};
	unsigned int i;

	kds_debugfs_dir = debugfs_create_dir("kds", NULL);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		debugfs_create_file(files[i].name, 0444, kds_debugfs_dir,
				    (void *)(uintptr_t)files[i].which, &kds_debugfs_text_fops);
	debugfs_create_file("blame", 0200, kds_debugfs_dir, NULL, &kds_debugfs_blame_fops);
}

/**
 * kds_debugfs_exit() - Remove /sys/kernel/debug/kds/, waiting for readers.
 */
void kds_debugfs_exit(void)
{
	debugfs_remove(kds_debugfs_dir);
	kds_debugfs_dir = NULL;
}
