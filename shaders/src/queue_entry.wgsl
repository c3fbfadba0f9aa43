// Shared by the vector and tensor passes: the queue of instructions run_slice
// checked, and the loading of this workgroup's entry.

@group(0) @binding(0) var<storage, read_write> memory: array<u32>;
@group(0) @binding(1) var<storage, read_write> queue: array<atomic<u32>>;

const Q_ENTRY_WORDS: u32 = 8u;
const LANES: u32 = 64u;

var<workgroup> wg_entry: array<u32, 7>;

// Entry `index` without its hart word (op | a << 8, then six operand words),
// read by every lane itself: no barrier, so llvmpipe need not run the
// workgroup's invocations as coroutines (measured: `vadd` 30% faster than
// through load_entry), but the compiler cannot tell the entry is uniform.
fn load_entry_per_lane(index: u32) -> array<u32, 7> {
    var e: array<u32, 7>;
    for (var w = 0u; w < 7u; w++) {
        e[w] = atomicLoad(&queue[index * Q_ENTRY_WORDS + 1u + w]);
    }
    return e;
}

// Entry `index` without its hart word: op | a << 8, then six operand words.
// Every lane needs the same entry: lane 0 reads it and shares it through
// workgroup memory, which also makes it uniform (measured: a loop bound the
// compiler cannot prove uniform costs about 2x on llvmpipe).
fn load_entry(index: u32, lane: u32) -> array<u32, 7> {
    if (lane == 0u) {
        wg_entry = load_entry_per_lane(index);
    }
    return workgroupUniformLoad(&wg_entry);
}
