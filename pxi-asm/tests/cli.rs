//! The `pxi-asm` binary: assemble, disassemble, run, errors and help.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pxi_asm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pxi-asm"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pxi-asm-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn assemble_run_and_disassemble() {
    let dir = scratch("flow");
    let image = dir.join("hello.pxi");
    let image_arg = image.to_str().unwrap();
    let out = pxi_asm(&[
        "assemble",
        "../examples/hello.pxs",
        "-o",
        image_arg,
        "--width",
        "16",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("hello.pxi.map").exists());

    let out = pxi_asm(&["run", image_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello from the pixels!\n");
    assert!(
        stderr(&out).contains("halted with status 0"),
        "{}",
        stderr(&out)
    );

    let listing = dir.join("hello.dis.pxs");
    let out = pxi_asm(&["disassemble", image_arg, "-o", listing.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&listing).unwrap();
    assert!(
        text.contains(".width 16") && text.contains("main:") && text.contains("hello.pxs:"),
        "{text}"
    );

    let again = dir.join("again.pxi");
    let out = pxi_asm(&[
        "assemble",
        listing.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
        "--no-map",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.join("again.pxi.map").exists());
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&image).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pxi-asm run PROGRAM --counts FILE` plus `extra` arguments; it must exit
/// with 0. Its output and the counts it wrote.
fn run_counting(program: &str, extra: &[&str]) -> (Output, pxi::counts::Counts) {
    // One directory per program: the tests run in parallel in one process.
    let stem = std::path::Path::new(program).file_stem().unwrap();
    let dir = scratch(&format!("counts-{}", stem.to_str().unwrap()));
    let path = dir.join("run.counts");
    let mut args = vec!["run", program, "--counts", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = pxi_asm(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let counts = pxi::counts::Counts::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (out, counts)
}

#[test]
fn run_accepts_source_and_writes_counts() {
    let (out, counts) = run_counting("../examples/fib.pxs", &["--snapshot-rounds", "10"]);
    assert!(stdout(&out).starts_with("Fibonacci numbers:\n0\n1\n1\n2\n"));
    assert!(counts.snapshots.len() > 1);
    assert_eq!(
        counts.last().unwrap().counts[0],
        1,
        "the first instruction runs once"
    );
}

/// An OS image runs with a code load arena added after its pixels; the
/// counts file covers the program file's pixels only, as `pxi-viz` reads it.
#[test]
fn counts_of_an_os_image_cover_the_file_not_the_code_arena() {
    let (_, counts) = run_counting("../examples/os.pxs", &[]);
    let image = pxi_asm::assemble_file(std::path::Path::new("../examples/os.pxs"))
        .unwrap()
        .image;
    assert_eq!(counts.code_len as usize, image.code.len());
    assert_eq!(counts.last().unwrap().counts.len(), image.code.len());
}

#[test]
fn trap_report_names_the_source_line() {
    let dir = scratch("trap");
    let source = dir.join("crash.pxs");
    std::fs::write(&source, "main:\n    li r2, 0\n    divu r1, r1, r2\n").unwrap();
    let out = pxi_asm(&["run", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: hart 0 trapped: division by zero at pc 2 (pixel 10,0) in `divu r1, r1, r2`"
        ),
        "{err}"
    );
    assert!(
        err.contains("crash.pxs:3 (in main)") && err.contains("3 |     divu r1, r1, r2"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn budget_exhaustion_is_an_error() {
    let dir = scratch("budget");
    let source = dir.join("spin.pxs");
    std::fs::write(&source, "spin: jmp spin\n").unwrap();
    let out = pxi_asm(&[
        "run",
        source.to_str().unwrap(),
        "--max-steps",
        "1000",
        "--slice-steps",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(124));
    assert!(
        stderr(&out)
            .contains("step budget of 1000 spent; exit status 124; 1000 steps in 10 rounds"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn assembly_errors_show_a_caret() {
    let dir = scratch("error");
    let source = dir.join("bad.pxs");
    std::fs::write(&source, "main:\n    add r17, r1, r2\n").unwrap();
    let out = pxi_asm(&["assemble", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let expected = format!(
        "error: unknown register r17\n --> {}:2:9\n  |\n2 |     add r17, r1, r2\n  |         ^^^\n",
        source.display()
    );
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_image_is_reported() {
    let dir = scratch("malformed");
    let path = dir.join("junk.pxi");
    std::fs::write(&path, b"not a png").unwrap();
    let out = pxi_asm(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a readable PNG"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_subcommand_has_help() {
    for (args, needle) in [
        (&["--help"][..], "Assemble, disassemble and run"),
        (&["assemble", "--help"], "--no-map"),
        (
            &["disassemble", "--help"],
            "reassembles to the identical image",
        ),
        (&["run", "--help"], "--max-steps"),
    ] {
        let out = pxi_asm(args);
        assert!(out.status.success());
        assert!(stdout(&out).contains(needle), "{args:?}: {}", stdout(&out));
    }
}

fn closed_pipe(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pxi-asm"));
    command.args(args);
    pxi_asm::cli::output_with_stdout_closed(&mut command).unwrap()
}

#[test]
fn a_closed_stdout_ends_every_subcommand_quietly() {
    let dir = scratch("pipe");
    // A disassembly far larger than a pipe's buffer, so writing it must fail.
    let big = dir.join("big.pxs");
    std::fs::write(&big, "    addi r1, r1, 1\n".repeat(20_000) + "    jmp 0\n").unwrap();
    let image = dir.join("big.pxi");
    let out = pxi_asm(&[
        "assemble",
        big.to_str().unwrap(),
        "-o",
        image.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `pxi-asm disassemble big.pxi | head -1`, and a program printing to a closed console.
    let greeter = dir.join("greet.pxs");
    std::fs::write(
        &greeter,
        ".data\nhi: .string \"hi\\n\"\n.code\nloop: li r0, SYS_WRITE\n li r1, hi\n li r2, 3\n syscall\n jmp loop\n",
    )
    .unwrap();
    for args in [
        &["disassemble", image.to_str().unwrap()][..],
        &["run", greeter.to_str().unwrap(), "--max-steps", "100000"],
        &["--help"],
    ] {
        let out = closed_pipe(args);
        assert!(
            pxi_asm::cli::ended_quietly(&out) && out.stderr.is_empty(),
            "{args:?}: {:?}\n{}",
            out.status,
            stderr(&out)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_are_not_prefixed_twice() {
    let dir = scratch("prefix");
    let source = dir.join("bad.pxs");
    std::fs::write(&source, "jmp nowhere\n").unwrap();
    let out = pxi_asm(&["run", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: undefined symbol `nowhere`\n"),
        "{}",
        stderr(&out)
    );
    let out = pxi_asm(&["run", dir.join("missing.pxi").to_str().unwrap()]);
    assert!(
        stderr(&out).starts_with("pxi-asm: error: reading "),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `link` adds a program to the OS image: the linked image lists and runs it,
/// and its map names the program's pixels `greet.main` and so on.
#[test]
fn link_adds_programs_to_an_os_image() {
    let dir = scratch("link");
    let source = dir.join("greet.pxs");
    let osabi = std::path::Path::new("../examples/lib/osabi.pxs")
        .canonicalize()
        .unwrap();
    std::fs::write(
        &source,
        format!(
            ".include \"{}\"\n.data\nmsg: .string \"linked in\\n\"\n.code\nmain:\n    li r1, msg\n    li r2, msg.len\n    call u_puts\n    li r0, 0\n    ret\n",
            osabi.display()
        ),
    )
    .unwrap();
    let linked = dir.join("os.pxi");
    let out = pxi_asm(&[
        "link",
        "../examples/os.pxs",
        source.to_str().unwrap(),
        "-o",
        linked.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let map = std::fs::read_to_string(dir.join("os.pxi.map")).unwrap();
    assert!(
        map.contains(" greet.main"),
        "the map names the linked program's labels"
    );
    let run = Command::new(env!("CARGO_BIN_EXE_pxi-asm"))
        .args(["run", linked.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"run greet\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        stdout(&run).contains("pxos$ linked in\n"),
        "{}",
        stdout(&run)
    );
    let bad = pxi_asm(&[
        "link",
        "../examples/os.pxs",
        source.to_str().unwrap(),
        source.to_str().unwrap(),
        "-o",
        linked.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("already linked"), "{}", stderr(&bad));
}
