//! The heatmap colours: viridis on a logarithmic count scale.
//!
//! Execution counts span many orders of magnitude (a boot path runs once, an
//! idle loop millions of times), so colours follow log(count). Viridis is
//! perceptually uniform and readable with colour-vision deficiencies; it is
//! computed from a degree-6 polynomial fit (Matt Zucker's, within 4/255 of
//! the matplotlib table), not read from an asset.

/// An 8-bit RGB colour.
pub type Rgb = [u8; 3];

/// Polynomial coefficients, lowest degree first, per channel.
const VIRIDIS: [[f64; 3]; 7] = [
    [
        0.277_727_327_223_417_7,
        0.005_407_344_544_966_578,
        0.334_099_805_335_306_1,
    ],
    [
        0.105_093_043_108_577_4,
        1.404_613_529_898_575,
        1.384_590_162_594_685,
    ],
    [
        -0.330_861_828_725_556_3,
        0.214_847_559_468_213,
        0.095_095_163_028_236_59,
    ],
    [
        -4.634_230_498_983_486,
        -5.799_100_973_351_585,
        -19.332_440_956_279_87,
    ],
    [
        6.228_269_936_347_081,
        14.179_933_366_805_09,
        56.690_552_600_681_05,
    ],
    [
        4.776_384_997_670_288,
        -13.745_145_377_746_01,
        -65.353_032_633_372_34,
    ],
    [
        -5.435_455_855_934_631,
        4.645_852_612_178_535,
        26.312_435_249_583_2,
    ],
];

/// Viridis at `t` in 0..=1 (clamped): dark purple at 0, yellow at 1.
pub fn viridis(t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    let channel = |c: usize| {
        let value = VIRIDIS
            .iter()
            .rev()
            .fold(0.0, |acc, coeffs| acc * t + coeffs[c]);
        (value.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    [channel(0), channel(1), channel(2)]
}

/// `#rrggbb`, for HTML and CSS.
pub fn hex(colour: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2])
}

/// A logarithmic map from non-zero counts to 0..=1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogScale {
    /// Smallest non-zero count (0 when nothing ran).
    pub min: u32,
    /// Largest count.
    pub max: u32,
}

impl LogScale {
    /// The scale spanning the non-zero values of `counts`.
    pub fn spanning(counts: impl IntoIterator<Item = u32>) -> LogScale {
        let nonzero = counts.into_iter().filter(|&c| c > 0);
        let (min, max) = nonzero.fold((u32::MAX, 0), |(lo, hi), c| (lo.min(c), hi.max(c)));
        LogScale {
            min: if max == 0 { 0 } else { min },
            max,
        }
    }

    /// Where `count` (non-zero) falls between `min` (0) and `max` (1).
    pub fn position(&self, count: u32) -> f64 {
        if self.max <= self.min {
            return 1.0;
        }
        let (lo, hi) = (f64::from(self.min).ln(), f64::from(self.max).ln());
        (f64::from(count.max(1)).ln() - lo) / (hi - lo)
    }

    /// The colour of a non-zero `count`.
    pub fn colour(&self, count: u32) -> Rgb {
        viridis(self.position(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: Rgb, b: Rgb) -> bool {
        a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 4)
    }

    #[test]
    fn viridis_matches_the_reference_table() {
        // matplotlib's viridis at 0, 0.25, 0.5, 0.75 and 1.
        assert!(near(viridis(0.0), [68, 1, 84]), "{:?}", viridis(0.0));
        assert!(near(viridis(0.25), [59, 82, 139]), "{:?}", viridis(0.25));
        assert!(near(viridis(0.5), [33, 145, 140]), "{:?}", viridis(0.5));
        assert!(near(viridis(0.75), [92, 200, 99]), "{:?}", viridis(0.75));
        assert!(near(viridis(1.0), [253, 231, 37]), "{:?}", viridis(1.0));
        assert_eq!(viridis(-1.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
    }

    #[test]
    fn log_scale_spans_nonzero_counts() {
        let scale = LogScale::spanning([0, 10, 1000, 100]);
        assert_eq!(scale, LogScale { min: 10, max: 1000 });
        assert_eq!(scale.position(10), 0.0);
        assert!((scale.position(100) - 0.5).abs() < 1e-12);
        assert_eq!(scale.position(1000), 1.0);
        assert_eq!(LogScale::spanning([0, 0]), LogScale { min: 0, max: 0 });
        assert_eq!(LogScale::spanning([5, 5]).position(5), 1.0);
        assert_eq!(hex([1, 0xab, 255]), "#01abff");
    }
}
