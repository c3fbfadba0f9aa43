// Benchmark references, written directly in WGSL with the vector pass's
// chunking (a 64-lane workgroup per 4096 elements, each lane a contiguous
// block of 64 elements moved four words at a time):
//   native_vadd  dst = x + y, what `vadd` does without an interpreter;
//   native_copy  dst = x, the copy rate that bounds any element-wise kernel
//                (vadd moves 12 bytes per element where a copy moves 8).
// Offsets and the length must be multiples of four words (the host checks).

@group(0) @binding(0) var<storage, read_write> memory: array<vec4<u32>>;

struct Args {
    dst: u32,
    x: u32,
    y: u32,
    len: u32,
}
@group(0) @binding(1) var<uniform> args: Args;

// This lane's block of four-word elements: [first, end).
fn block(wid: u32, lane: u32) -> vec2<u32> {
    let first = (wid * 4096u + lane * 64u) / 4u;
    return vec2(first, min(args.len / 4u, first + 16u));
}

@compute @workgroup_size(64)
fn native_vadd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let range = block(wid.x, lane);
    let dst = args.dst / 4u;
    let x = args.x / 4u;
    let y = args.y / 4u;
    for (var i = range.x; i < range.y; i++) {
        memory[dst + i] = memory[x + i] + memory[y + i];
    }
}

@compute @workgroup_size(64)
fn native_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let range = block(wid.x, lane);
    let dst = args.dst / 4u;
    let x = args.x / 4u;
    for (var i = range.x; i < range.y; i++) {
        memory[dst + i] = memory[x + i];
    }
}
