// Tensor pass: runs the tensor instructions queued by run_slice (see
// tensor_queue.wgsl), dispatched indirectly like the vector pass with
// (max chunks, entries, 1). Arithmetic is float.wgsl's (pxi::float) and
// every reduction runs in pxi::tensor's order: a matrix row or column is one
// lane's sequential loop; rmsnorm, softmax, argmax and sample run in one
// workgroup whose lane 0 does the sequential sums. MAX_REDUCE keeps every
// lane under llvmpipe's 65,535 loop iterations per invocation.

// The bindings and load_entry come from queue_entry.wgsl (prepended).

const TENSOR_ROWS: u32 = 64u;
const TENSOR_CHUNK: u32 = 4096u;

var<workgroup> wg_value: u32;
var<workgroup> wg_desc: array<u32, 11>;
var<workgroup> wg_keys: array<u32, 64>;

// Int8 number i of the Q8 values packed from word `base`, as i32 bits.
fn q8(base: u32, i: u32) -> u32 {
    let word = memory[base + i / 4u];
    return u32(i32(word << (24u - 8u * (i % 4u))) >> 24u);
}

fn swiglu(g: u32, u: u32) -> u32 {
    let sig = f_div(F_ONE, f_add(F_ONE, f_exp(f_neg(g))));
    return f_mul(f_mul(g, sig), u);
}

fn quantize_one(v: u32, scale: u32) -> u32 {
    let q = clamp(i32(f_round_int(f_div(v, scale))), -127, 127);
    return u32(q) & 0xffu;
}

fn matvec_row(out: u32, wm: u32, x: u32, n: u32, stride: u32, i: u32) {
    var acc = 0u;
    let row = wm + i * stride;
    for (var j = 0u; j < n; j++) {
        acc = f_add(acc, f_mul(memory[row + j], memory[x + j]));
    }
    memory[out + i] = acc;
}

fn matvect_column(out: u32, wm: u32, x: u32, rows: u32, stride: u32, i: u32) {
    var acc = 0u;
    for (var t = 0u; t < rows; t++) {
        acc = f_add(acc, f_mul(memory[x + t], memory[wm + t * stride + i]));
    }
    memory[out + i] = acc;
}

// Σ of the four int8 products of two packed words (wrapping u32, as q8 sums).
fn q8_dot4(a: u32, b: u32) -> u32 {
    var dot = 0u;
    for (var k = 0u; k < 4u; k++) {
        let shift = 24u - 8u * k;
        dot += u32(i32(a << shift) >> 24u) * u32(i32(b << shift) >> 24u);
    }
    return dot;
}

// A group's integer dot product is exact in any order; it runs a word (four
// values) at a time. n and gs are multiples of 4 (pxi::tensor's check).
fn qmatvec_row(out: u32, wm: u32, x: u32, n: u32, rows: u32, gs: u32, i: u32) {
    let groups = n / gs;
    let words = gs / 4u;
    let w_row = wm + i * (n / 4u);
    let w_scales = wm + rows * (n / 4u);
    let x_scales = x + n / 4u;
    var acc = 0u;
    for (var g = 0u; g < groups; g++) {
        var dot = 0u;
        for (var k = g * words; k < (g + 1u) * words; k++) {
            dot += q8_dot4(memory[x + k], memory[w_row + k]);
        }
        let scaled = f_mul(f_mul(f_from_int(dot), memory[w_scales + i * groups + g]), memory[x_scales + g]);
        acc = f_add(acc, scaled);
    }
    memory[out + i] = acc;
}

fn quantize_group(dst: u32, src: u32, n: u32, gs: u32, g: u32) {
    let start = src + g * gs;
    var wmax = 0u;
    for (var i = 0u; i < gs; i++) {
        let a = f_abs(memory[start + i]);
        if (f_lt(wmax, a)) {
            wmax = a;
        }
    }
    let scale = f_div(wmax, F_Q_MAX);
    memory[dst + n / 4u + g] = scale;
    for (var word = 0u; word < gs / 4u; word++) {
        var packed = 0u;
        for (var lane = 0u; lane < 4u; lane++) {
            packed |= quantize_one(memory[start + word * 4u + lane], scale) << (8u * lane);
        }
        memory[dst + g * gs / 4u + word] = packed;
    }
}

fn rope_pair(v: u32, hs: u32, pos: u32, i: u32) {
    let ratio = f_div(f_from_int(i % hs), f_from_int(hs));
    let freq = f_exp(f_mul(ratio, F_NEG_LN_10000));
    let sc = f_sin_cos(f_mul(f_from_int(pos), freq));
    let v0 = memory[v + i];
    let v1 = memory[v + i + 1u];
    memory[v + i] = f_sub(f_mul(v0, sc.y), f_mul(v1, sc.x));
    memory[v + i + 1u] = f_add(f_mul(v0, sc.x), f_mul(v1, sc.y));
}

fn elementwise(op: u32, dst: u32, x: u32, y: u32, i: u32) {
    let v = memory[x + i];
    var r: u32;
    switch op {
        case OP_VFADD: { r = f_add(v, memory[y + i]); }
        case OP_VFMUL: { r = f_mul(v, memory[y + i]); }
        case OP_VFMULS: { r = f_mul(v, y); }
        case OP_VFDIVS: { r = f_div(v, y); }
        default: { r = swiglu(v, memory[y + i]); }
    }
    memory[dst + i] = r;
}

// Lane 0's sequential sum of squares, then the parallel scaling.
fn rmsnorm(out: u32, x: u32, weight: u32, n: u32, lane: u32) {
    if (lane == 0u) {
        var ss = 0u;
        for (var j = 0u; j < n; j++) {
            ss = f_add(ss, f_mul(memory[x + j], memory[x + j]));
        }
        ss = f_add(f_div(ss, f_from_int(n)), F_RMS_EPS);
        wg_value = f_div(F_ONE, f_sqrt(ss));
    }
    let ss = workgroupUniformLoad(&wg_value);
    for (var j = lane; j < n; j += LANES) {
        memory[out + j] = f_mul(memory[weight + j], f_mul(ss, memory[x + j]));
    }
}

// The maximum is order-independent up to the sign of zero (which e^(x - max)
// ignores) and NaN (which makes every output NaN either way), so lanes may
// find it in parallel; the sum is lane 0's, in order.
fn softmax(x: u32, n: u32, lane: u32) {
    if (n == 0u) {
        return;
    }
    var m = memory[x + min(lane, n - 1u)];
    for (var i = lane; i < n; i += LANES) {
        if (f_lt(m, memory[x + i])) {
            m = memory[x + i];
        }
    }
    wg_keys[lane] = m;
    workgroupBarrier();
    if (lane == 0u) {
        var best = wg_keys[0];
        for (var l = 1u; l < LANES; l++) {
            if (f_lt(best, wg_keys[l])) {
                best = wg_keys[l];
            }
        }
        wg_value = best;
    }
    let max_value = workgroupUniformLoad(&wg_value);
    for (var i = lane; i < n; i += LANES) {
        memory[x + i] = f_exp(f_sub(memory[x + i], max_value));
    }
    storageBarrier();
    workgroupBarrier();
    if (lane == 0u) {
        var sum = 0u;
        for (var i = 0u; i < n; i++) {
            sum = f_add(sum, memory[x + i]);
        }
        wg_value = sum;
    }
    let sum = workgroupUniformLoad(&wg_value);
    for (var i = lane; i < n; i += LANES) {
        memory[x + i] = f_div(memory[x + i], sum);
    }
}

// Head `h` of `attn` (pxi::tensor::Attn::run): scores one lane per position,
// the workgroup's softmax, then the weighted values one lane per element.
fn attn_head(desc: array<u32, 11>, dbase: u32, h: u32, lane: u32) {
    let hs = desc[6];
    let stride = desc[8];
    let rows = desc[9];
    let off = h / desc[7] * hs;
    let q = dbase + desc[1] + h * hs;
    let kc = dbase + desc[2] + off;
    let vc = dbase + desc[3] + off;
    let att = dbase + desc[4] + h * desc[10];
    let out = dbase + desc[0] + h * hs;
    let scale = f_sqrt(f_from_int(hs));
    for (var t = lane; t < rows; t += LANES) {
        var score = 0u;
        for (var i = 0u; i < hs; i++) {
            score = f_add(score, f_mul(memory[q + i], memory[kc + t * stride + i]));
        }
        memory[att + t] = f_div(score, scale);
    }
    storageBarrier();
    workgroupBarrier();
    softmax(att, rows, lane);
    storageBarrier();
    workgroupBarrier();
    for (var i = lane; i < hs; i += LANES) {
        var acc = 0u;
        for (var t = 0u; t < rows; t++) {
            acc = f_add(acc, f_mul(memory[att + t], memory[vc + t * stride + i]));
        }
        memory[out + i] = acc;
    }
}

fn argmax(x: u32, n: u32) -> u32 {
    if (n == 0u) {
        return 0xffffffffu;
    }
    var best = 0u;
    var value = memory[x];
    for (var i = 1u; i < n; i++) {
        if (f_lt(value, memory[x + i])) {
            best = i;
            value = memory[x + i];
        }
    }
    return best;
}

fn sample(x: u32, n: u32, coin: u32) -> u32 {
    var cdf = 0u;
    for (var i = 0u; i < n; i++) {
        cdf = f_add(cdf, memory[x + i]);
        if (f_lt(coin, cdf)) {
            return i;
        }
    }
    return n - 1u;
}

@compute @workgroup_size(64)
fn run_tensor(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let q = wid.y * Q_ENTRY_WORDS;
    let entry = load_entry(wid.y, lane);
    let op = entry[0] & 0xffu;
    // The operand words w[0..6] of pxi::tensor::operands.
    let w0 = entry[1];
    let w1 = entry[2];
    let w2 = entry[3];
    let w3 = entry[4];
    let w4 = entry[5];
    let w5 = entry[6];
    let row = wid.x * TENSOR_ROWS + lane;
    let start = wid.x * TENSOR_CHUNK;
    switch op {
        case OP_MATVEC: {
            if (row < w4) { matvec_row(w0, w1, w2, w3, w5, row); }
        }
        case OP_MATVECT: {
            if (row < w3) { matvect_column(w0, w1, w2, w4, w5, row); }
        }
        case OP_QMATVEC: {
            if (row < w4) { qmatvec_row(w0, w1, w2, w3, w4, w5, row); }
        }
        case OP_QUANT: {
            if (row < w2 / w3) { quantize_group(w0, w1, w2, w3, row); }
        }
        case OP_DEQUANT: {
            let end = min(w3, start + TENSOR_CHUNK);
            for (var i = start + lane; i < end; i += LANES) {
                memory[w0 + i] = f_mul(f_from_int(q8(w1, i)), memory[w2 + i / w4]);
            }
        }
        case OP_RMSNORM: {
            if (wid.x == 0u && w3 != 0u) { rmsnorm(w0, w1, w2, w3, lane); }
        }
        case OP_SOFTMAX: {
            if (wid.x == 0u) { softmax(w0, w1, lane); }
        }
        case OP_ROPE: {
            let end = min(w1 / 2u, start + TENSOR_CHUNK);
            for (var p = start + lane; p < end; p += LANES) {
                rope_pair(w0, w2, w3, 2u * p);
            }
        }
        case OP_ARGMAX, OP_SAMPLE: {
            if (wid.x == 0u && lane == 0u) {
                var r: u32;
                if (op == OP_ARGMAX) {
                    r = argmax(w1, w2);
                } else {
                    r = sample(w1, w2, w3);
                }
                atomicStore(&queue[q + 7u], r);
            }
        }
        case OP_ATTN: {
            if (lane == 0u) {
                for (var k = 0u; k < 11u; k++) {
                    wg_desc[k] = memory[w0 + k];
                }
            }
            let desc = workgroupUniformLoad(&wg_desc);
            if (wid.x < desc[5]) {
                attn_head(desc, w1, wid.x, lane);
            }
        }
        case OP_SWIGLU, OP_VFADD, OP_VFMUL, OP_VFMULS, OP_VFDIVS: {
            let end = min(w3, start + TENSOR_CHUNK);
            for (var i = start + lane; i < end; i += LANES) {
                elementwise(op, w0, w1, w2, i);
            }
        }
        default: {}
    }
}
