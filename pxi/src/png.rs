//! RGBA8 PNG container for PXI images (no_std: zune-png).
//!
//! A PXI image is a program, so a corrupt file must never load as a
//! different one. Before zune-png decodes anything, [`check_chunks`] walks the
//! container itself: the signature, every chunk's length and CRC-32, `IHDR`
//! first, `IEND` last with no byte after it, no unknown critical chunk and no
//! animation. zune-png then checks the zlib Adler-32 of the pixel data.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use zune_core::bit_depth::BitDepth;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::{DecoderOptions, EncoderOptions};
use zune_png::{PngDecoder, PngEncoder};

use crate::image::{ImageError, MAX_DIMENSION, MAX_PIXELS};

/// The eight bytes every PNG starts with.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Length, type and CRC around each chunk's data.
const CHUNK_OVERHEAD: usize = 12;

/// Critical chunks an RGBA8 image may contain (PLTE is a permitted palette suggestion).
const KNOWN_CRITICAL: [&[u8; 4]; 4] = [b"IHDR", b"PLTE", b"IDAT", b"IEND"];

/// APNG chunks: a PXI image is one frame.
const ANIMATION: [&[u8; 4]; 3] = [b"acTL", b"fcTL", b"fdAT"];

fn png_error(message: String) -> ImageError {
    ImageError::Png(message)
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// How a chunk type reads in messages (`IDAT`, or its bytes when not ASCII).
fn chunk_name(kind: &[u8]) -> String {
    if kind.iter().all(u8::is_ascii_alphabetic) {
        kind.iter().map(|&b| b as char).collect()
    } else {
        format!("{kind:02x?}")
    }
}

/// Walk the chunk structure and verify every CRC; returns the `IHDR` width
/// and height. Everything after the signature is chunks up to and including
/// `IEND`, which must end the file.
pub fn check_chunks(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    if !bytes.starts_with(&SIGNATURE) {
        return Err(png_error("no PNG signature".into()));
    }
    let mut offset = SIGNATURE.len();
    let mut dimensions = None;
    loop {
        if bytes.len() - offset < CHUNK_OVERHEAD {
            return Err(png_error(format!(
                "file ends at byte {} inside a chunk header, before IEND",
                bytes.len()
            )));
        }
        let length = be32(bytes, offset) as usize;
        let kind = &bytes[offset + 4..offset + 8];
        let name = chunk_name(kind);
        if length > bytes.len() - offset - CHUNK_OVERHEAD {
            return Err(png_error(format!(
                "chunk {name} at byte {offset} claims {length} bytes, past the end of the file"
            )));
        }
        let end = offset + CHUNK_OVERHEAD + length;
        let stored = be32(bytes, end - 4);
        let computed = crc32fast::hash(&bytes[offset + 4..end - 4]);
        if stored != computed {
            return Err(png_error(format!(
                "chunk {name} at byte {offset} is corrupt: CRC 0x{stored:08x} stored, 0x{computed:08x} computed"
            )));
        }
        let data = &bytes[offset + 8..end - 4];
        match kind {
            b"IHDR" if dimensions.is_none() && length == 13 => {
                dimensions = Some((be32(data, 0), be32(data, 4)));
            }
            _ if dimensions.is_none() => {
                return Err(png_error(format!(
                    "the first chunk is {name}, not a 13-byte IHDR"
                )));
            }
            b"IHDR" => return Err(png_error(format!("second IHDR at byte {offset}"))),
            b"IEND" if length != 0 => {
                return Err(png_error(format!("IEND at byte {offset} is not empty")));
            }
            b"IEND" if end != bytes.len() => {
                return Err(png_error(format!(
                    "{} bytes after IEND (byte {end} on)",
                    bytes.len() - end
                )));
            }
            b"IEND" => return Ok(dimensions.expect("IHDR was read first")),
            _ if ANIMATION.iter().any(|a| a[..] == *kind) => {
                return Err(png_error(format!(
                    "animated PNG chunk {name}; a PXI image is a single frame"
                )));
            }
            _ if kind[0].is_ascii_uppercase() && !KNOWN_CRITICAL.iter().any(|k| k[..] == *kind) => {
                return Err(png_error(format!("unknown critical chunk {name}")));
            }
            _ => {}
        }
        offset = end;
    }
}

/// Decode an 8-bit RGBA PNG into its width and row-major pixel words.
pub fn decode_rgba8(bytes: &[u8]) -> Result<(u32, Vec<u32>), ImageError> {
    let (width, height) = check_chunks(bytes)?;
    if width == 0
        || height == 0
        || width > MAX_DIMENSION
        || height > MAX_DIMENSION
        || (width as u64) * (height as u64) > MAX_PIXELS
    {
        return Err(ImageError::BadDimensions {
            width: width as u64,
            height: height as u64,
        });
    }
    let options = DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .png_set_strip_to_8bit(false)
        .png_set_add_alpha_channel(false)
        .inflate_set_confirm_adler(true);
    let mut decoder = PngDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| png_error(format!("{e:?}")))?;
    let depth = decoder
        .depth()
        .ok_or_else(|| png_error("no bit depth".into()))?;
    let color = decoder
        .colorspace()
        .ok_or_else(|| png_error("no colour type".into()))?;
    if depth != BitDepth::Eight || color != ColorSpace::RGBA {
        let bits = match depth {
            BitDepth::Eight => 8,
            BitDepth::Sixteen => 16,
            _ => 0,
        };
        return Err(ImageError::NotRgba8 {
            color: format!("{color:?}"),
            depth: bits,
        });
    }
    let raw = decoder
        .decode_raw()
        .map_err(|e| png_error(format!("{e:?}")))?;
    let expected = width as usize * height as usize * 4;
    if raw.len() != expected {
        return Err(png_error(format!(
            "decoded {} bytes, expected {expected}",
            raw.len()
        )));
    }
    let pixels = raw
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect();
    Ok((width, pixels))
}

/// Encode row-major pixel words as an 8-bit RGBA PNG `width` pixels wide.
///
/// `pixels.len()` must be a multiple of `width`.
pub fn encode_rgba8(width: u32, pixels: &[u32]) -> Vec<u8> {
    let height = pixels.len() / width.max(1) as usize;
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
    let options = EncoderOptions::new(width as usize, height, ColorSpace::RGBA, BitDepth::Eight);
    let mut out = Vec::new();
    PngEncoder::new(&bytes, options)
        .encode(&mut out)
        .expect("encoding into a Vec cannot fail for consistent dimensions");
    out
}
