// Vector pass: runs the vector instructions queued by run_slice, a whole
// workgroup per 4096-element chunk. Dispatched indirectly with
// (max chunks, entries, 1) kept by run_slice, so a round without
// vector work costs one empty dispatch. Ranges were bounds- and
// overlap-checked by run_slice; reductions accumulate atomically and
// `resolve` copies the result into the hart's register.

@group(0) @binding(0) var<storage, read_write> memory: array<u32>;
@group(0) @binding(1) var<storage, read_write> queue: array<atomic<u32>>;

const Q_ENTRY_WORDS: u32 = 8u;
const VECTOR_CHUNK: u32 = 4096u;
const LANES: u32 = 64u;

var<workgroup> wg_acc: atomic<u32>;
var<workgroup> wg_entry: array<u32, 7>;

@compute @workgroup_size(64)
fn run_vector(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let q = wid.y * Q_ENTRY_WORDS;
    // Every lane needs the same entry: lane 0 reads it and shares it through
    // workgroup memory, which also makes it uniform (measured: a loop bound the
    // compiler cannot prove uniform costs about 2x on llvmpipe).
    if (lane == 0u) {
        for (var w = 0u; w < 7u; w++) {
            wg_entry[w] = atomicLoad(&queue[q + 1u + w]);
        }
    }
    let entry = workgroupUniformLoad(&wg_entry);
    let op = entry[0] & 0xffu;
    let dst = entry[1];
    let x = entry[2];
    let y = entry[3];
    let len = entry[4];
    let value = entry[5];
    let start = wid.x * VECTOR_CHUNK;
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
        // One loop per element-wise op: `op` is uniform, but a switch inside the
        // loop would still be evaluated per element (measured 2x slower).
        case OP_VADD: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] + memory[y + i]; }
        }
        case OP_VSUB: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] - memory[y + i]; }
        }
        case OP_VMUL: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] * memory[y + i]; }
        }
        case OP_VAND: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] & memory[y + i]; }
        }
        case OP_VOR: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] | memory[y + i]; }
        }
        case OP_VXOR: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = memory[x + i] ^ memory[y + i]; }
        }
        case OP_VMINU: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = min(memory[x + i], memory[y + i]); }
        }
        case OP_VMAXU: {
            for (var i = first; i < end; i += LANES) { memory[dst + i] = max(memory[x + i], memory[y + i]); }
        }
        default: {}
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
