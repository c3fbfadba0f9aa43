//! TGSI text assembly: registers, immediates and the instruction list.
//!
//! Every scalar value lives in the `.x` component of its own TEMP register
//! (buffer LOADs fill components from consecutive addresses, so packing
//! several scalars into one register would misread them). Arrays indexed
//! at run time get their own `ARRAY(n)` TEMP range, addressed through
//! `ADDR[0]`.

use std::collections::HashMap;
use std::fmt::Write;

/// A source operand: one scalar, replicated to `.xxxx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// TEMP register (scalar in `.x`).
    Temp(u32),
    /// Immediate (index into the immediate table).
    Imm(u32),
    /// A component of a system value register.
    Sv(u32, u8),
}

/// Where a memory access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Shader buffer bound at this slot.
    Buffer(u32),
    /// The workgroup's shared memory.
    Shared,
}

/// A TEMP range indexed at run time.
#[derive(Clone, Copy, Debug)]
pub struct Array {
    /// TGSI array id (1-based).
    pub id: u32,
    /// First TEMP register of the range.
    pub first: u32,
    /// Registers in the range.
    pub len: u32,
}

/// The system values every translated shader declares, in SV order.
pub const SV_THREAD_ID: u32 = 0;
pub const SV_BLOCK_ID: u32 = 1;
pub const SV_GRID_SIZE: u32 = 2;

const COMPONENTS: [char; 4] = ['x', 'y', 'z', 'w'];

/// Builds one TGSI compute shader.
#[derive(Default)]
pub struct Assembler {
    /// Registers reserved for arrays come first; scalars follow.
    arrays: Vec<Array>,
    array_regs: u32,
    scalars: u32,
    immediates: Vec<u32>,
    immediate_index: HashMap<u32, u32>,
    buffers: Vec<u32>,
    /// Instruction text, one per line, with the control-flow indentation.
    body: String,
    depth: usize,
    instructions: usize,
}

impl Assembler {
    /// Reserve a run-time indexed range of `len` registers.
    pub fn array(&mut self, len: u32) -> Array {
        let array = Array {
            id: self.arrays.len() as u32 + 1,
            first: self.array_regs,
            len,
        };
        self.array_regs += len;
        self.arrays.push(array);
        array
    }

    /// A fresh scalar register. Arrays must all be reserved before the
    /// first scalar (their registers come first).
    pub fn temp(&mut self) -> u32 {
        let t = self.array_regs + self.scalars;
        self.scalars += 1;
        t
    }

    /// An immediate operand with value `v`.
    pub fn imm(&mut self, v: u32) -> Src {
        let next = self.immediates.len() as u32;
        let index = *self.immediate_index.entry(v).or_insert(next);
        if index == next {
            self.immediates.push(v);
        }
        Src::Imm(index)
    }

    /// Declare the shader buffer at `slot` as used.
    pub fn use_buffer(&mut self, slot: u32) {
        if !self.buffers.contains(&slot) {
            self.buffers.push(slot);
        }
    }

    /// Render a source operand.
    pub fn src(&self, s: Src) -> String {
        match s {
            Src::Temp(t) => format!("TEMP[{t}].xxxx"),
            Src::Imm(i) => format!("IMM[{i}].xxxx"),
            Src::Sv(r, c) => {
                let c = COMPONENTS[c as usize];
                format!("SV[{r}].{c}{c}{c}{c}")
            }
        }
    }

    /// Render a memory resource operand.
    pub fn memory(&mut self, m: Memory) -> String {
        match m {
            Memory::Buffer(slot) => {
                self.use_buffer(slot);
                format!("BUFFER[{slot}]")
            }
            Memory::Shared => "MEMORY[0]".to_string(),
        }
    }

    /// Emit one instruction line (operands already rendered).
    pub fn line(&mut self, text: &str) {
        let closes = ["ENDIF", "ENDLOOP", "ELSE"].contains(&text);
        if closes {
            self.depth = self.depth.saturating_sub(1);
        }
        for _ in 0..self.depth {
            self.body.push_str("  ");
        }
        self.body.push_str(text);
        self.body.push('\n');
        self.instructions += 1;
        if text.starts_with("UIF") || text == "BGNLOOP" || text == "ELSE" {
            self.depth += 1;
        }
    }

    /// `OP TEMP[dst].x, srcs...`
    pub fn op(&mut self, name: &str, dst: u32, srcs: &[Src]) {
        let mut text = format!("{name} TEMP[{dst}].x");
        for s in srcs {
            let _ = write!(text, ", {}", self.src(*s));
        }
        self.line(&text);
    }

    /// A fresh register holding `name(srcs)`.
    pub fn value(&mut self, name: &str, srcs: &[Src]) -> Src {
        let t = self.temp();
        self.op(name, t, srcs);
        Src::Temp(t)
    }

    /// Read element `index` (plus `offset`) of `array`.
    pub fn array_read(&mut self, array: Array, index: Option<Src>, offset: u32) -> Src {
        let t = self.temp();
        let operand = self.array_operand(array, index, offset);
        self.line(&format!("MOV TEMP[{t}].x, {operand}.xxxx"));
        Src::Temp(t)
    }

    /// Write `value` to element `index` (plus `offset`) of `array`.
    pub fn array_write(&mut self, array: Array, index: Option<Src>, offset: u32, value: Src) {
        let operand = self.array_operand(array, index, offset);
        let v = self.src(value);
        self.line(&format!("MOV {operand}.x, {v}"));
    }

    fn array_operand(&mut self, array: Array, index: Option<Src>, offset: u32) -> String {
        let first = array.first + offset;
        match index {
            None => format!("TEMP[{first}]"),
            Some(index) => {
                // Clamp like naga's `Restrict` bounds-check policy.
                let last = self.imm(array.len.saturating_sub(offset + 1));
                let clamped = self.value("UMIN", &[index, last]);
                let c = self.src(clamped);
                self.line(&format!("UARL ADDR[0].x, {c}"));
                format!("TEMP[ADDR[0].x+{first}]({})", array.id)
            }
        }
    }

    /// Instructions emitted so far.
    pub fn instructions(&self) -> usize {
        self.instructions
    }

    /// The complete shader text.
    pub fn finish(self, block: [u32; 3], shared_bytes: u32) -> String {
        let mut out = String::from("COMP\n");
        for (name, v) in ["WIDTH", "HEIGHT", "DEPTH"].iter().zip(block) {
            let _ = writeln!(out, "PROPERTY CS_FIXED_BLOCK_{name} {v}");
        }
        for (i, name) in ["THREAD_ID", "BLOCK_ID", "GRID_SIZE"].iter().enumerate() {
            let _ = writeln!(out, "DCL SV[{i}], {name}");
        }
        let mut buffers = self.buffers.clone();
        buffers.sort_unstable();
        for slot in buffers {
            let _ = writeln!(out, "DCL BUFFER[{slot}]");
        }
        if shared_bytes > 0 {
            out.push_str("DCL MEMORY[0], SHARED\n");
        }
        for a in &self.arrays {
            let _ = writeln!(
                out,
                "DCL TEMP[{}..{}], ARRAY({})",
                a.first,
                a.first + a.len - 1,
                a.id
            );
        }
        if self.scalars > 0 {
            let first = self.array_regs;
            let _ = writeln!(out, "DCL TEMP[{first}..{}]", first + self.scalars - 1);
        }
        if !self.arrays.is_empty() {
            out.push_str("DCL ADDR[0]\n");
        }
        for (i, v) in self.immediates.iter().enumerate() {
            let _ = writeln!(out, "IMM[{i}] UINT32 {{{v}, {v}, {v}, {v}}}");
        }
        out.push_str(&self.body);
        out.push_str("END\n");
        out
    }
}
