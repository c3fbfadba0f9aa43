//! What every pxOS command-line tool (`pxi-asm`, `pxi-run`, `pxi-viz`) does
//! the same way: end quietly when its output pipe closes, and print errors.

use crate::Errors;

/// Let a closed stdout end the process silently, as it ends `cat` or `yes`
/// (`pxi-asm disassemble os.pxi | head -1`). Rust ignores `SIGPIPE`, so
/// without this every later print panics with "failed printing to stdout:
/// Broken pipe". Call it first thing in `main`.
pub fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: `signal` with `SIG_DFL` installs no handler; it restores the
    // default disposition that Rust's runtime replaced with `SIG_IGN`.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Print a tool's error to stderr: assembly diagnostics as rendered (each
/// already starts with `error:` and points at the source), anything else as
/// `tool: error: message`.
pub fn report_error(tool: &str, error: &anyhow::Error) {
    match error.downcast_ref::<Errors>() {
        Some(errors) => eprintln!("{errors}"),
        None => eprintln!("{tool}: error: {error:#}"),
    }
}

/// Run `command` with its stdout a pipe whose reading end is already
/// closed, and collect its exit status and stderr: what every tool's
/// closed-pipe test checks.
pub fn output_with_stdout_closed(
    command: &mut std::process::Command,
) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    drop(child.stdout.take());
    child.wait_with_output()
}

/// Whether a tool ended quietly on its closed stdout: success or the
/// default `SIGPIPE` death (which a shell does not report), and no panic or
/// "Broken pipe" message on stderr.
pub fn ended_quietly(output: &std::process::Output) -> bool {
    #[cfg(unix)]
    let broken_pipe =
        std::os::unix::process::ExitStatusExt::signal(&output.status) == Some(libc::SIGPIPE);
    #[cfg(not(unix))]
    let broken_pipe = false;
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.success() || broken_pipe)
        && !stderr.contains("panicked")
        && !stderr.contains("Broken pipe")
}
