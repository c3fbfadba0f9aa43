//! The compiled mode: a program's code pixels translated into WGSL.
//!
//! [`compile`] finds the program's basic blocks of *simple* instructions
//! (`pxi::isa::Op::is_simple`) and writes each as straight-line WGSL with its
//! registers in locals, inside one `run_block` function that the interpreter's
//! fast loop calls wherever the code pixel's `INFO_BLOCK` bit is set. A block
//! that ends in a branch back to its own start loops inside `run_block`
//! without returning to the interpreter (the common inner loop). Everything
//! else — the slow instructions, traps, user mode, windows, timer, mailbox,
//! the round structure — stays the interpreter's, so the compiled module is
//! the interpreter module with a specialised `run_block`.
//!
//! The semantics of each instruction come from the ISA table's WGSL templates
//! (`pxi::isa::Op::semantics`), the same ones the interpreter's fast and slow
//! paths are generated from. A block runs only when the hart's remaining
//! slice budget covers a whole pass of it, the pass lies inside the running
//! mode's code window and a user-mode timer cannot expire within it;
//! otherwise the interpreter steps through it, so step counts, timer traps
//! and slice ends are exactly the interpreter's. A load, store or jump that
//! would trap leaves the block just before it (registers written back,
//! counts and the timer brought up to date) and the interpreter traps.
//!
//! Counts: a block adds its completed passes to one counter
//! (`counts[code_len + start]`); [`expand_counts`] turns those into the
//! per-pixel counts every executor reports. Partial passes count per pixel.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use pxi::isa::{self, Instruction, Op, Semantics};

/// One compiled block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Code address of its first pixel.
    pub start: u32,
    /// Offsets of its opcode pixels from `start`, in order.
    pub offsets: Vec<u32>,
    /// Pixels it covers, extension words included.
    pub pixels: u32,
}

impl Block {
    /// Instructions in one pass.
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> u32 {
        self.offsets.len() as u32
    }

    /// Whether the block's pixels overlap `[at, at + len)`.
    pub fn overlaps(&self, at: u32, len: u32) -> bool {
        at < self.start + self.pixels && self.start < at.saturating_add(len)
    }
}

/// A compiled program: the shader module and what it compiled.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The complete interpreter module with this program's `run_block`.
    pub source: String,
    /// The blocks, by start address.
    pub blocks: Vec<Block>,
}

/// Blocks shorter than this stay interpreted: entering a block costs about
/// as much as interpreting one instruction.
const MIN_BLOCK: usize = 2;

/// Where blocks start: the first pixel, every branch and call target, and
/// the pixel after every instruction that is not simple or ends a block.
fn leaders(code: &[u32]) -> Vec<bool> {
    let mut leader = alloc::vec![false; code.len()];
    if let Some(first) = leader.first_mut() {
        *first = true;
    }
    let mut pc = 0;
    while pc < code.len() {
        let Ok(inst) = Instruction::decode(code, pc) else {
            pc += 1;
            if let Some(l) = leader.get_mut(pc) {
                *l = true;
            }
            continue;
        };
        let next = pc + inst.len() as usize;
        let branch = matches!(inst.op.semantics(), Some(Semantics::Branch(_)));
        if branch || inst.op == Op::Call {
            if let Some(l) = leader.get_mut(inst.word as usize) {
                *l = true;
            }
        }
        if (branch || !inst.op.is_simple()) && next < code.len() {
            leader[next] = true;
        }
        pc = next;
    }
    leader
}

/// The basic blocks of simple instructions in `code`.
pub fn blocks(code: &[u32]) -> Vec<Block> {
    let leader = leaders(code);
    let mut blocks = Vec::new();
    for start in (0..code.len()).filter(|&pc| leader[pc]) {
        let mut offsets = Vec::new();
        let mut pc = start;
        while let Some(Ok(inst)) = (pc < code.len()).then(|| Instruction::decode(code, pc)) {
            if !inst.op.is_simple() || (pc != start && leader[pc]) {
                break;
            }
            offsets.push((pc - start) as u32);
            pc += inst.len() as usize;
            if matches!(inst.op.semantics(), Some(Semantics::Branch(_))) {
                break;
            }
        }
        if offsets.len() >= MIN_BLOCK {
            blocks.push(Block {
                start: start as u32,
                offsets,
                pixels: (pc - start) as u32,
            });
        }
    }
    blocks
}

/// Most blocks one module holds: lavapipe's shader compile time grows with
/// the module (measured in docs/compiler.md), so a big program gets its
/// hottest blocks only.
pub const MAX_BLOCKS: usize = 48;

/// Compile `code` (the image's code pixels) into the interpreter module.
/// `counts` (executions per pixel so far, or empty) pick the hottest blocks
/// when there are more than [`MAX_BLOCKS`]; without counts, blocks that loop
/// on themselves and long blocks come first.
pub fn compile(code: &[u32], counts: &[u32]) -> Compiled {
    let mut blocks = blocks(code);
    if blocks.len() > MAX_BLOCKS {
        blocks.sort_by_cached_key(|b| core::cmp::Reverse(heat(code, counts, b)));
        blocks.truncate(MAX_BLOCKS);
        blocks.sort_by_key(|b| b.start);
    }
    let cases: String = blocks.iter().map(|b| block_case(code, b)).collect();
    Compiled {
        source: crate::interpreter_module_with(&run_block(&cases)),
        blocks,
    }
}

/// How much running `block` as WGSL is worth: instructions executed so far,
/// whether it branches to itself, its length.
fn heat(code: &[u32], counts: &[u32], block: &Block) -> (u64, bool, u32) {
    let runs = counts.get(block.start as usize).copied().unwrap_or(0) as u64;
    let last = block.start + block.offsets[block.offsets.len() - 1];
    let self_loop = Instruction::decode(code, last as usize).is_ok_and(|inst| {
        matches!(inst.op.semantics(), Some(Semantics::Branch(_))) && inst.word == block.start
    });
    (runs * block.len() as u64, self_loop, block.len())
}

/// `run_block` around the generated cases (none: a stub that runs nothing).
/// One loop runs block after block while the next pc starts one, so a
/// compiled pass costs llvmpipe's loop limit one iteration, like an
/// interpreted step (the cases themselves have no loops).
pub(crate) fn run_block(cases: &str) -> String {
    let head = "// Compiled blocks (shaders::compile): runs blocks from the current pc while\n\
                // one starts there and `budget` steps allow; returns the steps run.\n\
                fn run_block(id: u32, budget: u32) -> u32 {\n";
    if cases.is_empty() {
        return format!("{head}    return 0u;\n}}\n");
    }
    format!(
        "{head}    var done = 0u;\n    loop {{\n        \
         let pc0 = pc;\n        \
         let ticking = mode == MODE_USER && timer_left != 0u;\n        \
         switch cbase + pc0 {{\n{cases}            default: {{ return done; }}\n        }}\n    }}\n    return done;\n}}\n"
    )
}

/// Registers the block reads or writes, and those it writes.
fn registers(insts: &[Instruction]) -> (u32, u32) {
    let (mut used, mut written) = (0u32, 0u32);
    for inst in insts {
        let mask = inst.op.form().register_mask();
        for (bit, reg) in [(1, inst.a), (2, inst.b), (4, inst.c)] {
            if mask & bit != 0 {
                used |= 1 << reg;
            }
        }
        let writes = matches!(inst.op.semantics(), Some(Semantics::Result(_))) || inst.op == Op::Ld;
        if writes {
            written |= 1 << inst.a;
        }
    }
    (used, written)
}

fn reg_list(mask: u32) -> impl Iterator<Item = u32> {
    (0..isa::REGISTERS as u32).filter(move |r| mask & (1 << r) != 0)
}

/// One `case` of `run_block`: the block as straight-line WGSL.
fn block_case(code: &[u32], block: &Block) -> String {
    let insts: Vec<Instruction> = block
        .offsets
        .iter()
        .map(|&o| Instruction::decode(code, (block.start + o) as usize).expect("blocks decode"))
        .collect();
    let (used, written) = registers(&insts);
    let n = block.len();
    let writeback: String = reg_list(written)
        .map(|r| format!("regs[{r}] = r{r}; "))
        .collect();
    // Leave just before instruction k (it will trap in the interpreter).
    let exit = |k: usize| {
        let partial: String = block.offsets[..k]
            .iter()
            .map(|o| format!("count({}u); ", block.start + o))
            .collect();
        format!(
            "{{ {writeback}pc = pc0 + {}u; if (ticking) {{ timer_left -= {k}u; }} \
             {partial}return done + {k}u; }}",
            block.offsets[k]
        )
    };
    let mut body = String::new();
    let mut branch = None;
    for (k, inst) in insts.iter().enumerate() {
        let (a, b, c) = (
            format!("r{}", inst.a),
            format!("r{}", inst.b),
            format!("r{}", inst.c),
        );
        let (imm, word) = (format!("{}u", inst.c), format!("{}u", inst.word));
        let values = [
            ("$id", "id"),
            ("$a", a.as_str()),
            ("$b", b.as_str()),
            ("$c", c.as_str()),
            ("$i", imm.as_str()),
            ("$w", word.as_str()),
            ("$f", "flags"),
        ];
        let line = match inst.op.semantics() {
            Some(Semantics::Result(t)) => format!("{a} = {};", isa::expand(t, &values)),
            Some(Semantics::Flags(t)) => format!("flags = {};", isa::expand(t, &values)),
            Some(Semantics::Branch(t)) => {
                branch = Some((isa::expand(t, &values), inst.word, k));
                continue;
            }
            None => match inst.op {
                Op::Nop => continue,
                Op::Ld | Op::St => {
                    let access = if inst.op == Op::Ld {
                        format!("{a} = atomicLoad(&memory[dbase + addr]);")
                    } else {
                        format!("atomicStore(&memory[dbase + addr], {a});")
                    };
                    format!(
                        "{{ let addr = {b} + {imm}; if (addr >= dlen) {} {access} }}",
                        exit(k)
                    )
                }
                op => unreachable!("{op:?} is not simple"),
            },
        };
        body.push_str(&format!("{I}{line}\n"));
    }
    let next = match branch {
        Some((cond, target, k)) => {
            body.push_str(&format!(
                "{I}let taken = {cond};\n{I}if (taken && {target}u >= clen) {}\n",
                exit(k)
            ));
            format!("select(pc0 + {}u, {target}u, taken)", block.pixels)
        }
        None => format!("pc0 + {}u", block.pixels),
    };
    let locals: String = reg_list(used)
        .map(|r| format!("var r{r} = regs[{r}]; "))
        .collect();
    format!(
        "            case {start}u: {{\n\
         {I}if (budget - done < {n}u || {pixels}u > clen - pc0 || (ticking && timer_left <= {n}u)) {{ return done; }}\n\
         {I}{locals}\n{body}\
         {I}{writeback}\n\
         {I}done += {n}u;\n\
         {I}if (ticking) {{ timer_left -= {n}u; }}\n\
         {I}count_block({start}u, 1u);\n\
         {I}pc = {next};\n\
         {I}}}\n",
        start = block.start,
        pixels = block.pixels,
    )
}

/// Indentation of a block's statements in `run_block`.
const I: &str = "                ";

/// Add each block's pass counter (`counts[code_len + start]`) to the counts
/// of its instructions and drop the counters: the per-pixel counts the CPU
/// interpreter keeps. `counts` holds `2 × code_len` words.
pub fn expand_counts(counts: &mut Vec<u32>, blocks: &[Block]) {
    let code_len = counts.len() / 2;
    for block in blocks {
        let passes = counts[code_len + block.start as usize];
        for o in &block.offsets {
            let c = &mut counts[(block.start + o) as usize];
            *c = c.wrapping_add(passes);
        }
    }
    counts.truncate(code_len);
}
