//! Trap reports that point at the source line.

use std::fmt::Write as _;

use pxi::Trap;

use crate::source_map::SourceMap;

/// Describe `trap` like a compiler error: the machine's report, then the
/// source file, line and label from `map`, and the line itself when the file
/// can still be read.
pub fn render_trap(trap: &Trap, map: Option<&SourceMap>) -> String {
    let mut out = format!("error: {trap}\n");
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
        .and_then(|t| t.lines().nth(source.line as usize - 1))
    {
        let _ = writeln!(out, "{pad} |\n{number} | {line}");
    }
    out
}
