//! RGBA8 PNG container for PXI images (no_std: zune-png).

use alloc::format;
use alloc::vec::Vec;
use zune_core::bit_depth::BitDepth;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::{DecoderOptions, EncoderOptions};
use zune_png::{PngDecoder, PngEncoder};

use crate::image::{ImageError, MAX_DIMENSION, MAX_PIXELS};

/// Decode an 8-bit RGBA PNG into its width and row-major pixel words.
pub fn decode_rgba8(bytes: &[u8]) -> Result<(u32, Vec<u32>), ImageError> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .png_set_strip_to_8bit(false)
        .png_set_add_alpha_channel(false);
    let mut decoder = PngDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| ImageError::Png(format!("{e:?}")))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| ImageError::Png("no IHDR".into()))?;
    if width == 0 || height == 0 || (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(ImageError::BadDimensions {
            width: width as u64,
            height: height as u64,
        });
    }
    let depth = decoder
        .depth()
        .ok_or_else(|| ImageError::Png("no bit depth".into()))?;
    let color = decoder
        .colorspace()
        .ok_or_else(|| ImageError::Png("no colour type".into()))?;
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
        .map_err(|e| ImageError::Png(format!("{e:?}")))?;
    let expected = width * height * 4;
    if raw.len() != expected {
        return Err(ImageError::Png(format!(
            "decoded {} bytes, expected {expected}",
            raw.len()
        )));
    }
    let pixels = raw
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect();
    Ok((width as u32, pixels))
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
