//! Execution-count files: what the runtimes write and the visualizer reads.
//!
//! Little-endian words: magic `PXC1`, code length *n*, snapshot count *k*,
//! then *k* snapshots of (round, steps low, steps high, *n* counts). Counts
//! are cumulative; the last snapshot is the final state. See `docs/pxi-format.md`.

use alloc::vec::Vec;
use core::fmt;

/// Magic word: the bytes `P X C 1`.
pub const COUNTS_MAGIC: u32 = u32::from_le_bytes(*b"PXC1");

/// Cumulative execution counts at one point of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Rounds completed when it was taken.
    pub round: u32,
    /// Total steps when it was taken.
    pub steps: u64,
    /// Executions per code pixel.
    pub counts: Vec<u32>,
}

/// A sequence of snapshots for one image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Code length of the image the counts belong to.
    pub code_len: u32,
    /// Snapshots in time order; the last is the final state.
    pub snapshots: Vec<Snapshot>,
}

/// Why bytes are not a counts file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CountsError {
    /// Shorter than its header says, or not whole words.
    Truncated,
    /// Wrong magic.
    BadMagic,
    /// No snapshot.
    Empty,
    /// Longer than its header says.
    TrailingBytes,
}

impl fmt::Display for CountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CountsError::Truncated => "counts file is truncated",
            CountsError::BadMagic => "not a pxOS counts file (magic \"PXC1\" missing)",
            CountsError::Empty => "counts file holds no snapshot",
            CountsError::TrailingBytes => "counts file has bytes after its last snapshot",
        })
    }
}

impl Counts {
    /// Append a snapshot.
    pub fn push(&mut self, round: u32, steps: u64, counts: &[u32]) {
        self.code_len = counts.len() as u32;
        self.snapshots.push(Snapshot {
            round,
            steps,
            counts: counts.to_vec(),
        });
    }

    /// The final counts.
    pub fn last(&self) -> Option<&Snapshot> {
        self.snapshots.last()
    }

    /// Serialize.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut words = Vec::from([COUNTS_MAGIC, self.code_len, self.snapshots.len() as u32]);
        for s in &self.snapshots {
            words.extend_from_slice(&[s.round, s.steps as u32, (s.steps >> 32) as u32]);
            words.extend_from_slice(&s.counts);
        }
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Parse, checking every length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Counts, CountsError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CountsError::Truncated);
        }
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let header = words.get(..3).ok_or(CountsError::Truncated)?;
        if header[0] != COUNTS_MAGIC {
            return Err(CountsError::BadMagic);
        }
        let (code_len, k) = (header[1] as usize, header[2] as usize);
        if k == 0 {
            return Err(CountsError::Empty);
        }
        let per = code_len.checked_add(3).ok_or(CountsError::Truncated)?;
        let needed = per
            .checked_mul(k)
            .and_then(|n| n.checked_add(3))
            .ok_or(CountsError::Truncated)?;
        if words.len() < needed {
            return Err(CountsError::Truncated);
        }
        if words.len() > needed {
            return Err(CountsError::TrailingBytes);
        }
        let snapshots = words[3..]
            .chunks_exact(per)
            .map(|s| Snapshot {
                round: s[0],
                steps: s[1] as u64 | (s[2] as u64) << 32,
                counts: s[3..].to_vec(),
            })
            .collect();
        Ok(Counts {
            code_len: code_len as u32,
            snapshots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let mut c = Counts::default();
        c.push(1, 5, &[1, 2, 3]);
        c.push(2, 1 << 40, &[2, 4, 6]);
        let bytes = c.to_bytes();
        assert_eq!(Counts::from_bytes(&bytes), Ok(c));
        assert_eq!(
            Counts::from_bytes(&bytes[..bytes.len() - 4]),
            Err(CountsError::Truncated)
        );
        assert_eq!(Counts::from_bytes(&bytes[..7]), Err(CountsError::Truncated));
        let mut extra = bytes.clone();
        extra.extend_from_slice(&[0; 4]);
        assert_eq!(Counts::from_bytes(&extra), Err(CountsError::TrailingBytes));
        assert_eq!(Counts::from_bytes(&[0; 12]), Err(CountsError::BadMagic));
    }
}
