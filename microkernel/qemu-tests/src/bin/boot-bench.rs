//! Boot timing: wall time from starting QEMU to the first serial line and, for the full kernel,
//! to the os banner (the first line the program prints), next to the minimal kernel that only
//! prints one line. Median of `--runs N` (default 10) boots on the same QEMU command line.

use qemu_tests::{DISPATCH_START, EXIT_ON_STOP, Qemu, kernels, require_qemu};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = match std::env::args().skip_while(|a| a != "--runs").nth(1) {
        Some(n) => n.parse().expect("--runs takes a number"),
        None => 10,
    };
    require_qemu();
    let kernels = kernels();

    let (mut first, mut banner, mut exit) = (Vec::new(), Vec::new(), Vec::new());
    let (mut minimal_first, mut minimal_exit) = (Vec::new(), Vec::new());
    let mut banner_text = String::new();
    for _ in 0..runs {
        let qemu = Qemu::new(&kernels.kernel).append(EXIT_ON_STOP);
        let mut running = qemu.spawn();
        let start = std::time::Instant::now();
        running.wait_for_line("", TIMEOUT);
        running.wait_for_line(DISPATCH_START, TIMEOUT);
        running.send(b"\x04");
        let finished = running.wait(TIMEOUT);
        exit.push(start.elapsed());
        first.push(finished.serial[0].0);
        let after_start = finished
            .serial
            .iter()
            .skip_while(|(_, line)| !line.contains(DISPATCH_START))
            .nth(1);
        let (at, text) = after_start.expect("the os printed nothing");
        banner.push(*at);
        banner_text.clone_from(text);

        let start = std::time::Instant::now();
        let finished = Qemu::new(&kernels.minimal).run(TIMEOUT);
        minimal_exit.push(start.elapsed());
        minimal_first.push(finished.serial[0].0);
    }
    println!(
        "QEMU: {}",
        Qemu::new(std::path::Path::new("KERNEL"))
            .append(EXIT_ON_STOP)
            .describe()
    );
    println!("median of {runs} boots, wall time from spawning QEMU:");
    println!(
        "  minimal kernel: first serial line {}, QEMU exited {}",
        ms(median(minimal_first)),
        ms(median(minimal_exit))
    );
    println!(
        "  pxos-kernel:    first serial line {}, os banner {}, QEMU exited {}",
        ms(median(first)),
        ms(median(banner)),
        ms(median(exit))
    );
    println!("  os banner: {banner_text:?}");
}
