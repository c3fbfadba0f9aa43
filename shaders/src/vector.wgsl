// Vector pass: runs the vector instructions queued by run_slice, a whole
// workgroup per 4096-element chunk. Dispatched indirectly with
// (max chunks, entries, 1) kept by run_slice, so a round without
// vector work costs one empty dispatch. Ranges were bounds- and
// overlap-checked by run_slice; reductions accumulate atomically and
// `resolve` copies the result into the hart's register.
//
// Each lane owns a contiguous block of 64 elements of its chunk and moves it
// four words at a time (`memory4`) when the instruction's ranges share their
// alignment mod 4, with single words only for the ragged ends. On llvmpipe
// this is what a hand-written kernel needs to reach the copy rate (measured:
// 2x over one word per lane-strided element); on GPUs it is a plain 16-byte
// load per lane.

// The bindings 0 and 1 and load_entry come from queue_entry.wgsl (prepended).
// The same buffer as `memory`, four words per element (the host pads it to a
// multiple of four words).
@group(0) @binding(2) var<storage, read_write> memory4: array<vec4<u32>>;

// The only vector opcode the program contains, or 0: the runtime specialises
// the pass to it (GpuMachine: `vector_only`), because llvmpipe runs every case
// of a switch on an opcode loaded from storage under a mask (docs/benchmarks.md).
override VECTOR_ONLY: u32 = 0u;

const VECTOR_CHUNK: u32 = 4096u;
const LANE_BLOCK: u32 = VECTOR_CHUNK / LANES;

var<workgroup> wg_acc: atomic<u32>;

struct Entry {
    op: u32,
    dst: u32,
    x: u32,
    y: u32,
    value: u32,
}

// Which ranges `op` reads (x, y) and writes (dst).
fn reads_x(op: u32) -> bool {
    return op != OP_VFILL;
}

fn reads_y(op: u32) -> bool {
    return op != OP_VFILL && op != OP_VCOPY && op != OP_VSUM && op != OP_VFIND;
}

fn is_reduction(op: u32) -> bool {
    return op == OP_VSUM || op == OP_VDOT || op == OP_VFIND;
}

// The element-wise result of `op` (and vdot's products) for operands a (from
// x) and b (from y, or vfill's value). Callers pass `op` as a constant, so the
// switch folds away after inlining (a switch on a uniform variable inside the
// loop measured 25% slower on llvmpipe).
fn apply(op: u32, a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    switch op {
        case OP_VFILL: { return b; }
        case OP_VCOPY, OP_VSUM: { return a; }
        case OP_VADD: { return a + b; }
        case OP_VSUB: { return a - b; }
        case OP_VMUL, OP_VDOT: { return a * b; }
        case OP_VAND: { return a & b; }
        case OP_VOR: { return a | b; }
        case OP_VXOR: { return a ^ b; }
        case OP_VMINU: { return min(a, b); }
        default: { return max(a, b); }
    }
}

fn load1(use_it: bool, at: u32) -> u32 {
    if (use_it) {
        return memory[at];
    }
    return 0u;
}

fn load4(use_it: bool, at: u32) -> vec4<u32> {
    if (use_it) {
        return memory4[at / 4u];
    }
    return vec4<u32>();
}

// One element: stored (element-wise ops) or returned (sums).
fn one(op: u32, e: Entry, i: u32) -> u32 {
    let r = apply(op, vec4(load1(reads_x(op), e.x + i)), vec4(load1(reads_y(op), e.y + i), 0u, 0u, 0u) + vec4(e.value)).x;
    if (!is_reduction(op)) {
        memory[e.dst + i] = r;
    }
    return r;
}

// Elements [lo, hi) of `op` for one lane; the partial sum for reductions.
fn run_block(op: u32, e: Entry, lo: u32, hi: u32) -> u32 {
    // Addresses the op touches, all of which must share i's offset mod 4 for the wide path.
    let base = select(e.dst, e.x, is_reduction(op));
    let aligned = (!reads_x(op) || ((e.x ^ base) & 3u) == 0u) && (!reads_y(op) || ((e.y ^ base) & 3u) == 0u);
    var acc = 0u;
    var i = lo;
    if (aligned) {
        let head = min(hi, lo + ((4u - ((base + lo) & 3u)) & 3u));
        for (; i < head; i++) { acc += one(op, e, i); }
        var acc4 = vec4<u32>();
        for (; i + 4u <= hi; i += 4u) {
            let r = apply(op, load4(reads_x(op), e.x + i), load4(reads_y(op), e.y + i) + vec4(e.value));
            if (is_reduction(op)) {
                acc4 += r;
            } else {
                memory4[(e.dst + i) / 4u] = r;
            }
        }
        acc += acc4.x + acc4.y + acc4.z + acc4.w;
    }
    for (; i < hi; i++) { acc += one(op, e, i); }
    return acc;
}

@compute @workgroup_size(64)
fn run_vector(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let q = wid.y * Q_ENTRY_WORDS;
    // An element-wise pass needs no barrier at all, so it reads its entry
    // without load_entry's (the reductions need barriers anyway).
    var word: array<u32, 7>;
    if (VECTOR_ONLY != 0u && !is_reduction(VECTOR_ONLY)) {
        word = load_entry_per_lane(wid.y);
    } else {
        word = load_entry(wid.y, lane);
    }
    let queued = word[0] & 0xffu;
    if (VECTOR_ONLY != 0u && queued != VECTOR_ONLY) {
        return;
    }
    // A constant when the pipeline is specialised: the switch below folds to one case.
    let op = select(queued, VECTOR_ONLY, VECTOR_ONLY != 0u);
    // vfill's value is added to the y operand, which it does not read (0).
    let e = Entry(op, word[1], word[2], word[3], select(0u, word[5], op == OP_VFILL));
    let len = word[4];
    let start = wid.x * VECTOR_CHUNK;
    let lo = min(len, start + lane * LANE_BLOCK);
    let hi = min(len, lo + LANE_BLOCK);
    // Reductions: sum (vsum, vdot) or least index (vfind) over this lane's elements.
    var acc = 0u;
    // One call per opcode with `op` constant (see `apply`).
    switch op {
        case OP_VFILL: { _ = run_block(OP_VFILL, e, lo, hi); }
        case OP_VCOPY: { _ = run_block(OP_VCOPY, e, lo, hi); }
        case OP_VADD: { _ = run_block(OP_VADD, e, lo, hi); }
        case OP_VSUB: { _ = run_block(OP_VSUB, e, lo, hi); }
        case OP_VMUL: { _ = run_block(OP_VMUL, e, lo, hi); }
        case OP_VAND: { _ = run_block(OP_VAND, e, lo, hi); }
        case OP_VOR: { _ = run_block(OP_VOR, e, lo, hi); }
        case OP_VXOR: { _ = run_block(OP_VXOR, e, lo, hi); }
        case OP_VMINU: { _ = run_block(OP_VMINU, e, lo, hi); }
        case OP_VMAXU: { _ = run_block(OP_VMAXU, e, lo, hi); }
        case OP_VSUM: { acc = run_block(OP_VSUM, e, lo, hi); }
        case OP_VDOT: { acc = run_block(OP_VDOT, e, lo, hi); }
        case OP_VFIND: {
            acc = 0xffffffffu;
            let value = word[5];
            // The block is visited in increasing order, so the first match is this lane's least.
            for (var i = lo; i < hi; i++) {
                if (memory[e.x + i] == value) {
                    acc = i;
                    break;
                }
            }
        }
        default: {}
    }
    if (!is_reduction(op)) {
        return;
    }
    // One atomic per workgroup: combine lanes in workgroup memory first.
    if (lane == 0u) {
        atomicStore(&wg_acc, select(0u, 0xffffffffu, op == OP_VFIND));
    }
    workgroupBarrier();
    if (op == OP_VFIND) {
        atomicMin(&wg_acc, acc);
    } else {
        atomicAdd(&wg_acc, acc);
    }
    workgroupBarrier();
    if (lane == 0u && start < len) {
        let total = atomicLoad(&wg_acc);
        if (op == OP_VFIND) {
            atomicMin(&queue[q + 7u], total);
        } else {
            atomicAdd(&queue[q + 7u], total);
        }
    }
}
