//! The pxOS OS-call ABI (`examples/os.pxs`): call numbers, capabilities and
//! error codes, defined once. `examples/lib/abi.pxs` (the constants user
//! programs and the kernel include, and the kernel's dispatch tables) is
//! generated from these tables by [`abi_pxs`], and `docs/abi.md` is checked
//! against them; tests fail when either is stale.

use alloc::format;
use alloc::string::String;

/// A capability bit: the calls it grants are those whose `caps` name it.
pub const CAPS: &[(&str, u32, &str)] = &[
    ("CAP_CONSOLE", 1, "console output and input"),
    ("CAP_CLOCK", 2, "the host clock"),
    ("CAP_HALT", 4, "halting the machine"),
    ("CAP_PROC", 8, "starting, waiting for and killing processes"),
    ("CAP_MEM", 16, "allocating memory"),
    ("CAP_IPC", 32, "message channels"),
    (
        "CAP_INFO",
        64,
        "kernel tables (ps, mem, audit, heat, programs)",
    ),
    ("CAP_SCREEN", 128, "drawing on the screen"),
    ("CAP_FILE", 256, "files on the disk"),
];

/// Every capability.
pub const CAP_ALL: u32 = 511;

/// `SPAWN` flag, or-ed into `r3` with the capabilities: `r2` is the window
/// address of an argument text (NUL-terminated, [`ARG_WORDS`] words readable)
/// instead of a number. The child finds a copy in the last [`ARG_WORDS`]
/// words of its data window, `r1` = its window address.
pub const SPAWN_TEXT: u32 = 0x8000;
/// Words of a `SPAWN_TEXT` argument (at most 4 · ARG_WORDS − 1 bytes and a NUL).
pub const ARG_WORDS: u32 = 32;
/// log2 [`ARG_WORDS`]: the kernel finds a pid's argument text at `pid << ARG_SHIFT`.
pub const ARG_SHIFT: u32 = ARG_WORDS.trailing_zeros();
const _: () = assert!(
    ARG_WORDS == 1 << ARG_SHIFT,
    "ARG_WORDS must be a power of two"
);

/// Error results: every result `>= ERR_MIN` is an error, nothing else is.
pub const ERRORS: &[(&str, u32, &str)] = &[
    (
        "ERR_MIN",
        0xFFFF_FFE0,
        "every result at or above this is an error",
    ),
    (
        "ERR_BUSY",
        0xFFFF_FFE0,
        "the file is open (remove or rename refused)",
    ),
    ("ERR_IO", 0xFFFF_FFE1, "the disk failed"),
    (
        "ERR_NODISK",
        0xFFFF_FFE2,
        "no disk, or it holds no FAT32 volume",
    ),
    ("ERR_NOFILE", 0xFFFF_FFE3, "no such file or directory"),
    ("ERR_EXIST", 0xFFFF_FFE4, "the name exists"),
    ("ERR_NOSPC", 0xFFFF_FFE5, "no space left on the disk"),
    (
        "ERR_NOTDIR",
        0xFFFF_FFE6,
        "a path component is not a directory",
    ),
    (
        "ERR_ISDIR",
        0xFFFF_FFE7,
        "a directory where a file is needed",
    ),
    ("ERR_NOTEMPTY", 0xFFFF_FFE8, "the directory is not empty"),
    ("ERR_CORRUPT", 0xFFFF_FFE9, "the file system is corrupt"),
    ("ERR_BADNAME", 0xFFFF_FFEA, "bad name or file argument"),
    ("ERR_ROFS", 0xFFFF_FFEB, "the disk is read-only"),
    ("ERR_BADFS", 0xFFFF_FFEC, "not a FAT32 file system"),
    ("ERR_MFILE", 0xFFFF_FFED, "too many open files"),
    ("ERR_TOOLONG", 0xFFFF_FFEE, "a name or path is too long"),
    ("ERR_BADF", 0xFFFF_FFEF, "not a file handle of this process"),
    ("ERR_BADCALL", 0xFFFF_FFF1, "unknown call number"),
    (
        "ERR_DENIED",
        0xFFFF_FFF2,
        "the process lacks the capability (audited)",
    ),
    (
        "ERR_NOMEM",
        0xFFFF_FFF3,
        "over the process's quota or no free run of blocks",
    ),
    (
        "ERR_NOPROC",
        0xFFFF_FFF4,
        "no such process, not your child, or the process table is full",
    ),
    (
        "ERR_INVAL",
        0xFFFF_FFF5,
        "bad argument (channel, address, size)",
    ),
    ("ERR_FULL", 0xFFFF_FFF6, "channel buffer full"),
    ("ERR_NOENT", 0xFFFF_FFF7, "no program with that name"),
    (
        "ERR_NOEXEC",
        0xFFFF_FFF8,
        "the file is not a PXI program image",
    ),
    (
        "ERR_BADEXEC",
        0xFFFF_FFF9,
        "a damaged PXI image (checksum, zlib stream or header)",
    ),
    (
        "ERR_TOOBIG",
        0xFFFF_FFFA,
        "the program's code does not fit the free code load arena",
    ),
    (
        "ERR_FAULT",
        0xFFFF_FFFD,
        "a pointer or range outside the caller's data window",
    ),
    ("ERR_NOSYS", 0xFFFF_FFFE, "the host has no such device"),
];

macro_rules! oscalls {
    ($( $variant:ident = $num:literal, $name:literal, $cap:literal; )*) => {
        /// An OS call number (`r0` of an `ecall`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum OsCall {
            $( #[doc = $name] $variant = $num, )*
        }

        /// (number, name, capability needed or "") of every OS call, in number order.
        pub const OS_CALLS: &[(u32, &str, &str)] = &[ $( ($num, $name, $cap), )* ];
    };
}

oscalls! {
    Exit   = 0,  "EXIT",   "";
    Yield  = 1,  "YIELD",  "";
    GetPid = 2,  "GETPID", "";
    Write  = 3,  "WRITE",  "CAP_CONSOLE";
    PutU   = 4,  "PUTU",   "CAP_CONSOLE";
    PutC   = 5,  "PUTC",   "CAP_CONSOLE";
    GetC   = 6,  "GETC",   "CAP_CONSOLE";
    Clock  = 7,  "CLOCK",  "CAP_CLOCK";
    Halt   = 8,  "HALT",   "CAP_HALT";
    Spawn  = 9,  "SPAWN",  "CAP_PROC";
    Wait   = 10, "WAIT",   "CAP_PROC";
    Kill   = 11, "KILL",   "CAP_PROC";
    Alloc  = 12, "ALLOC",  "CAP_MEM";
    Free   = 13, "FREE",   "CAP_MEM";
    Send   = 14, "SEND",   "CAP_IPC";
    Recv   = 15, "RECV",   "CAP_IPC";
    Info   = 16, "INFO",   "CAP_INFO";
    Blit   = 17, "BLIT",   "CAP_SCREEN";
    Fg     = 18, "FG",     "CAP_PROC";
    Fopen  = 19, "FOPEN",  "CAP_FILE";
    Fclose = 20, "FCLOSE", "CAP_FILE";
    Fread  = 21, "FREAD",  "CAP_FILE";
    Fwrite = 22, "FWRITE", "CAP_FILE";
    Fseek  = 23, "FSEEK",  "CAP_FILE";
    Fstat  = 24, "FSTAT",  "CAP_FILE";
    Readdir = 25, "READDIR", "CAP_FILE";
    Mkdir  = 26, "MKDIR",  "CAP_FILE";
    Rmdir  = 27, "RMDIR",  "CAP_FILE";
    Unlink = 28, "UNLINK", "CAP_FILE";
    Rename = 29, "RENAME", "CAP_FILE";
    Fsync  = 30, "FSYNC",  "CAP_FILE";
    Df     = 31, "DF",     "CAP_FILE";
    Exec   = 32, "EXEC",   "CAP_PROC + CAP_FILE";
    Swap   = 33, "SWAP",   "CAP_PROC + CAP_FILE";
}

/// The value of capability `name`, or of a sum `CAP_A + CAP_B` (0 for "" or
/// an unknown name).
pub fn cap_value(name: &str) -> u32 {
    name.split('+')
        .map(str::trim)
        .try_fold(0, |sum, part| {
            CAPS.iter().find(|c| c.0 == part).map(|c| sum | c.1)
        })
        .unwrap_or(0)
}

/// The text of `examples/lib/abi.pxs`.
pub fn abi_pxs() -> String {
    let mut s = String::from(
        "; GENERATED by `pxi::osabi::abi_pxs()` from pxi/src/osabi.rs — do not edit.\n\
         ; Regenerate: UPDATE_GENERATED=1 cargo test -p pxi-asm --test generated\n\
         ;\n\
         ; The pxOS OS-call ABI (docs/abi.md): call numbers, errors, capabilities.\n\n",
    );
    for (num, name, _) in OS_CALLS {
        s.push_str(&format!(".equ OS_{name}, {num}\n"));
    }
    s.push_str(&format!(".equ NCALLS, {}\n\n", OS_CALLS.len()));
    for (name, value, doc) in ERRORS {
        s.push_str(&format!(".equ {name}, 0x{value:08X} ; {doc}\n"));
    }
    s.push('\n');
    for (name, value, doc) in CAPS {
        s.push_str(&format!(".equ {name}, {value} ; {doc}\n"));
    }
    s.push_str(&format!(".equ CAP_ALL, {CAP_ALL}\n\n"));
    s.push_str(&format!(
        ".equ SPAWN_TEXT, 0x{SPAWN_TEXT:X} ; SPAWN: r2 is an argument text\n"
    ));
    s.push_str(&format!(
        ".equ ARG_WORDS, {ARG_WORDS} ; its words, at the end of the child's window\n"
    ));
    s.push_str(&format!(".equ ARG_SHIFT, {ARG_SHIFT} ; log2 ARG_WORDS\n"));
    s
}

/// The kernel's dispatch tables (`examples/lib/abi_kernel.pxs`): the
/// capability each call needs and its handler `k_<name>`.
pub fn abi_kernel_pxs() -> String {
    let mut s = String::from(
        "; GENERATED by `pxi::osabi::abi_kernel_pxs()` from pxi/src/osabi.rs — do not edit.\n\
         ; Regenerate: UPDATE_GENERATED=1 cargo test -p pxi-asm --test generated\n\n",
    );
    s.push_str("; The program directory's layout (pxi::program).\n");
    for (name, value, doc) in crate::program::LAYOUT {
        s.push_str(&format!(".equ {name}, {value} ; {doc}\n"));
    }
    s.push_str("; SYS_LOAD's parameter block (pxi::loader).\n");
    for (name, value, doc) in crate::loader::CONSTANTS {
        s.push_str(&format!(".equ {name}, {value} ; {doc}\n"));
    }
    s.push_str("\n.data\n");
    s.push_str("os_captab:\n");
    for (_, name, cap) in OS_CALLS {
        let cap = if cap.is_empty() { "0" } else { cap };
        s.push_str(&format!("    .word {cap} ; {name}\n"));
    }
    s.push_str("os_calltab:\n");
    for (_, name, _) in OS_CALLS {
        s.push_str(&format!("    .word k_{}\n", name.to_ascii_lowercase()));
    }
    s.push_str(".code\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for (i, (num, _, cap)) in OS_CALLS.iter().enumerate() {
            assert_eq!(*num as usize, i, "calls are numbered densely");
            assert!(cap.is_empty() || cap_value(cap) != 0, "{cap}");
        }
        assert!(
            OS_CALLS.len() <= 41,
            "the kernel's call tables hold 41 calls and k_badcall (P_CALLTAB in os.pxs)"
        );
        assert_eq!(cap_value("CAP_PROC + CAP_FILE"), 8 | 256);
        assert_eq!(cap_value("CAP_PROC + CAP_NONE"), 0);
        assert_eq!(CAPS.iter().map(|c| c.1).sum::<u32>(), CAP_ALL);
        assert!(ERRORS.iter().all(|e| e.1 >= ERRORS[0].1));
        assert_eq!(OsCall::Swap as usize, OS_CALLS.len() - 1);
    }
}
