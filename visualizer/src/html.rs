//! The HTML viewer: one self-contained page (no network) with the program
//! image and its heatmap on zoomable canvases; hovering a cell shows its
//! coordinates, opcode, disassembly, count and source line.
//!
//! The page is `viewer.html` with the run embedded as JSON; its script draws
//! the canvases. `?hover=x,y` selects a cell on load and `?zoom=n` sets the
//! cell size, so a headless browser can check what a hover shows.

use pxi_asm::disasm::{Cell, sweep};
use pxi_asm::pixel_texts;
use serde_json::{Value, json};

use crate::colormap::{LogScale, hex, viridis};
use crate::heatmap::{
    DATA, HEADER, NOT_RUN, PADDING, PixelKind, Style, cell_counts, header_name, heat_colour,
    image_colour, pixel_kinds, snapshot_caption,
};
use crate::hotspots::report;
use crate::input::Profile;

/// The page template; `PXI_DATA` in it is replaced by the run's JSON.
const TEMPLATE: &str = include_str!("viewer.html");
/// Colour stops of the legend's CSS gradient.
const GRADIENT_STOPS: u32 = 16;
/// Rows of the hotspot table on the page.
const HOTSPOT_ROWS: usize = 10;

/// The opcode column of a code pixel.
fn opcode(cell: &Cell, pc: usize) -> String {
    match cell {
        Cell::Instruction(inst) => format!("0x{:02x} {}", inst.op as u8, inst.op.mnemonic()),
        Cell::Extension => format!("extension word of pc {}", pc - 1),
        Cell::Raw(_) => "not an instruction".into(),
    }
}

/// The JSON object describing pixel `index` of the image: code pixels refer
/// to their entry in the page's `code` array, the others carry a description.
fn pixel_json(index: usize, kind: PixelKind, word: u32, heat: String) -> Value {
    let (name, pc, text) = match kind {
        PixelKind::Code(pc) => ("code", Some(pc), None),
        PixelKind::Header(n) => (
            "header",
            None,
            Some(format!("header: {} = {word}", header_name(n))),
        ),
        PixelKind::Data { segment, addr } => (
            "data",
            None,
            Some(format!("data segment {segment}, address {addr} = {word}")),
        ),
        PixelKind::Padding => ("padding", None, Some(format!("padding (pixel {index})"))),
    };
    json!({ "kind": name, "pc": pc, "text": text, "word": word, "rgb": hex(image_colour(word)), "heat": heat })
}

/// The run as the page's script reads it.
fn page_data(profile: &Profile, title: &str) -> Value {
    let image = profile.image();
    let snapshot = profile.final_snapshot();
    let map = profile.map_status().map();
    let cells = cell_counts(image, &snapshot.counts);
    let scale = LogScale::spanning(cells.iter().copied());
    let words = image.to_pixels();
    let pixels: Vec<Value> = pixel_kinds(image)
        .into_iter()
        .enumerate()
        .map(|(index, kind)| {
            pixel_json(
                index,
                kind,
                words[index],
                hex(heat_colour(kind, &cells, &scale)),
            )
        })
        .collect();
    let texts = pixel_texts(image, map);
    let total: u64 = snapshot.counts.iter().map(|&c| u64::from(c)).sum();
    let code: Vec<Value> = sweep(&image.code)
        .iter()
        .enumerate()
        .map(|(pc, cell)| {
            let source = map.and_then(|m| m.pixel(pc as u32));
            json!({
                "op": opcode(cell, pc),
                "text": texts[pc],
                "count": snapshot.counts[pc],
                "cell": cells[pc],
                "source": source.map(|s| format!("{}:{}", s.file, s.line)),
                "label": source.and_then(|s| s.label),
            })
        })
        .collect();
    let hotspots = report(profile, HOTSPOT_ROWS);
    let hot_rows: Vec<Value> = hotspots
        .pixels
        .iter()
        .map(|p| json!({ "pc": p.pc, "x": p.xy.0, "y": p.xy.1, "count": p.count, "share": hotspots.share(p.count.into()) }))
        .collect();
    let gradient: Vec<String> = (0..=GRADIENT_STOPS)
        .map(|i| hex(viridis(f64::from(i) / f64::from(GRADIENT_STOPS))))
        .collect();
    json!({
        "title": title,
        "caption": snapshot_caption(snapshot),
        "width": image.width,
        "height": words.len() as u32 / image.width,
        "zoom": Style::default().scale,
        "min": scale.min,
        "max": scale.max,
        "total": total,
        "gradient": gradient,
        "keys": [["not run", hex(NOT_RUN)], ["header", hex(HEADER)], ["data", hex(DATA)], ["padding", hex(PADDING)]],
        "mapNote": profile.map_status().note(),
        "pixels": pixels,
        "code": code,
        "hotspots": hot_rows,
    })
}

/// The self-contained viewer page for `profile`'s final counts.
pub fn page(profile: &Profile, title: &str) -> String {
    // `<` only occurs inside JSON strings, where `\u003c` means the same and
    // cannot close the script element.
    let data = page_data(profile, title)
        .to_string()
        .replace('<', "\\u003c");
    TEMPLATE.replacen("PXI_DATA", &data, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_has_one_data_slot() {
        assert_eq!(super::TEMPLATE.matches("PXI_DATA").count(), 1);
    }
}
