//! Hotspot reports: where a run spent its instructions.

use std::collections::HashMap;
use std::fmt;

use pxi_asm::pixel_texts;

use crate::input::Profile;

/// One of the most executed code pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PixelHotspot {
    /// Code address.
    pub pc: u32,
    /// Its (x, y) in the image.
    pub xy: (u32, u32),
    /// Executions.
    pub count: u32,
    /// `file:line`, when the source map is available.
    pub source: Option<String>,
    /// The nearest preceding code label, when the source map is available.
    pub label: Option<String>,
    /// Disassembly of the pixel.
    pub text: String,
}

/// Executions summed over the code pixels under one label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelHotspot {
    /// The label (`(before any label)` for code ahead of the first one).
    pub label: String,
    /// Executions.
    pub count: u64,
    /// Executed code pixels under it.
    pub pixels: usize,
}

/// The top pixels and labels of the final counts of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Executions of all code pixels.
    pub total: u64,
    /// Code pixels of the image.
    pub code_len: usize,
    /// Code pixels executed at least once.
    pub executed: usize,
    /// The most executed pixels, most first.
    pub pixels: Vec<PixelHotspot>,
    /// The most executed labels, most first; empty without a source map.
    pub labels: Vec<LabelHotspot>,
    /// Why source lines and labels are missing, if they are.
    pub map_note: Option<String>,
}

/// Name under which code before the first label is summed.
const NO_LABEL: &str = "(before any label)";

/// The `top` hottest pixels and labels of `profile`'s final counts.
pub fn report(profile: &Profile, top: usize) -> Report {
    let image = profile.image();
    let counts = &profile.final_snapshot().counts;
    let map = profile.map_status().map();
    let texts = pixel_texts(image, map);
    let source = |pc: u32| map.and_then(|m| m.pixel(pc));

    let mut executed: Vec<u32> = (0..counts.len() as u32)
        .filter(|&pc| counts[pc as usize] > 0)
        .collect();
    executed.sort_by_key(|&pc| (std::cmp::Reverse(counts[pc as usize]), pc));
    let pixels = executed
        .iter()
        .take(top)
        .map(|&pc| PixelHotspot {
            pc,
            xy: image.code_pixel_xy(pc),
            count: counts[pc as usize],
            source: source(pc).map(|s| format!("{}:{}", s.file, s.line)),
            label: source(pc).and_then(|s| s.label.map(str::to_string)),
            text: texts[pc as usize].clone(),
        })
        .collect();

    let mut by_label: HashMap<&str, LabelHotspot> = HashMap::new();
    for &pc in executed.iter().filter(|_| map.is_some()) {
        let label = source(pc).and_then(|s| s.label).unwrap_or(NO_LABEL);
        let entry = by_label.entry(label).or_insert_with(|| LabelHotspot {
            label: label.into(),
            count: 0,
            pixels: 0,
        });
        entry.count += u64::from(counts[pc as usize]);
        entry.pixels += 1;
    }
    let mut labels: Vec<LabelHotspot> = by_label.into_values().collect();
    labels.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    labels.truncate(top);

    Report {
        total: counts.iter().map(|&c| u64::from(c)).sum(),
        code_len: counts.len(),
        executed: executed.len(),
        pixels,
        labels,
        map_note: profile.map_status().note(),
    }
}

impl Report {
    /// `count` as a percentage of all executions.
    pub fn share(&self, count: u64) -> String {
        let percent = if self.total == 0 {
            0.0
        } else {
            100.0 * count as f64 / self.total as f64
        };
        format!("{percent:.2}%")
    }
}

/// Columns padded to their widest cell; `numeric` columns align right.
fn table(
    out: &mut fmt::Formatter<'_>,
    header: &[&str],
    numeric: &[bool],
    rows: &[Vec<String>],
) -> fmt::Result {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header_row: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(numeric)
            .map(|((cell, &w), &right)| {
                if right {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} executions; {} of {} code pixels executed",
            self.total, self.executed, self.code_len
        )?;
        if let Some(note) = &self.map_note {
            writeln!(f, "note: {note}")?;
        }
        writeln!(f, "\ntop {} pixels", self.pixels.len())?;
        let rows: Vec<Vec<String>> = (1..)
            .zip(&self.pixels)
            .map(|(rank, p)| {
                vec![
                    rank.to_string(),
                    p.pc.to_string(),
                    format!("({},{})", p.xy.0, p.xy.1),
                    p.count.to_string(),
                    self.share(p.count.into()),
                    p.source.clone().unwrap_or_else(|| "-".into()),
                    p.label.clone().unwrap_or_else(|| "-".into()),
                    p.text.clone(),
                ]
            })
            .collect();
        let header = [
            "rank",
            "pc",
            "(x,y)",
            "count",
            "share",
            "source",
            "label",
            "instruction",
        ];
        table(
            f,
            &header,
            &[true, true, false, true, true, false, false, false],
            &rows,
        )?;
        if self.map_note.is_some() {
            return writeln!(f, "\ntop labels: need the source map");
        }
        writeln!(f, "\ntop {} labels", self.labels.len())?;
        let rows: Vec<Vec<String>> = (1..)
            .zip(&self.labels)
            .map(|(rank, l)| {
                vec![
                    rank.to_string(),
                    l.label.clone(),
                    l.count.to_string(),
                    self.share(l.count),
                    l.pixels.to_string(),
                ]
            })
            .collect();
        table(
            f,
            &["rank", "label", "count", "share", "pixels"],
            &[true, false, true, true, true],
            &rows,
        )
    }
}
