// Benchmark reference: element-wise add written directly in WGSL, with the
// same chunking as the vector pass (one 64-lane workgroup per 4096 elements),
// so the benchmark measures what interpretation costs over native code.

@group(0) @binding(0) var<storage, read_write> memory: array<u32>;

struct Args {
    dst: u32,
    x: u32,
    y: u32,
    len: u32,
}
@group(0) @binding(1) var<uniform> args: Args;

@compute @workgroup_size(64)
fn native_vadd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let start = wid.x * 4096u;
    let end = min(args.len, start + 4096u);
    for (var i = start + lane; i < end; i += 64u) {
        memory[args.dst + i] = memory[args.x + i] + memory[args.y + i];
    }
}
