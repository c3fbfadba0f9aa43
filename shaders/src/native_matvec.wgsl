// Benchmark reference: f32 matrix × vector written directly in WGSL, one lane
// per row and 64 rows per workgroup like the tensor pass, with plain f32
// arithmetic (no canonicalisation), so the benchmark measures what the
// `matvec` instruction's interpretation and exact arithmetic cost.

@group(0) @binding(0) var<storage, read_write> memory: array<f32>;

struct Args {
    out: u32,
    w: u32,
    x: u32,
    n: u32,
    rows: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}
@group(0) @binding(1) var<uniform> args: Args;

@compute @workgroup_size(64)
fn native_matvec(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= args.rows) {
        return;
    }
    var acc = 0.0;
    let row = args.w + i * args.n;
    for (var j = 0u; j < args.n; j++) {
        acc += memory[row + j] * memory[args.x + j];
    }
    memory[args.out + i] = acc;
}
