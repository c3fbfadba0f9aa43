// Interpreter side of the tensor instructions: check a tensor instruction
// exactly as pxi::tensor::check does (same order, same trap words, addresses
// relative to the data window) and queue it for tensor.wgsl with its
// addresses made physical. Part of the interpreter module (uses its `regs`,
// `trap`, `in_window`, `dbase`, `dlen`, `queue` and `dispatch`).

// Rows per workgroup of the row-parallel ops; elements per workgroup of the element-wise ones.
const TENSOR_ROWS: u32 = 64u;
const TENSOR_CHUNK: u32 = 4096u;

fn t_shape(ok: bool) -> bool {
    if (!ok) {
        trap(TRAP_TENSORSHAPE, 0u);
    }
    return ok;
}

// `count` blocks of `per` words from `start` (no overflow for any count).
fn t_blocks(start: u32, count: u32, per: u32) -> bool {
    if (count == 0u || per == 0u) {
        return in_window(start, 0u);
    }
    if (start > dlen || (dlen - start) / per < count) {
        trap(TRAP_MEMORYOUTOFBOUNDS, start);
        return false;
    }
    return true;
}

// A strided matrix: rows of n words, stride apart (pxi::tensor::span).
fn t_matrix(start: u32, rows: u32, n: u32, stride: u32) -> bool {
    if (rows == 0u || n == 0u) {
        return in_window(start, 0u);
    }
    if (!in_window(start, n)) {
        return false;
    }
    let room = dlen - start - n;
    if (stride != 0u && (rows - 1u) > room / stride) {
        trap(TRAP_MEMORYOUTOFBOUNDS, start);
        return false;
    }
    return true;
}

fn t_span(rows: u32, n: u32, stride: u32) -> u32 {
    if (rows == 0u || n == 0u) {
        return 0u;
    }
    return (rows - 1u) * stride + n;
}

// Both ranges lie in memory already, so these sums cannot wrap.
fn t_apart(dst: u32, dlen: u32, src: u32, slen: u32) -> bool {
    if (dlen != 0u && slen != 0u && dst < src + slen && src < dst + dlen) {
        trap(TRAP_VECTOROVERLAP, dst);
        return false;
    }
    return true;
}

fn t_same_or_apart(dst: u32, src: u32, len: u32) -> bool {
    return dst == src || t_apart(dst, len, src, len);
}

fn t_q8_shape(n: u32, gs: u32) -> bool {
    return gs != 0u && gs % 4u == 0u && n % gs == 0u;
}

// The `attn` descriptor of the instruction being checked (pxi::tensor::Attn).
var<private> attn_desc: array<u32, 11>;

fn t_attn_check(at: u32) -> bool {
    if (!in_window(at, ATTN_WORDS)) {
        return false;
    }
    for (var k = 0u; k < ATTN_WORDS; k++) {
        attn_desc[k] = atomicLoad(&memory[dbase + at + k]);
    }
    let d = attn_desc;
    let heads = d[5];
    let hs = d[6];
    let kv_mul = d[7];
    let rows = d[9];
    if (!t_shape(kv_mul != 0u && rows <= ATTN_MAX_ROWS && hs <= ATTN_MAX_HEAD
        && heads <= ATTN_MAX_ROWS && (heads < 2u || d[10] >= rows))) {
        return false;
    }
    var kv_width = 0u;
    if (heads != 0u) {
        kv_width = (heads - 1u) / kv_mul * hs + hs;
    }
    let width = heads * hs;
    if (!(in_window(d[0], width) && in_window(d[1], width) && t_matrix(d[2], rows, kv_width, d[8])
        && t_matrix(d[3], rows, kv_width, d[8]) && t_matrix(d[4], heads, rows, d[10]))) {
        return false;
    }
    let cache = t_span(rows, kv_width, d[8]);
    let scores = t_span(heads, rows, d[10]);
    return t_apart(d[0], width, d[1], width) && t_apart(d[0], width, d[2], cache)
        && t_apart(d[0], width, d[3], cache) && t_apart(d[0], width, d[4], scores)
        && t_apart(d[0], width, at, ATTN_WORDS)
        && t_apart(d[4], scores, d[1], width) && t_apart(d[4], scores, d[2], cache)
        && t_apart(d[4], scores, d[3], cache) && t_apart(d[4], scores, at, ATTN_WORDS);
}

fn t_check(op: u32, w: array<u32, 6>) -> bool {
    switch op {
        case OP_ATTN: {
            return t_attn_check(w[0]);
        }
        case OP_MATVEC, OP_MATVECT: {
            let rows = w[4];
            var out_len = rows;
            var x_len = w[3];
            if (op == OP_MATVECT) {
                out_len = w[3];
                x_len = rows;
            }
            return t_shape(x_len <= MAX_REDUCE) && in_window(w[0], out_len)
                && t_matrix(w[1], rows, w[3], w[5]) && in_window(w[2], x_len)
                && t_apart(w[0], out_len, w[1], t_span(rows, w[3], w[5]))
                && t_apart(w[0], out_len, w[2], x_len);
        }
        case OP_QMATVEC: {
            let n = w[3];
            let rows = w[4];
            let gs = w[5];
            if (!t_shape(n <= MAX_REDUCE && t_q8_shape(n, gs))) { return false; }
            let per_row = n / 4u + n / gs;
            return in_window(w[0], rows) && t_blocks(w[1], rows, per_row) && in_window(w[2], per_row)
                && t_apart(w[0], rows, w[1], rows * per_row) && t_apart(w[0], rows, w[2], per_row);
        }
        case OP_QUANT: {
            let n = w[2];
            if (!t_shape(t_q8_shape(n, w[3]))) { return false; }
            let dst_len = n / 4u + n / w[3];
            return in_window(w[0], dst_len) && in_window(w[1], n) && t_apart(w[0], dst_len, w[1], n);
        }
        case OP_DEQUANT: {
            let n = w[3];
            if (!t_shape(t_q8_shape(n, w[4]))) { return false; }
            let s_len = n / w[4];
            return in_window(w[0], n) && in_window(w[1], n / 4u) && in_window(w[2], s_len)
                && t_apart(w[0], n, w[1], n / 4u) && t_apart(w[0], n, w[2], s_len);
        }
        case OP_RMSNORM: {
            let n = w[3];
            return t_shape(n <= MAX_REDUCE) && in_window(w[0], n) && in_window(w[1], n)
                && in_window(w[2], n) && t_same_or_apart(w[0], w[1], n) && t_same_or_apart(w[0], w[2], n);
        }
        case OP_SOFTMAX: {
            return t_shape(w[1] <= MAX_REDUCE) && in_window(w[0], w[1]);
        }
        case OP_ROPE: {
            return t_shape(w[1] % 2u == 0u && w[2] != 0u && w[2] % 2u == 0u) && in_window(w[0], w[1]);
        }
        case OP_ARGMAX, OP_SAMPLE: {
            return t_shape(w[2] <= MAX_REDUCE) && in_window(w[1], w[2]);
        }
        default: {
            // Element-wise: dst, x, y (or a scalar), n.
            let n = w[3];
            if (!(in_window(w[0], n) && in_window(w[1], n) && t_same_or_apart(w[0], w[1], n))) {
                return false;
            }
            if (op == OP_VFADD || op == OP_VFMUL || op == OP_SWIGLU) {
                return in_window(w[2], n) && t_same_or_apart(w[0], w[2], n);
            }
            return true;
        }
    }
}

fn t_div_ceil(n: u32, d: u32) -> u32 {
    return n / d + select(0u, 1u, n % d != 0u);
}

// Workgroups a checked tensor instruction needs (see tensor.wgsl).
fn t_chunks(op: u32, w: array<u32, 6>) -> u32 {
    switch op {
        case OP_MATVEC, OP_QMATVEC: { return t_div_ceil(w[4], TENSOR_ROWS); }
        case OP_MATVECT: { return t_div_ceil(w[3], TENSOR_ROWS); }
        case OP_QUANT: { return t_div_ceil(w[2] / w[3], TENSOR_ROWS); }
        case OP_RMSNORM, OP_SOFTMAX, OP_ARGMAX, OP_SAMPLE: { return 1u; }
        case OP_ATTN: { return attn_desc[5]; }
        case OP_ROPE: { return t_div_ceil(w[1] / 2u, TENSOR_CHUNK); }
        default: { return t_div_ceil(w[3], TENSOR_CHUNK); }
    }
}

// Which operand words are data addresses (bit i = w[i]).
fn t_addresses(op: u32) -> u32 {
    switch op {
        case OP_QUANT, OP_VFMULS, OP_VFDIVS: { return 3u; }
        case OP_SOFTMAX, OP_ROPE, OP_ATTN: { return 1u; }
        case OP_ARGMAX, OP_SAMPLE: { return 2u; }
        default: { return 7u; }
    }
}

fn is_tensor(op: u32) -> bool {
    return op >= OP_MATVEC && op <= OP_ATTN;
}

// Check a tensor instruction and queue it; false when it trapped.
fn queue_tensor(hart: u32, op: u32, a: u32, b: u32, c: u32, word: u32) -> bool {
    let d = word & 15u;
    var w = array<u32, 6>(regs[a & 15u], regs[b & 15u], regs[c & 15u], regs[d],
        regs[(d + 1u) & 15u], regs[(d + 2u) & 15u]);
    if (!t_check(op, w)) {
        return false;
    }
    // The entry comes from the queue shared with vector instructions, the
    // workgroups from the tensor pass's own dispatch (a pass that runs for
    // nothing costs about as much as half a vadd of 4M words on llvmpipe).
    let e = atomicAdd(&dispatch[1], 1u);
    atomicMax(&dispatch[3], max(1u, t_chunks(op, w)));
    atomicMax(&dispatch[4], e + 1u);
    let q = e * Q_ENTRY_WORDS;
    atomicStore(&queue[q + 0u], hart);
    atomicStore(&queue[q + 1u], op | (a << 8u));
    if (op == OP_ATTN) {
        // The descriptor's addresses are window-relative: the pass adds dbase.
        w[1] = dbase;
    }
    let addresses = t_addresses(op);
    for (var i = 0u; i < 6u; i++) {
        atomicStore(&queue[q + 2u + i], w[i] + select(0u, dbase, (addresses & (1u << i)) != 0u));
    }
    return true;
}

// Empty both passes' dispatches for the next round (resolve).
fn clear_dispatch() {
    for (var k = 0u; k < 6u; k += 3u) {
        atomicStore(&dispatch[k], 0u);
        atomicStore(&dispatch[k + 1u], 0u);
    }
}
