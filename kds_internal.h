/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kds - declarations shared by kds.ko's C file and its Rust core only.
 * Nothing here is API: drivers include <kds.h>.
 */
#ifndef _KDS_INTERNAL_H
#define _KDS_INTERNAL_H

int kds_c_init(void);

#endif /* _KDS_INTERNAL_H */
