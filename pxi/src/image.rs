//! The PXI image: a program stored as an RGBA8 PNG.
//!
//! Pixels are read row-major; each pixel is one little-endian word
//! (R = low byte). Layout (see `docs/pxi-format.md`):
//!
//! | pixel | word |
//! |---|---|
//! | 0 | magic `PXI!` (R=0x50 G=0x58 B=0x49 A=0x21) |
//! | 1 | format version ([`VERSION`]) |
//! | 2 | entry point (code address of hart 0) |
//! | 3 | code length in pixels |
//! | 4 | data memory size in words |
//! | 5 | hart slots |
//! | 6 | number of data segments *n* |
//! | 7 | reserved, must be 0 |
//! | 8 .. 8+2n | segment table: (memory address, length in words) per segment |
//! | then | code pixels, then every segment's words in table order |
//! | rest | zero padding to fill the last row |

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Magic word in pixel 0: the bytes `P X I !`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"PXI!");
/// The image format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Pixels in the fixed header.
pub const HEADER_PIXELS: usize = 8;
/// Largest width or height accepted.
pub const MAX_DIMENSION: u32 = 16384;
/// Largest number of pixels accepted (64 MiB of RGBA).
pub const MAX_PIXELS: u64 = 1 << 24;
/// Largest data memory (128 MiB, the smallest storage-buffer binding limit we target).
pub const MAX_MEMORY_WORDS: u32 = 1 << 25;
/// Most hart slots an image may ask for.
pub const MAX_HARTS: u32 = 1 << 16;
/// Default image width written by the assembler.
pub const DEFAULT_WIDTH: u32 = 64;

/// Initial contents of a range of data memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First word address.
    pub addr: u32,
    /// The words.
    pub words: Vec<u32>,
}

/// A validated program image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// PNG width in pixels (only affects layout and pixel coordinates).
    pub width: u32,
    /// Entry point of hart 0.
    pub entry: u32,
    /// Code pixels.
    pub code: Vec<u32>,
    /// Data memory size in words.
    pub memory_words: u32,
    /// Number of hart slots.
    pub harts: u32,
    /// Initial data.
    pub segments: Vec<Segment>,
}

/// Why bytes or pixels are not a valid PXI image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The PNG container could not be decoded.
    Png(String),
    /// The PNG is not 8-bit RGBA.
    NotRgba8 {
        /// Colour type found.
        color: String,
        /// Bit depth found.
        depth: u8,
    },
    /// Width or height is zero or too large.
    BadDimensions {
        /// Width.
        width: u64,
        /// Height.
        height: u64,
    },
    /// Fewer pixels than the header needs.
    TooSmall {
        /// Pixels present.
        pixels: usize,
    },
    /// Pixel 0 is not the magic.
    BadMagic {
        /// Word found.
        found: u32,
    },
    /// A version this crate does not read.
    UnsupportedVersion {
        /// Version found.
        found: u32,
    },
    /// Reserved header word is not zero.
    ReservedNonZero {
        /// Word found.
        found: u32,
    },
    /// Code or segment table extends past the image.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Pixels needed.
        needed: u64,
        /// Pixels present.
        available: usize,
    },
    /// Code length zero.
    EmptyCode,
    /// Entry point is not a code address.
    EntryOutOfCode {
        /// Entry.
        entry: u32,
        /// Code length.
        code_len: u32,
    },
    /// Memory size above [`MAX_MEMORY_WORDS`].
    MemoryTooLarge {
        /// Requested words.
        words: u32,
    },
    /// Hart count zero or above [`MAX_HARTS`].
    BadHartCount {
        /// Requested.
        harts: u32,
    },
    /// A segment lies (partly) outside data memory.
    SegmentOutsideMemory {
        /// Index in the table.
        index: usize,
        /// Address.
        addr: u32,
        /// Length in words.
        len: u32,
        /// Memory size.
        memory_words: u32,
    },
    /// Non-zero pixel after the last segment.
    TrailingData {
        /// Pixel index.
        pixel: usize,
        /// Its (x, y).
        at: (u32, u32),
    },
    /// Whole rows of padding after the row where the content ends: only the
    /// last row may be padded, so that every image has one encoding.
    ExtraRows {
        /// Rows in the image.
        height: u32,
        /// Rows the content needs.
        needed: u32,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ImageError::*;
        match self {
            Png(msg) => write!(f, "not a readable PNG: {msg}"),
            NotRgba8 { color, depth } => {
                write!(
                    f,
                    "PXI images are 8-bit RGBA PNGs, this one is {color} at {depth} bits per channel"
                )
            }
            BadDimensions { width, height } => write!(
                f,
                "image is {width}x{height}; PXI images must be 1..={MAX_DIMENSION} pixels wide and high and at most {MAX_PIXELS} pixels"
            ),
            TooSmall { pixels } => {
                write!(
                    f,
                    "image has {pixels} pixels, fewer than the {HEADER_PIXELS}-pixel PXI header"
                )
            }
            BadMagic { found } => write!(
                f,
                "pixel (0,0) is {:02x?}, not the PXI magic \"PXI!\" — is this a PXI image?",
                found.to_le_bytes()
            ),
            UnsupportedVersion { found } => {
                write!(
                    f,
                    "PXI format version {found} is not supported (this build reads version {VERSION})"
                )
            }
            ReservedNonZero { found } => {
                write!(f, "reserved header pixel 7 must be 0, found 0x{found:08x}")
            }
            Truncated {
                what,
                needed,
                available,
            } => {
                write!(
                    f,
                    "{what} needs pixels up to {needed}, but the image has only {available}"
                )
            }
            EmptyCode => write!(f, "code length is 0"),
            EntryOutOfCode { entry, code_len } => {
                write!(
                    f,
                    "entry point {entry} is outside the code (length {code_len})"
                )
            }
            MemoryTooLarge { words } => {
                write!(
                    f,
                    "data memory of {words} words exceeds the limit of {MAX_MEMORY_WORDS}"
                )
            }
            BadHartCount { harts } => write!(f, "hart count {harts} is not in 1..={MAX_HARTS}"),
            SegmentOutsideMemory {
                index,
                addr,
                len,
                memory_words,
            } => write!(
                f,
                "data segment {index} ({len} words at {addr}) lies outside data memory of {memory_words} words"
            ),
            TrailingData { pixel, at } => {
                write!(
                    f,
                    "unexpected non-zero pixel {pixel} at ({},{}) after the last segment",
                    at.0, at.1
                )
            }
            ExtraRows { height, needed } => write!(
                f,
                "image is {height} rows high but its content ends in row {}; only the last row may be padded (rows {needed}..{height} are extra)",
                needed - 1
            ),
        }
    }
}

fn push_header(out: &mut Vec<u32>, image: &Image) {
    out.extend_from_slice(&[
        MAGIC,
        VERSION,
        image.entry,
        image.code.len() as u32,
        image.memory_words,
        image.harts,
        image.segments.len() as u32,
        0,
    ]);
    for seg in &image.segments {
        out.extend_from_slice(&[seg.addr, seg.words.len() as u32]);
    }
}

impl Image {
    /// Pixel index of code address 0.
    pub fn code_offset(&self) -> usize {
        HEADER_PIXELS + 2 * self.segments.len()
    }

    /// (x, y) of code address `pc` in the image.
    pub fn code_pixel_xy(&self, pc: u32) -> (u32, u32) {
        let index = self.code_offset() as u64 + pc as u64;
        (
            (index % self.width as u64) as u32,
            (index / self.width as u64) as u32,
        )
    }

    /// Check the header fields of an image built in memory.
    pub fn validate(&self) -> Result<(), ImageError> {
        let code_len = self.code.len() as u32;
        if code_len == 0 {
            return Err(ImageError::EmptyCode);
        }
        if self.entry >= code_len {
            return Err(ImageError::EntryOutOfCode {
                entry: self.entry,
                code_len,
            });
        }
        if self.memory_words > MAX_MEMORY_WORDS {
            return Err(ImageError::MemoryTooLarge {
                words: self.memory_words,
            });
        }
        if self.harts == 0 || self.harts > MAX_HARTS {
            return Err(ImageError::BadHartCount { harts: self.harts });
        }
        for (index, seg) in self.segments.iter().enumerate() {
            let len = seg.words.len() as u64;
            if seg.addr as u64 + len > self.memory_words as u64 {
                return Err(ImageError::SegmentOutsideMemory {
                    index,
                    addr: seg.addr,
                    len: len as u32,
                    memory_words: self.memory_words,
                });
            }
        }
        if self.width == 0 || self.width > MAX_DIMENSION {
            return Err(ImageError::BadDimensions {
                width: self.width as u64,
                height: 0,
            });
        }
        Ok(())
    }

    /// All pixels, row-major, padded to whole rows of `self.width`.
    pub fn to_pixels(&self) -> Vec<u32> {
        let mut out = Vec::new();
        push_header(&mut out, self);
        out.extend_from_slice(&self.code);
        for seg in &self.segments {
            out.extend_from_slice(&seg.words);
        }
        out.resize(self.height() as usize * self.width.max(1) as usize, 0);
        out
    }

    /// Height in pixels of [`Image::to_pixels`].
    pub fn height(&self) -> u32 {
        let data: usize = self.segments.iter().map(|seg| seg.words.len()).sum();
        let pixels = self.code_offset() + self.code.len() + data;
        pixels.div_ceil(self.width.max(1) as usize) as u32
    }

    /// Parse and validate pixels (row-major words) of an image `width` wide.
    pub fn from_pixels(width: u32, pixels: &[u32]) -> Result<Image, ImageError> {
        if width == 0 || width > MAX_DIMENSION || !pixels.len().is_multiple_of(width as usize) {
            return Err(ImageError::BadDimensions {
                width: width as u64,
                height: (pixels.len() / width.max(1) as usize) as u64,
            });
        }
        if pixels.len() < HEADER_PIXELS {
            return Err(ImageError::TooSmall {
                pixels: pixels.len(),
            });
        }
        let h = &pixels[..HEADER_PIXELS];
        if h[0] != MAGIC {
            return Err(ImageError::BadMagic { found: h[0] });
        }
        if h[1] != VERSION {
            return Err(ImageError::UnsupportedVersion { found: h[1] });
        }
        if h[7] != 0 {
            return Err(ImageError::ReservedNonZero { found: h[7] });
        }
        let (entry, code_len, memory_words, harts, nseg) = (h[2], h[3], h[4], h[5], h[6]);
        let take = |what, start: u64, len: u64| -> Result<&[u32], ImageError> {
            let end = start + len;
            if end > pixels.len() as u64 {
                return Err(ImageError::Truncated {
                    what,
                    needed: end,
                    available: pixels.len(),
                });
            }
            Ok(&pixels[start as usize..end as usize])
        };
        let table = take("segment table", HEADER_PIXELS as u64, 2 * nseg as u64)?;
        let mut cursor = (HEADER_PIXELS + table.len()) as u64;
        let code = take("code", cursor, code_len as u64)?.to_vec();
        cursor += code_len as u64;
        let mut segments = Vec::with_capacity(table.len() / 2);
        for pair in table.chunks_exact(2) {
            let words = take("data segment", cursor, pair[1] as u64)?.to_vec();
            cursor += pair[1] as u64;
            segments.push(Segment {
                addr: pair[0],
                words,
            });
        }
        if let Some(offset) = pixels[cursor as usize..].iter().position(|&p| p != 0) {
            let pixel = cursor as usize + offset;
            let at = (
                (pixel % width as usize) as u32,
                (pixel / width as usize) as u32,
            );
            return Err(ImageError::TrailingData { pixel, at });
        }
        let height = (pixels.len() / width as usize) as u32;
        let needed = (cursor as usize).div_ceil(width as usize) as u32;
        if height > needed {
            return Err(ImageError::ExtraRows { height, needed });
        }
        let image = Image {
            width,
            entry,
            code,
            memory_words,
            harts,
            segments,
        };
        image.validate()?;
        Ok(image)
    }

    /// Decode and validate a PNG file.
    pub fn decode_png(bytes: &[u8]) -> Result<Image, ImageError> {
        let (width, pixels) = crate::png::decode_rgba8(bytes)?;
        Image::from_pixels(width, &pixels)
    }

    /// Encode as an RGBA8 PNG.
    pub fn encode_png(&self) -> Vec<u8> {
        crate::png::encode_rgba8(self.width, &self.to_pixels())
    }
}
