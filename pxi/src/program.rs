//! Linking user programs into an OS image: the program directory.
//!
//! A user program is an ordinary image built by `pxi-asm` (labels from 0 in
//! its code and its data). [`link`] appends its code pixels to the OS image's
//! code and its initial data to the OS image's memory, and records it in the
//! *program directory*, which starts at the first word past the OS's own
//! memory ([`Directory::addr`] = the OS image's `.memory`). The kernel reads
//! the directory, gives each process of a program a code window over the
//! program's pixels and a data window initialised from its data, so the
//! program runs at any place without relocation (docs/isa.md, privilege).
//!
//! Directory layout (words): a header of [`HEADER_WORDS`] words — `MAGIC`,
//! count, then the **arenas** ([`D_DATA_ARENA`]..[`D_CODE_END`]): the data
//! memory and the code pixels past everything linked, which the kernel hands
//! out at run time (large data windows; code loaded from files) — then
//! [`MAX_PROGRAMS`] entries of [`ENTRY_WORDS`] words: name (8 bytes,
//! NUL-padded, two words), code base, code length, entry point
//! (window-relative), data address (where its initial data lies), data words
//! (the program's memory size, its window), initial data words (a prefix of
//! the window; the rest starts zeroed). Nothing in an entry grants
//! capabilities: the shell decides those.
//!
//! [`link`] leaves both arenas empty; [`reserve`] grows the image's data
//! memory and code to the sizes a run wants (`pxi-run --memory`,
//! `--code-arena`) and records the arenas, so a test or a small session
//! never allocates more than it needs.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::image::{Image, MAX_MEMORY_WORDS, MAX_PIXELS, Segment};

/// `PXPD` — marks a program directory.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PXPD");
/// Programs one directory holds.
pub const MAX_PROGRAMS: usize = 48;
/// Words per directory entry.
pub const ENTRY_WORDS: usize = 8;
/// Words of the directory header (before the first entry).
pub const HEADER_WORDS: usize = 6;
/// Words of the whole directory (header and every entry).
pub const DIRECTORY_WORDS: usize = HEADER_WORDS + MAX_PROGRAMS * ENTRY_WORDS;
/// Longest program name in bytes.
pub const NAME_BYTES: usize = 8;

/// Large-window arena words `pxi-run` gives an OS image unless told otherwise (1 MiB).
pub const DEFAULT_DATA_ARENA: u32 = 1 << 18;
/// Code load arena pixels `pxi-run` gives an OS image unless told otherwise.
pub const DEFAULT_CODE_ARENA: u32 = 1 << 14;

/// Header word: number of programs.
pub const D_COUNT: usize = 1;
/// Header word: first word of the large-window data arena.
pub const D_DATA_ARENA: usize = 2;
/// Header word: end of the data arena (the run's data memory size).
pub const D_DATA_END: usize = 3;
/// Header word: first pixel of the code load arena.
pub const D_CODE_ARENA: usize = 4;
/// Header word: end of the code load arena (the run's code length).
pub const D_CODE_END: usize = 5;

/// Entry word: the name's first four bytes.
pub const E_NAME: usize = 0;
/// Entry word: first code pixel.
pub const E_CODE: usize = 2;
/// Entry word: code pixels.
pub const E_CODE_LEN: usize = 3;
/// Entry word: entry point, relative to the code.
pub const E_ENTRY: usize = 4;
/// Entry word: address of the initial data image in memory.
pub const E_DATA: usize = 5;
/// Entry word: the program's data memory size in words.
pub const E_DATA_LEN: usize = 6;
/// Entry word: words of initial data at [`E_DATA`] (at most [`E_DATA_LEN`]).
pub const E_INIT: usize = 7;

/// The directory layout as `(name, value, meaning)`: generated into the
/// kernel's constants (`examples/lib/abi_kernel.pxs`), never hand-copied.
pub const LAYOUT: &[(&str, u32, &str)] = &[
    (
        "PD_HEADER",
        HEADER_WORDS as u32,
        "words before the first entry",
    ),
    ("PD_ENTRY_WORDS", ENTRY_WORDS as u32, "words per entry"),
    ("PD_MAX", MAX_PROGRAMS as u32, "entries the directory holds"),
    ("PD_COUNT", D_COUNT as u32, "header: programs linked"),
    (
        "PD_DATA_ARENA",
        D_DATA_ARENA as u32,
        "header: first word of the large-window arena",
    ),
    (
        "PD_DATA_END",
        D_DATA_END as u32,
        "header: end of the large-window arena",
    ),
    (
        "PD_CODE_ARENA",
        D_CODE_ARENA as u32,
        "header: first pixel of the code load arena",
    ),
    (
        "PD_CODE_END",
        D_CODE_END as u32,
        "header: end of the code load arena",
    ),
    ("E_CODE", E_CODE as u32, "entry: first code pixel"),
    ("E_CODELEN", E_CODE_LEN as u32, "entry: code pixels"),
    (
        "E_ENTRY",
        E_ENTRY as u32,
        "entry: entry point, window-relative",
    ),
    (
        "E_DATA",
        E_DATA as u32,
        "entry: address of the initial data",
    ),
    (
        "E_DATALEN",
        E_DATA_LEN as u32,
        "entry: the program's data window in words",
    ),
    ("E_INIT", E_INIT as u32, "entry: words of initial data"),
];

/// Why a program cannot be linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The name is empty, longer than [`NAME_BYTES`] or not printable ASCII.
    BadName(String),
    /// A program of that name is already linked.
    Duplicate(String),
    /// The directory is full.
    TooMany,
    /// The OS image's memory past its directory is not the directory's (a
    /// data segment overlaps where the directory must go).
    Overlap(u32),
    /// The linked image would exceed the memory limit.
    TooLarge(u64),
    /// The code would exceed the largest image.
    CodeTooLarge(u64),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::BadName(name) => write!(
                f,
                "program name `{name}` must be 1 to {NAME_BYTES} printable ASCII characters"
            ),
            LinkError::Duplicate(name) => write!(f, "a program named `{name}` is already linked"),
            LinkError::TooMany => {
                write!(f, "the program directory is full ({MAX_PROGRAMS} programs)")
            }
            LinkError::Overlap(addr) => write!(
                f,
                "the OS image has data at word {addr}, where the program directory must go"
            ),
            LinkError::TooLarge(words) => write!(
                f,
                "the linked image needs {words} words of memory; at most {MAX_MEMORY_WORDS} are allowed"
            ),
            LinkError::CodeTooLarge(pixels) => write!(
                f,
                "the image would need {pixels} code pixels; at most {MAX_PIXELS} fit in an image"
            ),
        }
    }
}

/// One linked program, as its directory entry describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File stem or given name.
    pub name: String,
    /// First code pixel.
    pub code: u32,
    /// Code pixels.
    pub code_len: u32,
    /// Entry point, relative to `code`.
    pub entry: u32,
    /// Address of the initial data image.
    pub data: u32,
    /// Data memory size in words (the program's window).
    pub data_len: u32,
    /// Words of initial data at `data`.
    pub init_len: u32,
}

/// The program directory of an OS image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// Word address of the directory (the OS image's own memory size).
    pub addr: u32,
    /// Linked programs, in directory order.
    pub entries: Vec<Entry>,
    /// The large-window data arena: `[start, end)` words.
    pub data_arena: (u32, u32),
    /// The code load arena: `[start, end)` pixels.
    pub code_arena: (u32, u32),
}

fn pack_name(name: &str) -> Result<[u32; 2], LinkError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > NAME_BYTES || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(LinkError::BadName(name.into()));
    }
    let mut packed = [0u8; NAME_BYTES];
    packed[..bytes.len()].copy_from_slice(bytes);
    Ok([
        u32::from_le_bytes([packed[0], packed[1], packed[2], packed[3]]),
        u32::from_le_bytes([packed[4], packed[5], packed[6], packed[7]]),
    ])
}

fn unpack_name(words: [u32; 2]) -> String {
    let mut bytes = Vec::with_capacity(NAME_BYTES);
    bytes.extend_from_slice(&words[0].to_le_bytes());
    bytes.extend_from_slice(&words[1].to_le_bytes());
    bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect()
}

impl Directory {
    /// The directory linked into `image`, if any: a segment at some address
    /// starting with [`MAGIC`] and as long as a directory.
    pub fn of(image: &Image) -> Option<Directory> {
        let seg = image
            .segments
            .iter()
            .find(|s| s.words.len() == DIRECTORY_WORDS && s.words[0] == MAGIC)?;
        let w = &seg.words;
        let count = (w[D_COUNT] as usize).min(MAX_PROGRAMS);
        let entries = (0..count)
            .map(|i| {
                let e = &w[HEADER_WORDS + i * ENTRY_WORDS..HEADER_WORDS + (i + 1) * ENTRY_WORDS];
                Entry {
                    name: unpack_name([e[E_NAME], e[E_NAME + 1]]),
                    code: e[E_CODE],
                    code_len: e[E_CODE_LEN],
                    entry: e[E_ENTRY],
                    data: e[E_DATA],
                    data_len: e[E_DATA_LEN],
                    init_len: e[E_INIT],
                }
            })
            .collect();
        Some(Directory {
            addr: seg.addr,
            entries,
            data_arena: (w[D_DATA_ARENA], w[D_DATA_END]),
            code_arena: (w[D_CODE_ARENA], w[D_CODE_END]),
        })
    }

    /// The program called `name`.
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    fn words(&self) -> Result<Vec<u32>, LinkError> {
        let mut words = vec![0; DIRECTORY_WORDS];
        words[..HEADER_WORDS].copy_from_slice(&[
            MAGIC,
            self.entries.len() as u32,
            self.data_arena.0,
            self.data_arena.1,
            self.code_arena.0,
            self.code_arena.1,
        ]);
        for (i, e) in self.entries.iter().enumerate() {
            let [n0, n1] = pack_name(&e.name)?;
            words[HEADER_WORDS + i * ENTRY_WORDS..HEADER_WORDS + (i + 1) * ENTRY_WORDS]
                .copy_from_slice(&[
                    n0, n1, e.code, e.code_len, e.entry, e.data, e.data_len, e.init_len,
                ]);
        }
        Ok(words)
    }

    /// Write this directory back into `image`'s directory segment.
    fn store(&self, image: &mut Image) -> Result<(), LinkError> {
        let words = self.words()?;
        let seg = image
            .segments
            .iter_mut()
            .find(|s| s.addr == self.addr)
            .expect("the directory segment exists");
        seg.words = words;
        Ok(())
    }
}

/// The program's initial data as one block, up to its last initialised word
/// (a program with a large `.memory` does not bloat the OS image: the
/// kernel zeroes the rest of its window).
pub fn initial_data(program: &Image) -> Vec<u32> {
    let end = program
        .segments
        .iter()
        .map(|seg| seg.addr as usize + seg.words.len())
        .max()
        .unwrap_or(0);
    let mut data = vec![0; end];
    for seg in &program.segments {
        data[seg.addr as usize..seg.addr as usize + seg.words.len()].copy_from_slice(&seg.words);
    }
    data
}

/// Link `program` (named `name`) into `os`: its code after the OS's code,
/// its initial data after everything in memory, and an entry in the program
/// directory at `os.memory_words` (created by the first link).
pub fn link(os: &mut Image, name: &str, program: &Image) -> Result<Entry, LinkError> {
    pack_name(name)?;
    let mut dir = match Directory::of(os) {
        Some(dir) => dir,
        None => {
            let addr = os.memory_words;
            if let Some(seg) = os
                .segments
                .iter()
                .find(|s| s.addr as usize + s.words.len() > addr as usize)
            {
                return Err(LinkError::Overlap(seg.addr));
            }
            os.segments.push(Segment {
                addr,
                words: vec![0; DIRECTORY_WORDS],
            });
            os.memory_words = addr + DIRECTORY_WORDS as u32;
            Directory {
                addr,
                ..Directory::default()
            }
        }
    };
    if dir.find(name).is_some() {
        return Err(LinkError::Duplicate(name.into()));
    }
    if dir.entries.len() == MAX_PROGRAMS {
        return Err(LinkError::TooMany);
    }
    let data_at = os.memory_words;
    let init = initial_data(program);
    let total = data_at as u64 + init.len() as u64;
    if total > MAX_MEMORY_WORDS as u64 {
        return Err(LinkError::TooLarge(total));
    }
    let entry = Entry {
        name: name.into(),
        code: os.code.len() as u32,
        code_len: program.code.len() as u32,
        entry: program.entry,
        data: data_at,
        data_len: program.memory_words,
        init_len: init.len() as u32,
    };
    os.code.extend_from_slice(&program.code);
    if !init.is_empty() {
        os.segments.push(Segment {
            addr: data_at,
            words: init,
        });
    }
    os.memory_words = total as u32;
    dir.entries.push(entry.clone());
    dir.data_arena = (os.memory_words, os.memory_words);
    dir.code_arena = (os.code.len() as u32, os.code.len() as u32);
    dir.store(os)?;
    Ok(entry)
}

/// Grow `image` for a run: data memory to at least `memory_words` words and
/// `code_arena` more (zero) code pixels, and record both arenas in its
/// program directory (when it has one) for the kernel to hand out. Call it
/// after the last [`link`]. Returns the directory's arenas, if any.
pub fn reserve(
    image: &mut Image,
    memory_words: u32,
    code_arena: u32,
) -> Result<Option<Directory>, LinkError> {
    if memory_words > MAX_MEMORY_WORDS {
        return Err(LinkError::TooLarge(memory_words as u64));
    }
    let code_end = image.code.len() as u64 + code_arena as u64;
    if code_end + image.code_offset() as u64 > MAX_PIXELS {
        return Err(LinkError::CodeTooLarge(code_end));
    }
    let dir = Directory::of(image);
    let data_start = dir.as_ref().map_or(image.memory_words, |d| d.data_arena.0);
    let code_start = dir
        .as_ref()
        .map_or(image.code.len() as u32, |d| d.code_arena.0);
    image.memory_words = image.memory_words.max(memory_words);
    image.code.resize(code_end as usize, 0);
    let Some(mut dir) = dir else {
        return Ok(None);
    };
    dir.data_arena = (data_start, image.memory_words);
    dir.code_arena = (code_start, code_end as u32);
    dir.store(image)?;
    Ok(Some(dir))
}

/// A count of words or pixels as `--memory` and the microkernel's `memory=` take it: digits
/// with an optional K (× 1024) or M (× 1048576) suffix; `None` when it is not one or exceeds
/// 32 bits.
pub fn parse_words(text: &str) -> Option<u32> {
    let (digits, unit) = match text.strip_suffix(['K', 'k']) {
        Some(digits) => (digits, 1u64 << 10),
        None => match text.strip_suffix(['M', 'm']) {
            Some(digits) => (digits, 1 << 20),
            None => (text, 1),
        },
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(code: &[u32], memory_words: u32, segments: Vec<Segment>) -> Image {
        Image {
            width: 16,
            entry: 0,
            code: code.to_vec(),
            memory_words,
            harts: 1,
            segments,
        }
    }

    #[test]
    fn links_code_data_and_directory() {
        let mut os = image(
            &[1, 2, 3],
            10,
            vec![Segment {
                addr: 0,
                words: vec![9],
            }],
        );
        let prog = image(
            &[7, 8],
            4,
            vec![Segment {
                addr: 1,
                words: vec![5, 6],
            }],
        );
        let e = link(&mut os, "hello", &prog).unwrap();
        assert_eq!(
            (e.code, e.code_len, e.data, e.data_len),
            (3, 2, 10 + DIRECTORY_WORDS as u32, 4)
        );
        assert_eq!(os.code, [1, 2, 3, 7, 8]);
        // Only the initialised prefix of the program's memory is stored.
        assert_eq!(e.init_len, 3);
        assert_eq!(os.memory_words, 10 + DIRECTORY_WORDS as u32 + 3);
        os.validate().unwrap();
        let second = link(&mut os, "two", &prog).unwrap();
        assert_eq!(second.code, 5);
        let dir = Directory::of(&os).unwrap();
        assert_eq!(dir.addr, 10);
        assert_eq!(dir.entries, [e.clone(), second]);
        let end = 10 + DIRECTORY_WORDS as u32 + 6;
        assert_eq!((dir.data_arena, dir.code_arena), ((end, end), (7, 7)));
        let data = os.segments.iter().find(|s| s.addr == e.data).unwrap();
        assert_eq!(data.words, [0, 5, 6]);
    }

    #[test]
    fn reserve_grows_memory_and_code_and_records_the_arenas() {
        let mut os = image(&[1, 2], 10, vec![]);
        let big = image(
            &[7],
            1 << 22,
            vec![Segment {
                addr: 0,
                words: vec![5],
            }],
        );
        let e = link(&mut os, "big", &big).unwrap();
        assert_eq!((e.data_len, e.init_len), (1 << 22, 1));
        let linked = os.memory_words;
        let dir = reserve(&mut os, 1 << 23, 100).unwrap().unwrap();
        assert_eq!(dir.data_arena, (linked, 1 << 23));
        assert_eq!(dir.code_arena, (3, 103));
        assert_eq!((os.memory_words, os.code.len()), (1 << 23, 103));
        assert_eq!(Directory::of(&os).unwrap(), dir);
        os.validate().unwrap();
        // A smaller request never shrinks the image.
        let dir = reserve(&mut os, 5, 0).unwrap().unwrap();
        assert_eq!(dir.data_arena, (linked, 1 << 23));
        assert_eq!(
            reserve(&mut os, MAX_MEMORY_WORDS + 1, 0),
            Err(LinkError::TooLarge(MAX_MEMORY_WORDS as u64 + 1))
        );
        let mut plain = image(&[1], 4, vec![]);
        assert_eq!(reserve(&mut plain, 64, 2), Ok(None));
        assert_eq!((plain.memory_words, plain.code.len()), (64, 3));
    }

    #[test]
    fn refuses_bad_names_duplicates_and_overlaps() {
        let prog = image(&[7], 0, vec![]);
        let mut os = image(&[1], 4, vec![]);
        assert_eq!(link(&mut os, "", &prog), Err(LinkError::BadName("".into())));
        assert_eq!(
            link(&mut os, "ninechars", &prog),
            Err(LinkError::BadName("ninechars".into()))
        );
        assert_eq!(
            link(&mut os, "a b", &prog),
            Err(LinkError::BadName("a b".into()))
        );
        link(&mut os, "a", &prog).unwrap();
        assert_eq!(
            link(&mut os, "a", &prog),
            Err(LinkError::Duplicate("a".into()))
        );
        let mut bad = image(
            &[1],
            4,
            vec![Segment {
                addr: 2,
                words: vec![0; 4],
            }],
        );
        assert_eq!(link(&mut bad, "a", &prog), Err(LinkError::Overlap(2)));
        for i in 1..MAX_PROGRAMS {
            link(&mut os, &alloc::format!("p{i}"), &prog).unwrap();
        }
        assert_eq!(link(&mut os, "last", &prog), Err(LinkError::TooMany));
    }
}
