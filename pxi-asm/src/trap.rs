//! Trap reports that point at the source line.

use std::fmt::Write as _;

use pxi::isa::Form;
use pxi::{Instruction, Trap};

use crate::parser::source_lines;
use crate::source_map::{SourceMap, Space};

/// Describe `trap` like a compiler error: the machine's report (with jump
/// and call targets named by their labels), then the source file, line and
/// label from `map`, and the line itself when the file can still be read.
pub fn render_trap(trap: &Trap, map: Option<&SourceMap>) -> String {
    let bare = Trap {
        instruction: None,
        ..trap.clone()
    };
    let mut out = format!("error: {bare}");
    if let Some(inst) = &trap.instruction {
        let _ = write!(out, " in `{}`", instruction_text(inst, map));
    }
    out.push('\n');
    let Some(source) = map.and_then(|m| m.pixel(trap.pc)) else {
        return out;
    };
    let number = source.line.to_string();
    let pad = " ".repeat(number.len());
    let label = source
        .label
        .map_or_else(String::new, |l| format!(" (in {l})"));
    let _ = writeln!(out, "{pad}--> {}:{}{label}", source.file, source.line);
    let text = std::fs::read_to_string(source.file).ok();
    if let Some(line) = text
        .as_deref()
        .and_then(|t| source_lines(t).nth(source.line as usize - 1))
    {
        let _ = writeln!(out, "{pad} |\n{number} | {line}");
    }
    out
}

/// The instruction, with a jump or call target written as its code label
/// when the map knows one.
fn instruction_text(inst: &Instruction, map: Option<&SourceMap>) -> String {
    let label = map.filter(|_| inst.op.form() == Form::W).and_then(|m| {
        m.symbols
            .iter()
            .find(|s| s.space == Space::Code && s.addr == inst.word)
    });
    match label {
        Some(symbol) => format!("{} {}", inst.op.mnemonic(), symbol.name),
        None => inst.to_string(),
    }
}
