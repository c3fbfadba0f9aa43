//! Mutation fuzzing of the image loader and the assembler (proptest).
//!
//! Seeds: the images and sources in `tests/fuzz-corpus/` and the small
//! examples. Each case applies a few random mutations to one seed; image
//! mutants often get their chunk CRCs recomputed, so that the zlib stream and
//! the PXI validation behind the CRC check are fuzzed too, and some are
//! mutated as pixel words and re-encoded. Properties: nothing panics; an
//! image that loads is valid, re-encodes to itself and disassembles to
//! source that reassembles to it; a source that assembles does the same; a
//! source that does not gets at most `MAX_ERRORS` errors plus a note.
//!
//! `scripts/test.sh` runs `DEFAULT_CASES` of each. For a longer run:
//!
//! ```sh
//! PXOS_FUZZ_CASES=10000000 cargo test --release -p pxi-asm --test fuzz
//! ```
//!
//! A failure prints the seed and the mutations (shrunk), and proptest keeps
//! it in `tests/proptest-regressions/fuzz.txt` (commit that file) so it is
//! replayed on every run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use pxi::isa::TABLE;
use pxi::png::{SIGNATURE, encode_rgba8};
use pxi::{Image, ImageError};
use pxi_asm::error::MAX_ERRORS;
use pxi_asm::{assemble_source, disassemble};

/// Cases per property in the default test run (both together: 2 × this).
const DEFAULT_CASES: u32 = 100_000;

fn cases() -> u32 {
    std::env::var("PXOS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn corpus(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn image_seeds() -> &'static [(PathBuf, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| corpus("images"))
}

/// Source seeds: the corpus, and the small examples (named by their real
/// path, so that includes resolve as they would).
fn source_seeds() -> &'static [(PathBuf, String)] {
    static SEEDS: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut seeds = corpus("sources");
        for name in ["hello", "fib", "vector", "parallel_sum", "bench_os"] {
            let path = examples.join(format!("{name}.pxs"));
            let bytes = std::fs::read(&path).unwrap();
            seeds.push((path, bytes));
        }
        seeds
            .into_iter()
            .map(|(path, bytes)| (path, String::from_utf8(bytes).expect("UTF-8 seed")))
            .collect()
    })
}

// ------------------------------------------------------------------ images --

#[derive(Clone, Debug)]
enum ByteMutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, u8),
    Truncate(Index),
    /// Copy a stretch of the file over another place.
    Copy(Index, Index, u8),
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| ByteMutation::FlipBit(i, b)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, v)| ByteMutation::SetByte(i, v)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| ByteMutation::Insert(i, v)),
        1 => (any::<Index>(), 1u8..32).prop_map(|(i, n)| ByteMutation::Delete(i, n)),
        1 => any::<Index>().prop_map(ByteMutation::Truncate),
        1 => (any::<Index>(), any::<Index>(), 1u8..64)
            .prop_map(|(a, b, n)| ByteMutation::Copy(a, b, n)),
    ]
}

fn apply_bytes(bytes: &mut Vec<u8>, mutation: &ByteMutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match mutation {
        ByteMutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
        ByteMutation::SetByte(i, value) => bytes[i.index(len)] = *value,
        ByteMutation::Insert(i, new) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        ByteMutation::Delete(i, n) => {
            let at = i.index(len);
            bytes.drain(at..(at + *n as usize).min(len));
        }
        ByteMutation::Truncate(i) => bytes.truncate(i.index(len)),
        ByteMutation::Copy(from, to, n) => {
            let (from, to) = (from.index(len), to.index(len));
            let n = (*n as usize).min(len - from).min(len - to);
            bytes.copy_within(from..from + n, to);
        }
    }
}

/// Recompute every chunk CRC, as far as the chunk structure still holds.
fn fix_crcs(bytes: &mut [u8]) {
    let mut at = SIGNATURE.len();
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 12).checked_add(len).filter(|&end| end <= bytes.len()) else {
            return;
        };
        let crc = common::crc32(&bytes[at + 4..end - 4]);
        bytes[end - 4..end].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
}

#[derive(Clone, Debug)]
enum PixelMutation {
    /// Set a word (header fields live in the first pixels; biased there).
    Set(Index, u32),
    Header(u8, u32),
    /// Drop or add words at the end.
    Resize(i8),
    /// Re-encode at another width.
    Width(u16),
}

fn interesting_word() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        prop::sample::select(vec![
            0,
            1,
            2,
            7,
            8,
            64,
            255,
            0xffff,
            1 << 24,
            (1 << 25) - 1,
            1 << 25,
            (1 << 25) + 1,
            1 << 16,
            (1 << 16) + 1,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX,
            pxi::image::MAGIC,
        ]),
    ]
}

fn pixel_mutation() -> impl Strategy<Value = PixelMutation> {
    prop_oneof![
        3 => (any::<Index>(), interesting_word()).prop_map(|(i, w)| PixelMutation::Set(i, w)),
        3 => (0u8..12, interesting_word()).prop_map(|(i, w)| PixelMutation::Header(i, w)),
        1 => any::<i8>().prop_map(PixelMutation::Resize),
        1 => prop_oneof![1u16..80, Just(16384u16)].prop_map(PixelMutation::Width),
    ]
}

/// Mutate the pixel words of a loadable seed and re-encode it.
fn mutate_pixels(image: &Image, mutations: &[PixelMutation]) -> Vec<u8> {
    let mut pixels = image.to_pixels();
    let mut width = image.width;
    for mutation in mutations {
        match mutation {
            PixelMutation::Set(i, word) => {
                let len = pixels.len();
                pixels[i.index(len)] = *word;
            }
            PixelMutation::Header(i, word) => {
                if let Some(pixel) = pixels.get_mut(*i as usize) {
                    *pixel = *word;
                }
            }
            PixelMutation::Resize(n) => {
                let len = (pixels.len() as i64 + *n as i64).max(1) as usize;
                pixels.resize(len, 0);
            }
            PixelMutation::Width(w) => width = *w as u32,
        }
    }
    let rows = pixels.len().div_ceil(width as usize);
    pixels.resize(rows * width as usize, 0);
    encode_rgba8(width, &pixels)
}

/// What must hold for any image that loads.
fn check_loaded(image: &Image) -> Result<(), TestCaseError> {
    prop_assert_eq!(image.validate(), Ok(()));
    let reloaded = Image::decode_png(&image.encode_png());
    prop_assert_eq!(reloaded.as_ref(), Ok(image));
    let text = disassemble(image, None);
    let again = assemble_source("fuzz.pxs", &text).map_err(|e| {
        TestCaseError::fail(format!("disassembly does not reassemble: {e}\n{text}"))
    })?;
    prop_assert_eq!(&again.image, image, "{}", text);
    Ok(())
}

/// The loader's answer must be a value, never a panic; the error's text too.
fn load(bytes: &[u8]) -> Result<Option<Image>, TestCaseError> {
    match Image::decode_png(bytes) {
        Ok(image) => Ok(Some(image)),
        Err(ImageError::Png(message)) => {
            prop_assert!(!message.is_empty());
            Ok(None)
        }
        Err(other) => {
            prop_assert!(!other.to_string().is_empty());
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_images_are_rejected_or_valid(
        seed in any::<Index>(),
        bytes in prop::collection::vec(byte_mutation(), 1..6),
        pixels in prop::collection::vec(pixel_mutation(), 0..4),
        fix in any::<bool>(),
    ) {
        let (_, original) = &image_seeds()[seed.index(image_seeds().len())];
        let mut candidate = match Image::decode_png(original) {
            Ok(image) if !pixels.is_empty() => mutate_pixels(&image, &pixels),
            _ => original.clone(),
        };
        if pixels.is_empty() || !fix {
            for mutation in &bytes {
                apply_bytes(&mut candidate, mutation);
            }
        }
        if fix {
            fix_crcs(&mut candidate);
        }
        if let Some(image) = load(&candidate)? {
            check_loaded(&image)?;
        }
    }
}

// ----------------------------------------------------------------- sources --

#[derive(Clone, Debug)]
enum TextMutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// A line from another seed.
    SpliceLine(Index, Index, Index),
    InsertToken(Index, Index, &'static str),
    ReplaceChar(Index, char),
    Truncate(Index),
}

/// Words and characters the assembler gives meaning to.
fn dictionary() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = TABLE.iter().map(|row| row.mnemonic).collect();
    words.extend([
        ".data",
        ".code",
        ".word",
        ".string",
        ".space",
        ".org",
        ".equ",
        ".include",
        ".program",
        ".harts",
        ".memory",
        ".entry",
        ".width",
        ".pixel",
        ".bogus",
        "r0",
        "r15",
        "r16",
        "R3",
        "0",
        "-1",
        "1",
        "0x7fffffff",
        "0xffffffff",
        "4294967296",
        "2147483648",
        "-2147483649",
        "33554432",
        "16384",
        "65536",
        "99999999999999999999",
        "0b",
        "0x",
        "1_000",
        "'a'",
        "'\\n'",
        "'ab'",
        "\"s\"",
        "\"\\x4\"",
        "\"",
        "'",
        ",",
        ":",
        "+",
        "-",
        ";",
        "#",
        "\t",
        "\r",
        "\n",
        "\r\n",
        "\u{feff}",
        "é",
        "label",
        "main",
        "SYS_WRITE",
        "SYS_HALT",
        "x:",
        "L_0000",
    ]);
    words
}

fn text_mutation() -> impl Strategy<Value = TextMutation> {
    prop_oneof![
        2 => any::<Index>().prop_map(TextMutation::DeleteLine),
        1 => any::<Index>().prop_map(TextMutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TextMutation::SwapLines(a, b)),
        2 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(s, l, at)| TextMutation::SpliceLine(s, l, at)),
        4 => (any::<Index>(), any::<Index>(), prop::sample::select(dictionary()))
            .prop_map(|(l, at, w)| TextMutation::InsertToken(l, at, w)),
        2 => (any::<Index>(), any::<char>()).prop_map(|(at, c)| TextMutation::ReplaceChar(at, c)),
        1 => any::<Index>().prop_map(TextMutation::Truncate),
    ]
}

fn apply_text(text: &str, mutation: &TextMutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let n = lines.len();
    match mutation {
        TextMutation::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        TextMutation::DuplicateLine(i) => {
            let line = lines[i.index(n)].clone();
            lines.insert(i.index(n), line);
        }
        TextMutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
        TextMutation::SpliceLine(seed, line, at) => {
            let (_, other) = &source_seeds()[seed.index(source_seeds().len())];
            let other: Vec<&str> = other.split('\n').collect();
            lines.insert(at.index(n + 1), other[line.index(other.len())].to_string());
        }
        TextMutation::InsertToken(line, at, word) => {
            let line = &mut lines[line.index(n)];
            let chars: Vec<char> = line.chars().collect();
            let at = at.index(chars.len() + 1);
            let mut new: String = chars[..at].iter().collect();
            new.push(' ');
            new.push_str(word);
            new.push(' ');
            new.extend(&chars[at..]);
            *line = new;
        }
        TextMutation::ReplaceChar(at, c) => {
            let mut chars: Vec<char> = lines.join("\n").chars().collect();
            if !chars.is_empty() {
                let at = at.index(chars.len());
                chars[at] = *c;
            }
            return chars.into_iter().collect();
        }
        TextMutation::Truncate(at) => {
            let chars: Vec<char> = lines.join("\n").chars().collect();
            return chars[..at.index(chars.len() + 1)].iter().collect();
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_sources_assemble_correctly_or_report_errors(
        seed in any::<Index>(),
        mutations in prop::collection::vec(text_mutation(), 1..6),
    ) {
        let (path, original) = &source_seeds()[seed.index(source_seeds().len())];
        let text = mutations.iter().fold(original.clone(), |text, m| apply_text(&text, m));
        match assemble_source(&path.to_string_lossy(), &text) {
            Ok(assembly) => {
                prop_assert_eq!(assembly.map.pixels.len(), assembly.image.code.len());
                check_loaded(&assembly.image)?;
                let text = disassemble(&assembly.image, Some(&assembly.map));
                let again = assemble_source("fuzz.pxs", &text)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(again.image, assembly.image, "{}", text);
            }
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                prop_assert!(errors.0.len() <= MAX_ERRORS + 1);
                prop_assert!(errors.to_string().contains("error"));
            }
        }
    }
}
