// Vector pass: runs the vector instructions queued by run_slice, a whole
// workgroup per 4096-element chunk. Dispatched indirectly with
// (entries, max chunks, 1) read from the queue header, so a round without
// vector work costs one empty dispatch. Ranges were bounds- and
// overlap-checked by run_slice; reductions accumulate atomically and
// `resolve` copies the result into the hart's register.

@group(0) @binding(0) var<storage, read_write> memory: array<u32>;
@group(0) @binding(1) var<storage, read_write> queue: array<atomic<u32>>;

const Q_ENTRY_WORDS: u32 = 8u;
const VECTOR_CHUNK: u32 = 4096u;
const LANES: u32 = 64u;

var<workgroup> wg_acc: atomic<u32>;
var<workgroup> wg_op: u32;

fn binary(op: u32, p: u32, q: u32) -> u32 {
    switch op {
        case OP_VADD: { return p + q; }
        case OP_VSUB: { return p - q; }
        case OP_VMUL: { return p * q; }
        case OP_VAND: { return p & q; }
        case OP_VOR: { return p | q; }
        case OP_VXOR: { return p ^ q; }
        case OP_VMINU: { return min(p, q); }
        case OP_VMAXU: { return max(p, q); }
        default: { return 0u; }
    }
}

@compute @workgroup_size(64)
fn run_vector(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let q = wid.x * Q_ENTRY_WORDS;
    if (lane == 0u) {
        wg_op = atomicLoad(&queue[q + 1u]) & 0xffu;
    }
    let op = workgroupUniformLoad(&wg_op);
    let dst = atomicLoad(&queue[q + 2u]);
    let x = atomicLoad(&queue[q + 3u]);
    let y = atomicLoad(&queue[q + 4u]);
    let len = atomicLoad(&queue[q + 5u]);
    let value = atomicLoad(&queue[q + 6u]);
    let start = wid.y * VECTOR_CHUNK;
    let end = min(len, start + VECTOR_CHUNK);
    let first = start + lane;
    // Reductions: sum (vsum, vdot) or least index (vfind) over this lane's elements.
    var acc = 0u;
    switch op {
        case OP_VFILL: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = value; }
        }
        case OP_VCOPY: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i]; }
        }
        case OP_VSUM: {
            for (var i = first; i < end; i += LANES) { acc += memory[x + i]; }
        }
        case OP_VDOT: {
            for (var i = first; i < end; i += LANES) { acc += memory[x + i] * memory[y + i]; }
        }
        case OP_VFIND: {
            acc = 0xffffffffu;
            // Elements are visited in increasing order, so the first match is this lane's least.
            for (var i = first; i < end && acc == 0xffffffffu; i += LANES) {
                if (memory[x + i] == value) { acc = i; }
            }
        }
        default: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = binary(op, memory[x + i], memory[y + i]); }
        }
    }
    if (op != OP_VSUM && op != OP_VDOT && op != OP_VFIND) {
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
