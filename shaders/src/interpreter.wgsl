// The pxOS GPU interpreter: one round of a PXI machine per pair of dispatches.
//
//   run_slice  one invocation per hart: runs up to `slice` scalar steps;
//              vector instructions are checked and queued for vector.wgsl.
//   resolve    one workgroup: finishes queued reductions, resolves spawns and
//              posts syscalls in hart-id order, updates the control block.
//
// Semantics are exactly those of the CPU reference interpreter
// (pxi/src/machine.rs); constants come from generated.wgsl (prepended).
// Every loop here is bounded: llvmpipe silently ends loops after 65,535
// iterations per invocation, so the host keeps `slice` below that and this
// shader reports any slice that ended early without a reason (S_CUTOFF).

struct Params {
    hart_count: u32,
    code_len: u32,
    memory_words: u32,
}

// code[0..code_len] = raw pixels, code[code_len..2*code_len] = predecoded opcode pixels,
// code[2*code_len..3*code_len] = execution info (both from pxi::isa::predecode).
@group(0) @binding(0) var<storage, read> code: array<u32>;
@group(0) @binding(1) var<storage, read_write> memory: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> harts: array<u32>;
@group(0) @binding(3) var<storage, read_write> mailbox: array<u32>;
// control[0..CONTROL_WORDS] = pxi control block, then the S_* scratch words.
@group(0) @binding(4) var<storage, read_write> control: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;
// Queued vector instructions, Q_ENTRY_WORDS each.
@group(0) @binding(6) var<storage, read_write> queue: array<atomic<u32>>;
// Indirect dispatches: the vector pass (max vector chunks, entries, 1), then the
// tensor pass (max tensor chunks, last tensor entry + 1, 1) (tensor_queue.wgsl).
// Chunks go in x: llvmpipe spreads workgroups over its threads along x (measured
// 2x for one big op). A pass without work dispatches no workgroup.
@group(0) @binding(7) var<storage, read_write> dispatch: array<atomic<u32>, 6>;
@group(0) @binding(8) var<uniform> params: Params;
// OUTBOX_WORDS per hart: calls posted without a reply this round (count, then
// entries of call, r1..r3, payload), moved into the mailbox by resolve.
@group(0) @binding(9) var<storage, read_write> outbox: array<u32>;

override WORKGROUP: u32 = 64u;
// Whether this pipeline counts executions per pixel (GpuOptions::count_exec).
override COUNT_EXEC: bool = true;
// Whether this module has compiled blocks (shaders::compile): without, the
// code calling them must not exist (llvmpipe would run it masked).
override COMPILED: bool = false;

// Scratch words after the control block (GPU-only bookkeeping, reset by resolve).
const S_LIVE: u32 = CONTROL_WORDS + 0u;
const S_TRAPPED: u32 = CONTROL_WORDS + 1u;
const S_PENDING: u32 = CONTROL_WORDS + 2u;
const S_ROUND_STEPS: u32 = CONTROL_WORDS + 3u;
const S_CUTOFF: u32 = CONTROL_WORDS + 4u;
const S_CUTOFF_HART: u32 = CONTROL_WORDS + 5u;
// Set when some hart could run this round (pxi's Machine::round: `ran`).
const S_PROGRESS: u32 = CONTROL_WORDS + 6u;
// Set by resolve after a round in which nothing could happen, or that posted a
// request a hart waits for: the rest of the batch does nothing (the host
// answers, and clears it before the next batch). pxi's Machine::round.
const S_IDLE: u32 = CONTROL_WORDS + 7u;

// Vector queue entry: hart, op | a << 8, dst, x, y, len, value, accumulator.
const Q_ENTRY_WORDS: u32 = 8u;
const VECTOR_CHUNK: u32 = 4096u;

// The running hart's state, kept in private variables during a slice.
var<private> hart_base: u32;
var<private> regs: array<u32, 16>;
var<private> pc: u32;
var<private> flags: u32;
var<private> sp: u32;
var<private> status: u32;
var<private> timer_left: u32;
var<private> mode: u32;
var<private> tvec: u32;
var<private> frame: u32;
// User windows (H_UCODE_BASE..H_UDATA_LEN) and the windows of the running mode.
var<private> user_win: vec4<u32>;
var<private> cbase: u32;
var<private> clen: u32;
var<private> dbase: u32;
var<private> dlen: u32;

// Kernel mode sees all code and memory; user mode its windows (pxi's Exec::windows).
fn set_mode(m: u32) {
    mode = m;
    if (m == MODE_USER) {
        cbase = user_win.x;
        clen = user_win.y;
        dbase = user_win.z;
        dlen = user_win.w;
    } else {
        cbase = 0u;
        clen = params.code_len;
        dbase = 0u;
        dlen = params.memory_words;
    }
}

// Leave user mode: save the context (continuing at `resume`) in the trap
// frame, enter the kernel with r0 = cause, r1 = info, r2 = frame; returns the
// trap vector (pxi's Exec::enter_kernel).
fn enter_kernel(cause: u32, info: u32, resume: u32) -> u32 {
    for (var r = 0u; r < 16u; r++) {
        atomicStore(&memory[frame + CTX_REGS + r], regs[r]);
    }
    atomicStore(&memory[frame + CTX_PC], resume);
    atomicStore(&memory[frame + CTX_FLAGS], flags);
    atomicStore(&memory[frame + CTX_SP], sp);
    for (var i = 0u; i < STACK_DEPTH; i++) {
        atomicStore(&memory[frame + CTX_STACK + i], harts[hart_base + H_STACK + i]);
    }
    set_mode(MODE_KERNEL);
    sp = 0u;
    flags = 0u;
    regs[0] = cause;
    regs[1] = info;
    regs[2] = frame;
    return tvec;
}

// A kernel entry the current instruction asked for: cause (0: none), info.
// step_full makes it, the one place that calls enter_kernel: lavapipe
// inlines enter_kernel's unrolled context copies at every call site, and
// each cost about 0.6 s of every pipeline's compile time (docs/compiler.md).
var<private> entry: vec2<u32>;

// Count one user-mode instruction down on the timer; at zero, ask to enter
// the kernel (pxi's Exec::tick_timer). Harts left waiting or exited, and an
// instruction that already enters the kernel (ecall), do not tick.
fn tick_timer() {
    if (timer_left != 0u && mode == MODE_USER && status == HART_RUNNABLE && entry.x == 0u) {
        timer_left -= 1u;
        if (timer_left == 0u) {
            entry = vec2(CAUSE_TIMER, 0u);
        }
    }
}
var<private> trap_kind: u32;
var<private> trap_info: u32;

fn trap(kind: u32, info: u32) {
    trap_kind = kind;
    trap_info = info;
}

// Whether [start, start + len) lies in the data window (addresses as the
// program sees them; add dbase for memory), else trap.
fn in_window(start: u32, len: u32) -> bool {
    if (start > dlen || len > dlen - start) {
        trap(TRAP_MEMORYOUTOFBOUNDS, start);
        return false;
    }
    return true;
}

fn no_overlap(dst: u32, src: u32, len: u32) -> bool {
    if (dst != src && dst < src + len && src < dst + len) {
        trap(TRAP_VECTOROVERLAP, dst);
        return false;
    }
    return true;
}

fn mulhu(x: u32, y: u32) -> u32 {
    let xl = x & 0xffffu;
    let xh = x >> 16u;
    let yl = y & 0xffffu;
    let yh = y >> 16u;
    let lh = xl * yh;
    let hl = xh * yl;
    let mid = ((xl * yl) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return xh * yh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

// Checks a vector instruction and queues it; false when it trapped.
fn queue_vector(hart: u32, op: u32, a: u32, b: u32, c: u32, word: u32) -> bool {
    var dst = 0u;
    var x = regs[b];
    var y = 0u;
    var len = regs[c];
    var value = 0u;
    var acc = 0u;
    switch op {
        case OP_VFILL: {
            dst = regs[a];
            value = regs[b];
            if (!in_window(dst, len)) { return false; }
        }
        case OP_VCOPY: {
            dst = regs[a];
            if (!in_window(dst, len) || !in_window(x, len) || !no_overlap(dst, x, len)) { return false; }
        }
        case OP_VSUM: {
            if (!in_window(x, len)) { return false; }
        }
        case OP_VDOT: {
            y = regs[c];
            len = regs[word];
            if (!in_window(x, len) || !in_window(y, len)) { return false; }
        }
        case OP_VFIND: {
            value = regs[word];
            acc = 0xffffffffu;
            if (!in_window(x, len)) { return false; }
        }
        default: {
            // Binary element-wise ops: ra = dst, rb = x, rc = y, rd = length.
            dst = regs[a];
            y = regs[c];
            len = regs[word];
            if (!in_window(dst, len) || !in_window(x, len) || !in_window(y, len)
                || !no_overlap(dst, x, len) || !no_overlap(dst, y, len)) {
                return false;
            }
        }
    }
    let e = atomicAdd(&dispatch[1], 1u);
    let chunks = max(1u, (len + VECTOR_CHUNK - 1u) / VECTOR_CHUNK);
    atomicMax(&dispatch[0], chunks);
    let q = e * Q_ENTRY_WORDS;
    atomicStore(&queue[q + 0u], hart);
    atomicStore(&queue[q + 1u], op | (a << 8u));
    atomicStore(&queue[q + 2u], dbase + dst);
    atomicStore(&queue[q + 3u], dbase + x);
    atomicStore(&queue[q + 4u], dbase + y);
    atomicStore(&queue[q + 5u], len);
    atomicStore(&queue[q + 6u], value);
    atomicStore(&queue[q + 7u], acc);
    return true;
}

// `uret`: load the context block at `at` and continue in user mode (pxi's
// Exec::uret); returns the next pc (`next` when it trapped).
fn uret(at: u32, next: u32) -> u32 {
    if (!in_window(at, CTX_WORDS)) {
        return next;
    }
    let depth = atomicLoad(&memory[at + CTX_SP]);
    let dest = atomicLoad(&memory[at + CTX_PC]);
    if (depth > STACK_DEPTH) {
        trap(TRAP_STACKOVERFLOW, depth);
    } else if (tvec == NO_VECTOR) {
        trap(TRAP_JUMPOUTOFCODE, NO_VECTOR);
    } else {
        for (var r = 0u; r < 16u; r++) {
            regs[r] = atomicLoad(&memory[at + CTX_REGS + r]);
        }
        flags = atomicLoad(&memory[at + CTX_FLAGS]);
        sp = depth;
        for (var i = 0u; i < STACK_DEPTH; i++) {
            harts[hart_base + H_STACK + i] = atomicLoad(&memory[at + CTX_STACK + i]);
        }
        frame = at;
        set_mode(MODE_USER);
        return dest;
    }
    return next;
}

// Payload word `i` of call `call` (r1 = addr, r2 = len), 0 past the payload
// or outside memory (pxi's copy_payload).
fn payload_word(call: u32, addr: u32, len: u32, i: u32) -> u32 {
    // addr + i must neither wrap nor leave memory.
    if (i < payload_words(call, len) && addr + i >= addr && addr + i < params.memory_words) {
        return atomicLoad(&memory[addr + i]);
    }
    return 0u;
}

// Put the pending call (r0..r3) in the hart's outbox when it needs no reply
// and there is room, and give the hart its result at once; false otherwise
// (the hart then waits for the host). pxi's Exec::post_without_reply.
fn post_without_reply(id: u32) -> bool {
    let ob = id * OUTBOX_WORDS;
    let queued = outbox[ob];
    let call = regs[0];
    if (needs_reply(call) || queued == OUTBOX_CALLS) {
        return false;
    }
    let e = ob + 1u + queued * OUTBOX_ENTRY_WORDS;
    for (var r = 0u; r < 4u; r++) {
        outbox[e + r] = regs[r];
    }
    for (var i = 0u; i < MB_PAYLOAD_WORDS; i++) {
        outbox[e + 4u + i] = payload_word(call, regs[1], regs[2], i);
    }
    outbox[ob] = queued + 1u;
    let words = payload_words(call, regs[2]);
    let fault = regs[1] > params.memory_words || words > params.memory_words - regs[1];
    regs[0] = select(payload_units(call, regs[2]), ERR_FAULT, fault);
    return true;
}

// Count one execution of code pixel `phys` (the slow path's instructions;
// simple ones are counted per run, below). Only the COUNT_EXEC pipeline
// counts: llvmpipe runs a branch's code under a mask even when the condition
// is false for every lane, so the counting code must not exist at all in the
// pipeline that does not count (an override constant folds it away).
fn count(phys: u32) {
    if (COUNT_EXEC) {
        atomicAdd(&counts[phys], 1u);
    }
}

// Counts of simple instructions (shaders::compile::expand_counts). A *run*
// is a stretch of simple instructions executed one after the other from code
// pixel `start`: its chain is `start` and the pixels that follow it
// (pixel + length) while they are simple, up to and including the first
// branch. A run that went to the end of its chain adds one to
// `counts[code_len + start]`; one that stopped before pixel `stop` of its chain
// also adds one to `counts[2 * code_len + stop]` (cancelling a whole run from
// there). The host expands both into per-pixel counts between rounds, so the
// fast loop needs no atomic per step: the counting code runs once per run,
// outside it.
const NO_STOP: u32 = 0xffffffffu;

// Count `runs` runs from code pixel `start` that stopped before `stop`
// (NO_STOP: at the end of the chain). llvmpipe runs an atomic site under a
// mask on every pass of the loops around it, taken or not, so none is in a
// hot loop: compiled blocks count their passes in private counters that
// count_blocks adds once per slice (shaders::compile::run_block).
fn count_run(start: u32, stop: u32, runs: u32) {
    if (COUNT_EXEC && runs != 0u) {
        atomicAdd(&counts[params.code_len + start], runs);
        if (stop < params.code_len) {
            atomicAdd(&counts[2u * params.code_len + stop], runs);
        }
    }
}

// Runs counted but not yet added to the counters: `pending_runs` runs from
// `pending_run.x` stopped before `pending_run.y` (count_run's arguments). The
// runs of a hot loop repeat one pair, so they cost the counters one atomic
// when the pair changes or the slice ends instead of one per run: 64 harts
// adding to the same two words contend for them on every pass.
var<private> pending_run: vec2<u32>;
var<private> pending_runs: u32;

// Count one run from `start` stopped before `stop`, adding the pending ones
// first when they are another pair.
fn count_run_later(start: u32, stop: u32) {
    if (pending_runs != 0u && (start != pending_run.x || stop != pending_run.y)) {
        count_run(pending_run.x, pending_run.y, pending_runs);
        pending_runs = 0u;
    }
    pending_run = vec2(start, stop);
    pending_runs += 1u;
}

// A compiled block starting at `x` that left early, in a pass stopped before
// code pixel `y - 1` (y = 0: none), for the caller to count.
var<private> left_block: vec2<u32>;

const STEP_CONTINUE: u32 = 0u;
const STEP_END_SLICE: u32 = 1u;
const STEP_TRAP: u32 = 2u;

// Execute one instruction of any kind (the slow path; the reference for the
// fast path in run_slice) and enter the kernel where it asks to: an ecall,
// the user-mode timer running out, or a user-mode fault (which counts as a
// step: STEP_CONTINUE). Updates pc, flags, sp, status, regs and counts.
fn step_full(id: u32, base: u32) -> u32 {
    var r = execute(id, base);
    if (r == STEP_TRAP && mode == MODE_USER) {
        if (pc < clen) {
            count(cbase + pc);
        }
        entry = vec2(trap_kind, trap_info);
        trap_kind = 0u;
        r = STEP_CONTINUE;
    }
    if (entry.x != 0u) {
        pc = enter_kernel(entry.x, entry.y, pc);
        entry = vec2<u32>();
    }
    return r;
}

// step_full's instruction, without the kernel entry it may ask for.
fn execute(id: u32, base: u32) -> u32 {
    let code_len = params.code_len;
    if (pc >= clen) {
        trap(TRAP_PCOUTOFCODE, pc);
        return STEP_TRAP;
    }
    let phys = cbase + pc;
    let px = code[code_len + phys];
    let op = px & 0xffu;
    let a = (px >> 8u) & 0xffu;
    let b = (px >> 16u) & 0xffu;
    let c = px >> 24u;
    if (op == OP_INVALID) {
        trap(a, select(code[phys], pc, a == TRAP_TRUNCATEDINSTRUCTION));
        return STEP_TRAP;
    }
    let info = code[2u * code_len + phys];
    let was_user = mode == MODE_USER;
    if (was_user && (info & INFO_PRIVILEGED) != 0u) {
        trap(TRAP_PRIVILEGED, code[phys]);
        return STEP_TRAP;
    }
    let word = code[phys + 1u];
    let rb = regs[b & 15u];
    let rc = regs[c & 15u];
    var next = pc + (info & INFO_LEN);
    var jump = false;
    let v = pure_value(op, id, regs[a & 15u], rb, rc, c, word, flags);
    if ((info & INFO_RESULT) != 0u) {
        regs[a] = v;
    } else if ((info & INFO_FLAGS) != 0u) {
        flags = v;
    } else if ((info & INFO_BRANCH) != 0u) {
        jump = v != 0u;
    } else {
        switch op {
            case OP_NOP, OP_YIELD: {}
            case OP_EXIT: {
                harts[base + H_AUX] = regs[a];
                status = HART_EXITED;
            }
            case OP_SYSCALL: {
                if (!post_without_reply(id)) {
                    status = HART_SYSCALL;
                    next = pc;
                }
            }
            case OP_SPAWN: {
                status = HART_SPAWN;
                next = pc;
            }
            case OP_TIMER: { timer_left = regs[a]; }
            case OP_TVEC: {
                if (regs[a] >= clen) {
                    trap(TRAP_JUMPOUTOFCODE, regs[a]);
                } else {
                    tvec = regs[a];
                }
            }
            case OP_WINDOW: {
                let rd = regs[word & 15u];
                if (rb > code_len || regs[a] > code_len - rb) {
                    trap(TRAP_JUMPOUTOFCODE, regs[a]);
                } else if (in_window(rc, rd)) {
                    user_win = vec4<u32>(regs[a], rb, rc, rd);
                }
            }
            case OP_URET: { next = uret(regs[a], next); }
            case OP_ECALL: {
                if (was_user) {
                    entry = vec2(CAUSE_ECALL, 0u);
                } else {
                    trap(TRAP_ILLEGALINSTRUCTION, code[phys]);
                }
            }
            case OP_LD, OP_ST: {
                let addr = rb + c;
                if (addr >= dlen) {
                    trap(TRAP_MEMORYOUTOFBOUNDS, addr);
                } else if (op == OP_LD) {
                    regs[a] = atomicLoad(&memory[dbase + addr]);
                } else {
                    atomicStore(&memory[dbase + addr], regs[a]);
                }
            }
            case OP_PUSH: {
                if (sp >= STACK_DEPTH) {
                    trap(TRAP_STACKOVERFLOW, regs[a]);
                } else {
                    harts[base + H_STACK + sp] = regs[a];
                    sp += 1u;
                }
            }
            case OP_POP: {
                if (sp == 0u) {
                    trap(TRAP_STACKUNDERFLOW, 0u);
                } else {
                    sp -= 1u;
                    regs[a] = harts[base + H_STACK + sp];
                }
            }
            case OP_DIVU, OP_REMU, OP_DIV, OP_REM: {
                if (rc == 0u) {
                    trap(TRAP_DIVISIONBYZERO, 0u);
                } else if (op == OP_DIVU) {
                    regs[a] = rb / rc;
                } else if (op == OP_REMU) {
                    regs[a] = rb % rc;
                } else if (op == OP_DIV) {
                    // WGSL defines MIN / -1 = MIN, like wrapping_div.
                    regs[a] = u32(i32(rb) / i32(rc));
                } else {
                    regs[a] = u32(i32(rb) % i32(rc));
                }
            }
            case OP_CALL, OP_CALLR: {
                let dest = select(word, regs[a], op == OP_CALLR);
                if (dest >= clen) {
                    trap(TRAP_JUMPOUTOFCODE, dest);
                } else if (sp >= STACK_DEPTH) {
                    trap(TRAP_STACKOVERFLOW, next);
                } else {
                    harts[base + H_STACK + sp] = next;
                    sp += 1u;
                    next = dest;
                }
            }
            case OP_RET: {
                if (sp == 0u) {
                    trap(TRAP_STACKUNDERFLOW, 0u);
                } else {
                    let dest = harts[base + H_STACK + sp - 1u];
                    if (dest >= clen) {
                        trap(TRAP_JUMPOUTOFCODE, dest);
                    } else {
                        sp -= 1u;
                        next = dest;
                    }
                }
            }
            case OP_JR: {
                if (regs[a] >= clen) {
                    trap(TRAP_JUMPOUTOFCODE, regs[a]);
                } else {
                    next = regs[a];
                }
            }
            case OP_AADD, OP_AXCHG, OP_ACAS: {
                let at = dbase + rb;
                if (rb >= dlen) {
                    trap(TRAP_MEMORYOUTOFBOUNDS, rb);
                } else if (op == OP_AADD) {
                    regs[a] = atomicAdd(&memory[at], rc);
                } else if (op == OP_AXCHG) {
                    regs[a] = atomicExchange(&memory[at], rc);
                } else {
                    let expected = regs[a];
                    var old = 0u;
                    // The weak exchange may fail spuriously: retry until it
                    // either succeeds or sees a different value.
                    loop {
                        let r = atomicCompareExchangeWeak(&memory[at], expected, rc);
                        old = r.old_value;
                        if (r.exchanged || old != expected) { break; }
                    }
                    regs[a] = old;
                }
            }
            case OP_FCMP: { flags = f_scalar(op, regs[a], rb); }
            case OP_FADD, OP_FSUB, OP_FMUL, OP_FDIV, OP_FMIN, OP_FMAX, OP_FNEG, OP_FABS, OP_FSQRT,
                OP_FEXP, OP_FSIN, OP_FCOS, OP_ITOF, OP_FTOI, OP_FROUND: {
                regs[a] = f_scalar(op, rb, rc);
            }
            default: {
                // Vector and tensor instructions (the only opcodes left).
                if (is_tensor(op)) {
                    _ = queue_tensor(id, op, a, b, c, word);
                } else {
                    _ = queue_vector(id, op, a, b, c, word);
                }
            }
        }
    }
    if (jump) {
        if (word >= clen) {
            trap(TRAP_JUMPOUTOFCODE, word);
        } else {
            next = word;
        }
    }
    if (trap_kind != 0u) {
        return STEP_TRAP;
    }
    count(phys);
    pc = next;
    if (was_user && (info & INFO_ENDS_SLICE) == 0u) {
        tick_timer();
    }
    // A call posted without a reply continues the slice.
    if ((info & INFO_ENDS_SLICE) != 0u && !(op == OP_SYSCALL && status == HART_RUNNABLE)) {
        return STEP_END_SLICE;
    }
    return STEP_CONTINUE;
}

// Whether the fast loop runs the instruction with `info`: one it executes
// (pxi::isa::predecode sets INFO_FAST), unless it is the last tick of a
// user-mode timer: that step and its kernel entry are step_full's.
fn runs_fast(info: u32) -> bool {
    return (info & INFO_FAST) != 0u && !(mode == MODE_USER && timer_left == 1u);
}

// True for instructions the fast path executes: register-only work, loads,
// stores and jumps (pxi::isa::predecode sets INFO_FAST). Anything that may
// trap there falls back to step_full, which traps exactly like the CPU.
@compute @workgroup_size(WORKGROUP)
fn run_slice(@builtin(global_invocation_id) gid: vec3<u32>) {
    let id = gid.x;
    if (id >= params.hart_count || atomicLoad(&control[C_STATUS]) != MACHINE_RUNNING
        || atomicLoad(&control[S_IDLE]) != 0u) {
        return;
    }
    let base = id * HART_WORDS;
    hart_base = base;
    status = harts[base + H_STATUS];
    pc = harts[base + H_PC];
    if (status == HART_WAITING) {
        let slot = harts[base + H_AUX] * MB_SLOT_WORDS;
        if (mailbox[slot + MB_W_STATE] == MB_REPLIED) {
            harts[base + H_REGS] = mailbox[slot + MB_W_RESULT];
            mailbox[slot + MB_W_STATE] = MB_FREE;
            pc += SYSCALL_LEN;
            status = HART_RUNNABLE;
            harts[base + H_AUX] = 0u;
        }
    }
    if (status == HART_RUNNABLE) {
        atomicOr(&control[S_PROGRESS], 1u);
        for (var r = 0u; r < 16u; r++) {
            regs[r] = harts[base + H_REGS + r];
        }
        flags = harts[base + H_FLAGS];
        sp = harts[base + H_SP];
        timer_left = harts[base + H_TIMER];
        tvec = harts[base + H_TVEC];
        frame = harts[base + H_FRAME];
        user_win = vec4<u32>(harts[base + H_UCODE_BASE], harts[base + H_UCODE_LEN],
            harts[base + H_UDATA_BASE], harts[base + H_UDATA_LEN]);
        set_mode(harts[base + H_MODE]);
        let slice = atomicLoad(&control[C_SLICE]);
        let code_len = params.code_len;
        trap_kind = 0u;
        var steps = 0u;
        var stopped = false;
        // The fast inner loop runs register work without ever touching the
        // slow path's code (llvmpipe executes every branch of a divergent
        // switch under masks, so a big switch in the hot loop costs dearly);
        // the middle loop counts one run of simple instructions per pass (its
        // atomics stay out of the fast loop, which llvmpipe would run masked
        // on every step) and runs compiled blocks; the outer loop runs one slow
        // instruction per pass.
        loop {
            loop {
                if (COMPILED && steps < slice && pc < clen
                    && (code[2u * code_len + cbase + pc] & INFO_BLOCK) != 0u) {
                    // Compiled mode: blocks of straight-line WGSL run from here
                    // while their budget, window and timer allow (0: none did).
                    steps += run_block(id, slice - steps);
                    if (COUNT_EXEC && left_block.y != 0u) {
                        // A block left early: its partial pass is a run
                        // stopped before the exit (its complete passes are
                        // the block's, count_blocks).
                        count_run(left_block.x, left_block.y - 1u, 1u);
                        left_block = vec2<u32>();
                    }
                }
                var run_start = cbase + pc;
                var run_from = steps;
                // The run ended after a branch (the end of its chain), or at a
                // compiled block: the middle loop goes on with the next run.
                var branched = false;
                var at_block = false;
                // The next instruction's info, loaded before each pass of the
                // fast loop (none past the slice or the window) and checked
                // at the end of the pass before: a slow instruction costs the
                // fast loop no pass, so no step costs llvmpipe's loop limit
                // more than two passes of all loops.
                var info = 0u;
                if (steps < slice && pc < clen) {
                    info = code[2u * code_len + cbase + pc];
                }
                if (runs_fast(info)) {
                    loop {
                        let phys = cbase + pc;
                        let px = code[code_len + phys];
                        let op = px & 0xffu;
                        let a = (px >> 8u) & 0xffu;
                        let c = px >> 24u;
                        let ra = regs[a & 15u];
                        let rb = regs[(px >> 16u) & 15u];
                        let rc = regs[c & 15u];
                        let word = code[phys + 1u];
                        var next = pc + (info & INFO_LEN);
                        var bail = false;
                        // Pure instructions (generated from the ISA table's templates),
                        // then loads and stores; nop and hartid need nothing else.
                        let v = pure_value(op, id, ra, rb, rc, c, word, flags);
                        if ((info & INFO_RESULT) != 0u) {
                            regs[a] = v;
                        } else if ((info & INFO_FLAGS) != 0u) {
                            flags = v;
                        } else if ((info & INFO_BRANCH) != 0u) {
                            let taken = v != 0u;
                            bail = taken && word >= clen;
                            next = select(next, word, taken);
                        } else if (op == OP_LD || op == OP_ST) {
                            let addr = rb + c;
                            bail = addr >= dlen;
                            if (!bail) {
                                if (op == OP_LD) {
                                    regs[a] = atomicLoad(&memory[dbase + addr]);
                                } else {
                                    atomicStore(&memory[dbase + addr], ra);
                                }
                            }
                        }
                        if (bail) {
                            break;
                        }
                        steps += 1u;
                        pc = next;
                        branched = COUNT_EXEC && (info & INFO_BRANCH) != 0u;
                        // A run that ends in a branch like the pending ones (a
                        // hot loop's) is counted here without leaving the fast
                        // loop; a new pair leaves it for count_run_later.
                        let repeated = branched && pending_run.x == run_start && pending_run.y == NO_STOP;
                        pending_runs += select(0u, 1u, repeated);
                        run_start = select(run_start, cbase + pc, repeated);
                        run_from = select(run_from, steps, repeated);
                        branched = branched && !repeated;
                        // tick_timer without its kernel entry: runs_fast leaves
                        // the last tick to step_full (llvmpipe would run
                        // enter_kernel's loops under a mask on every step here;
                        // measured: 20x slower).
                        if (mode == MODE_USER && timer_left != 0u) {
                            timer_left -= 1u;
                        }
                        if (branched || steps >= slice || pc >= clen) {
                            break;
                        }
                        info = code[2u * code_len + cbase + pc];
                        if (!runs_fast(info)) {
                            break;
                        }
                        if (COMPILED && (info & INFO_BLOCK) != 0u) {
                            at_block = true;
                            break;
                        }
                    }
                }
                if (COUNT_EXEC && steps != run_from) {
                    // Stopped before the next pixel of its chain unless it
                    // branched; pc advanced one instruction at a time, so
                    // cbase + pc is that pixel.
                    var stop = NO_STOP;
                    let at = cbase + pc;
                    if (!branched && at < code_len && (code[2u * code_len + at] & INFO_FAST) != 0u) {
                        stop = at;
                    }
                    count_run_later(run_start, stop);
                }
                if (!(branched || at_block)) {
                    break;
                }
            }
            if (steps >= slice) {
                break;
            }
            let r = step_full(id, base);
            if (r == STEP_TRAP) {
                stopped = true;
                break;
            }
            steps += 1u;
            if (r == STEP_END_SLICE) {
                stopped = true;
                break;
            }
        }
        if (COUNT_EXEC) {
            // The compiled blocks' passes in this slice (shaders::compile).
            count_blocks();
            count_run(pending_run.x, pending_run.y, pending_runs);
        }
        if (trap_kind != 0u) {
            status = HART_TRAPPED;
            harts[base + H_AUX] = trap_kind;
            harts[base + H_INFO] = trap_info;
        }
        if (!stopped && steps < slice) {
            // The loops ended without a reason: the driver cut them off.
            atomicAdd(&control[S_CUTOFF], 1u);
            atomicMin(&control[S_CUTOFF_HART], id);
        }
        for (var r = 0u; r < 16u; r++) {
            harts[base + H_REGS + r] = regs[r];
        }
        harts[base + H_FLAGS] = flags;
        harts[base + H_SP] = sp;
        harts[base + H_TIMER] = timer_left;
        harts[base + H_MODE] = mode;
        harts[base + H_TVEC] = tvec;
        harts[base + H_FRAME] = frame;
        harts[base + H_UCODE_BASE] = user_win.x;
        harts[base + H_UCODE_LEN] = user_win.y;
        harts[base + H_UDATA_BASE] = user_win.z;
        harts[base + H_UDATA_LEN] = user_win.w;
        harts[base + H_STEPS] += steps;
        harts[base + H_SLICE] = steps;
        atomicAdd(&control[S_ROUND_STEPS], steps);
    }
    harts[base + H_PC] = pc;
    harts[base + H_STATUS] = status;
    switch status {
        case HART_RUNNABLE, HART_WAITING: { atomicAdd(&control[S_LIVE], 1u); }
        case HART_SYSCALL, HART_SPAWN: {
            atomicAdd(&control[S_LIVE], 1u);
            atomicOr(&control[S_PENDING], 1u);
        }
        case HART_TRAPPED: { atomicOr(&control[S_TRAPPED], 1u); }
        default: {}
    }
    if (outbox[id * OUTBOX_WORDS] != 0u) {
        atomicOr(&control[S_PENDING], 1u);
    }
}

// ---------------------------------------------------------------------------

const RESOLVE_LANES: u32 = 256u;
// Marks a hart slot started by spawn whose other words still need clearing.
const FRESH_MARK: u32 = 0xfeedf00du;

var<workgroup> wg_running: u32;
var<workgroup> wg_spawned: u32;

fn find_free_hart(start: u32) -> u32 {
    var h = start;
    while (h < params.hart_count) {
        let st = harts[h * HART_WORDS + H_STATUS];
        if (st == HART_FREE || st == HART_EXITED) {
            break;
        }
        h += 1u;
    }
    return h;
}

fn find_free_slot(start: u32) -> u32 {
    var s = start;
    while (s < MB_SLOTS && mailbox[s * MB_SLOT_WORDS + MB_W_STATE] != MB_FREE) {
        s += 1u;
    }
    return s;
}

fn post(id: u32, slot: u32) {
    let base = id * HART_WORDS;
    let s = slot * MB_SLOT_WORDS;
    let call = harts[base + H_REGS];
    mailbox[s + MB_W_STATE] = MB_REQUEST;
    mailbox[s + MB_W_SEQ] = atomicLoad(&control[C_SEQ]);
    mailbox[s + MB_W_HART] = id;
    mailbox[s + MB_W_CALL] = call;
    for (var i = 0u; i < 3u; i++) {
        mailbox[s + MB_W_ARG0 + i] = harts[base + H_REGS + 1u + i];
    }
    mailbox[s + MB_W_RESULT] = 0u;
    let addr = harts[base + H_REGS + 1u];
    let len = harts[base + H_REGS + 2u];
    for (var i = 0u; i < MB_PAYLOAD_WORDS; i++) {
        mailbox[s + MB_W_PAYLOAD + i] = payload_word(call, addr, len, i);
    }
    atomicAdd(&control[C_SEQ], 1u);
    harts[base + H_STATUS] = HART_WAITING;
    harts[base + H_AUX] = slot;
}

// Serial part of resolve (lane 0): spawns and syscall posting in hart-id order.
// Move hart `id`'s outbox into free slots from `free_slot` on, in order, as
// MB_POSTED requests; what does not fit stays. Returns the next slot to try.
// pxi's Machine::drain_outbox.
fn drain_outbox(id: u32, first_slot: u32) -> u32 {
    let ob = id * OUTBOX_WORDS;
    let queued = outbox[ob];
    var free_slot = first_slot;
    var moved = 0u;
    while (moved < queued) {
        free_slot = find_free_slot(free_slot);
        if (free_slot == MB_SLOTS) {
            break;
        }
        let e = ob + 1u + moved * OUTBOX_ENTRY_WORDS;
        let s = free_slot * MB_SLOT_WORDS;
        mailbox[s + MB_W_STATE] = MB_POSTED;
        mailbox[s + MB_W_SEQ] = atomicLoad(&control[C_SEQ]);
        mailbox[s + MB_W_HART] = id;
        mailbox[s + MB_W_CALL] = outbox[e];
        for (var i = 0u; i < 3u; i++) {
            mailbox[s + MB_W_ARG0 + i] = outbox[e + 1u + i];
        }
        mailbox[s + MB_W_RESULT] = 0u;
        for (var i = 0u; i < MB_PAYLOAD_WORDS; i++) {
            mailbox[s + MB_W_PAYLOAD + i] = outbox[e + 4u + i];
        }
        atomicAdd(&control[C_SEQ], 1u);
        moved += 1u;
    }
    if (moved > 0u) {
        posted_any = true;
        for (var w = 1u; w + moved * OUTBOX_ENTRY_WORDS < OUTBOX_WORDS; w++) {
            outbox[ob + w] = outbox[ob + w + moved * OUTBOX_ENTRY_WORDS];
        }
        outbox[ob] = queued - moved;
    }
    return free_slot;
}

// Whether resolve_pending posted or spawned anything, and whether it posted a
// request a hart waits for (pxi's Resolved).
var<private> posted_any: bool;
var<private> awaited: bool;

fn resolve_pending() -> u32 {
    var spawned = 0u;
    var free_hart = 0u;
    var free_slot = 0u;
    for (var id = 0u; id < params.hart_count; id++) {
        let base = id * HART_WORDS;
        free_slot = drain_outbox(id, free_slot);
        let st = harts[base + H_STATUS];
        if (st == HART_SPAWN) {
            let px = code[params.code_len + harts[base + H_PC]];
            let a = (px >> 8u) & 0xffu;
            let b = (px >> 16u) & 0xffu;
            let c = px >> 24u;
            free_hart = find_free_hart(free_hart);
            var new_id = 0xffffffffu;
            if (free_hart < params.hart_count) {
                let nb = free_hart * HART_WORDS;
                harts[nb + H_REGS + 1u] = harts[base + H_REGS + c];
                harts[nb + H_PC] = harts[base + H_REGS + b];
                harts[nb + H_STATUS] = HART_RUNNABLE;
                harts[nb + H_TVEC] = harts[base + H_TVEC];
                harts[nb + H_SLICE] = FRESH_MARK;
                new_id = free_hart;
                spawned += 1u;
            }
            harts[base + H_REGS + a] = new_id;
            harts[base + H_PC] += 1u;
            harts[base + H_STATUS] = HART_RUNNABLE;
            posted_any = true;
        } else if (st == HART_SYSCALL && outbox[id * OUTBOX_WORDS] == 0u) {
            // A pending call waits until the hart's posted calls are in.
            free_slot = find_free_slot(free_slot);
            if (free_slot < MB_SLOTS) {
                post(id, free_slot);
                posted_any = true;
                awaited = true;
            }
        }
    }
    return spawned;
}

@compute @workgroup_size(256)
fn resolve(@builtin(local_invocation_index) lane: u32) {
    if (lane == 0u) {
        wg_running = u32(atomicLoad(&control[C_STATUS]) == MACHINE_RUNNING
            && atomicLoad(&control[S_IDLE]) == 0u);
    }
    if (workgroupUniformLoad(&wg_running) == 0u) {
        return;
    }
    // 1. Queued reductions write their result register.
    let entries = atomicLoad(&dispatch[1]);
    for (var e = lane; e < entries; e += RESOLVE_LANES) {
        let q = e * Q_ENTRY_WORDS;
        let op_a = atomicLoad(&queue[q + 1u]);
        let op = op_a & 0xffu;
        if (op == OP_VSUM || op == OP_VDOT || op == OP_VFIND || op == OP_ARGMAX || op == OP_SAMPLE) {
            harts[atomicLoad(&queue[q]) * HART_WORDS + H_REGS + (op_a >> 8u)] = atomicLoad(&queue[q + 7u]);
        }
    }
    storageBarrier();
    // 2. Spawns and syscalls, serially in hart-id order.
    if (lane == 0u) {
        var spawned = 0u;
        posted_any = false;
        awaited = false;
        if (atomicLoad(&control[S_PENDING]) != 0u) {
            spawned = resolve_pending();
        }
        wg_spawned = spawned;
        let counted = posted_any || atomicLoad(&control[S_PROGRESS]) != 0u;
        finish_round(counted, spawned);
    }
    // 3. Clear the other words of freshly spawned harts, in parallel.
    if (workgroupUniformLoad(&wg_spawned) == 0u) {
        return;
    }
    for (var h = lane; h < params.hart_count; h += RESOLVE_LANES) {
        let base = h * HART_WORDS;
        if (harts[base + H_SLICE] == FRESH_MARK) {
            for (var w = 0u; w < HART_WORDS; w++) {
                if (w != H_REGS + 1u && w != H_PC && w != H_STATUS && w != H_TVEC) {
                    harts[base + w] = 0u;
                }
            }
        }
    }
}

// Control block at the end of a round (lane 0 of resolve). A round in which
// no hart could run and nothing was posted is not counted; it and a round
// that posted an awaited request idle the rest of the batch (pxi's
// Machine::round returning false).
fn finish_round(counted: bool, spawned: u32) {
    if (counted) {
        let round_steps = atomicLoad(&control[S_ROUND_STEPS]);
        atomicStore(&control[C_ROUND_STEPS], round_steps);
        atomicAdd(&control[C_ROUND], 1u);
        let lo = atomicLoad(&control[C_STEPS_LO]);
        let new_lo = lo + round_steps;
        var hi = atomicLoad(&control[C_STEPS_HI]);
        if (new_lo < lo) {
            hi += 1u;
        }
        atomicStore(&control[C_STEPS_LO], new_lo);
        atomicStore(&control[C_STEPS_HI], hi);
        let budget_hi = atomicLoad(&control[C_BUDGET_HI]);
        let budget_lo = atomicLoad(&control[C_BUDGET_LO]);
        let over = hi > budget_hi || (hi == budget_hi && new_lo >= budget_lo);
        var st = MACHINE_RUNNING;
        if (atomicLoad(&control[S_TRAPPED]) != 0u) {
            st = MACHINE_TRAPPED;
        } else if (atomicLoad(&control[S_LIVE]) + spawned == 0u) {
            st = MACHINE_ALL_EXITED;
        } else if (over) {
            st = MACHINE_BUDGET;
        }
        atomicStore(&control[C_STATUS], st);
    }
    if (!counted || awaited) {
        atomicStore(&control[S_IDLE], 1u);
    }
    atomicStore(&control[S_LIVE], 0u);
    atomicStore(&control[S_TRAPPED], 0u);
    atomicStore(&control[S_PENDING], 0u);
    atomicStore(&control[S_ROUND_STEPS], 0u);
    atomicStore(&control[S_PROGRESS], 0u);
    clear_dispatch();
}
