//! What the host side of a GPU executor must know about the interpreter's buffers beyond
//! `pxi::state`: the scratch words `run_slice` keeps after the control block and the vector
//! queue's entry size (both declared in interpreter.wgsl; a test checks they agree), and how
//! to read a batch's outcome from them. Shared by the wgpu runtime and the virgl executor.

use pxi::run::BatchReport;
use pxi::state::{C_ROUND, C_SLICE, C_STATUS, CONTROL_WORDS, MachineStatus, total_steps};

/// Scratch words after the control block (the control buffer holds both).
pub const SCRATCH_WORDS: usize = 16;
/// interpreter.wgsl `S_CUTOFF`: harts whose slice ended early without a reason.
pub const S_CUTOFF: usize = CONTROL_WORDS + 4;
/// interpreter.wgsl `S_CUTOFF_HART`: the first such hart (u32::MAX when none).
pub const S_CUTOFF_HART: usize = CONTROL_WORDS + 5;
/// interpreter.wgsl `S_PROGRESS`: set when a hart of the round did anything at all.
pub const S_PROGRESS: usize = CONTROL_WORDS + 6;
/// interpreter.wgsl `S_IDLE`: set after a round in which nothing could happen; the host
/// clears it before each batch.
pub const S_IDLE: usize = CONTROL_WORDS + 7;
/// interpreter.wgsl `Q_ENTRY_WORDS`: words per queued vector instruction.
pub const Q_ENTRY_WORDS: usize = 8;
/// interpreter.wgsl `dispatch`: the indirect dispatch arguments of the vector
/// pass (x, y, 1), then the tensor pass's, as the buffer starts out (no work).
pub const PASS_DISPATCHES: [u32; 6] = [0, 0, 1, 0, 0, 1];
/// Byte offset of the tensor pass's indirect dispatch in that buffer.
pub const TENSOR_DISPATCH: u64 = 3 * 4;
/// Most harts `resolve` can scan serially in one dispatch and stay under llvmpipe's
/// 65,535-iteration loop limit.
pub const MAX_HARTS: u32 = 16_384;

/// A slice the driver cut off: the loops ended before the slice budget with no reason to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutOff {
    /// First hart affected.
    pub hart: u32,
    /// Harts affected.
    pub harts: u32,
    /// The slice budget.
    pub slice: u32,
}

/// The control words to upload with a machine's initial control block: scratch zeroed, no
/// cut-off hart yet.
pub fn initial_control(control_block: &[u32]) -> alloc::vec::Vec<u32> {
    let mut control = control_block.to_vec();
    control.resize(CONTROL_WORDS + SCRATCH_WORDS, 0);
    control[S_CUTOFF_HART] = u32::MAX;
    control
}

/// Where the machine stands after a batch, from the control and scratch words read back.
pub fn batch_report(control: &[u32]) -> Result<BatchReport, CutOff> {
    if control[S_CUTOFF] != 0 {
        return Err(CutOff {
            hart: control[S_CUTOFF_HART],
            harts: control[S_CUTOFF],
            slice: control[C_SLICE],
        });
    }
    Ok(BatchReport {
        status: MachineStatus::from_u32(control[C_STATUS]).unwrap_or(MachineStatus::Trapped),
        rounds: control[C_ROUND],
        steps: total_steps(control),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `const NAME: u32 = CONTROL_WORDS + n;` (or a plain `n`) in interpreter.wgsl.
    fn wgsl_const(name: &str) -> usize {
        let line = crate::INTERPRETER
            .lines()
            .find(|l| l.starts_with(&alloc::format!("const {name}: u32 = ")))
            .unwrap_or_else(|| panic!("interpreter.wgsl declares no {name}"));
        let value = line.split(" = ").nth(1).unwrap().trim_end_matches(';');
        let (base, n) = match value.strip_prefix("CONTROL_WORDS + ") {
            Some(n) => (CONTROL_WORDS, n),
            None => (0, value),
        };
        base + n.trim_end_matches('u').parse::<usize>().unwrap()
    }

    #[test]
    fn layout_matches_interpreter_wgsl() {
        assert_eq!(wgsl_const("S_CUTOFF"), S_CUTOFF);
        assert_eq!(wgsl_const("S_CUTOFF_HART"), S_CUTOFF_HART);
        assert_eq!(wgsl_const("S_PROGRESS"), S_PROGRESS);
        assert_eq!(wgsl_const("S_IDLE"), S_IDLE);
        assert_eq!(wgsl_const("Q_ENTRY_WORDS"), Q_ENTRY_WORDS);
        // Every scratch word the shader names fits in the scratch area.
        for line in crate::INTERPRETER
            .lines()
            .filter(|l| l.starts_with("const S_"))
        {
            let name = line[6..].split(':').next().unwrap();
            assert!(wgsl_const(name) < CONTROL_WORDS + SCRATCH_WORDS, "{line}");
        }
    }

    #[test]
    fn a_cut_off_is_reported() {
        let mut control = initial_control(&[0; CONTROL_WORDS]);
        assert!(batch_report(&control).is_ok());
        control[S_CUTOFF] = 2;
        control[S_CUTOFF_HART] = 5;
        control[C_SLICE] = 100;
        assert_eq!(
            batch_report(&control),
            Err(CutOff {
                hart: 5,
                harts: 2,
                slice: 100
            })
        );
    }
}
