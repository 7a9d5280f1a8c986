// SPDX-License-Identifier: GPL-2.0

//! The version of `kds.ko`.
//!
//! `include/kds.h` has the same numbers as `KDS_VERSION_{MAJOR,MINOR,PATCH}`;
//! `kds_c_init()` refuses to load the module when they disagree.

use kernel::ffi::c_char;
use kernel::prelude::*;
use kernel::str::CStrExt;

/// Major version: incremented on incompatible changes of the C API, from 1
/// on; 0 while the C API is not stable.
pub(crate) const MAJOR: u32 = 0;
/// Minor version: incremented when the C API grows, and (while `MAJOR` is
/// 0) on incompatible changes.
pub(crate) const MINOR: u32 = 6;
/// Patch level.
pub(crate) const PATCH: u32 = 0;

/// The version as text.
pub(crate) const STRING: &CStr = c"0.6.0";

/// Packs a version like `KERNEL_VERSION()` and `KDS_VERSION()` do.
pub(crate) const fn code(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 16) + (minor << 8) + patch
}

/// C: `u32 kds_version(void)`.
#[no_mangle]
pub(crate) extern "C" fn kds_version() -> u32 {
    code(MAJOR, MINOR, PATCH)
}

/// C: `const char *kds_version_string(void)`.
#[no_mangle]
pub(crate) extern "C" fn kds_version_string() -> *const c_char {
    STRING.as_char_ptr()
}

#[kunit_tests(kds_version)]
mod tests {
    use super::*;

    #[test]
    fn code_packs_like_kernel_version() {
        assert_eq!(code(0, 1, 0), 0x100);
        assert_eq!(code(7, 3, 4), 0x07_03_04);
    }

    #[test]
    fn string_matches_numbers() {
        let mut buf = [0u8; 16];
        let mut w = kernel::str::Formatter::new(&mut buf);
        let ok = ::core::fmt::Write::write_fmt(&mut w, format_args!("{MAJOR}.{MINOR}.{PATCH}"));
        assert!(ok.is_ok());
        let n = w.bytes_written();
        assert_eq!(&buf[..n], STRING.to_bytes());
    }
}
