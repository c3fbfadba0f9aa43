//! Images back to source: readable, and reassembling to the identical image.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use pxi::isa::{Form, OperandKind};
use pxi::mailbox::CALLS;
use pxi::{Image, Instruction, Op};

use crate::source_map::{SourceMap, Space};

/// How a linear sweep from code address 0 reads one code pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// The opcode pixel of an instruction.
    Instruction(Instruction),
    /// The extension word of the instruction before it.
    Extension,
    /// A pixel that does not decode (written as `.pixel`).
    Raw(u32),
}

/// Read the code linearly: every pixel is an opcode, an extension or raw.
pub fn sweep(code: &[u32]) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(code.len());
    while cells.len() < code.len() {
        let pc = cells.len();
        match Instruction::decode(code, pc) {
            Ok(inst) => {
                cells.push(Cell::Instruction(inst));
                if inst.len() == 2 {
                    cells.push(Cell::Extension);
                }
            }
            Err(_) => cells.push(Cell::Raw(code[pc])),
        }
    }
    cells
}

/// Names for code addresses: source labels where a map gives them, `L_xxxx`
/// for other jump and call targets and the entry point.
struct Labels {
    names: HashMap<u32, String>,
}

impl Labels {
    fn new(image: &Image, cells: &[Cell], map: Option<&SourceMap>) -> Labels {
        let is_start = |addr: u32| {
            cells
                .get(addr as usize)
                .is_some_and(|c| *c != Cell::Extension)
        };
        let mut names = HashMap::new();
        for symbol in map.map_or(&[][..], |m| &m.symbols) {
            if symbol.space == Space::Code && is_start(symbol.addr) {
                names
                    .entry(symbol.addr)
                    .or_insert_with(|| symbol.name.clone());
            }
        }
        let targets = cells.iter().filter_map(|cell| match cell {
            Cell::Instruction(inst) if inst.op.form() == Form::W => Some(inst.word),
            _ => None,
        });
        for target in targets.chain([image.entry]).filter(|&t| is_start(t)) {
            names
                .entry(target)
                .or_insert_with(|| format!("L_{target:04x}"));
        }
        Labels { names }
    }

    fn get(&self, addr: u32) -> Option<&str> {
        self.names.get(&addr).map(String::as_str)
    }
}

/// A number as it reads best: small ones in decimal, the rest in hex.
fn number(value: u32) -> String {
    if value < 0x1_0000 {
        value.to_string()
    } else {
        format!("0x{value:08x}")
    }
}

/// The assembly text of one instruction; `syscall_follows` names `li r0, N`
/// shortly before a `syscall` by its system call.
fn instruction_text(inst: &Instruction, labels: &Labels, syscall_follows: bool) -> String {
    let mut text = inst.op.mnemonic().to_string();
    for (i, (kind, value)) in inst.operands().enumerate() {
        text += if i == 0 { " " } else { ", " };
        let word = value as u32;
        let call = CALLS
            .iter()
            .find(|c| c.0 == word)
            .filter(|_| syscall_follows && inst.op == Op::Li && inst.a == 0);
        match (kind, inst.op.form()) {
            (OperandKind::Reg, _) => write!(text, "r{value}"),
            (OperandKind::U8 | OperandKind::S8, _) => write!(text, "{value}"),
            (OperandKind::Word, Form::W) => match labels.get(word) {
                Some(name) => write!(text, "{name}"),
                None => write!(text, "{}", number(word)),
            },
            (OperandKind::Word, _) => match call {
                Some((_, name, _)) => write!(text, "{name}"),
                None => write!(text, "{}", number(word)),
            },
        }
        .expect("writing to a String cannot fail");
    }
    text
}

/// Text of every code pixel, for displays with one cell per pixel: the
/// instruction at each opcode pixel, `(word …)` for extension pixels and
/// `.pixel …` for pixels that do not decode.
pub fn pixel_texts(image: &Image, map: Option<&SourceMap>) -> Vec<String> {
    let cells = sweep(&image.code);
    let labels = Labels::new(image, &cells, usable(image, map));
    (0..cells.len())
        .map(|pc| cell_text(image, &cells, &labels, pc))
        .collect()
}

fn cell_text(image: &Image, cells: &[Cell], labels: &Labels, pc: usize) -> String {
    match cells[pc] {
        Cell::Instruction(inst) => {
            // Call numbers are loaded into r0 a few instructions before the `syscall`.
            let syscall_follows = cells
                .iter()
                .skip(pc + 1)
                .take(SYSCALL_LOOKAHEAD)
                .any(|c| matches!(c, Cell::Instruction(i) if i.op == Op::Syscall));
            instruction_text(&inst, labels, syscall_follows)
        }
        Cell::Extension => format!("(word 0x{:08x})", image.code[pc]),
        Cell::Raw(pixel) => format!(".pixel 0x{pixel:08x}"),
    }
}

/// How many pixels after `li r0, N` a `syscall` makes N a call number.
const SYSCALL_LOOKAHEAD: usize = 8;

/// A map that belongs to this image (same code length), if any.
fn usable<'m>(image: &Image, map: Option<&'m SourceMap>) -> Option<&'m SourceMap> {
    map.filter(|m| m.pixels.len() == image.code.len())
}

/// Width of the instruction column before the `;` comment.
const COMMENT_COLUMN: usize = 36;

fn with_comment(out: &mut String, text: &str, comment: &str) {
    let pad = COMMENT_COLUMN.saturating_sub(text.chars().count()).max(1);
    let _ = writeln!(out, "{text}{:pad$}; {comment}", "");
}

/// Disassemble `image` into source that reassembles to the identical image.
/// A matching source map supplies label names and source lines.
pub fn disassemble(image: &Image, map: Option<&SourceMap>) -> String {
    let map = usable(image, map);
    let cells = sweep(&image.code);
    let labels = Labels::new(image, &cells, map);
    let mut out = String::from("; disassembled by pxi-asm\n");
    let _ = writeln!(
        out,
        ".width {}\n.harts {}\n.memory {}",
        image.width, image.harts, image.memory_words
    );
    let entry = labels
        .get(image.entry)
        .map_or_else(|| image.entry.to_string(), str::to_string);
    let _ = writeln!(out, ".entry {entry}");
    let mut data_labels = data_labels(image, map, &mut out);
    out += "\n.code\n";
    for (pc, cell) in cells.iter().enumerate() {
        if *cell == Cell::Extension {
            continue;
        }
        if let Some(name) = labels.get(pc as u32) {
            let _ = writeln!(out, "{name}:");
        }
        let (x, y) = image.code_pixel_xy(pc as u32);
        let mut comment = format!("pc {pc} ({x},{y})");
        if let Some(source) = map.and_then(|m| m.pixel(pc as u32)) {
            let _ = write!(comment, " {}:{}", source.file, source.line);
        }
        with_comment(
            &mut out,
            &format!("    {}", cell_text(image, &cells, &labels, pc)),
            &comment,
        );
    }
    if !image.segments.is_empty() {
        out += "\n.data\n";
    }
    let mut pixel = image.code_offset() + image.code.len();
    for (index, segment) in image.segments.iter().enumerate() {
        let (x, y) = (pixel as u32 % image.width, pixel as u32 / image.width);
        let comment = format!(
            "segment {index}: {} words from pixel ({x},{y})",
            segment.words.len()
        );
        with_comment(&mut out, &format!(".org {}", segment.addr), &comment);
        let mut line_start = 0;
        while line_start < segment.words.len() {
            // Break lines every four words and wherever a label goes.
            let mut end = (line_start + 4).min(segment.words.len());
            for offset in line_start..end {
                let addr = segment.addr + offset as u32;
                if data_labels.contains_key(&addr) {
                    if offset > line_start {
                        end = offset;
                        break;
                    }
                    let _ = writeln!(out, "{}:", data_labels.remove(&addr).unwrap_or_default());
                }
            }
            let words = &segment.words[line_start..end];
            let list: Vec<String> = words.iter().map(|w| format!("0x{w:08x}")).collect();
            let chars: String = words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .map(|b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            with_comment(
                &mut out,
                &format!("    .word {}", list.join(", ")),
                &format!("\"{chars}\""),
            );
            line_start = end;
        }
        pixel += segment.words.len();
    }
    out
}

/// Data labels from the map: those on a segment's word get a label line
/// (the first such word only), the rest become `.equ`s written to `out` now.
fn data_labels(image: &Image, map: Option<&SourceMap>, out: &mut String) -> HashMap<u32, String> {
    let mut placed = HashMap::new();
    let mut names = HashSet::new();
    for symbol in map.map_or(&[][..], |m| &m.symbols) {
        if symbol.space != Space::Data || !names.insert(symbol.name.as_str()) {
            continue;
        }
        let inside = image
            .segments
            .iter()
            .any(|s| symbol.addr >= s.addr && ((symbol.addr - s.addr) as usize) < s.words.len());
        if inside && !placed.contains_key(&symbol.addr) {
            placed.insert(symbol.addr, symbol.name.clone());
        } else {
            let _ = writeln!(out, ".equ {}, {}", symbol.name, symbol.addr);
        }
    }
    placed
}
