//! The heatmap picture: one cell per image pixel, coloured by execution count.
//!
//! Layout, top to bottom: a caption (round and steps of the snapshot), the
//! code image (with `side_by_side`) and the heatmap next to each other, the
//! colour bar with its min/max labels, and a key for the cells that are not
//! counted code.

use pxi::Image;
use pxi::counts::Snapshot;
use pxi::image::HEADER_PIXELS;
use pxi_asm::disasm::{Cell, sweep};

use crate::colormap::{LogScale, Rgb, viridis};
use crate::error::VizError;
use crate::raster::{Canvas, GLYPH, text_width};

/// Background and margins.
pub const BACKGROUND: Rgb = [0xff, 0xff, 0xff];
/// Text.
pub const INK: Rgb = [0x20, 0x20, 0x20];
/// Code that never executed.
pub const NOT_RUN: Rgb = [0x00, 0x00, 0x00];
/// Header pixels (fixed header and segment table).
pub const HEADER: Rgb = [0x70, 0x70, 0x70];
/// Data-segment pixels.
pub const DATA: Rgb = [0xb4, 0xb4, 0xb4];
/// Zero padding after the last segment.
pub const PADDING: Rgb = [0xe6, 0xe6, 0xe6];

/// Space around and between the parts of the picture.
const MARGIN: u32 = 8;
/// The legend is at least this wide so its labels fit next to narrow images.
const LEGEND_MIN_WIDTH: u32 = 320;
/// Height of the colour bar.
const BAR_HEIGHT: u32 = 12;

/// What one pixel of a PXI image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelKind {
    /// Header word `n`: the fixed header, then the segment table.
    Header(usize),
    /// The code pixel at this code address.
    Code(u32),
    /// A word of initial data.
    Data {
        /// Index in the segment table.
        segment: usize,
        /// Data memory address it is loaded to.
        addr: u32,
    },
    /// Zero padding that fills the last row.
    Padding,
}

/// The kind of every pixel of `image`, row-major, `image.width` per row.
pub fn pixel_kinds(image: &Image) -> Vec<PixelKind> {
    let mut kinds: Vec<PixelKind> = (0..image.code_offset()).map(PixelKind::Header).collect();
    kinds.extend((0..image.code.len() as u32).map(PixelKind::Code));
    for (segment, seg) in image.segments.iter().enumerate() {
        kinds.extend(
            (seg.addr..)
                .take(seg.words.len())
                .map(|addr| PixelKind::Data { segment, addr }),
        );
    }
    let width = image.width as usize;
    kinds.resize(kinds.len().div_ceil(width) * width, PixelKind::Padding);
    kinds
}

/// Names of the fixed header words.
const HEADER_NAMES: [&str; HEADER_PIXELS] = [
    "magic",
    "format version",
    "entry point",
    "code length",
    "data memory words",
    "hart slots",
    "data segments",
    "reserved",
];

/// What a header pixel means: `entry point`, `segment 1 length`, …
pub fn header_name(index: usize) -> String {
    match HEADER_NAMES.get(index) {
        Some(name) => name.to_string(),
        None => {
            let entry = index - HEADER_PIXELS;
            format!(
                "segment {} {}",
                entry / 2,
                if entry.is_multiple_of(2) {
                    "address"
                } else {
                    "length"
                }
            )
        }
    }
}

/// The count each code cell is coloured by: its own, except that the
/// extension pixel of a two-pixel instruction shows its instruction's count
/// (it is executed as part of it; the runtimes count opcode pixels only).
pub fn cell_counts(image: &Image, counts: &[u32]) -> Vec<u32> {
    sweep(&image.code)
        .iter()
        .enumerate()
        .map(|(pc, cell)| match cell {
            Cell::Extension if counts[pc] == 0 => counts[pc - 1],
            _ => counts[pc],
        })
        .collect()
}

/// The heatmap colour of a pixel; `cells` comes from [`cell_counts`].
pub fn heat_colour(kind: PixelKind, cells: &[u32], scale: &LogScale) -> Rgb {
    match kind {
        PixelKind::Header(_) => HEADER,
        PixelKind::Data { .. } => DATA,
        PixelKind::Padding => PADDING,
        PixelKind::Code(pc) => match cells[pc as usize] {
            0 => NOT_RUN,
            count => scale.colour(count),
        },
    }
}

/// How a pixel word looks in the program image (alpha dropped).
pub fn image_colour(word: u32) -> Rgb {
    let [r, g, b, _] = word.to_le_bytes();
    [r, g, b]
}

/// How to draw a heatmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Screen pixels per image pixel (cell side).
    pub scale: u32,
    /// Draw the program image itself to the left of the heatmap.
    pub side_by_side: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            scale: 8,
            side_by_side: false,
        }
    }
}

/// One picture's worth of counts.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Counts per code pixel.
    pub counts: &'a [u32],
    /// Colour scale (shared by every frame of a time-lapse).
    pub scale: LogScale,
    /// Line drawn above the picture.
    pub caption: &'a str,
}

/// The caption of a snapshot: `round 12, 3456 steps`.
pub fn snapshot_caption(snapshot: &Snapshot) -> String {
    format!("round {}, {} steps", snapshot.round, snapshot.steps)
}

/// The heatmap of the final counts of a run, coloured over their own range.
pub fn render_snapshot(
    image: &Image,
    snapshot: &Snapshot,
    style: Style,
) -> Result<Canvas, VizError> {
    let cells = cell_counts(image, &snapshot.counts);
    let frame = Frame {
        counts: &snapshot.counts,
        scale: LogScale::spanning(cells),
        caption: &snapshot_caption(snapshot),
    };
    render(image, &frame, style)
}

/// Draw `frame` for `image`.
pub fn render(image: &Image, frame: &Frame, style: Style) -> Result<Canvas, VizError> {
    if style.scale == 0 {
        return Err(VizError::ZeroScale);
    }
    if frame.counts.len() != image.code.len() {
        return Err(VizError::FrameLength {
            counts: frame.counts.len(),
            code: image.code.len(),
        });
    }
    let kinds = pixel_kinds(image);
    let (columns, rows) = (image.width, (kinds.len() / image.width as usize) as u32);
    let (panel_w, panel_h) = (
        u64::from(columns) * u64::from(style.scale),
        u64::from(rows) * u64::from(style.scale),
    );
    let panels = if style.side_by_side { 2 } else { 1 };
    let panels_w = panels * panel_w + (panels - 1) * u64::from(MARGIN);
    let legend_w = panels_w.max(LEGEND_MIN_WIDTH.into());
    let top = 2 * MARGIN + GLYPH;
    let legend_top = u64::from(top) + panel_h + u64::from(2 * MARGIN);
    let height = legend_top + u64::from(BAR_HEIGHT + 4 + GLYPH + MARGIN + GLYPH + MARGIN);
    let mut canvas = Canvas::new(legend_w + u64::from(2 * MARGIN), height, BACKGROUND)?;
    // Canvas::new bounds every coordinate below by MAX_SIDE, so u32 is enough.
    let (panel_w, legend_w, legend_top) = (panel_w as u32, legend_w as u32, legend_top as u32);

    canvas.text(MARGIN, MARGIN, frame.caption, INK);
    let cells = cell_counts(image, frame.counts);
    let heat_left = if style.side_by_side {
        2 * MARGIN + panel_w
    } else {
        MARGIN
    };
    let pixels = image.to_pixels();
    let gap = u32::from(style.scale >= 4);
    for (index, &kind) in kinds.iter().enumerate() {
        let (x, y) = (
            index as u32 % columns * style.scale,
            index as u32 / columns * style.scale + top,
        );
        let side = style.scale - gap;
        canvas.fill(
            heat_left + x,
            y,
            side,
            side,
            heat_colour(kind, &cells, &frame.scale),
        );
        if style.side_by_side {
            canvas.fill(MARGIN + x, y, side, side, image_colour(pixels[index]));
        }
    }
    draw_legend(&mut canvas, legend_top, legend_w, &frame.scale);
    Ok(canvas)
}

/// The colour bar with min/max labels, and the key below it.
fn draw_legend(canvas: &mut Canvas, top: u32, width: u32, scale: &LogScale) {
    for i in 0..width {
        canvas.fill(
            MARGIN + i,
            top,
            1,
            BAR_HEIGHT,
            viridis(f64::from(i) / f64::from(width - 1)),
        );
    }
    let labels_y = top + BAR_HEIGHT + 4;
    canvas.text(MARGIN, labels_y, &format!("min {}", scale.min), INK);
    let middle = "log scale";
    canvas.text(
        MARGIN + (width - text_width(middle)) / 2,
        labels_y,
        middle,
        INK,
    );
    let max = format!("max {}", scale.max);
    canvas.text(MARGIN + width - text_width(&max), labels_y, &max, INK);
    let mut x = MARGIN;
    for (colour, name) in [
        (NOT_RUN, "not run"),
        (HEADER, "header"),
        (DATA, "data"),
        (PADDING, "padding"),
    ] {
        let y = labels_y + GLYPH + MARGIN;
        canvas.fill(x, y, GLYPH, GLYPH, colour);
        x = canvas.text(x + GLYPH + 4, y, name, INK) + 12;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pxi::image::Segment;
    use pxi::{Instruction, Op};

    fn image() -> Image {
        let li = Instruction::new(Op::Li, 1, 0, 0, 7).encode().0;
        let exit = Instruction::new(Op::Exit, 1, 0, 0, 0).encode().0[0];
        Image {
            width: 8,
            entry: 0,
            code: vec![li[0], li[1], exit],
            memory_words: 4,
            harts: 1,
            segments: vec![Segment {
                addr: 2,
                words: vec![5, 6],
            }],
        }
    }

    #[test]
    fn kinds_follow_the_layout() {
        let kinds = pixel_kinds(&image());
        assert_eq!(kinds.len(), 16);
        assert_eq!(kinds[9], PixelKind::Header(9));
        assert_eq!(kinds[10], PixelKind::Code(0));
        assert_eq!(
            kinds[13],
            PixelKind::Data {
                segment: 0,
                addr: 2
            }
        );
        assert_eq!(
            kinds[14],
            PixelKind::Data {
                segment: 0,
                addr: 3
            }
        );
        assert_eq!(kinds[15], PixelKind::Padding);
        assert_eq!(header_name(2), "entry point");
        assert_eq!(header_name(9), "segment 0 length");
    }

    #[test]
    fn extension_pixels_show_their_instruction() {
        assert_eq!(cell_counts(&image(), &[4, 0, 1]), [4, 4, 1]);
    }

    #[test]
    fn cells_are_distinct_by_kind() {
        let scale = LogScale::spanning([1, 10]);
        let cells = [10, 0];
        assert_eq!(heat_colour(PixelKind::Code(1), &cells, &scale), NOT_RUN);
        assert_eq!(
            heat_colour(PixelKind::Code(0), &cells, &scale),
            viridis(1.0)
        );
        let greys = [
            PixelKind::Header(0),
            PixelKind::Data {
                segment: 0,
                addr: 0,
            },
            PixelKind::Padding,
        ];
        let colours: Vec<Rgb> = greys
            .iter()
            .map(|&k| heat_colour(k, &cells, &scale))
            .collect();
        assert_eq!(colours, [HEADER, DATA, PADDING]);
        let frame = |counts| Frame {
            counts,
            scale,
            caption: "",
        };
        let style = Style {
            scale: 0,
            side_by_side: false,
        };
        assert!(matches!(
            render(&image(), &frame(&[0; 3]), style),
            Err(VizError::ZeroScale)
        ));
        assert!(matches!(
            render(&image(), &frame(&[0; 2]), Style::default()),
            Err(VizError::FrameLength { counts: 2, code: 3 })
        ));
    }
}
