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
//! Directory layout (words): `[MAGIC, count, entries…]`, each entry
//! [`ENTRY_WORDS`] words: name (8 bytes, NUL-padded, two words), code base,
//! code length, entry point (window-relative), data address (where its
//! initial data lies), data words (the program's memory size), harts wanted.
//! Nothing in an entry grants capabilities: the shell decides those.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::image::{Image, MAX_MEMORY_WORDS, Segment};

/// `PXPD` — marks a program directory.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PXPD");
/// Programs one directory holds.
pub const MAX_PROGRAMS: usize = 32;
/// Words per directory entry.
pub const ENTRY_WORDS: usize = 8;
/// Words of the whole directory (header and every entry).
pub const DIRECTORY_WORDS: usize = 2 + MAX_PROGRAMS * ENTRY_WORDS;
/// Longest program name in bytes.
pub const NAME_BYTES: usize = 8;

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
/// Entry word: hart slots the program's image asked for (informational).
pub const E_HARTS: usize = 7;

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
    /// Data memory size in words.
    pub data_len: u32,
    /// Hart slots the program asked for.
    pub harts: u32,
}

/// The program directory of an OS image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// Word address of the directory (the OS image's own memory size).
    pub addr: u32,
    /// Linked programs, in directory order.
    pub entries: Vec<Entry>,
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
        let count = (seg.words[1] as usize).min(MAX_PROGRAMS);
        let entries = (0..count)
            .map(|i| {
                let e = &seg.words[2 + i * ENTRY_WORDS..2 + (i + 1) * ENTRY_WORDS];
                Entry {
                    name: unpack_name([e[E_NAME], e[E_NAME + 1]]),
                    code: e[E_CODE],
                    code_len: e[E_CODE_LEN],
                    entry: e[E_ENTRY],
                    data: e[E_DATA],
                    data_len: e[E_DATA_LEN],
                    harts: e[E_HARTS],
                }
            })
            .collect();
        Some(Directory {
            addr: seg.addr,
            entries,
        })
    }

    /// The program called `name`.
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    fn words(&self) -> Result<Vec<u32>, LinkError> {
        let mut words = vec![0; DIRECTORY_WORDS];
        words[0] = MAGIC;
        words[1] = self.entries.len() as u32;
        for (i, e) in self.entries.iter().enumerate() {
            let [n0, n1] = pack_name(&e.name)?;
            words[2 + i * ENTRY_WORDS..2 + (i + 1) * ENTRY_WORDS].copy_from_slice(&[
                n0, n1, e.code, e.code_len, e.entry, e.data, e.data_len, e.harts,
            ]);
        }
        Ok(words)
    }
}

/// The program's initial data as one block of `memory_words` words.
fn flatten(program: &Image) -> Vec<u32> {
    let mut data = vec![0; program.memory_words as usize];
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
                entries: Vec::new(),
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
    let total = data_at as u64 + program.memory_words as u64;
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
        harts: program.harts,
    };
    os.code.extend_from_slice(&program.code);
    if program.memory_words > 0 {
        os.segments.push(Segment {
            addr: data_at,
            words: flatten(program),
        });
    }
    os.memory_words = total as u32;
    dir.entries.push(entry.clone());
    let words = dir.words()?;
    let seg = os
        .segments
        .iter_mut()
        .find(|s| s.addr == dir.addr)
        .expect("the directory segment exists");
    seg.words = words;
    Ok(entry)
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
        assert_eq!(os.memory_words, 10 + DIRECTORY_WORDS as u32 + 4);
        os.validate().unwrap();
        let second = link(&mut os, "two", &prog).unwrap();
        assert_eq!(second.code, 5);
        let dir = Directory::of(&os).unwrap();
        assert_eq!(dir.addr, 10);
        assert_eq!(dir.entries, [e.clone(), second]);
        let data = os.segments.iter().find(|s| s.addr == e.data).unwrap();
        assert_eq!(data.words, [0, 5, 6, 0]);
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
