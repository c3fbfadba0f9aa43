//! f32 arithmetic of the float and tensor instructions, defined bit for bit.
//!
//! Every executor must produce the same bits, so nothing here depends on the
//! platform: add, subtract and multiply are IEEE-754 binary32 with
//! round-to-nearest-even (correctly rounded on every CPU and, per WGSL, every
//! GPU), wrapped in [`canon`]; division, square root, int↔float conversion,
//! min/max and comparisons are integer algorithms; exp, sin and cos are fixed
//! sequences of those operations. `shaders/src/float.wgsl` implements the same
//! functions line for line and its constants are generated from [`CONSTANTS`].
//!
//! **Canonical values.** GPUs may flush subnormals, may fuse a multiply into a
//! following add, and may treat NaN and infinity loosely. So every operand is
//! first made canonical (a subnormal becomes a zero of the same sign, any NaN
//! becomes [`NAN`]) and so is every result; executors never let a product feed
//! an add without passing through [`canon`] (an integer operation, which no
//! compiler fuses across). A result that is subnormal *after* IEEE rounding
//! becomes a signed zero. (One corner is left to the hardware: a result just
//! below 2^-126 that IEEE rounds *up* to 2^-126 may be flushed by an executor
//! that flushes before rounding. No instruction relies on it.)

use crate::state::{FLAG_LT, FLAG_LTU, FLAG_Z};

/// The one NaN every instruction produces.
pub const NAN: u32 = 0x7FC0_0000;
/// 1.0
pub const ONE: u32 = 0x3F80_0000;
/// 0.5
pub const HALF: u32 = 0x3F00_0000;
const SIGN: u32 = 0x8000_0000;
const EXP: u32 = 0x7F80_0000;
const MANT: u32 = 0x007F_FFFF;
const IMPLICIT: u32 = 0x0080_0000;

/// log2(e)
pub const LOG2E: u32 = 0x3FB8_AA3B;
/// ln 2, high part (8 significant bits: k · LN2_HI is exact for |k| ≤ 2^15).
pub const LN2_HI: u32 = 0x3F31_7200;
/// ln 2 − LN2_HI.
pub const LN2_LO: u32 = 0x35BF_BE8E;
/// exp(x) is +∞ above this (88.72283).
pub const EXP_MAX: u32 = 0x42B1_7217;
/// exp(x) is 0 below this (−87.5; the result would be subnormal).
pub const EXP_MIN: u32 = 0xC2AF_0000;
/// 2/π
pub const TWO_OVER_PI: u32 = 0x3F22_F983;
/// π/2 in three parts: PIO2_1 (8 bits) + PIO2_2 (12 bits) + PIO2_3.
pub const PIO2_1: u32 = 0x3FC9_0000;
/// Second part of π/2.
pub const PIO2_2: u32 = 0x39FD_A000;
/// Third part of π/2.
pub const PIO2_3: u32 = 0x33A2_2169;
/// −ln 10000, the RoPE base.
pub const NEG_LN_10000: u32 = 0xC113_5D8E;
/// 1e-5, the RMS norm epsilon of llama2.c.
pub const RMS_EPS: u32 = 0x3727_C5AC;
/// 127.0, the Q8_0 range.
pub const Q_MAX: u32 = 0x42FE_0000;
/// Taylor coefficients of e^r, 1/7! first (Horner order), down to 1/2!.
pub const EXP_POLY: [u32; 6] = [
    0x3950_0D01,
    0x3AB6_0B61,
    0x3C08_8889,
    0x3D2A_AAAB,
    0x3E2A_AAAB,
    0x3F00_0000,
];
/// sin r = r + r·z·(S1 + z(S2 + z(S3 + z·S4))), z = r²: S4 first.
pub const SIN_POLY: [u32; 4] = [0x3638_EF1D, 0xB950_0D01, 0x3C08_8889, 0xBE2A_AAAB];
/// cos r = 1 + z(C1 + z(C2 + z(C3 + z(C4 + z·C5)))): C5 first.
pub const COS_POLY: [u32; 5] = [
    0xB493_F27E,
    0x37D0_0D01,
    0xBAB6_0B61,
    0x3D2A_AAAB,
    0xBF00_0000,
];

/// Every named constant, for the generated WGSL.
pub const CONSTANTS: &[(&str, u32)] = &[
    ("F_NAN", NAN),
    ("F_ONE", ONE),
    ("F_HALF", HALF),
    ("F_LOG2E", LOG2E),
    ("F_LN2_HI", LN2_HI),
    ("F_LN2_LO", LN2_LO),
    ("F_EXP_MAX", EXP_MAX),
    ("F_EXP_MIN", EXP_MIN),
    ("F_TWO_OVER_PI", TWO_OVER_PI),
    ("F_PIO2_1", PIO2_1),
    ("F_PIO2_2", PIO2_2),
    ("F_PIO2_3", PIO2_3),
    ("F_NEG_LN_10000", NEG_LN_10000),
    ("F_RMS_EPS", RMS_EPS),
    ("F_Q_MAX", Q_MAX),
];

/// Whether `b` is a NaN.
pub const fn is_nan(b: u32) -> bool {
    b & !SIGN > EXP
}

/// The canonical form of `b`: subnormals become signed zeros, NaNs [`NAN`].
pub const fn canon(b: u32) -> u32 {
    if b & EXP == 0 {
        b & SIGN
    } else if is_nan(b) {
        NAN
    } else {
        b
    }
}

fn f(b: u32) -> f32 {
    f32::from_bits(canon(b))
}

/// x + y.
pub fn add(x: u32, y: u32) -> u32 {
    canon((f(x) + f(y)).to_bits())
}

/// x − y.
pub fn sub(x: u32, y: u32) -> u32 {
    canon((f(x) - f(y)).to_bits())
}

/// x × y.
pub fn mul(x: u32, y: u32) -> u32 {
    canon((f(x) * f(y)).to_bits())
}

/// −x (NaN stays [`NAN`]).
pub const fn neg(x: u32) -> u32 {
    let c = canon(x);
    if is_nan(c) { NAN } else { c ^ SIGN }
}

/// |x|.
pub const fn abs(x: u32) -> u32 {
    canon(x) & !SIGN
}

/// Round a 25-bit significand (24 bits + guard) with a sticky bit to nearest
/// even, then pack; exponents past the range give ±∞, below it ±0.
const fn round_pack(sign: u32, exp: i32, q: u32, sticky: bool) -> u32 {
    let mut m = q >> 1;
    let mut e = exp;
    if q & 1 != 0 && (sticky || m & 1 != 0) {
        m += 1;
    }
    if m == 1 << 24 {
        m >>= 1;
        e += 1;
    }
    if e >= 255 {
        sign | EXP
    } else if e <= 0 {
        sign
    } else {
        sign | (e as u32) << 23 | (m & MANT)
    }
}

/// x ÷ y, correctly rounded (restoring division of the significands).
pub const fn div(x: u32, y: u32) -> u32 {
    let (x, y) = (canon(x), canon(y));
    let sign = (x ^ y) & SIGN;
    let (ax, ay) = (x & !SIGN, y & !SIGN);
    if is_nan(x) || is_nan(y) || (ax == EXP && ay == EXP) || (ax == 0 && ay == 0) {
        return NAN;
    }
    if ax == EXP || ay == 0 {
        return sign | EXP;
    }
    if ay == EXP || ax == 0 {
        return sign;
    }
    let mut mx = (ax & MANT) | IMPLICIT;
    let my = (ay & MANT) | IMPLICIT;
    let mut e = (ax >> 23) as i32 - (ay >> 23) as i32 + 127;
    if mx < my {
        mx <<= 1;
        e -= 1;
    }
    let (mut q, mut r) = (0u32, mx);
    let mut i = 0;
    while i < 25 {
        q <<= 1;
        if r >= my {
            r -= my;
            q |= 1;
        }
        r <<= 1;
        i += 1;
    }
    round_pack(sign, e, q, r != 0)
}

/// √x, correctly rounded (digit-by-digit integer square root).
pub const fn sqrt(x: u32) -> u32 {
    let x = canon(x);
    if is_nan(x) || (x & SIGN != 0 && x != SIGN) {
        return NAN;
    }
    if x & !SIGN == 0 || x == EXP {
        return x;
    }
    let mut m = (x & MANT) | IMPLICIT;
    let mut e = (x >> 23) as i32 - 127;
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // The root of m · 2^25 (in [2^48, 2^50)) has 25 bits: 24 + guard.
    let (mut q, mut r) = (0u32, 0u32);
    let mut i = 0;
    while i < 25 {
        let shift = 23 - 2 * i;
        let digit = if shift >= 0 {
            (m >> shift) & 3
        } else if shift == -1 {
            (m << 1) & 3
        } else {
            0
        };
        r = (r << 2) | digit;
        let t = (q << 2) | 1;
        if r >= t {
            r -= t;
            q = (q << 1) | 1;
        } else {
            q <<= 1;
        }
        i += 1;
    }
    round_pack(0, e / 2 + 127, q, r != 0)
}

/// The i32 `v` as the nearest f32 (ties to even).
pub const fn from_int(v: u32) -> u32 {
    if v == 0 {
        return 0;
    }
    let sign = v & SIGN;
    let magnitude = if sign != 0 { v.wrapping_neg() } else { v };
    let lz = magnitude.leading_zeros();
    let n = magnitude << lz;
    round_pack(sign, (31 - lz) as i32 + 127, n >> 7, n & 0x7F != 0)
}

/// x truncated toward zero to an i32, saturating; NaN gives 0.
pub const fn to_int(x: u32) -> u32 {
    float_to_int(x, false)
}

/// x rounded to the nearest i32, halves away from zero (C's `round`), saturating; NaN gives 0.
pub const fn round_int(x: u32) -> u32 {
    float_to_int(x, true)
}

/// [`to_int`] or, with `round`, [`round_int`]: shift the significand to the
/// binary point (after adding half a unit of the last kept bit when rounding).
const fn float_to_int(x: u32, round: bool) -> u32 {
    let x = canon(x);
    let e = ((x >> 23) & 0xFF) as i32 - 127;
    let lowest = if round { -1 } else { 0 };
    if is_nan(x) || e < lowest {
        return 0;
    }
    let negative = x & SIGN != 0;
    if e >= 31 {
        return if negative {
            i32::MIN as u32
        } else {
            i32::MAX as u32
        };
    }
    let m = (x & MANT) | IMPLICIT;
    let magnitude = if e >= 23 {
        m << (e - 23)
    } else {
        let half = if round { 1 << (22 - e) } else { 0 };
        (m + half) >> (23 - e)
    };
    if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

/// A key whose unsigned order is the float order (−0 below +0) of non-NaN values.
const fn key(b: u32) -> u32 {
    if b & SIGN != 0 { !b } else { b | SIGN }
}

/// x < y (false when either is NaN; −0 = +0).
pub const fn lt(x: u32, y: u32) -> bool {
    let (x, y) = (canon(x), canon(y));
    !is_nan(x) && !is_nan(y) && (x | y) & !SIGN != 0 && key(x) < key(y)
}

/// Flags of `fcmp x, y`: Z when equal, LT when x < y, LTU when unordered (a NaN).
pub const fn compare(x: u32, y: u32) -> u32 {
    let (x, y) = (canon(x), canon(y));
    if is_nan(x) || is_nan(y) {
        FLAG_LTU
    } else if x == y || (x | y) & !SIGN == 0 {
        FLAG_Z
    } else if key(x) < key(y) {
        FLAG_LT
    } else {
        0
    }
}

/// The smaller of x and y (−0 below +0); NaN if either is.
pub const fn min(x: u32, y: u32) -> u32 {
    let (x, y) = (canon(x), canon(y));
    if is_nan(x) || is_nan(y) {
        NAN
    } else if key(x) <= key(y) {
        x
    } else {
        y
    }
}

/// The larger of x and y (+0 above −0); NaN if either is.
pub const fn max(x: u32, y: u32) -> u32 {
    let (x, y) = (canon(x), canon(y));
    if is_nan(x) || is_nan(y) {
        NAN
    } else if key(x) >= key(y) {
        x
    } else {
        y
    }
}

/// 2^j for −126 ≤ j ≤ 127.
const fn pow2(j: i32) -> u32 {
    ((j + 127) as u32) << 23
}

/// x rounded to the nearest integer k (halves away from zero), as (k, k as f32).
fn nearest(x: u32) -> (i32, u32) {
    let k = round_int(x);
    (k as i32, from_int(k))
}

/// e^x: k = nearest(x·log2 e), r = (x − k·LN2_HI) − k·LN2_LO, a degree-7
/// Taylor polynomial in Horner form, then two exact scalings by powers of two.
pub fn exp(x: u32) -> u32 {
    let x = canon(x);
    if is_nan(x) {
        return NAN;
    }
    if x & SIGN == 0 && x > EXP_MAX {
        return EXP;
    }
    if x & SIGN != 0 && x > EXP_MIN {
        return 0;
    }
    let (k, kf) = nearest(mul(x, LOG2E));
    let r = sub(sub(x, mul(kf, LN2_HI)), mul(kf, LN2_LO));
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = add(mul(p, r), *c);
    }
    p = add(mul(p, r), ONE);
    p = add(mul(p, r), ONE);
    let k1 = k >> 1;
    mul(mul(p, pow2(k1)), pow2(k - k1))
}

/// (sin x, cos x): k = nearest(x·2/π), r = ((x − k·PIO2_1) − k·PIO2_2) − k·PIO2_3,
/// Taylor polynomials on r, then the quadrant k mod 4. Arguments reduce
/// exactly while |k| < 2^11 (|x| < about 3200); beyond, precision degrades
/// (still deterministic). ±∞ and NaN give NaN.
pub fn sin_cos(x: u32) -> (u32, u32) {
    let x = canon(x);
    if is_nan(x) || x & !SIGN == EXP {
        return (NAN, NAN);
    }
    let (k, kf) = nearest(mul(x, TWO_OVER_PI));
    let r = sub(
        sub(sub(x, mul(kf, PIO2_1)), mul(kf, PIO2_2)),
        mul(kf, PIO2_3),
    );
    let z = mul(r, r);
    let mut s = SIN_POLY[0];
    for c in &SIN_POLY[1..] {
        s = add(mul(s, z), *c);
    }
    s = add(r, mul(mul(r, z), s));
    let mut c = COS_POLY[0];
    for k in &COS_POLY[1..] {
        c = add(mul(c, z), *k);
    }
    c = add(mul(c, z), ONE);
    match k & 3 {
        0 => (s, c),
        1 => (c, neg(s)),
        2 => (neg(s), neg(c)),
        _ => (neg(c), s),
    }
}

/// sin x (see [`sin_cos`]).
pub fn sin(x: u32) -> u32 {
    sin_cos(x).0
}

/// cos x (see [`sin_cos`]).
pub fn cos(x: u32) -> u32 {
    sin_cos(x).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> u32 {
        x.to_bits()
    }

    /// A spread of interesting and random-ish bit patterns.
    fn samples() -> impl Iterator<Item = u32> {
        let special = [
            0,
            SIGN,
            ONE,
            b(-1.0),
            b(0.5),
            b(3.0),
            b(1e-30),
            b(1e30),
            b(f32::MAX),
            b(f32::MIN_POSITIVE),
            1,
            0x8000_0001,
            0x007F_FFFF,
            EXP,
            EXP | SIGN,
            NAN,
            0xFFC0_0001,
            b(core::f32::consts::PI),
            b(-2.5),
        ];
        let mut s = 0x1234_5678u32;
        special.into_iter().chain((0..4000).map(move |_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        }))
    }

    /// The IEEE result under the canonical rules, from the platform.
    fn reference(r: f32) -> u32 {
        canon(r.to_bits())
    }

    #[test]
    fn div_and_sqrt_are_correctly_rounded() {
        let xs: alloc::vec::Vec<u32> = samples().collect();
        for (i, &x) in xs.iter().enumerate() {
            let y = xs[(i * 7 + 3) % xs.len()];
            assert_eq!(div(x, y), reference(f(x) / f(y)), "{x:08x} / {y:08x}");
            assert_eq!(sqrt(x), reference(f(x).sqrt()), "sqrt {x:08x}");
        }
    }

    #[test]
    fn conversions_match_rust_casts() {
        for x in samples() {
            assert_eq!(from_int(x), (x as i32 as f32).to_bits(), "{x:08x}");
            assert_eq!(to_int(x), f(x) as i32 as u32, "{x:08x}");
            assert_eq!(round_int(x), f(x).round() as i32 as u32, "{x:08x}");
        }
        assert_eq!(round_int(b(0.49999997)), 0);
        assert_eq!(round_int(b(-2.5)), -3i32 as u32);
    }

    #[test]
    fn comparisons_follow_ieee() {
        let xs: alloc::vec::Vec<u32> = samples().collect();
        for (i, &x) in xs.iter().enumerate() {
            let y = xs[(i * 13 + 5) % xs.len()];
            let (fx, fy) = (f(x), f(y));
            assert_eq!(lt(x, y), fx < fy);
            let flags = compare(x, y);
            assert_eq!(flags & FLAG_Z != 0, fx == fy);
            assert_eq!(flags & FLAG_LT != 0, fx < fy);
            assert_eq!(flags & FLAG_LTU != 0, fx.is_nan() || fy.is_nan());
            if !fx.is_nan() && !fy.is_nan() && fx != fy {
                assert_eq!(f(min(x, y)), fx.min(fy));
                assert_eq!(f(max(x, y)), fx.max(fy));
            }
        }
        assert_eq!(min(0, SIGN), SIGN);
        assert_eq!(max(SIGN, 0), 0);
        assert_eq!(min(NAN, ONE), NAN);
    }

    #[test]
    fn canonical_rules() {
        assert_eq!(add(1, 0), 0, "subnormal inputs are zero");
        assert_eq!(mul(b(1e-20), b(1e-20)), 0, "subnormal results are zero");
        assert_eq!(mul(b(-1e-20), b(1e-20)), SIGN);
        assert_eq!(sub(EXP, EXP), NAN);
        assert_eq!(neg(0xFFC0_0001), NAN);
        assert_eq!(abs(b(-2.0)), b(2.0));
    }

    fn ulps(x: u32, y: f32) -> u32 {
        (x as i64 - y.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_accurate() {
        let mut x = -87.0f32;
        while x < 88.7 {
            let r = exp(b(x));
            let want = (x as f64).exp() as f32;
            assert!(ulps(r, want) <= 2, "exp({x}) = {} want {want}", f(r));
            x += 0.0137;
        }
        assert_eq!(exp(0), ONE);
        assert_eq!(exp(b(100.0)), EXP);
        assert_eq!(exp(b(-100.0)), 0);
        assert_eq!(exp(EXP | SIGN), 0);
        assert_eq!(exp(NAN), NAN);
    }

    #[test]
    fn sin_cos_are_accurate() {
        let mut x = -300.0f32;
        while x < 300.0 {
            let (s, c) = sin_cos(b(x));
            let (ws, wc) = ((x as f64).sin(), (x as f64).cos());
            assert!(
                (f(s) as f64 - ws).abs() < 2e-7,
                "sin({x}) = {} want {ws}",
                f(s)
            );
            assert!(
                (f(c) as f64 - wc).abs() < 2e-7,
                "cos({x}) = {} want {wc}",
                f(c)
            );
            x += 0.0731;
        }
        assert_eq!(sin_cos(EXP), (NAN, NAN));
    }
}
