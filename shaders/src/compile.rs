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
//! Counts: a block adds its completed passes to a private counter of its
//! own, and once per slice (`count_blocks`) to the run counters of the
//! interpreter (`counts[code_len + start]`, and the pixel after the block
//! when its run's chain goes on there): no atomic in `run_block`'s loop. A
//! pass that leaves early counts as a run stopped before the exit.
//! [`expand_counts`] turns the counters into the per-pixel counts every
//! executor reports.

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

/// Most instructions the compiled blocks hold together. llvmpipe runs every
/// `case` of `run_block`'s `switch` under a mask on every pass, so a pass
/// costs in proportion to everything compiled, not to the block it runs: the
/// os demo ran in 233–280 ms with 47 of os.pxs's blocks (803 instructions)
/// compiled, 139–154 ms with 10 (252), 116–126 ms interpreted
/// (docs/compiler.md, "Big programs"). A block longer than this is never
/// compiled.
pub const MAX_INSTRUCTIONS: u32 = 256;

/// Compile `code` (the image's code pixels) into the interpreter module.
/// `counts` (executions per pixel so far, or empty) pick the hottest blocks
/// when there are more than [`MAX_BLOCKS`] or [`MAX_INSTRUCTIONS`]; without
/// counts, blocks that loop on themselves and long blocks come first.
pub fn compile(code: &[u32], counts: &[u32]) -> Compiled {
    let blocks = select(code, counts, blocks(code));
    Compiled {
        source: crate::interpreter_module_with(&run_block(code, &blocks)),
        blocks,
    }
}

/// The hottest of `blocks` that fit in [`MAX_BLOCKS`] and
/// [`MAX_INSTRUCTIONS`] (a block that does not fit is passed over for
/// smaller ones), in code order.
fn select(code: &[u32], counts: &[u32], mut blocks: Vec<Block>) -> Vec<Block> {
    let total: u32 = blocks.iter().map(Block::len).sum();
    if blocks.len() <= MAX_BLOCKS && total <= MAX_INSTRUCTIONS {
        return blocks;
    }
    blocks.sort_by_cached_key(|b| core::cmp::Reverse(heat(code, counts, b)));
    let mut left = MAX_INSTRUCTIONS;
    blocks.retain(|b| {
        let fits = b.len() <= left;
        if fits {
            left -= b.len();
        }
        fits
    });
    blocks.truncate(MAX_BLOCKS);
    blocks.sort_by_key(|b| b.start);
    blocks
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

/// `run_block` around the blocks' cases (none: a stub that runs nothing),
/// with `count_blocks`. One loop runs block after block while the next pc
/// starts one. A case's only loop is the one-pass loop its exits break out
/// of, so a case costs llvmpipe's shared loop counter two iterations for at
/// least two instructions (a block has at least two): no more per step than
/// the interpreter's loops.
///
/// The registers the blocks use live in locals for the whole call: loaded on
/// entry, the written ones stored on return, so a chain of blocks touches the
/// register array twice. Each case has one way out: a trap exit sets what
/// the tail needs (`ran`, `pc`, `left_block`) and breaks; there is no
/// `return` and no register store inside a case. Both matter to lavapipe's
/// compile time, which grew with every early return and its write-backs
/// (docs/compiler.md, "Compile time").
///
/// Counting costs the loop no atomic: each block adds its complete passes to
/// a private counter of its own (`passes_START`: a scalar per block, not an
/// indexed array, whose gathers and scatters would run on every pass), and
/// `count_blocks`, called once at the end of the hart's slice, adds them to
/// the run counters. llvmpipe runs an atomic site under a mask on every pass
/// of the loop around it, whether any lane takes it or not: the atomics in
/// the cases cost about a third of the benchmark's compiled speed
/// (docs/benchmarks.md, "Compiled counting").
pub(crate) fn run_block(code: &[u32], blocks: &[Block]) -> String {
    let head = "// Compiled blocks (shaders::compile): runs blocks from the current pc while\n\
                // one starts there and `budget` steps allow; returns the steps run.\n\
                fn run_block(id: u32, budget: u32) -> u32 {\n";
    let counters: String = blocks
        .iter()
        .map(|b| format!("var<private> passes_{}: u32;\n", b.start))
        .collect();
    let flush: String = blocks
        .iter()
        .map(|b| {
            let stop = stop(code, b).map_or("NO_STOP".into(), |stop| format!("{stop}u"));
            format!(
                "    count_run({start}u, {stop}, passes_{start});\n",
                start = b.start
            )
        })
        .collect();
    let count_blocks = format!(
        "// Add the compiled blocks' complete passes in this slice to the run counters\n\
         // (each pass is a run from the block's start, stopped where its chain goes on).\n\
         {counters}fn count_blocks() {{\n{flush}}}\n"
    );
    if blocks.is_empty() {
        return format!("{head}    return 0u;\n}}\n{count_blocks}");
    }
    let insts: Vec<Vec<Instruction>> = blocks.iter().map(|b| instructions(code, b)).collect();
    let (used, written) = insts
        .iter()
        .map(|i| registers(i))
        .fold((0, 0), |(u, w), (bu, bw)| (u | bu, w | bw));
    let load: String = reg_list(used)
        .map(|r| format!("var r{r} = regs[{r}]; "))
        .collect();
    let store: String = reg_list(written)
        .map(|r| format!("regs[{r}] = r{r}; "))
        .collect();
    let cases: String = blocks
        .iter()
        .zip(&insts)
        .map(|(b, i)| block_case(b, i))
        .collect();
    format!(
        "{head}    {load}\n    var done = 0u;\n    loop {{\n        \
         let pc0 = pc;\n        \
         let ticking = mode == MODE_USER && timer_left != 0u;\n        \
         // Steps this pass of the loop ran (0: no block could).\n        \
         var ran = 0u;\n        \
         switch cbase + pc0 {{\n{cases}            default: {{}}\n        }}\n        \
         done += ran;\n        \
         if (ticking) {{ timer_left -= ran; }}\n        \
         if (ran == 0u || left_block.y != 0u) {{ break; }}\n    }}\n    \
         {store}\n    return done;\n}}\n\
         {count_blocks}"
    )
}

/// The instructions of `block`, in order.
fn instructions(code: &[u32], block: &Block) -> Vec<Instruction> {
    block
        .offsets
        .iter()
        .map(|&o| Instruction::decode(code, (block.start + o) as usize).expect("blocks decode"))
        .collect()
}

/// Where a complete pass of `block` stops in its run's chain
/// (interpreter.wgsl `count_run`): after a closing branch nowhere, else
/// before the pixel after the block. That pixel may be rewritten into a simple
/// instruction later, so the stop is counted whatever it holds now.
fn stop(code: &[u32], block: &Block) -> Option<u32> {
    let last = block.start + block.offsets[block.offsets.len() - 1];
    let branch = Instruction::decode(code, last as usize)
        .is_ok_and(|inst| matches!(inst.op.semantics(), Some(Semantics::Branch(_))));
    (!branch).then_some(block.start + block.pixels)
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

/// Passes of a block that branches to itself unrolled into one `case`
/// (registers stay in locals across them; fewer trips through the switch).
const UNROLL: u32 = 4;

/// One `case` of `run_block`: the block as straight-line WGSL inside a
/// one-pass loop that its trap exits break out of.
fn block_case(block: &Block, insts: &[Instruction]) -> String {
    let case = Case {
        block,
        statements: insts.iter().map(statement).collect(),
    };
    let last = insts[insts.len() - 1];
    let passes = match last.op.semantics() {
        Some(Semantics::Branch(_)) if last.word == block.start => UNROLL,
        _ => 1,
    };
    let n = block.len();
    format!(
        "{CASE}case {start}u: {{\n\
         {I}if (budget - done >= {n}u && {pixels}u <= clen - pc0 && !(ticking && timer_left <= {n}u)) {{ loop {{\n{}\
         {BODY}break;\n{I}}} }}\n\
         {CASE}}}\n",
        case.pass(0, passes, BODY),
        start = block.start,
        pixels = block.pixels,
    )
}

/// What one instruction of a block does, in WGSL.
enum Statement {
    /// A statement (empty for `nop`); `EXIT` marks where it leaves the block early.
    Plain(String),
    /// The closing branch: its condition and target.
    Branch { cond: String, target: u32 },
}

fn statement(inst: &Instruction) -> Statement {
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
    Statement::Plain(match inst.op.semantics() {
        Some(Semantics::Result(t)) => format!("{a} = {};", isa::expand(t, &values)),
        Some(Semantics::Flags(t)) => format!("flags = {};", isa::expand(t, &values)),
        Some(Semantics::Branch(t)) => {
            return Statement::Branch {
                cond: isa::expand(t, &values),
                target: inst.word,
            };
        }
        None => match inst.op {
            Op::Nop => String::new(),
            Op::Ld => format!(
                "{{ let addr = {b} + {imm}; if (addr >= dlen) EXIT {a} = atomicLoad(&memory[dbase + addr]); }}"
            ),
            Op::St => format!(
                "{{ let addr = {b} + {imm}; if (addr >= dlen) EXIT atomicStore(&memory[dbase + addr], {a}); }}"
            ),
            op => unreachable!("{op:?} is not simple"),
        },
    })
}

/// A block being written out.
struct Case<'b> {
    block: &'b Block,
    /// What each instruction does.
    statements: Vec<Statement>,
}

impl Case<'_> {
    /// Leave before instruction `k` of pass `pass` (it traps in the
    /// interpreter): the complete passes go to the block's counter, and the
    /// caller counts the partial one.
    fn exit(&self, pass: u32, k: usize) -> String {
        let ran = pass * self.block.len() + k as u32;
        let offset = self.block.offsets[k];
        let start = self.block.start;
        let passes = match pass {
            0 => String::new(),
            _ => format!("passes_{start} += {pass}u; "),
        };
        format!(
            "{{ pc = pc0 + {offset}u; ran = {ran}u; {passes}left_block = vec2({start}u, {}u); break; }}",
            start + offset + 1,
        )
    }

    /// End the pass after `passes` complete passes, continuing at `next`.
    fn finish(&self, passes: u32, next: &str, indent: &str) -> String {
        format!(
            "{indent}ran = {}u;\n{indent}passes_{} += {passes}u;\n{indent}pc = {next};\n",
            passes * self.block.len(),
            self.block.start
        )
    }

    /// Pass `pass` of at most `total` and, nested, the passes after it: a
    /// block that branches to itself goes round again while the branch is
    /// taken and the budget and timer allow a whole pass more.
    fn pass(&self, pass: u32, total: u32, indent: &str) -> String {
        let mut out = String::new();
        let mut next = format!("pc0 + {}u", self.block.pixels);
        let mut looping = None;
        for (k, statement) in self.statements.iter().enumerate() {
            match statement {
                Statement::Plain(text) if text.is_empty() => {}
                Statement::Plain(text) => {
                    let text = text.replace("EXIT", &self.exit(pass, k));
                    out.push_str(&format!("{indent}{text}\n"));
                }
                Statement::Branch { cond, target } => {
                    out.push_str(&format!(
                        "{indent}let taken{pass} = {cond};\n\
                         {indent}if (taken{pass} && {target}u >= clen) {}\n",
                        self.exit(pass, k)
                    ));
                    next = format!(
                        "select(pc0 + {}u, {target}u, taken{pass})",
                        self.block.pixels
                    );
                    looping = Some(*target);
                }
            }
        }
        match looping.filter(|_| pass + 1 < total) {
            Some(target) => {
                let more = (pass + 2) * self.block.len();
                let inner = format!("{indent}    ");
                out.push_str(&format!(
                    "{indent}if (taken{pass} && {target}u == pc0 && budget - done >= {more}u \
                     && !(ticking && timer_left <= {more}u)) {{\n{}{indent}}} else {{\n{}{indent}}}\n",
                    self.pass(pass + 1, total, &inner),
                    self.finish(pass + 1, &next, &inner)
                ));
            }
            None => out.push_str(&self.finish(pass + 1, &next, indent)),
        }
        out
    }
}

/// Indentation of a block's `case`, of its checks and of its statements in
/// `run_block`.
const CASE: &str = "            ";
const I: &str = "                ";
const BODY: &str = "                    ";

/// Turn the run counters after the pixel counts into per-pixel counts, the
/// counts the CPU interpreter keeps (interpreter.wgsl `count_run`).
/// `counts` holds `3 × code.len()` words: executions per pixel, then runs
/// entered at each pixel, then runs that stopped before each pixel; `code` is
/// the code the runs executed. A run from `p` passes through `p`, then the
/// pixel after it while `p` is simple and not a branch: so the runs through a
/// pixel are those entered there, less those that stopped there, plus those
/// through the simple non-branch instructions just before it. Pixels go in
/// order (an instruction's next pixel lies after it), and the counters are
/// dropped.
pub fn expand_counts(counts: &mut Vec<u32>, code: &[u32]) {
    let code_len = code.len();
    let mut through = alloc::vec![0u32; code_len];
    for pc in 0..code_len {
        let Ok(inst) = Instruction::decode(code, pc) else {
            continue;
        };
        if !inst.op.is_simple() {
            continue;
        }
        let runs = through[pc]
            .wrapping_add(counts[code_len + pc])
            .wrapping_sub(counts[2 * code_len + pc]);
        counts[pc] = counts[pc].wrapping_add(runs);
        let next = pc + inst.len() as usize;
        if next < code_len && !matches!(inst.op.semantics(), Some(Semantics::Branch(_))) {
            through[next] = through[next].wrapping_add(runs);
        }
    }
    counts.truncate(code_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(insts: &[Instruction]) -> Vec<u32> {
        insts
            .iter()
            .flat_map(|inst| {
                let (pixels, len) = inst.encode();
                pixels.into_iter().take(len)
            })
            .collect()
    }

    /// Blocks of `lens` `add`s each, the last of them ending in a `jne` to
    /// its own start, each block followed by a `syscall` (not simple).
    fn blocks_of(lens: &[usize]) -> Vec<u32> {
        let mut code = Vec::new();
        for &len in lens {
            let start = code.len() as u32;
            let mut insts = alloc::vec![Instruction::new(Op::Add, 1, 1, 1, 0); len - 1];
            insts.push(Instruction::new(Op::Jne, 0, 0, 0, start));
            insts.push(Instruction::new(Op::Syscall, 0, 0, 0, 0));
            code.extend(assemble(&insts));
        }
        code
    }

    fn starts(blocks: &[Block]) -> Vec<u32> {
        blocks.iter().map(|b| b.start).collect()
    }

    /// A program within both limits compiles whole; past them, the hottest
    /// blocks that fit, passing over one that does not, in code order.
    #[test]
    fn big_programs_get_the_hottest_blocks_that_fit() {
        let small = blocks_of(&[3, 5, 2]);
        assert_eq!(compile(&small, &[]).blocks.len(), 3);

        // Blocks start at pixels 0, 201, 303 and 405 (an add is one pixel,
        // jne two, syscall one); together they exceed MAX_INSTRUCTIONS.
        let code = blocks_of(&[199, 100, 100, 40]);
        let all = blocks(&code);
        assert_eq!(starts(&all), [0, 201, 303, 405]);
        assert!(all.iter().map(Block::len).sum::<u32>() > MAX_INSTRUCTIONS);
        // Without counts, long blocks first: 199 + 40 fit, a 100 does not.
        assert_eq!(starts(&compile(&code, &[]).blocks), [0, 405]);
        // Counts: the two 100s ran most, then the 40; the 199 no longer fits.
        let mut counts = alloc::vec![0u32; code.len()];
        counts[201] = 50;
        counts[303] = 40;
        counts[405] = 10;
        assert_eq!(starts(&compile(&code, &counts).blocks), [201, 303, 405]);
        // A block longer than the limit is never compiled.
        let long = blocks_of(&[MAX_INSTRUCTIONS as usize + 1, 2]);
        assert_eq!(starts(&compile(&long, &[]).blocks), [MAX_INSTRUCTIONS + 3]);
    }

    /// Runs counted as the interpreter counts them expand to the counts of
    /// stepping through each run pixel by pixel (an independent walk), also
    /// for runs entering an instruction's extension word and runs stopped
    /// anywhere.
    #[test]
    fn expanded_runs_match_a_walk() {
        let code = assemble(&[
            Instruction::new(Op::Li, 1, 0, 0, 0x20),
            Instruction::new(Op::Add, 1, 1, 1, 0),
            Instruction::new(Op::Jne, 0, 0, 0, 1),
            Instruction::new(Op::Add, 2, 2, 2, 0),
            Instruction::new(Op::Syscall, 0, 0, 0, 0),
            Instruction::new(Op::Add, 3, 3, 3, 0),
            Instruction::new(Op::Jmp, 0, 0, 0, 0),
        ]);
        let n = code.len();
        // Each run: start pixel, instructions run (None: to the chain's end).
        let runs = [
            (0, None),
            (2, Some(1)),
            (1, Some(2)),
            (6, None),
            (5, None),
            (8, Some(1)),
        ];
        let mut walked = alloc::vec![0u32; n];
        let mut counters = alloc::vec![0u32; 3 * n];
        for (start, limit) in runs {
            counters[n + start] += 1;
            let mut pc = start;
            let mut ran = 0;
            loop {
                let inst = match Instruction::decode(&code, pc) {
                    Ok(inst) if inst.op.is_simple() => inst,
                    _ => break,
                };
                if limit == Some(ran) {
                    counters[2 * n + pc] += 1;
                    break;
                }
                walked[pc] += 1;
                ran += 1;
                pc += inst.len() as usize;
                if matches!(inst.op.semantics(), Some(Semantics::Branch(_))) || pc >= n {
                    break;
                }
            }
        }
        expand_counts(&mut counters, &code);
        assert_eq!(counters, walked);
        assert_eq!(walked[1], 1, "a run entered an extension word");
    }
}
