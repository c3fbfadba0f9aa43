//! Interactive console sessions for tests: a host that types each step's
//! input only once the output shows what the previous step waited for (so a
//! Ctrl-C reaches a program that is already running), on either executor.

use gpu_runtime::{Gpu, GpuMachine, GpuOptions};
use pxi::mailbox::{Host, Input};
use pxi::run::drive;
use pxi::{Image, Limits, Machine};

/// Console polls without progress after which a session is declared stuck.
const PATIENCE: u32 = 100_000;

/// Steps of typed input, each with the text the output must show before the next.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<(Vec<u8>, String)>,
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    /// Type `input`, then wait until the output (from this step on) contains `until`.
    pub fn step(mut self, input: &str, until: &str) -> Self {
        self.steps
            .push((input.as_bytes().to_vec(), until.to_string()));
        self
    }
}

struct ScriptHost<'s> {
    script: &'s Script,
    step: usize,
    typed: usize,
    step_output_start: usize,
    output: Vec<u8>,
    clock: u64,
    polls: u32,
}

impl Host for ScriptHost<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    fn clock_us(&mut self) -> u64 {
        self.clock += 1000;
        self.clock
    }

    fn read_byte(&mut self) -> Input {
        let Some((input, until)) = self.script.steps.get(self.step) else {
            return Input::Eof;
        };
        if let Some(&byte) = input.get(self.typed) {
            self.typed += 1;
            return Input::Byte(byte);
        }
        let seen = String::from_utf8_lossy(&self.output[self.step_output_start..]);
        if seen.contains(until.as_str()) {
            self.step += 1;
            self.typed = 0;
            self.step_output_start = self.output.len();
            self.polls = 0;
            return self.read_byte();
        }
        self.polls += 1;
        assert!(
            self.polls < PATIENCE,
            "session stuck waiting for {until:?}; output so far:\n{}",
            String::from_utf8_lossy(&self.output)
        );
        Input::NotYet
    }
}

/// Run `script` on the GPU (`Some`) or the CPU interpreter; returns the console output.
pub fn run_script(image: &Image, gpu: Option<&Gpu>, limits: Limits, script: &Script) -> String {
    let mut host = ScriptHost {
        script,
        step: 0,
        typed: 0,
        step_output_start: 0,
        output: Vec::new(),
        clock: 0,
        polls: 0,
    };
    match gpu {
        Some(gpu) => {
            let mut machine =
                GpuMachine::new(gpu, image, limits, GpuOptions::default()).expect("GPU machine");
            drive(&mut machine, &mut host, 4, |_, _| {}).expect("GPU run");
        }
        None => {
            let mut machine = Machine::new(image, limits);
            let Ok(_) = drive(&mut machine, &mut host, 4, |_, _| {});
        }
    }
    String::from_utf8_lossy(&host.output).into_owned()
}
