//! A minimal RGB canvas: filled rectangles, 8x8 bitmap text, PNG output.

use font8x8::legacy::BASIC_LEGACY;

use crate::colormap::Rgb;
use crate::error::VizError;

/// Width and height of one glyph in pixels.
pub const GLYPH: u32 = 8;

/// Largest width or height of a picture this crate writes.
pub const MAX_SIDE: u32 = 16384;
/// Largest number of pixels of a picture (192 MiB of RGB).
pub const MAX_AREA: u64 = 1 << 26;

/// An RGB picture in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<Rgb>,
}

impl Canvas {
    /// A `width` x `height` canvas filled with `background`.
    pub fn new(width: u64, height: u64, background: Rgb) -> Result<Canvas, VizError> {
        if width == 0 || height == 0 || width > MAX_SIDE.into() || height > MAX_SIDE.into() {
            return Err(VizError::TooLarge {
                width,
                height,
                max: MAX_SIDE,
            });
        }
        let (width, height) = (width as u32, height as u32);
        Ok(Canvas {
            width,
            height,
            pixels: vec![background; width as usize * height as usize],
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at (x, y).
    pub fn get(&self, x: u32, y: u32) -> Rgb {
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    /// Fill a rectangle, clipped to the canvas.
    pub fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: Rgb) {
        let (x1, y1) = (
            x.saturating_add(w).min(self.width),
            y.saturating_add(h).min(self.height),
        );
        for row in y.min(y1)..y1 {
            let start = row as usize * self.width as usize;
            self.pixels[start + x.min(x1) as usize..start + x1 as usize].fill(colour);
        }
    }

    /// Draw `text` with its top-left corner at (x, y); characters outside
    /// ASCII show as `?`. Returns the x just after the text.
    pub fn text(&mut self, x: u32, y: u32, text: &str, colour: Rgb) -> u32 {
        let mut left = x;
        for ch in text.chars() {
            let glyph = BASIC_LEGACY[if ch.is_ascii() {
                ch as usize
            } else {
                '?' as usize
            }];
            for (dy, bits) in (0..).zip(glyph) {
                for dx in (0..GLYPH).filter(|dx| bits >> dx & 1 == 1) {
                    self.fill(left + dx, y + dy, 1, 1, colour);
                }
            }
            left += GLYPH;
        }
        left
    }

    /// The pixels as packed RGB bytes, row-major.
    pub fn rgb_bytes(&self) -> Vec<u8> {
        self.pixels.concat()
    }

    /// Encode as an 8-bit RGB PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, VizError> {
        let mut out = Vec::new();
        let mut writer = png_encoder(&mut out, self.width, self.height).write_header()?;
        writer.write_image_data(&self.rgb_bytes())?;
        writer.finish()?;
        Ok(out)
    }
}

/// Width in pixels of `text` drawn by [`Canvas::text`].
pub fn text_width(text: &str) -> u32 {
    text.chars().count() as u32 * GLYPH
}

/// An 8-bit RGB PNG encoder writing to `out`.
pub fn png_encoder(out: &mut Vec<u8>, width: u32, height: u32) -> png::Encoder<'_, &mut Vec<u8>> {
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_clips_and_text_advances() {
        let mut canvas = Canvas::new(20, 10, [0; 3]).unwrap();
        canvas.fill(18, 8, 5, 5, [9; 3]);
        assert_eq!(canvas.get(19, 9), [9; 3]);
        assert_eq!(canvas.get(17, 9), [0; 3]);
        assert_eq!(canvas.text(0, 0, "1", [255; 3]), 8);
        // The digit 1 of font8x8 has its stem in columns 2 and 3 of row 1.
        assert_eq!(canvas.get(2, 1), [255; 3]);
        assert_eq!(text_width("abc"), 24);
        assert!(matches!(
            Canvas::new(0, 5, [0; 3]),
            Err(VizError::TooLarge { .. })
        ));
        assert!(matches!(
            Canvas::new(MAX_SIDE as u64 + 1, 5, [0; 3]),
            Err(VizError::TooLarge { .. })
        ));
    }
}
