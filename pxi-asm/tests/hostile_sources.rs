//! Sources written to hurt the assembler: deep and exploding includes, floods
//! of errors, megabyte lines, and the error texts they get.

use std::path::PathBuf;
use std::time::Duration;

use pxi_asm::error::{MAX_ERRORS, MAX_QUOTED_CHARS};
use pxi_asm::lexer::MAX_LINE_TOKENS;
use pxi_asm::parser::{MAX_INCLUDE_DEPTH, MAX_INCLUDED_FILES};
use pxi_asm::{ErrorKind, Errors, assemble_file, assemble_source};

fn errors(source: &str) -> Errors {
    assemble_source("t.pxs", source).unwrap_err()
}

fn kinds(source: &str) -> Vec<ErrorKind> {
    errors(source).0.into_iter().map(|e| e.kind).collect()
}

/// CPU time this thread has used: unlike wall time, it does not grow when
/// other jobs load the machine. The bounds below are 5-10x what a release
/// build needs; they catch quadratic blow-ups, they do not measure speed.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pxi-asm-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_deep_include_chain_is_an_error_not_a_stack_overflow() {
    let dir = scratch("deep");
    let depth = 7000;
    for i in 0..depth {
        std::fs::write(
            dir.join(format!("f{i}.pxs")),
            format!(".include \"f{}.pxs\"\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.join(format!("f{depth}.pxs")), "nop\n").unwrap();
    let err = assemble_file(&dir.join("f0.pxs")).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].kind, ErrorKind::IncludeTooDeep(MAX_INCLUDE_DEPTH));
    let at = err.0[0].at.as_ref().unwrap();
    assert!(
        at.file
            .ends_with(&format!("f{}.pxs", MAX_INCLUDE_DEPTH - 1)),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_exploding_include_tree_stops_quickly() {
    // Each file includes the next twice: 2^20 inclusions if nothing stopped it.
    let dir = scratch("explode");
    for i in 0..20 {
        let next = format!(".include \"f{}.pxs\"\n", i + 1);
        std::fs::write(dir.join(format!("f{i}.pxs")), next.repeat(2)).unwrap();
    }
    std::fs::write(dir.join("f20.pxs"), "nop\n").unwrap();
    let started = thread_cpu_time();
    let err = assemble_file(&dir.join("f0.pxs")).unwrap_err();
    let used = thread_cpu_time() - started;
    assert!(used < Duration::from_secs(5), "{used:?}");
    assert_eq!(
        err.0[0].kind,
        ErrorKind::TooManyIncludes(MAX_INCLUDED_FILES),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_are_capped_and_quoted_lines_cut() {
    // 20,000 undefined symbols on one 200 kB line.
    let names: Vec<String> = (0..20_000).map(|i| format!("undefined_{i}")).collect();
    let source = format!(".data\n.word {}\n.code\nnop\n", names.join(", "));
    let err = errors(&source);
    assert_eq!(err.0.len(), MAX_ERRORS + 1);
    assert_eq!(err.0[MAX_ERRORS].kind, ErrorKind::TooManyErrors(MAX_ERRORS));
    let text = err.to_string();
    assert!(
        text.len() < 100 * (MAX_ERRORS + 1) * 4,
        "{} bytes of errors",
        text.len()
    );
    for error in &err.0[..MAX_ERRORS] {
        let at = error.at.as_ref().unwrap();
        assert!(
            at.text.chars().count() <= MAX_QUOTED_CHARS + 2,
            "{}",
            at.text
        );
    }
    // The caret still points at the name, which is quoted.
    let tenth = &err.0[10];
    let at = tenth.at.as_ref().unwrap();
    let shown: String = at.text.chars().skip(at.caret).take(at.len).collect();
    assert_eq!(shown, "undefined_10");
    assert!(text.contains("too many errors; only the first 100 are shown"));
}

#[test]
fn syntax_errors_are_capped_too() {
    let err = errors(&"frob r1\n".repeat(10_000));
    assert_eq!(err.0.len(), MAX_ERRORS + 1);
    assert_eq!(err.0[MAX_ERRORS].kind, ErrorKind::TooManyErrors(MAX_ERRORS));
}

#[test]
fn a_five_megabyte_line_is_handled_in_a_second_or_two() {
    // Five million tokens: refused at the token limit, quickly and in little memory. The
    // first extra token follows `li`, `r1`, `,` and 65,533 others, at column 7 + 65,533 + 1.
    let source = format!("li r1, {}\n", "x+".repeat(2_500_000));
    let started = thread_cpu_time();
    let err = errors(&source);
    let text = err.to_string();
    let used = thread_cpu_time() - started;
    assert_eq!(err.0[0].kind, ErrorKind::TooManyTokens(MAX_LINE_TOKENS));
    assert_eq!(
        err.0[0].at.as_ref().map(|at| at.col),
        Some(MAX_LINE_TOKENS + 5)
    );
    assert!(text.len() < 100_000);
    assert!(used < Duration::from_secs(2), "took {used:?} of CPU time");
    // A five-megabyte string is one token, and assembles.
    let source = format!(
        ".width 1024\n.data\n.string \"{}\"\n.code\nnop\n",
        "x".repeat(5_000_000)
    );
    let started = thread_cpu_time();
    let assembly = assemble_source("t.pxs", &source).unwrap_or_else(|e| panic!("{e}"));
    let used = thread_cpu_time() - started;
    assert_eq!(assembly.image.segments[0].words.len(), 1_250_000);
    assert!(used < Duration::from_secs(2), "took {used:?} of CPU time");
}

#[test]
fn a_missing_comma_is_named() {
    assert_eq!(
        errors("li r1 42").to_string(),
        "error: expected `,`, found number 42\n --> t.pxs:1:7\n  |\n1 | li r1 42\n  |       ^^\n\n1 error found"
    );
    // Too many or too few operands are still counted.
    assert!(matches!(
        kinds("add r1, r2, r3, r4")[0],
        ErrorKind::OperandCount { found: 4, .. }
    ));
    assert!(matches!(
        kinds("li r1")[0],
        ErrorKind::OperandCount { found: 1, .. }
    ));
}

#[test]
fn syntax_errors_do_not_hide_undefined_labels_or_invent_new_ones() {
    let found = kinds("start: li r1 42\n.equ N, 1 +\njmp start\nli r2, N\njmp nowhere\n");
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(matches!(
        found[0],
        ErrorKind::Expected {
            expected: "`,`",
            ..
        }
    ));
    assert!(matches!(found[1], ErrorKind::Expected { .. }));
    assert_eq!(found[2], ErrorKind::Undefined("nowhere".into()));
}

#[test]
fn an_image_too_high_names_the_row_limit_and_the_statement() {
    let big = format!(
        ".data\n.word 1\nbig: .string \"{}\"\n.code\nnop\n",
        "x".repeat(4 * 16384 * 64)
    );
    let err = errors(&big);
    assert_eq!(
        err.0[0].kind,
        ErrorKind::ImageTooHigh {
            width: 64,
            height: 16385,
            max_height: 16384,
            max_width: 16384
        }
    );
    assert_eq!(err.0[0].at.as_ref().map(|at| at.line), Some(3), "{err}");
    assert!(
        err.to_string()
            .contains("higher than the limit of 16384 rows"),
        "{err}"
    );
    let wide = format!(
        ".width 9\n.data\n.string \"{}\"\n.code\nnop\n",
        "x".repeat(4 * 9 * 16384)
    );
    let err = errors(&wide);
    assert!(
        matches!(err.0[0].kind, ErrorKind::ImageTooHigh { width: 9, .. }),
        "{err}"
    );
    assert_eq!(err.0[0].at.as_ref().map(|at| at.line), Some(1), "{err}");
}

#[test]
fn space_past_the_memory_limit_has_a_location() {
    let err = errors(".data\n.space 0x1000000\n.space 0x1000000\n.space 1\n.code\nnop\n");
    assert_eq!(
        err.0[0].kind,
        ErrorKind::DataTooLarge {
            end: (1 << 25) + 1,
            max: 1 << 25
        }
    );
    assert_eq!(err.0[0].at.as_ref().map(|at| at.line), Some(4), "{err}");
    assert_eq!(err.0.len(), 1, "{err}");
}

#[test]
fn crlf_cr_only_and_a_byte_order_mark_assemble() {
    let lf = ".data\nmsg: .string \"hi\" ; c\n.code\nmain: li r1, msg\n    jmp main\n";
    let reference = assemble_source("t.pxs", lf).unwrap().image;
    for text in [
        lf.replace('\n', "\r\n"),
        lf.replace('\n', "\r"),
        format!("\u{feff}{lf}"),
        format!("\u{feff}{}", lf.replace('\n', "\r\n")),
    ] {
        let assembly = assemble_source("t.pxs", &text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(assembly.image, reference, "{text:?}");
        assert_eq!(assembly.map.pixel(2).map(|p| p.line), Some(5), "{text:?}");
    }
    // Errors count lines the same way.
    let err = errors("nop\rnop\rfrob\r");
    assert_eq!(err.0[0].at.as_ref().map(|at| at.line), Some(3));
}

#[test]
fn an_endless_include_ends() {
    let err = errors(".include \"/dev/zero\"\nnop\n");
    assert_eq!(
        err.0[0].kind,
        ErrorKind::Io {
            path: "/dev/zero".into(),
            reason: "larger than 16 MiB".into()
        },
        "{err}"
    );
}

#[test]
fn a_program_that_links_itself_is_an_error_not_a_stack_overflow() {
    let dir = scratch("program-cycle");
    std::fs::write(dir.join("a.pxs"), ".program \"b.pxs\"\nnop\n").unwrap();
    std::fs::write(dir.join("b.pxs"), ".program \"a.pxs\"\nnop\n").unwrap();
    let err = assemble_file(&dir.join("a.pxs")).unwrap_err();
    assert!(
        matches!(&err.0[0].kind, ErrorKind::ProgramCycle(path) if path.ends_with("a.pxs")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
