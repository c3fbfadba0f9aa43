//! Test harness for the pxOS microkernel: builds the kernel binaries with a clean environment,
//! boots them in QEMU (TCG, headless, always under a timeout) and collects the serial log with
//! the time each line arrived.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// QEMU's binary name; CI installs it with `apt-get install qemu-system-x86`.
pub const QEMU: &str = "qemu-system-x86_64";
/// QEMU exit status when the kernel writes 0x10 to isa-debug-exit (success).
pub const EXIT_SUCCESS: i32 = 33;
/// QEMU exit status when the kernel writes 0x11 (exception, panic, failing program).
pub const EXIT_FAILURE: i32 = 35;
/// Kernel command-line word: exit QEMU when the program stops.
pub const EXIT_ON_STOP: &str = "exit-on-stop";
/// Serial line the kernel prints right before the program starts.
pub const DISPATCH_START: &str = "dispatch: running os.pxi on the pxi CPU interpreter";
/// Serial line the kernel prints right before the program starts on the host GPU (virgl).
pub const DISPATCH_START_VIRGL: &str = "dispatch: running os.pxi on the host GPU through virgl";
/// Serial line the kernel prints when it has no GPU compute and falls back to the CPU.
pub const NO_GPU_COMPUTE: &str = "dispatch: no GPU compute: the virtio-gpu has no 3D";
/// Prefix of the serial line the kernel prints when the program stopped.
pub const DISPATCH_STOPPED: &str = "dispatch: stopped";

/// The built kernel binaries and the program image embedded in them.
#[derive(Debug, Clone)]
pub struct Kernels {
    pub kernel: PathBuf,
    pub minimal: PathBuf,
    /// The os.pxi that build.rs embedded (`$OUT_DIR/os.pxi`).
    pub os_image: PathBuf,
}

/// The microkernel's own workspace directory.
pub fn microkernel_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A `cargo` command for the microkernel workspace that inherits nothing from an outer cargo
/// (RUSTFLAGS, CARGO_TARGET_DIR, CARGO_BUILD_TARGET, ...), so `.cargo/config.toml` applies.
pub fn clean_cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    clean_command(cargo)
}

/// Any program, run in the microkernel directory without the outer cargo's environment.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(microkernel_dir());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let inherited = (key.starts_with("CARGO") && key != "CARGO_HOME")
            || key.starts_with("__CARGO")
            || key.starts_with("RUSTC")
            || matches!(
                &*key,
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "DEBUG"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "TARGET"
                    | "HOST"
            );
        if inherited {
            command.env_remove(&*key);
        }
    }
    command
}

/// Builds both kernel binaries once per test process (`cargo build --release` in microkernel/).
pub fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(|| build_kernels().unwrap_or_else(|error| panic!("{error}")))
}

fn build_kernels() -> Result<Kernels, String> {
    let output = clean_cargo()
        .args([
            "build",
            "--release",
            "--bins",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the microkernel failed ({})",
            output.status
        ));
    }
    let (mut kernel, mut minimal, mut out_dir) = (None, None, None);
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let path = |key: &str| message[key].as_str().map(PathBuf::from);
        match (
            message["reason"].as_str(),
            message["target"]["name"].as_str(),
        ) {
            (Some("compiler-artifact"), Some("pxos-kernel")) => kernel = path("executable"),
            (Some("compiler-artifact"), Some("pxos-minimal")) => minimal = path("executable"),
            (Some("build-script-executed"), _)
                if message["package_id"]
                    .as_str()
                    .is_some_and(|id| id.contains("pxos-microkernel")) =>
            {
                out_dir = path("out_dir")
            }
            _ => {}
        }
    }
    let missing = |what: &str| format!("cargo did not report {what}");
    Ok(Kernels {
        kernel: kernel.ok_or_else(|| missing("the pxos-kernel executable"))?,
        minimal: minimal.ok_or_else(|| missing("the pxos-minimal executable"))?,
        os_image: out_dir
            .ok_or_else(|| missing("the microkernel build script's out_dir"))?
            .join("os.pxi"),
    })
}

/// Fails (never skips) when QEMU is missing.
pub fn require_qemu() {
    match Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        other => panic!(
            "{QEMU} is required for the microkernel tests but could not be run ({other:?}); \
             install it with `apt-get install qemu-system-x86` (microkernel/boot.sh does this)"
        ),
    }
}

/// A QEMU command line for booting one kernel headless under TCG.
#[derive(Debug, Clone)]
pub struct Qemu {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Qemu {
    /// q35, no default devices, serial on stdio, a virtio-gpu, no VGA or NIC, isa-debug-exit.
    pub fn new(kernel: &Path) -> Self {
        let args = [
            "-machine",
            "q35",
            "-accel",
            "tcg",
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-vga",
            "none",
            "-nic",
            "none",
            "-device",
            "virtio-gpu-pci",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(kernel.display().to_string());
        Self {
            args,
            env: Vec::new(),
        }
    }

    /// The GL device instead: `virtio-gpu-gl-pci` (3D through virgl on the host's GL, llvmpipe
    /// here) with an SDL GL display rendered offscreen, so it runs without a screen. Needs
    /// `qemu-system-gui` and Mesa's GL (`libgl1-mesa-dri`, `libegl-mesa0`).
    pub fn with_virgl(mut self) -> Self {
        for i in 1..self.args.len() {
            match (self.args[i - 1].as_str(), self.args[i].as_str()) {
                ("-display", _) => self.args[i] = "sdl,gl=on".to_string(),
                ("-device", "virtio-gpu-pci") => self.args[i] = "virtio-gpu-gl-pci".to_string(),
                _ => {}
            }
        }
        self.env
            .push(("SDL_VIDEODRIVER".to_string(), "offscreen".to_string()));
        self
    }

    /// Adds raw QEMU arguments.
    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.args.extend(args.into_iter().map(str::to_string));
        self
    }

    /// The kernel command line (`-append`).
    pub fn append(self, command_line: &str) -> Self {
        self.args(["-append", command_line])
    }

    /// The command line, for messages.
    pub fn describe(&self) -> String {
        format!("{QEMU} {}", self.args.join(" "))
    }

    /// Starts QEMU. Serial output is collected line by line with arrival times.
    pub fn spawn(&self) -> Running {
        let mut command = Command::new(QEMU);
        command.args(&self.args).envs(self.env.iter().cloned());
        Running::spawn(command, self.describe())
    }

    /// Boots, waits for QEMU to exit (killing it after `timeout`), and returns what happened.
    pub fn run(&self, timeout: Duration) -> Finished {
        let mut running = self.spawn();
        running.wait(timeout)
    }
}

impl Running {
    /// Starts `command` (QEMU, or a script that ends in QEMU with the serial console on its
    /// stdio), described as `description` in failures. Serial output is collected line by
    /// line with arrival times.
    pub fn spawn(mut command: Command, description: String) -> Running {
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {description}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        let partial = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&partial);
        std::thread::spawn(move || {
            // Complete lines go to the channel; the unfinished last line (a prompt waiting for
            // input) stays readable in `partial`.
            let mut stdout = stdout;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut pending = tail.lock().expect("reader lock");
                pending.extend_from_slice(&chunk[..n]);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    if sender.send((started.elapsed(), text)).is_err() {
                        return;
                    }
                }
            }
        });
        let stdin = child.stdin.take();
        Running {
            child,
            stdin,
            lines,
            partial,
            log: Vec::new(),
            command: description,
        }
    }
}

/// The shell's prompt.
pub const SHELL_PROMPT: &str = "pxos$ ";
/// Start of the os banner (any version).
pub const OS_BANNER: &str = "pxOS 0.";

/// The scripted shell session: what is typed (Enter as CR, as a terminal on a raw line sends
/// it, or LF) and a line the reply must contain.
pub const SHELL_SCRIPT: &[(&str, &str)] = &[
    ("echo typed over serial\r", "typed over serial"),
    ("run hello\r", "hello from pid 2"),
    ("run pingpong\n", "ping got 30"),
    ("run sneaky\n", "exit 138"),
    ("audit\n", "fault 10 at pc"),
    ("run ipctest\n", "none lost, duplicated or reordered"),
    ("run preempt\n", "all made progress"),
    ("ps\n", "shell"),
    ("uptime\n", "uptime: "),
];

/// Console byte that closes the kernel's serial input (the shell then halts the machine).
pub const END_OF_INPUT: &[u8] = b"\x04";

/// Types [`SHELL_SCRIPT`] into a running os after its banner, one command at a time, then
/// closes the input and waits for QEMU to exit.
pub fn run_shell_session(mut running: Running, timeout: Duration) -> Finished {
    running.wait_for_line(OS_BANNER, timeout);
    // The kernel echoes what is typed (the serial line is raw), so each command shows up after
    // its prompt before the reply.
    for (command, reply) in SHELL_SCRIPT {
        running.wait_for_prompt(SHELL_PROMPT, timeout);
        running.send(command.as_bytes());
        let echoed = format!("pxos$ {}", command.trim_end());
        running.wait_for_line(&echoed, timeout);
        running.wait_for_line(reply, timeout);
    }
    running.send(END_OF_INPUT);
    running.wait(timeout)
}

/// The shell's part of a serial log: from the os banner to its farewell, with what depends on
/// time or scheduling left out: the `uptime` reply, and the numbers of the `ps` table (which
/// hart ran a process, how many slices it got).
pub fn shell_transcript(run: &Finished) -> Vec<String> {
    let mut in_ps_table = false;
    run.serial
        .iter()
        .map(|(_, line)| line.as_str())
        .skip_while(|line| !line.starts_with(OS_BANNER))
        .take_while(|line| !line.starts_with(DISPATCH_STOPPED))
        .filter(|line| !line.starts_with("uptime: "))
        .map(|line| {
            if line.starts_with(SHELL_PROMPT) || line.starts_with("PID ") {
                in_ps_table = line.starts_with("PID ");
                return line.to_string();
            }
            if in_ps_table {
                line.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .collect()
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// A serial line and when it arrived, measured from QEMU's start.
pub type SerialLine = (Duration, String);

/// A QEMU that is still running; killed when dropped.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<SerialLine>,
    /// The serial output after the last newline.
    partial: Arc<Mutex<Vec<u8>>>,
    log: Vec<SerialLine>,
    command: String,
}

/// A finished QEMU run.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub serial: Vec<SerialLine>,
}

impl Finished {
    /// The QEMU exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The serial log as text.
    pub fn text(&self) -> String {
        serial_text(&self.serial)
    }

    /// Fails with the whole log unless a line contains `needle`.
    pub fn expect_line(&self, needle: &str) -> &str {
        find_line(&self.serial, needle).unwrap_or_else(|| {
            panic!(
                "no serial line contains {needle:?}; serial log:\n{}",
                self.text()
            )
        })
    }
}

fn serial_text(lines: &[SerialLine]) -> String {
    lines.iter().map(|(_, line)| format!("{line}\n")).collect()
}

fn find_line<'a>(lines: &'a [SerialLine], needle: &str) -> Option<&'a str> {
    lines
        .iter()
        .map(|(_, line)| line.as_str())
        .find(|line| line.contains(needle))
}

impl Running {
    /// Waits until the unfinished last serial line ends with `prompt` (a shell waiting for
    /// input), so that what is typed next is echoed after it.
    pub fn wait_for_prompt(&mut self, prompt: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.log.extend(self.lines.try_iter());
            if self
                .partial
                .lock()
                .expect("reader lock")
                .ends_with(prompt.as_bytes())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for the prompt {prompt:?}\ncommand: {}\nserial log:\n{}",
                self.command,
                serial_text(&self.log)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a serial line contains `needle` and returns it with its arrival time.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> SerialLine {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.1.contains(needle);
                    self.log.push(line.clone());
                    if found {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out after {timeout:?} waiting for serial line {needle:?}\ncommand: {}\nserial log:\n{}",
                    self.command,
                    serial_text(&self.log)
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = self.child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    panic!(
                        "QEMU exited before printing {needle:?} ({:?})\ncommand: {}\nstderr: {stderr}\nserial log:\n{}",
                        self.child.try_wait(),
                        self.command,
                        serial_text(&self.log)
                    )
                }
            }
        }
    }

    /// Sends bytes to the kernel's COM1.
    pub fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .expect("write to QEMU's serial input");
    }

    /// Waits for QEMU to exit, killing it and failing after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll QEMU") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.log.extend(self.lines.try_iter());
                panic!(
                    "QEMU did not exit within {timeout:?} (hung kernel?)\ncommand: {}\nserial log:\n{}",
                    self.command,
                    serial_text(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader thread ends at EOF of stdout, right after QEMU exits.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.log.push(line);
        }
        Finished {
            status,
            serial: std::mem::take(&mut self.log),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A human monitor (HMP) on a unix socket: `-monitor unix:PATH,server=on,wait=off`.
pub struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    /// QEMU arguments for a monitor at `socket`.
    pub fn qemu_args(socket: &Path) -> [String; 2] {
        [
            "-monitor".to_string(),
            format!("unix:{},server=on,wait=off", socket.display()),
        ]
    }

    pub fn connect(socket: &Path) -> Self {
        let stream = UnixStream::connect(socket).unwrap_or_else(|error| {
            panic!(
                "cannot connect to the QEMU monitor at {}: {error}",
                socket.display()
            )
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set monitor timeout");
        let mut monitor = Self { stream };
        monitor.read_prompt();
        monitor
    }

    /// Runs one command and returns what QEMU printed before the next prompt.
    pub fn command(&mut self, command: &str) -> String {
        self.stream
            .write_all(format!("{command}\n").as_bytes())
            .expect("write to the QEMU monitor");
        self.read_prompt()
    }

    fn read_prompt(&mut self) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 256];
        while !seen.ends_with(b"(qemu) ") {
            let n = self
                .stream
                .read(&mut byte)
                .expect("read from the QEMU monitor");
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&byte[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    }
}

/// Where the kernel drew the program, parsed from its `display:` serial line:
/// `display: 1280x800 B8G8R8A8; program 16x3 at 16,16 scale 38; heatmap at 648,16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenLayout {
    pub program_size: (u32, u32),
    pub program_at: (u32, u32),
    pub scale: u32,
    pub heatmap_at: (u32, u32),
}

impl ScreenLayout {
    pub fn parse(line: &str) -> Option<Self> {
        let pair = |text: &str, separator: char| -> Option<(u32, u32)> {
            let (a, b) = text.split_once(separator)?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        };
        let rest = line.split_once("; program ")?.1;
        let (size, rest) = rest.split_once(" at ")?;
        let (at, rest) = rest.split_once(" scale ")?;
        let (scale, heatmap) = rest.split_once("; heatmap at ")?;
        Some(Self {
            program_size: pair(size, 'x')?,
            program_at: pair(at, ',')?,
            scale: scale.trim().parse().ok()?,
            heatmap_at: pair(heatmap, ',')?,
        })
    }

    /// Screen coordinates of the centre of cell (x, y) in a panel at `origin`.
    pub fn cell_centre(&self, origin: (u32, u32), x: u32, y: u32) -> (u32, u32) {
        (
            origin.0 + x * self.scale + self.scale / 2,
            origin.1 + y * self.scale + self.scale / 2,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_display_line() {
        let line = "display: 1280x800 B8G8R8A8; program 16x3 at 16,16 scale 38; heatmap at 648,16";
        let layout = ScreenLayout::parse(line).unwrap();
        assert_eq!(
            layout,
            ScreenLayout {
                program_size: (16, 3),
                program_at: (16, 16),
                scale: 38,
                heatmap_at: (648, 16)
            }
        );
        assert_eq!(
            layout.cell_centre(layout.program_at, 1, 0),
            (16 + 38 + 19, 16 + 19)
        );
        assert_eq!(ScreenLayout::parse("display: none"), None);
    }
}
