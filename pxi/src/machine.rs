//! The CPU reference interpreter: the oracle every other executor must match.
//!
//! Execution proceeds in *rounds*. In a round every runnable hart, in id
//! order, runs up to `slice_steps` instructions; `yield`, `exit`, `syscall`,
//! `spawn` and every vector instruction end its slice early. After the round,
//! [`Machine::round`] *resolves* pending work in hart-id order (spawns, then
//! posting syscalls to the mailbox) and updates the control block. Calls that
//! need no reply (console output) do not end the slice: they wait in the
//! hart's outbox and are posted first at the end of the round (`pxi::mailbox`).
//! A round in which nothing can happen (every hart waits for the host) is not
//! counted and ends the batch; a round that posts a request someone waits for
//! counts and ends the batch, so the host answers at once. Harts of
//! one round may run in any order or in parallel on other executors, which is
//! why `docs/isa.md` leaves racing accesses within a round undefined.

use alloc::vec;
use alloc::vec::Vec;

use crate::image::Image;
use crate::isa::{Class, DecodeError, Instruction, Op, REGISTERS};
use crate::mailbox::{
    self, MAILBOX_WORDS, OUTBOX_CALLS, OUTBOX_ENTRY_WORDS, OUTBOX_WORDS, SLOT_WORDS, SLOTS,
};
use crate::state::*;
use crate::tensor;

/// Limits of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Instructions each hart may execute per round.
    pub slice_steps: u32,
    /// The machine stops at the first round boundary at or past this many steps.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            slice_steps: 4096,
            max_steps: 1 << 32,
        }
    }
}

/// The whole state of a PXI machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    code: Vec<u32>,
    decoded: Vec<Result<Instruction, DecodeError>>,
    /// Data memory.
    pub memory: Vec<u32>,
    /// [`HART_WORDS`] words per hart slot.
    pub harts: Vec<u32>,
    /// The mailbox slots.
    pub mailbox: Vec<u32>,
    /// The control block.
    pub control: [u32; CONTROL_WORDS],
    /// Executions per code pixel (wrapping).
    pub counts: Vec<u32>,
    /// [`OUTBOX_WORDS`] words per hart: calls posted without a reply this
    /// round, waiting to enter the mailbox.
    outbox: Vec<u32>,
}

/// What resolving a round did.
#[derive(Clone, Copy, Default)]
struct Resolved {
    /// Anything at all (a spawn, a request posted).
    any: bool,
    /// Posted a request whose hart waits for the reply.
    awaited: bool,
}

/// What ended a hart's turn within a round.
enum Stop {
    Budget,
    EndSlice,
    Trap(TrapKind, u32),
}

/// Initial words of every executor: memory with segments, hart 0 runnable at the entry.
pub fn initial_state(image: &Image, limits: Limits) -> (Vec<u32>, Vec<u32>, [u32; CONTROL_WORDS]) {
    let mut memory = vec![0; image.memory_words as usize];
    for seg in &image.segments {
        memory[seg.addr as usize..seg.addr as usize + seg.words.len()].copy_from_slice(&seg.words);
    }
    let mut harts = vec![0; image.harts as usize * HART_WORDS];
    harts[H_PC] = image.entry;
    harts[H_STATUS] = HART_RUNNABLE;
    harts[H_TVEC] = NO_VECTOR;
    let mut control = [0; CONTROL_WORDS];
    control[C_BUDGET_LO] = limits.max_steps as u32;
    control[C_BUDGET_HI] = (limits.max_steps >> 32) as u32;
    control[C_SLICE] = limits.slice_steps.max(1);
    (memory, harts, control)
}

impl Machine {
    /// A machine ready to run `image` (hart 0 at the entry point).
    pub fn new(image: &Image, limits: Limits) -> Machine {
        let code = image.code.clone();
        let decoded = (0..code.len())
            .map(|pc| Instruction::decode(&code, pc))
            .collect();
        let (memory, harts, control) = initial_state(image, limits);
        Machine {
            counts: vec![0; code.len()],
            outbox: vec![0; harts.len() / HART_WORDS * OUTBOX_WORDS],
            code,
            decoded,
            memory,
            harts,
            mailbox: vec![0; MAILBOX_WORDS],
            control,
        }
    }

    /// Write code pixels at `addr` (code loaded at run time) and decode them
    /// again, with the pixel before (whose extension word they may hold).
    /// False, changing nothing, when the range is outside the code.
    pub fn write_code(&mut self, addr: u32, pixels: &[u32]) -> bool {
        let start = addr as usize;
        let Some(end) = start
            .checked_add(pixels.len())
            .filter(|&end| end <= self.code.len())
        else {
            return false;
        };
        self.code[start..end].copy_from_slice(pixels);
        for pc in start.saturating_sub(1)..end {
            self.decoded[pc] = Instruction::decode(&self.code, pc);
        }
        true
    }

    /// Current status.
    pub fn status(&self) -> MachineStatus {
        MachineStatus::from_u32(self.control[C_STATUS]).unwrap_or(MachineStatus::Trapped)
    }

    /// Total instructions executed.
    pub fn steps(&self) -> u64 {
        total_steps(&self.control)
    }

    /// The words of hart `id`.
    pub fn hart(&self, id: usize) -> &[u32] {
        &self.harts[id * HART_WORDS..(id + 1) * HART_WORDS]
    }

    /// Every trapped hart, in id order, described against `image`.
    pub fn traps(&self, image: &Image) -> Vec<Trap> {
        traps(image, &self.harts)
    }

    /// Run up to `rounds` rounds; stops early when the machine stops or
    /// nothing can happen before the host services the mailbox.
    pub fn run_rounds(&mut self, rounds: u32) -> MachineStatus {
        for _ in 0..rounds {
            if self.status() != MachineStatus::Running || !self.round() {
                break;
            }
        }
        self.status()
    }

    /// Run one round: every runnable hart for up to one slice, then resolve.
    /// Returns false when the rest of the batch should wait for the host:
    /// after a round that posted a request a hart waits for, or — changing
    /// nothing, not counted — when no hart could run and nothing could be posted.
    pub fn round(&mut self) -> bool {
        if self.control[C_STATUS] != MACHINE_RUNNING {
            return false;
        }
        let slice = self.control[C_SLICE];
        let mut round_steps = 0u32;
        let mut ran = false;
        for id in 0..self.harts.len() / HART_WORDS {
            let steps = self.run_hart(id, slice);
            ran |= steps.is_some();
            round_steps = round_steps.wrapping_add(steps.unwrap_or(0));
        }
        let resolved = self.resolve_pending();
        if !resolved.any && !ran {
            return false;
        }
        self.control[C_ROUND_STEPS] = round_steps;
        self.finish_round();
        !resolved.awaited
    }

    /// Take a mailbox reply if one is waiting; true when the hart may run.
    fn take_reply(hart: &mut [u32], mailbox: &mut [u32]) -> bool {
        match hart[H_STATUS] {
            HART_RUNNABLE => true,
            HART_WAITING => {
                let slot = &mut mailbox[hart[H_AUX] as usize * SLOT_WORDS..][..SLOT_WORDS];
                if slot[mailbox::W_STATE] != mailbox::REPLIED {
                    return false;
                }
                hart[H_REGS] = slot[mailbox::W_RESULT];
                slot[mailbox::W_STATE] = mailbox::FREE;
                hart[H_PC] += Op::Syscall.len();
                hart[H_STATUS] = HART_RUNNABLE;
                hart[H_AUX] = 0;
                true
            }
            _ => false,
        }
    }

    /// Run hart `id` for up to `slice` steps; returns the steps executed, or
    /// None when the hart could not run.
    fn run_hart(&mut self, id: usize, slice: u32) -> Option<u32> {
        let hart = &mut self.harts[id * HART_WORDS..(id + 1) * HART_WORDS];
        if !Self::take_reply(hart, &mut self.mailbox) {
            return None;
        }
        let mut exec = Exec {
            hart,
            outbox: &mut self.outbox[id * OUTBOX_WORDS..(id + 1) * OUTBOX_WORDS],
            id: id as u32,
            memory: &mut self.memory,
            code: &self.code,
            decoded: &self.decoded,
            counts: &mut self.counts,
        };
        let mut steps = 0;
        let stop = loop {
            if steps == slice {
                break Stop::Budget;
            }
            let pc = exec.hart[H_PC];
            match exec.step() {
                Ok(ends_slice) => {
                    steps += 1;
                    if ends_slice {
                        break Stop::EndSlice;
                    }
                }
                // A user-mode fault counts as an executed step and enters the kernel.
                Err((kind, info)) if exec.user() => {
                    exec.count(pc);
                    exec.hart[H_PC] = exec.enter_kernel(kind as u32, info, pc);
                    steps += 1;
                }
                Err((kind, info)) => break Stop::Trap(kind, info),
            }
        };
        let hart = exec.hart;
        if let Stop::Trap(kind, info) = stop {
            hart[H_STATUS] = HART_TRAPPED;
            hart[H_AUX] = kind as u32;
            hart[H_INFO] = info;
        }
        hart[H_STEPS] = hart[H_STEPS].wrapping_add(steps);
        hart[H_SLICE] = steps;
        Some(steps)
    }

    /// End-of-round work, in hart-id order: spawns, then each hart's outbox
    /// and pending call into the mailbox.
    fn resolve_pending(&mut self) -> Resolved {
        let hart_count = self.harts.len() / HART_WORDS;
        let mut free_hart = 0;
        let mut free_slot = 0;
        let mut done = Resolved::default();
        for id in 0..hart_count {
            let base = id * HART_WORDS;
            done.any |= self.drain_outbox(id, &mut free_slot);
            match self.harts[base + H_STATUS] {
                HART_SPAWN => {
                    while free_hart < hart_count
                        && !matches!(
                            self.harts[free_hart * HART_WORDS + H_STATUS],
                            HART_FREE | HART_EXITED
                        )
                    {
                        free_hart += 1;
                    }
                    let inst =
                        self.decoded[self.harts[base + H_PC] as usize].expect("spawn decoded");
                    let new_id = if free_hart < hart_count {
                        let (entry, arg, tvec) = (
                            self.harts[base + inst.b as usize],
                            self.harts[base + inst.c as usize],
                            self.harts[base + H_TVEC],
                        );
                        let new =
                            &mut self.harts[free_hart * HART_WORDS..(free_hart + 1) * HART_WORDS];
                        new.fill(0);
                        new[H_TVEC] = tvec;
                        new[H_REGS + 1] = arg;
                        new[H_PC] = entry;
                        new[H_STATUS] = HART_RUNNABLE;
                        free_hart as u32
                    } else {
                        u32::MAX
                    };
                    self.harts[base + inst.a as usize] = new_id;
                    self.harts[base + H_PC] += Op::Spawn.len();
                    self.harts[base + H_STATUS] = HART_RUNNABLE;
                    done.any = true;
                }
                // A pending call waits until the hart's posted calls are in.
                HART_SYSCALL if self.outbox[id * OUTBOX_WORDS] == 0 => {
                    free_slot = free_slot_from(&self.mailbox, free_slot);
                    if free_slot < SLOTS {
                        self.post(id, free_slot);
                        done.any = true;
                        done.awaited = true;
                    }
                }
                _ => {}
            }
        }
        done
    }

    /// Move hart `id`'s outbox into free slots from `free_slot` on, in order;
    /// true when any moved. What does not fit stays for a later round.
    fn drain_outbox(&mut self, id: usize, free_slot: &mut usize) -> bool {
        let outbox = &mut self.outbox[id * OUTBOX_WORDS..(id + 1) * OUTBOX_WORDS];
        let queued = outbox[0] as usize;
        let mut moved = 0;
        while moved < queued {
            *free_slot = free_slot_from(&self.mailbox, *free_slot);
            if *free_slot == SLOTS {
                break;
            }
            let entry = &outbox[1 + moved * OUTBOX_ENTRY_WORDS..][..OUTBOX_ENTRY_WORDS];
            let slot = &mut self.mailbox[*free_slot * SLOT_WORDS..][..SLOT_WORDS];
            slot[mailbox::W_STATE] = mailbox::POSTED;
            slot[mailbox::W_SEQ] = self.control[C_SEQ];
            slot[mailbox::W_HART] = id as u32;
            slot[mailbox::W_CALL..=mailbox::W_ARG2].copy_from_slice(&entry[..4]);
            slot[mailbox::W_RESULT] = 0;
            slot[mailbox::W_PAYLOAD..].copy_from_slice(&entry[4..]);
            self.control[C_SEQ] = self.control[C_SEQ].wrapping_add(1);
            moved += 1;
        }
        outbox.copy_within(1 + moved * OUTBOX_ENTRY_WORDS.., 1);
        outbox[0] = (queued - moved) as u32;
        moved > 0
    }

    /// Control block and machine status at the end of a round that counted.
    fn finish_round(&mut self) {
        let mut live = false;
        let mut trapped = false;
        for hart in self.harts.chunks_exact(HART_WORDS) {
            match hart[H_STATUS] {
                HART_RUNNABLE | HART_SYSCALL | HART_WAITING | HART_SPAWN => live = true,
                HART_TRAPPED => trapped = true,
                _ => {}
            }
        }
        let c = &mut self.control;
        c[C_ROUND] = c[C_ROUND].wrapping_add(1);
        let total = total_steps(c.as_slice()) + c[C_ROUND_STEPS] as u64;
        c[C_STEPS_LO] = total as u32;
        c[C_STEPS_HI] = (total >> 32) as u32;
        let budget = c[C_BUDGET_LO] as u64 | (c[C_BUDGET_HI] as u64) << 32;
        c[C_STATUS] = if trapped {
            MACHINE_TRAPPED
        } else if !live {
            MACHINE_ALL_EXITED
        } else if total >= budget {
            MACHINE_BUDGET
        } else {
            MACHINE_RUNNING
        };
    }

    /// Post hart `id`'s pending syscall into mailbox slot `slot`.
    fn post(&mut self, id: usize, slot: usize) {
        let hart = &mut self.harts[id * HART_WORDS..(id + 1) * HART_WORDS];
        let s = &mut self.mailbox[slot * SLOT_WORDS..(slot + 1) * SLOT_WORDS];
        s[mailbox::W_STATE] = mailbox::REQUEST;
        s[mailbox::W_SEQ] = self.control[C_SEQ];
        s[mailbox::W_HART] = id as u32;
        s[mailbox::W_CALL] = hart[H_REGS];
        s[mailbox::W_ARG0..=mailbox::W_ARG2].copy_from_slice(&hart[H_REGS + 1..H_REGS + 4]);
        s[mailbox::W_RESULT] = 0;
        copy_payload(
            &mut s[mailbox::W_PAYLOAD..],
            &self.memory,
            &hart[H_REGS..H_REGS + 3],
        );
        self.control[C_SEQ] = self.control[C_SEQ].wrapping_add(1);
        hart[H_STATUS] = HART_WAITING;
        hart[H_AUX] = slot as u32;
    }
}

/// Every trapped hart in `harts`, in id order.
pub fn traps(image: &Image, harts: &[u32]) -> Vec<Trap> {
    harts
        .chunks_exact(HART_WORDS)
        .enumerate()
        .filter(|(_, h)| h[H_STATUS] == HART_TRAPPED)
        .map(|(id, h)| Trap {
            hart: id as u32,
            kind: TrapKind::from_u32(h[H_AUX]).unwrap_or(TrapKind::IllegalInstruction),
            pc: h[H_PC],
            pixel: image.code_pixel_xy(h[H_PC]),
            info: h[H_INFO],
            instruction: (h[H_PC] < image.code.len() as u32)
                .then(|| Instruction::decode(&image.code, h[H_PC] as usize).ok())
                .flatten(),
        })
        .collect()
}

/// The first free slot of `mailbox` at or after `from` (`SLOTS` when full).
fn free_slot_from(mailbox: &[u32], mut from: usize) -> usize {
    while from < SLOTS && mailbox[from * SLOT_WORDS + mailbox::W_STATE] != mailbox::FREE {
        from += 1;
    }
    from
}

/// Copy the payload of the call in `regs` (`r0` = call, `r1` = address,
/// `r2` = length) from `memory` into `payload`, zero-filling the rest.
fn copy_payload(payload: &mut [u32], memory: &[u32], regs: &[u32]) {
    payload.fill(0);
    let (addr, words) = (regs[1] as usize, mailbox::payload_words(regs[0], regs[2]));
    for (i, word) in payload.iter_mut().take(words as usize).enumerate() {
        *word = addr
            .checked_add(i)
            .and_then(|a| memory.get(a))
            .copied()
            .unwrap_or(0);
    }
}

/// One hart executing against shared memory.
struct Exec<'a> {
    hart: &'a mut [u32],
    /// The hart's outbox (`OUTBOX_WORDS`).
    outbox: &'a mut [u32],
    id: u32,
    memory: &'a mut [u32],
    code: &'a [u32],
    decoded: &'a [Result<Instruction, DecodeError>],
    counts: &'a mut [u32],
}

type Fault = (TrapKind, u32);

/// The code and data windows of the running mode: `(base, length)` each.
#[derive(Clone, Copy)]
struct Windows {
    code: (u32, u32),
    data: (u32, u32),
}

impl Exec<'_> {
    fn reg(&self, r: u8) -> u32 {
        self.hart[r as usize]
    }

    fn set(&mut self, r: u8, value: u32) {
        self.hart[r as usize] = value;
    }

    fn user(&self) -> bool {
        self.hart[H_MODE] == MODE_USER
    }

    /// Kernel mode sees everything; user mode its windows.
    fn windows(&self) -> Windows {
        if self.user() {
            Windows {
                code: (self.hart[H_UCODE_BASE], self.hart[H_UCODE_LEN]),
                data: (self.hart[H_UDATA_BASE], self.hart[H_UDATA_LEN]),
            }
        } else {
            Windows {
                code: (0, self.decoded.len() as u32),
                data: (0, self.memory.len() as u32),
            }
        }
    }

    /// The physical word of data address `base + offset`, checked against the data window.
    fn addr(&self, base: u32, offset: u32) -> Result<usize, Fault> {
        let addr = base.wrapping_add(offset);
        let (start, len) = self.windows().data;
        if addr < len {
            Ok((start + addr) as usize)
        } else {
            Err((TrapKind::MemoryOutOfBounds, addr))
        }
    }

    /// Physical bounds of a vector range, checked against the data window.
    fn range(&self, start: u32, len: u32) -> Result<core::ops::Range<usize>, Fault> {
        let (base, limit) = self.windows().data;
        if start as u64 + len as u64 > limit as u64 {
            return Err((TrapKind::MemoryOutOfBounds, start));
        }
        let first = (base + start) as usize;
        Ok(first..first + len as usize)
    }

    /// A jump target, checked against the code window (it stays window-relative).
    fn jump_target(&self, target: u32) -> Result<u32, Fault> {
        if target < self.windows().code.1 {
            Ok(target)
        } else {
            Err((TrapKind::JumpOutOfCode, target))
        }
    }

    /// The physical code pixel of window-relative `pc`, if it is in the window.
    fn code_index(&self, pc: u32) -> Option<usize> {
        let (base, len) = self.windows().code;
        (pc < len).then_some((base + pc) as usize)
    }

    fn push(&mut self, value: u32) -> Result<(), Fault> {
        let sp = self.hart[H_SP] as usize;
        if sp >= STACK_DEPTH {
            return Err((TrapKind::StackOverflow, value));
        }
        self.hart[H_STACK + sp] = value;
        self.hart[H_SP] += 1;
        Ok(())
    }

    fn pop(&mut self) -> Result<u32, Fault> {
        let sp = self.hart[H_SP] as usize;
        if sp == 0 {
            return Err((TrapKind::StackUnderflow, 0));
        }
        self.hart[H_SP] -= 1;
        Ok(self.hart[H_STACK + sp - 1])
    }

    /// Count one execution of the pixel at window-relative `pc`.
    fn count(&mut self, pc: u32) {
        if let Some(at) = self.code_index(pc) {
            self.counts[at] = self.counts[at].wrapping_add(1);
        }
    }

    /// Execute one instruction. Ok(true) when it ends the slice.
    fn step(&mut self) -> Result<bool, Fault> {
        let pc = self.hart[H_PC];
        let at = self.code_index(pc).ok_or((TrapKind::PcOutOfCode, pc))?;
        let inst = match self.decoded[at] {
            Ok(inst) => inst,
            Err(DecodeError::Truncated(_)) => return Err((TrapKind::TruncatedInstruction, pc)),
            Err(_) => return Err((TrapKind::IllegalInstruction, self.code[at])),
        };
        let was_user = self.user();
        if was_user && inst.op.is_privileged() {
            return Err((TrapKind::Privileged, self.code[at]));
        }
        let after = pc + inst.len();
        let next = match inst.op.info().class {
            Class::System => self.system(inst, pc, after)?,
            Class::Control => self.control(inst, after)?,
            Class::Vector => {
                self.vector(inst)?;
                after
            }
            Class::Float => {
                self.float(inst);
                after
            }
            Class::Tensor => {
                self.tensor(inst)?;
                after
            }
            _ => {
                self.data(inst)?;
                after
            }
        };
        self.counts[at] = self.counts[at].wrapping_add(1);
        self.hart[H_PC] = next;
        // Instructions that end the slice (yield, vector) do not count down:
        // a vector result is only final at the end of the round on a GPU.
        if was_user && !inst.op.ends_slice() {
            self.tick_timer();
        }
        // A call posted without a reply continues the slice.
        Ok(inst.op.ends_slice() && !(inst.op == Op::Syscall && next == after))
    }

    /// Put the pending call (`r0`..`r3`) in the outbox when it needs no reply
    /// and there is room, and give the hart its result; false otherwise (the
    /// hart then waits for the host).
    fn post_without_reply(&mut self) -> bool {
        let queued = self.outbox[0] as usize;
        let regs = &self.hart[H_REGS..H_REGS + 4];
        if mailbox::needs_reply(regs[0]) || queued == OUTBOX_CALLS {
            return false;
        }
        let entry = &mut self.outbox[1 + queued * OUTBOX_ENTRY_WORDS..][..OUTBOX_ENTRY_WORDS];
        entry[..4].copy_from_slice(regs);
        copy_payload(&mut entry[4..], self.memory, regs);
        self.outbox[0] += 1;
        let result = mailbox::posted_result(regs[0], regs[1], regs[2], self.memory.len() as u32);
        self.hart[H_REGS] = result;
        true
    }

    /// System instructions; returns the next pc.
    fn system(&mut self, inst: Instruction, pc: u32, after: u32) -> Result<u32, Fault> {
        let ra = self.reg(inst.a);
        match inst.op {
            Op::Exit => {
                self.hart[H_AUX] = ra;
                self.hart[H_STATUS] = HART_EXITED;
            }
            Op::Syscall if self.post_without_reply() => {}
            Op::Syscall | Op::Spawn => {
                self.hart[H_STATUS] = if inst.op == Op::Syscall {
                    HART_SYSCALL
                } else {
                    HART_SPAWN
                };
                return Ok(pc);
            }
            Op::HartId => self.set(inst.a, self.id),
            Op::Timer => self.hart[H_TIMER] = ra,
            Op::Tvec => self.hart[H_TVEC] = self.jump_target(ra)?,
            Op::Window => self.set_windows(inst)?,
            Op::Uret => return self.uret(ra),
            Op::Ecall if self.user() => return Ok(self.enter_kernel(CAUSE_ECALL, 0, after)),
            Op::Ecall => return Err((TrapKind::IllegalInstruction, self.code[pc as usize])),
            _ => {} // nop, yield
        }
        Ok(after)
    }

    fn set_windows(&mut self, inst: Instruction) -> Result<(), Fault> {
        let (cb, cl) = (self.reg(inst.a), self.reg(inst.b));
        let (db, dl) = (self.reg(inst.c), self.reg(inst.word as u8));
        if cb as u64 + cl as u64 > self.decoded.len() as u64 {
            return Err((TrapKind::JumpOutOfCode, cb));
        }
        self.range(db, dl)?;
        self.hart[H_UCODE_BASE..=H_UDATA_LEN].copy_from_slice(&[cb, cl, db, dl]);
        Ok(())
    }

    /// `uret`: load the context block at `block` and continue in user mode.
    fn uret(&mut self, block: u32) -> Result<u32, Fault> {
        let words = self.range(block, CTX_WORDS as u32)?;
        let ctx = &self.memory[words];
        if ctx[CTX_SP] as usize > STACK_DEPTH {
            return Err((TrapKind::StackOverflow, ctx[CTX_SP]));
        }
        if self.hart[H_TVEC] == NO_VECTOR {
            return Err((TrapKind::JumpOutOfCode, NO_VECTOR));
        }
        self.hart[H_REGS..H_REGS + REGISTERS].copy_from_slice(&ctx[CTX_REGS..CTX_REGS + REGISTERS]);
        self.hart[H_FLAGS] = ctx[CTX_FLAGS];
        self.hart[H_SP] = ctx[CTX_SP];
        self.hart[H_STACK..H_STACK + STACK_DEPTH].copy_from_slice(&ctx[CTX_STACK..]);
        self.hart[H_FRAME] = block;
        self.hart[H_MODE] = MODE_USER;
        Ok(ctx[CTX_PC])
    }

    /// Leave user mode: save the context (continuing at `resume`) in the trap
    /// frame, switch to the kernel with r0 = cause, r1 = info, r2 = frame;
    /// returns the trap vector (the next pc).
    fn enter_kernel(&mut self, cause: u32, info: u32, resume: u32) -> u32 {
        let frame = self.hart[H_FRAME];
        // `uret` checked the frame against memory; memory never shrinks.
        let ctx = &mut self.memory[frame as usize..frame as usize + CTX_WORDS];
        ctx[CTX_REGS..CTX_REGS + REGISTERS].copy_from_slice(&self.hart[H_REGS..H_REGS + REGISTERS]);
        ctx[CTX_PC] = resume;
        ctx[CTX_FLAGS] = self.hart[H_FLAGS];
        ctx[CTX_SP] = self.hart[H_SP];
        ctx[CTX_STACK..].copy_from_slice(&self.hart[H_STACK..H_STACK + STACK_DEPTH]);
        self.hart[H_MODE] = MODE_KERNEL;
        self.hart[H_SP] = 0;
        self.hart[H_FLAGS] = 0;
        self.hart[H_REGS..H_REGS + 3].copy_from_slice(&[cause, info, frame]);
        self.hart[H_TVEC]
    }

    /// Count a user-mode instruction down on the timer; at zero, enter the kernel.
    fn tick_timer(&mut self) {
        let countdown = self.hart[H_TIMER];
        if countdown == 0 || !self.user() || self.hart[H_STATUS] != HART_RUNNABLE {
            return;
        }
        self.hart[H_TIMER] = countdown - 1;
        if countdown == 1 {
            self.hart[H_PC] = self.enter_kernel(CAUSE_TIMER, 0, self.hart[H_PC]);
        }
    }

    /// Compare, jumps, calls; returns the next pc.
    fn control(&mut self, inst: Instruction, after: u32) -> Result<u32, Fault> {
        let flags = self.hart[H_FLAGS];
        let taken = match inst.op {
            Op::Cmp => {
                let (x, y) = (self.reg(inst.a), self.reg(inst.b));
                self.hart[H_FLAGS] = ((x == y) as u32 * FLAG_Z)
                    | (((x as i32) < (y as i32)) as u32 * FLAG_LT)
                    | ((x < y) as u32 * FLAG_LTU);
                false
            }
            Op::Jmp => true,
            Op::Jeq => flags & FLAG_Z != 0,
            Op::Jne => flags & FLAG_Z == 0,
            Op::Jlt => flags & FLAG_LT != 0,
            Op::Jge => flags & FLAG_LT == 0,
            Op::Jltu => flags & FLAG_LTU != 0,
            Op::Jgeu => flags & FLAG_LTU == 0,
            Op::Call | Op::Callr => {
                let dest = if inst.op == Op::Call {
                    inst.word
                } else {
                    self.reg(inst.a)
                };
                let next = self.jump_target(dest)?;
                self.push(after)?;
                return Ok(next);
            }
            Op::Ret => {
                // Validate before popping so a trap leaves the stack as it was.
                let sp = self.hart[H_SP] as usize;
                if sp == 0 {
                    return Err((TrapKind::StackUnderflow, 0));
                }
                let next = self.jump_target(self.hart[H_STACK + sp - 1])?;
                self.hart[H_SP] -= 1;
                return Ok(next);
            }
            _ => return self.jump_target(self.reg(inst.a)), // jr
        };
        if taken {
            self.jump_target(inst.word)
        } else {
            Ok(after)
        }
    }

    /// Registers, memory, arithmetic and atomics.
    fn data(&mut self, inst: Instruction) -> Result<(), Fault> {
        let (a, b, c) = (inst.a, inst.b, inst.c);
        // `c` is an immediate in some forms; masking keeps this read in bounds (its value is then unused).
        let (rb, rc) = (self.reg(b), self.reg(c & 15));
        let value = match inst.op {
            Op::Li => inst.word,
            Op::Mov => rb,
            Op::Ld => self.memory[self.addr(rb, c as u32)?],
            Op::St => {
                let addr = self.addr(rb, c as u32)?;
                self.memory[addr] = self.reg(a);
                return Ok(());
            }
            Op::Push => return self.push(self.reg(a)),
            Op::Pop => self.pop()?,
            Op::Aadd | Op::Axchg | Op::Acas => {
                let addr = self.addr(rb, 0)?;
                let old = self.memory[addr];
                self.memory[addr] = match inst.op {
                    Op::Aadd => old.wrapping_add(rc),
                    Op::Axchg => rc,
                    _ if old == self.reg(a) => rc,
                    _ => old,
                };
                old
            }
            op => alu(op, rb, rc, c).ok_or((TrapKind::DivisionByZero, 0))?,
        };
        self.set(a, value);
        Ok(())
    }

    fn vector(&mut self, inst: Instruction) -> Result<(), Fault> {
        let (a, rb, rc) = (inst.a, self.reg(inst.b), self.reg(inst.c));
        let rd = self.reg(inst.word as u8);
        match inst.op {
            Op::Vfill => {
                let dst = self.range(self.reg(a), rc)?;
                self.memory[dst].fill(rb);
            }
            Op::Vcopy => {
                let dst = self.range(self.reg(a), rc)?;
                let src = self.range(rb, rc)?;
                check_overlap(&dst, &src, self.reg(a))?;
                self.memory.copy_within(src, dst.start);
            }
            Op::Vsum => {
                let src = self.range(rb, rc)?;
                let sum = self.memory[src]
                    .iter()
                    .fold(0u32, |s, &v| s.wrapping_add(v));
                self.set(a, sum);
            }
            Op::Vdot => {
                let (x, y) = (self.range(rb, rd)?, self.range(rc, rd)?);
                let dot = self.memory[x]
                    .iter()
                    .zip(&self.memory[y])
                    .fold(0u32, |s, (&p, &q)| s.wrapping_add(p.wrapping_mul(q)));
                self.set(a, dot);
            }
            Op::Vfind => {
                let src = self.range(rb, rc)?;
                let found = self.memory[src].iter().position(|&v| v == rd);
                self.set(a, found.map_or(u32::MAX, |i| i as u32));
            }
            op => {
                let dst = self.range(self.reg(a), rd)?;
                let (x, y) = (self.range(rb, rd)?, self.range(rc, rd)?);
                check_overlap(&dst, &x, self.reg(a))?;
                check_overlap(&dst, &y, self.reg(a))?;
                let f = vector_fn(op);
                for i in 0..rd as usize {
                    self.memory[dst.start + i] =
                        f(self.memory[x.start + i], self.memory[y.start + i]);
                }
            }
        }
        Ok(())
    }
}

impl Exec<'_> {
    /// f32 instructions on register bits (`fcmp` sets the flags).
    fn float(&mut self, inst: Instruction) {
        let (rb, rc) = (self.reg(inst.b), self.reg(inst.c & 15));
        if inst.op == Op::Fcmp {
            self.hart[H_FLAGS] = tensor::scalar(inst.op, self.reg(inst.a), rb);
        } else {
            self.set(inst.a, tensor::scalar(inst.op, rb, rc));
        }
    }

    /// Tensor instructions over the data window (`crate::tensor`).
    fn tensor(&mut self, inst: Instruction) -> Result<(), Fault> {
        let w = tensor::operands(&self.hart[H_REGS..H_REGS + REGISTERS], &inst);
        let (base, len) = self.windows().data;
        let window = &mut self.memory[base as usize..(base + len) as usize];
        tensor::check(inst.op, &w, window)?;
        if let Some(value) = tensor::run(inst.op, &w, window) {
            self.set(inst.a, value);
        }
        Ok(())
    }
}

/// A register-only ALU instruction's result; `None` for division by zero.
fn alu(op: Op, rb: u32, rc: u32, c: u8) -> Option<u32> {
    Some(match op {
        Op::Add => rb.wrapping_add(rc),
        Op::Sub => rb.wrapping_sub(rc),
        Op::Mul => rb.wrapping_mul(rc),
        Op::Mulhu => ((rb as u64 * rc as u64) >> 32) as u32,
        Op::Divu => rb.checked_div(rc)?,
        Op::Remu => rb.checked_rem(rc)?,
        Op::Div if rc == 0 => return None,
        Op::Div => (rb as i32).wrapping_div(rc as i32) as u32,
        Op::Rem if rc == 0 => return None,
        Op::Rem => (rb as i32).wrapping_rem(rc as i32) as u32,
        Op::And => rb & rc,
        Op::Or => rb | rc,
        Op::Xor => rb ^ rc,
        Op::Shl => rb << (rc & 31),
        Op::Shr => rb >> (rc & 31),
        Op::Sar => ((rb as i32) >> (rc & 31)) as u32,
        Op::Slt => ((rb as i32) < (rc as i32)) as u32,
        Op::Sltu => (rb < rc) as u32,
        Op::Seq => (rb == rc) as u32,
        Op::Minu => rb.min(rc),
        Op::Maxu => rb.max(rc),
        Op::Addi => rb.wrapping_add(c as i8 as i32 as u32),
        Op::Shli => rb << (c & 31),
        Op::Shri => rb >> (c & 31),
        Op::Andi => rb & c as u32,
        _ => unreachable!("{op:?} is not an ALU instruction"),
    })
}

/// Traps (info = `at`, the destination as the program wrote it) when the
/// destination partly overlaps the source.
fn check_overlap(
    dst: &core::ops::Range<usize>,
    src: &core::ops::Range<usize>,
    at: u32,
) -> Result<(), Fault> {
    if dst.start != src.start && dst.start < src.end && src.start < dst.end {
        return Err((TrapKind::VectorOverlap, at));
    }
    Ok(())
}

/// The element function of a binary vector instruction.
pub fn vector_fn(op: Op) -> fn(u32, u32) -> u32 {
    match op {
        Op::Vadd => u32::wrapping_add,
        Op::Vsub => u32::wrapping_sub,
        Op::Vmul => u32::wrapping_mul,
        Op::Vand => |x, y| x & y,
        Op::Vor => |x, y| x | y,
        Op::Vxor => |x, y| x ^ y,
        Op::Vminu => u32::min,
        _ => u32::max,
    }
}
