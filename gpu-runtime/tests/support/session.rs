//! Interactive console sessions for tests: a host that types each step's
//! input only once the output shows what the previous step waited for (so a
//! Ctrl-C reaches a program that is already running), on either executor.

use gpu_runtime::{Gpu, GpuMachine, GpuOptions};
use pxi::devices::Devices;
use pxi::host::{CaptureHost, attach_disk};
use pxi::mailbox::{Host, Input};
use pxi::run::drive;
use pxi::{Image, Limits, Machine};

/// Console polls without progress after which a session is declared stuck.
const PATIENCE: u32 = 5_000;

/// One step: input to type, the output to wait for, and after how many polls
/// without it to type Ctrl-C.
#[derive(Clone, Debug)]
struct Step {
    input: Vec<u8>,
    until: String,
    interrupt_after: Option<u32>,
    /// Search `until` in the whole output, not only in what came after the step began.
    anywhere: bool,
}

/// Steps of typed input, each with the text the output must show before the next.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    /// Type `input`, then wait until the output (from this step on) contains `until`.
    pub fn step(self, input: &str, until: &str) -> Self {
        self.push(input, until, None)
    }

    /// Like [`Script::step`], but every `polls` polls without `until` type
    /// Ctrl-C and then the input again (the foreground program may have read it).
    pub fn step_or_interrupt(self, input: &str, until: &str, polls: u32) -> Self {
        self.push(input, until, Some(polls))
    }

    /// Type nothing; wait until the output, from the start, contains `until`.
    pub fn wait_for(mut self, until: &str) -> Self {
        self = self.push("", until, None);
        self.steps.last_mut().expect("just pushed").anywhere = true;
        self
    }

    fn push(mut self, input: &str, until: &str, interrupt_after: Option<u32>) -> Self {
        self.steps.push(Step {
            input: input.as_bytes().to_vec(),
            until: until.to_string(),
            interrupt_after,
            anywhere: false,
        });
        self
    }
}

struct ScriptHost<'s> {
    script: &'s Script,
    step: usize,
    typed: usize,
    step_output_start: usize,
    /// Output and clock: the project's capturing host (its input stays empty).
    capture: CaptureHost,
    polls: u32,
    stuck: Option<String>,
}

impl Host for ScriptHost<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.capture.write(bytes);
    }

    fn clock_us(&mut self) -> u64 {
        self.capture.clock_us()
    }

    fn read_byte(&mut self) -> Input {
        let Some(step) = self.script.steps.get(self.step) else {
            return Input::Eof;
        };
        if let Some(&byte) = step.input.get(self.typed) {
            self.typed += 1;
            return Input::Byte(byte);
        }
        let from = if step.anywhere {
            0
        } else {
            self.step_output_start
        };
        let seen = String::from_utf8_lossy(&self.capture.output[from..]);
        if seen.contains(step.until.as_str()) {
            self.step += 1;
            self.typed = 0;
            self.step_output_start = self.capture.output.len();
            self.polls = 0;
            return self.read_byte();
        }
        self.polls += 1;
        if step
            .interrupt_after
            .is_some_and(|n| self.polls.is_multiple_of(n))
        {
            self.typed = 0;
            return Input::Byte(3);
        }
        if self.polls >= PATIENCE {
            // Stuck: end the input so the machine halts and can be inspected.
            self.stuck = Some(step.until.clone());
            self.step = self.script.steps.len();
            return Input::Eof;
        }
        Input::NotYet
    }

    fn devices(&mut self) -> Option<&mut Devices> {
        self.capture.devices()
    }
}

/// The end of a scripted session.
pub struct Ended {
    /// Console output.
    pub output: String,
    /// Data memory at the end.
    pub memory: Vec<u32>,
    /// How the run stopped, with any trapped hart described.
    pub stop: String,
    /// The output a step waited for in vain (the session was then ended).
    pub stuck: Option<String>,
}

/// Run `script` on the GPU (`Some`) or the CPU interpreter.
pub fn run_script(image: &Image, gpu: Option<&Gpu>, limits: Limits, script: &Script) -> Ended {
    run_script_with_disk(image, gpu, limits, script, None)
}

/// [`run_script`] with `disk` (an image file) attached read-only as a virtio-blk device.
pub fn run_script_with_disk(
    image: &Image,
    gpu: Option<&Gpu>,
    limits: Limits,
    script: &Script,
    disk: Option<&std::path::Path>,
) -> Ended {
    let mut host = ScriptHost {
        script,
        step: 0,
        typed: 0,
        step_output_start: 0,
        capture: CaptureHost::default(),
        polls: 0,
        stuck: None,
    };
    if let Some(disk) = disk {
        attach_disk(&mut host.capture.devices, disk, true, Default::default()).expect("disk image");
    }
    let (memory, stop) = match gpu {
        Some(gpu) => {
            let mut machine =
                GpuMachine::new(gpu, image, limits, GpuOptions::default()).expect("GPU machine");
            let outcome = drive(&mut machine, &mut host, 4, |_, _| {}).expect("GPU run");
            let state = machine.read_state().expect("GPU state");
            let traps = pxi::machine::traps(image, &state.harts);
            (state.memory, format!("{:?} {traps:?}", outcome.stop))
        }
        None => {
            let mut machine = Machine::new(image, limits);
            let Ok(outcome) = drive(&mut machine, &mut host, 4, |_, _| {});
            let traps = machine.traps(image);
            (machine.memory, format!("{:?} {traps:?}", outcome.stop))
        }
    };
    Ended {
        output: String::from_utf8_lossy(&host.capture.output).into_owned(),
        memory,
        stop,
        stuck: host.stuck,
    }
}
