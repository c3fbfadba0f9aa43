// f32 arithmetic of the float and tensor instructions, bit for bit as
// pxi/src/float.rs defines it (read that file for the rules; the functions
// here follow it line for line). Values travel as u32 bits; only add,
// subtract and multiply use the hardware, always between f_canon calls, so a
// driver can neither flush a subnormal differently nor fuse a multiply into
// an add. Constants come from generated.wgsl.

const F_SIGN: u32 = 0x80000000u;
const F_EXPB: u32 = 0x7f800000u;
const F_MANT: u32 = 0x007fffffu;
const F_IMPLICIT: u32 = 0x00800000u;

fn f_is_nan(b: u32) -> bool {
    return (b & ~F_SIGN) > F_EXPB;
}

fn f_canon(b: u32) -> u32 {
    if ((b & F_EXPB) == 0u) {
        return b & F_SIGN;
    }
    if (f_is_nan(b)) {
        return F_NAN;
    }
    return b;
}

// The hardware ops see operands with subnormals flushed; a NaN operand gives
// a NaN result on IEEE hardware, which f_canon then makes canonical, so the
// result is pxi::float's without a NaN test per operation.
fn f_flush(b: u32) -> u32 {
    return select(b, b & F_SIGN, (b & F_EXPB) == 0u);
}

fn f_add(x: u32, y: u32) -> u32 {
    return f_canon(bitcast<u32>(bitcast<f32>(f_flush(x)) + bitcast<f32>(f_flush(y))));
}

fn f_sub(x: u32, y: u32) -> u32 {
    return f_canon(bitcast<u32>(bitcast<f32>(f_flush(x)) - bitcast<f32>(f_flush(y))));
}

fn f_mul(x: u32, y: u32) -> u32 {
    return f_canon(bitcast<u32>(bitcast<f32>(f_flush(x)) * bitcast<f32>(f_flush(y))));
}

fn f_neg(x: u32) -> u32 {
    let c = f_canon(x);
    if (f_is_nan(c)) {
        return F_NAN;
    }
    return c ^ F_SIGN;
}

fn f_abs(x: u32) -> u32 {
    return f_canon(x) & ~F_SIGN;
}

fn f_round_pack(sign: u32, exp: i32, q: u32, sticky: bool) -> u32 {
    var m = q >> 1u;
    var e = exp;
    if ((q & 1u) != 0u && (sticky || (m & 1u) != 0u)) {
        m += 1u;
    }
    if (m == (1u << 24u)) {
        m >>= 1u;
        e += 1;
    }
    if (e >= 255) {
        return sign | F_EXPB;
    }
    if (e <= 0) {
        return sign;
    }
    return sign | (u32(e) << 23u) | (m & F_MANT);
}

fn f_div(x0: u32, y0: u32) -> u32 {
    let x = f_canon(x0);
    let y = f_canon(y0);
    let sign = (x ^ y) & F_SIGN;
    let ax = x & ~F_SIGN;
    let ay = y & ~F_SIGN;
    if (f_is_nan(x) || f_is_nan(y) || (ax == F_EXPB && ay == F_EXPB) || (ax == 0u && ay == 0u)) {
        return F_NAN;
    }
    if (ax == F_EXPB || ay == 0u) {
        return sign | F_EXPB;
    }
    if (ay == F_EXPB || ax == 0u) {
        return sign;
    }
    var mx = (ax & F_MANT) | F_IMPLICIT;
    let my = (ay & F_MANT) | F_IMPLICIT;
    var e = i32(ax >> 23u) - i32(ay >> 23u) + 127;
    if (mx < my) {
        mx <<= 1u;
        e -= 1;
    }
    var q = 0u;
    var r = mx;
    for (var i = 0u; i < 25u; i++) {
        q <<= 1u;
        if (r >= my) {
            r -= my;
            q |= 1u;
        }
        r <<= 1u;
    }
    return f_round_pack(sign, e, q, r != 0u);
}

fn f_sqrt(x0: u32) -> u32 {
    let x = f_canon(x0);
    if (f_is_nan(x) || ((x & F_SIGN) != 0u && x != F_SIGN)) {
        return F_NAN;
    }
    if ((x & ~F_SIGN) == 0u || x == F_EXPB) {
        return x;
    }
    var m = (x & F_MANT) | F_IMPLICIT;
    var e = i32(x >> 23u) - 127;
    if ((e & 1) != 0) {
        m <<= 1u;
        e -= 1;
    }
    var q = 0u;
    var r = 0u;
    for (var i = 0; i < 25; i++) {
        let shift = 23 - 2 * i;
        var digit = 0u;
        if (shift >= 0) {
            digit = (m >> u32(shift)) & 3u;
        } else if (shift == -1) {
            digit = (m << 1u) & 3u;
        }
        r = (r << 2u) | digit;
        let t = (q << 2u) | 1u;
        if (r >= t) {
            r -= t;
            q = (q << 1u) | 1u;
        } else {
            q <<= 1u;
        }
    }
    return f_round_pack(0u, e / 2 + 127, q, r != 0u);
}

fn f_from_int(v: u32) -> u32 {
    if (v == 0u) {
        return 0u;
    }
    let sign = v & F_SIGN;
    var magnitude = v;
    if (sign != 0u) {
        magnitude = 0u - v;
    }
    let lz = f_clz(magnitude);
    let n = magnitude << lz;
    return f_round_pack(sign, i32(31u - lz) + 127, n >> 7u, (n & 0x7fu) != 0u);
}

// pxi::float::float_to_int: truncate, or with `round` round halves away from zero.
fn f_float_to_int(x0: u32, round: bool) -> u32 {
    let x = f_canon(x0);
    let e = i32((x >> 23u) & 0xffu) - 127;
    if (f_is_nan(x) || e < select(0, -1, round)) {
        return 0u;
    }
    let negative = (x & F_SIGN) != 0u;
    if (e >= 31) {
        return select(0x7fffffffu, 0x80000000u, negative);
    }
    let m = (x & F_MANT) | F_IMPLICIT;
    var magnitude: u32;
    if (e >= 23) {
        magnitude = m << u32(e - 23);
    } else {
        let half = select(0u, 1u << u32(22 - e), round);
        magnitude = (m + half) >> u32(23 - e);
    }
    return select(magnitude, 0u - magnitude, negative);
}

fn f_to_int(x: u32) -> u32 { return f_float_to_int(x, false); }
fn f_round_int(x: u32) -> u32 { return f_float_to_int(x, true); }

fn f_key(b: u32) -> u32 {
    return select(b | F_SIGN, ~b, (b & F_SIGN) != 0u);
}

fn f_lt(x0: u32, y0: u32) -> bool {
    let x = f_canon(x0);
    let y = f_canon(y0);
    return !f_is_nan(x) && !f_is_nan(y) && ((x | y) & ~F_SIGN) != 0u && f_key(x) < f_key(y);
}

fn f_compare(x0: u32, y0: u32) -> u32 {
    let x = f_canon(x0);
    let y = f_canon(y0);
    if (f_is_nan(x) || f_is_nan(y)) {
        return FLAG_LTU;
    }
    if (x == y || ((x | y) & ~F_SIGN) == 0u) {
        return FLAG_Z;
    }
    return select(0u, FLAG_LT, f_key(x) < f_key(y));
}

fn f_min(x0: u32, y0: u32) -> u32 {
    let x = f_canon(x0);
    let y = f_canon(y0);
    if (f_is_nan(x) || f_is_nan(y)) {
        return F_NAN;
    }
    return select(y, x, f_key(x) <= f_key(y));
}

fn f_max(x0: u32, y0: u32) -> u32 {
    let x = f_canon(x0);
    let y = f_canon(y0);
    if (f_is_nan(x) || f_is_nan(y)) {
        return F_NAN;
    }
    return select(y, x, f_key(x) >= f_key(y));
}

fn f_pow2(j: i32) -> u32 {
    return u32(j + 127) << 23u;
}

fn f_exp(x0: u32) -> u32 {
    let x = f_canon(x0);
    if (f_is_nan(x)) {
        return F_NAN;
    }
    if ((x & F_SIGN) == 0u && x > F_EXP_MAX) {
        return F_EXPB;
    }
    if ((x & F_SIGN) != 0u && x > F_EXP_MIN) {
        return 0u;
    }
    let ki = f_round_int(f_mul(x, F_LOG2E));
    let k = i32(ki);
    let kf = f_from_int(ki);
    let r = f_sub(f_sub(x, f_mul(kf, F_LN2_HI)), f_mul(kf, F_LN2_LO));
    var p = F_EXP_POLY[0];
    for (var i = 1u; i < 6u; i++) {
        p = f_add(f_mul(p, r), F_EXP_POLY[i]);
    }
    p = f_add(f_mul(p, r), F_ONE);
    p = f_add(f_mul(p, r), F_ONE);
    let k1 = k >> 1u;
    return f_mul(f_mul(p, f_pow2(k1)), f_pow2(k - k1));
}

// (sin x, cos x) as pxi::float::sin_cos.
fn f_sin_cos(x0: u32) -> vec2<u32> {
    let x = f_canon(x0);
    if (f_is_nan(x) || (x & ~F_SIGN) == F_EXPB) {
        return vec2<u32>(F_NAN, F_NAN);
    }
    let ki = f_round_int(f_mul(x, F_TWO_OVER_PI));
    let kf = f_from_int(ki);
    let r = f_sub(f_sub(f_sub(x, f_mul(kf, F_PIO2_1)), f_mul(kf, F_PIO2_2)), f_mul(kf, F_PIO2_3));
    let z = f_mul(r, r);
    var s = F_SIN_POLY[0];
    for (var i = 1u; i < 4u; i++) {
        s = f_add(f_mul(s, z), F_SIN_POLY[i]);
    }
    s = f_add(r, f_mul(f_mul(r, z), s));
    var c = F_COS_POLY[0];
    for (var i = 1u; i < 5u; i++) {
        c = f_add(f_mul(c, z), F_COS_POLY[i]);
    }
    c = f_add(f_mul(c, z), F_ONE);
    switch ki & 3u {
        case 0u: { return vec2<u32>(s, c); }
        case 1u: { return vec2<u32>(c, f_neg(s)); }
        case 2u: { return vec2<u32>(f_neg(s), f_neg(c)); }
        default: { return vec2<u32>(f_neg(c), s); }
    }
}

// A scalar float instruction (pxi::tensor::scalar).
fn f_scalar(op: u32, x: u32, y: u32) -> u32 {
    switch op {
        case OP_FADD: { return f_add(x, y); }
        case OP_FSUB: { return f_sub(x, y); }
        case OP_FMUL: { return f_mul(x, y); }
        case OP_FDIV: { return f_div(x, y); }
        case OP_FMIN: { return f_min(x, y); }
        case OP_FMAX: { return f_max(x, y); }
        case OP_FNEG: { return f_neg(x); }
        case OP_FABS: { return f_abs(x); }
        case OP_FSQRT: { return f_sqrt(x); }
        case OP_FEXP: { return f_exp(x); }
        case OP_FSIN: { return f_sin_cos(x).x; }
        case OP_FCOS: { return f_sin_cos(x).y; }
        case OP_FCMP: { return f_compare(x, y); }
        case OP_ITOF: { return f_from_int(x); }
        case OP_FTOI: { return f_to_int(x); }
        case OP_FROUND: { return f_round_int(x); }
        default: { return F_NAN; }
    }
}

// Leading zero bits of v (32 for 0), from shifts and compares only: the
// metal path's TGSI has no count-leading-zeros the host parser accepts.
fn f_clz(v: u32) -> u32 {
    if (v == 0u) {
        return 32u;
    }
    var x = v;
    var n = 0u;
    if (x <= 0x0000ffffu) { n += 16u; x = x << 16u; }
    if (x <= 0x00ffffffu) { n += 8u; x = x << 8u; }
    if (x <= 0x0fffffffu) { n += 4u; x = x << 4u; }
    if (x <= 0x3fffffffu) { n += 2u; x = x << 2u; }
    if (x <= 0x7fffffffu) { n += 1u; }
    return n;
}
