//! What the screen shows: the program image (its pixels, scaled up) on the left and the live
//! execution heatmap on the right, one cell per pixel at the same scale. Pure logic over a
//! [`Canvas`]; the kernel only flushes.

use crate::draw::{BACKGROUND, COLD, Canvas, Layout, Rgb, heat_colour};
use alloc::vec::Vec;
use pxi::Image;

/// Heatmap cell of a pixel that holds no code (header, segment table, data, padding).
pub const NOT_CODE: Rgb = Rgb::new(0x30, 0x30, 0x3c);

/// The colour of a program pixel: its R, G and B channels (the word's three low bytes); the
/// alpha channel, which carries an operand, is not shown.
pub const fn pixel_colour(word: u32) -> Rgb {
    Rgb::new(word as u8, (word >> 8) as u8, (word >> 16) as u8)
}

/// A program laid out on a screen.
#[derive(Debug, Clone)]
pub struct ProgramView {
    pixels: Vec<u32>,
    size: (usize, usize),
    code: core::ops::Range<usize>,
    layout: Layout,
}

impl ProgramView {
    pub fn new(image: &Image, screen: (usize, usize)) -> Self {
        let pixels = image.to_pixels();
        let width = image.width as usize;
        let size = (width, pixels.len() / width);
        let code = image.code_offset()..image.code_offset() + image.code.len();
        Self {
            pixels,
            size,
            code,
            layout: Layout::fit(screen, size),
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Image size in pixels.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// Clears the screen and draws the program image and an all-cold heatmap.
    pub fn draw_all(&self, canvas: &mut Canvas<'_>) {
        canvas.clear(BACKGROUND);
        let width = self.size.0;
        canvas.draw_scaled(self.layout.image, self.size, self.layout.scale, |x, y| {
            pixel_colour(self.pixels[y * width + x])
        });
        self.draw_heatmap(canvas, &[]);
    }

    /// Redraws the heatmap from `counts` (executions per code address; missing entries count
    /// as zero).
    pub fn draw_heatmap(&self, canvas: &mut Canvas<'_>, counts: &[u32]) {
        let max = counts.iter().copied().max().unwrap_or(0);
        let width = self.size.0;
        canvas.draw_scaled(self.layout.heatmap, self.size, self.layout.scale, |x, y| {
            let index = y * width + x;
            if !self.code.contains(&index) {
                return NOT_CODE;
            }
            let count = counts.get(index - self.code.start).copied().unwrap_or(0);
            if count == 0 {
                COLD
            } else {
                heat_colour(u64::from(count), u64::from(max))
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pxi::isa::{Instruction, Op};

    fn tiny_image() -> Image {
        let (nop, _) = Instruction {
            op: Op::Nop,
            a: 0,
            b: 0,
            c: 0,
            word: 0,
        }
        .encode();
        let (exit, _) = Instruction {
            op: Op::Exit,
            a: 0,
            b: 0,
            c: 0,
            word: 0,
        }
        .encode();
        Image {
            width: 4,
            entry: 0,
            code: vec![nop[0], exit[0]],
            memory_words: 0,
            harts: 1,
            segments: vec![],
        }
    }

    #[test]
    fn draws_program_pixels_and_heat() {
        let image = tiny_image();
        let view = ProgramView::new(&image, (200, 100));
        assert_eq!(view.size(), (4, 3)); // 8 header pixels + 2 code pixels, rows of 4
        let layout = view.layout();
        let mut bytes = vec![0u8; 200 * 100 * 4];
        let mut canvas = Canvas::new(&mut bytes, 200, 100).unwrap();
        view.draw_all(&mut canvas);
        let pixels = image.to_pixels();
        for (index, &word) in pixels.iter().enumerate() {
            let (x, y) = (index % 4, index / 4);
            let at = (
                layout.image.0 + x * layout.scale,
                layout.image.1 + y * layout.scale,
            );
            assert_eq!(
                canvas.pixel(at.0, at.1),
                Some(pixel_colour(word)),
                "pixel {index}"
            );
        }
        let heat_cell = |canvas: &Canvas<'_>, index: usize| {
            let (x, y) = (index % 4, index / 4);
            canvas.pixel(
                layout.heatmap.0 + x * layout.scale,
                layout.heatmap.1 + y * layout.scale,
            )
        };
        assert_eq!(heat_cell(&canvas, 0), Some(NOT_CODE));
        assert_eq!(heat_cell(&canvas, 8), Some(COLD));
        view.draw_heatmap(&mut canvas, &[1, 10]);
        assert_eq!(heat_cell(&canvas, 9), Some(heat_colour(10, 10)));
        assert_eq!(heat_cell(&canvas, 8), Some(heat_colour(1, 10)));
        assert_eq!(heat_cell(&canvas, 10), Some(NOT_CODE));
    }

    #[test]
    fn pixel_colour_is_rgb_of_the_word() {
        assert_eq!(pixel_colour(0x2149_5850), Rgb::new(0x50, 0x58, 0x49)); // "PXI!"
    }
}
