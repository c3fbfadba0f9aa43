//! Hosts for std processes: the real console, and a deterministic capture
//! used by tests to compare executors.

use std::io::{Read, Write};
use std::time::Instant;
use std::vec::Vec;

use crate::mailbox::{Host, Input};

/// The process's stdout and stdin, and a real clock.
pub struct StdioHost {
    start: Instant,
    /// Bytes written so far (for summaries).
    pub written: u64,
}

impl Default for StdioHost {
    fn default() -> Self {
        StdioHost {
            start: Instant::now(),
            written: 0,
        }
    }
}

impl Host for StdioHost {
    fn write(&mut self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        // Write errors are not the program's business: the pxOS tools end on a
        // closed stdout through SIGPIPE (`pxi_asm::cli`); other embedders run on.
        let _ = out.write_all(bytes).and_then(|_| out.flush());
        self.written += bytes.len() as u64;
    }

    fn clock_us(&mut self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn read_byte(&mut self) -> Input {
        let mut byte = [0u8];
        match std::io::stdin().lock().read(&mut byte) {
            Ok(1) => Input::Byte(byte[0]),
            _ => Input::Eof,
        }
    }
}

/// Captures output, plays scripted input, and has a deterministic clock
/// (each reading advances it by 1000 µs), so two executors servicing the same
/// requests in the same order see exactly the same answers.
#[derive(Clone, Debug, Default)]
pub struct CaptureHost {
    /// Everything written.
    pub output: Vec<u8>,
    /// Remaining input.
    pub input: std::collections::VecDeque<u8>,
    clock: u64,
}

impl CaptureHost {
    /// A host whose console input is `input`.
    pub fn with_input(input: &[u8]) -> Self {
        CaptureHost {
            input: input.iter().copied().collect(),
            ..Default::default()
        }
    }
}

impl Host for CaptureHost {
    fn write(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    fn clock_us(&mut self) -> u64 {
        self.clock += 1000;
        self.clock
    }

    fn read_byte(&mut self) -> Input {
        self.input.pop_front().map_or(Input::Eof, Input::Byte)
    }
}
