// Vector pass: runs the vector instructions queued by run_slice, a whole
// workgroup per 4096-element chunk. Dispatched indirectly with
// (max chunks, entries, 1) kept by run_slice, so a round without
// vector work costs one empty dispatch. Ranges were bounds- and
// overlap-checked by run_slice; reductions accumulate atomically and
// `resolve` copies the result into the hart's register.

// The bindings and load_entry come from queue_entry.wgsl (prepended).

const VECTOR_CHUNK: u32 = 4096u;

var<workgroup> wg_acc: atomic<u32>;

@compute @workgroup_size(64)
fn run_vector(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let q = wid.y * Q_ENTRY_WORDS;
    let entry = load_entry(wid.y, lane);
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
