//! Drawing into a B8G8R8A8 framebuffer: the screen layout (program image on the left, its
//! execution heatmap on the right) and the heatmap colour ramp. Pure logic, tested on the host.

/// A colour without alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }
}

/// Screen background.
pub const BACKGROUND: Rgb = Rgb::new(0x18, 0x18, 0x20);
/// Heatmap cell of a pixel that never executed.
pub const COLD: Rgb = Rgb::new(0x00, 0x00, 0x00);

/// Heatmap ramp from rarely to most executed: purple, red, yellow, white.
const RAMP: [Rgb; 4] = [
    Rgb::new(0x40, 0x00, 0x80),
    Rgb::new(0xff, 0x00, 0x00),
    Rgb::new(0xff, 0xff, 0x00),
    Rgb::new(0xff, 0xff, 0xff),
];

/// Colour of a heatmap cell executed `count` times when the hottest cell ran `max` times.
///
/// The scale is logarithmic (counts span many orders of magnitude) and integer-only, because
/// the kernel target has no floating-point unit enabled.
pub fn heat_colour(count: u64, max: u64) -> Rgb {
    if count == 0 || max == 0 {
        return COLD;
    }
    let count = count.min(max);
    // Position on the ramp in 1/256 steps: (log2(count) + 1) / (log2(max) + 1).
    let steps = (RAMP.len() - 1) as u64 * 256;
    let position = (u64::from(count.ilog2()) + 1) * steps / (u64::from(max.ilog2()) + 1);
    let segment = ((position / 256) as usize).min(RAMP.len() - 2);
    let fraction = (position - segment as u64 * 256) as u32;
    let (from, to) = (RAMP[segment], RAMP[segment + 1]);
    let mix =
        |a: u8, b: u8| ((u32::from(a) * (256 - fraction) + u32::from(b) * fraction) / 256) as u8;
    Rgb::new(mix(from.r, to.r), mix(from.g, to.g), mix(from.b, to.b))
}

/// Where the two panels go on screen. Both show the image at the same integer scale, so cell
/// (x, y) of the heatmap sits exactly `heatmap.0 - image.0` pixels right of program pixel (x, y).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub scale: usize,
    pub image: (usize, usize),
    pub heatmap: (usize, usize),
}

/// Gap around and between the panels, in screen pixels.
pub const MARGIN: usize = 16;

impl Layout {
    /// Two panels side by side, the largest integer scale that fits (at least 1; a program
    /// larger than its panel is clipped).
    pub fn fit(screen: (usize, usize), image: (usize, usize)) -> Self {
        let panel_width = screen.0.saturating_sub(3 * MARGIN) / 2;
        let panel_height = screen.1.saturating_sub(2 * MARGIN);
        let scale = (panel_width / image.0.max(1))
            .min(panel_height / image.1.max(1))
            .max(1);
        Self {
            scale,
            image: (MARGIN, MARGIN),
            heatmap: (2 * MARGIN + panel_width, MARGIN),
        }
    }
}

/// A B8G8R8A8 pixel buffer with rows of `width` pixels. Drawing clips at the edges.
#[derive(Debug)]
pub struct Canvas<'a> {
    bytes: &'a mut [u8],
    width: usize,
    height: usize,
}

impl<'a> Canvas<'a> {
    /// `None` if `bytes` is smaller than `width * height` pixels.
    pub fn new(bytes: &'a mut [u8], width: usize, height: usize) -> Option<Self> {
        (bytes.len() >= width.checked_mul(height)?.checked_mul(4)?).then_some(Self {
            bytes,
            width,
            height,
        })
    }

    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    pub fn fill_rect(&mut self, x: usize, y: usize, width: usize, height: usize, colour: Rgb) {
        let pixel = [colour.b, colour.g, colour.r, 0xff];
        for row in y..(y.saturating_add(height)).min(self.height) {
            let start = (row * self.width + x.min(self.width)) * 4;
            let end = (row * self.width + x.saturating_add(width).min(self.width)) * 4;
            for chunk in self.bytes[start..end].chunks_exact_mut(4) {
                chunk.copy_from_slice(&pixel);
            }
        }
    }

    pub fn clear(&mut self, colour: Rgb) {
        self.fill_rect(0, 0, self.width, self.height, colour);
    }

    /// Draws a `width` x `height` picture, each source pixel as a `scale` x `scale` square whose
    /// top-left corner is at `origin + scale * (x, y)`.
    pub fn draw_scaled(
        &mut self,
        origin: (usize, usize),
        size: (usize, usize),
        scale: usize,
        mut pixel: impl FnMut(usize, usize) -> Rgb,
    ) {
        for y in 0..size.1 {
            for x in 0..size.0 {
                self.fill_rect(
                    origin.0 + x * scale,
                    origin.1 + y * scale,
                    scale,
                    scale,
                    pixel(x, y),
                );
            }
        }
    }

    /// Draws a row of 0xAARRGGBB `pixels` starting at (x, y) (a program's `SYS_BLIT`),
    /// clipped at the edges.
    pub fn blit_row(&mut self, x: usize, y: usize, pixels: &[u32]) {
        if y >= self.height || x >= self.width {
            return;
        }
        let visible = pixels.len().min(self.width - x);
        let start = (y * self.width + x) * 4;
        for (chunk, &argb) in self.bytes[start..start + visible * 4]
            .chunks_exact_mut(4)
            .zip(pixels)
        {
            let [b, g, r, _] = argb.to_le_bytes();
            chunk.copy_from_slice(&[b, g, r, 0xff]);
        }
    }

    /// The colour at screen pixel (x, y), if inside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<Rgb> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 4;
        Some(Rgb::new(
            self.bytes[i + 2],
            self.bytes[i + 1],
            self.bytes[i],
        ))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn blit_row_draws_argb_and_clips() {
        let mut bytes = [0u8; 4 * 4 * 2];
        let mut canvas = Canvas::new(&mut bytes, 4, 2).unwrap();
        canvas.blit_row(2, 1, &[0xff11_2233, 0xff44_5566, 0xff77_8899]);
        assert_eq!(
            canvas.pixel(2, 1),
            Some(Rgb {
                r: 0x11,
                g: 0x22,
                b: 0x33
            })
        );
        assert_eq!(
            canvas.pixel(3, 1),
            Some(Rgb {
                r: 0x44,
                g: 0x55,
                b: 0x66
            })
        );
        assert_eq!(
            canvas.pixel(1, 1),
            Some(Rgb { r: 0, g: 0, b: 0 }),
            "left of the row is untouched"
        );
        canvas.blit_row(4, 0, &[0xffff_ffff]);
        canvas.blit_row(0, 2, &[0xffff_ffff]);
        assert_eq!(
            canvas.pixel(0, 0),
            Some(Rgb { r: 0, g: 0, b: 0 }),
            "rows outside are dropped"
        );
    }

    use super::*;

    #[test]
    fn heat_ramp_is_cold_then_monotonic_to_white() {
        assert_eq!(heat_colour(0, 100), COLD);
        assert_eq!(heat_colour(5, 0), COLD);
        assert_eq!(heat_colour(1, 1), Rgb::new(0xff, 0xff, 0xff));
        assert_eq!(heat_colour(1 << 20, 1 << 20), Rgb::new(0xff, 0xff, 0xff));
        assert_eq!(
            heat_colour(7, 3),
            heat_colour(3, 3),
            "counts above max clamp"
        );
        let brightness = |c: Rgb| u32::from(c.r) + u32::from(c.g) + u32::from(c.b);
        let mut previous = 0;
        for shift in 0..=20 {
            let colour = heat_colour(1 << shift, 1 << 20);
            assert_ne!(colour, COLD);
            assert!(
                brightness(colour) >= previous,
                "ramp must not get darker at 2^{shift}"
            );
            previous = brightness(colour);
        }
    }

    #[test]
    fn layout_fits_two_panels_at_equal_scale() {
        let layout = Layout::fit((1280, 800), (64, 48));
        assert_eq!(layout.scale, 9); // (1280 - 48) / 2 = 616 wide panels: 616 / 64 = 9
        assert_eq!(layout.image, (16, 16));
        assert_eq!(layout.heatmap, (16 + 616 + 16, 16));
        assert!(layout.heatmap.0 + 64 * layout.scale <= 1280);
        assert!(layout.image.1 + 48 * layout.scale <= 800);
        assert_eq!(Layout::fit((100, 100), (4096, 4096)).scale, 1);
    }

    #[test]
    fn canvas_writes_bgra_and_clips() {
        let mut bytes = vec![0u8; 4 * 4 * 4];
        assert!(Canvas::new(&mut bytes[..15], 2, 2).is_none());
        let mut canvas = Canvas::new(&mut bytes, 4, 4).unwrap();
        canvas.clear(Rgb::new(1, 2, 3));
        canvas.draw_scaled((2, 2), (2, 2), 2, |x, y| {
            Rgb::new(10 * x as u8, 10 * y as u8, 7)
        });
        assert_eq!(canvas.pixel(0, 0), Some(Rgb::new(1, 2, 3)));
        assert_eq!(canvas.pixel(3, 3), Some(Rgb::new(0, 0, 7)));
        assert_eq!(canvas.pixel(4, 0), None);
        assert_eq!(&bytes[..4], &[3, 2, 1, 0xff]);
    }
}
