//! The translator on the host: structure and errors. What the TGSI computes is tested through
//! virglrenderer in `virgl/tests/vtest.rs` (snippets and the differential tests).

use super::*;

fn count(text: &str, opcode: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().split([' ', '\t']).next() == Some(opcode))
        .count()
}

/// Control flow nests properly and the shader ends once.
fn assert_well_formed(t: &Translation) {
    let text = &t.text;
    assert!(text.starts_with("COMP\n"), "{text}");
    assert!(text.ends_with("END\n"));
    assert_eq!(count(text, "END"), 1);
    assert_eq!(count(text, "UIF"), count(text, "ENDIF"));
    assert_eq!(count(text, "BGNLOOP"), count(text, "ENDLOOP"));
    let mut depth = 0i32;
    for line in text.lines().map(str::trim) {
        match line.split(' ').next() {
            Some("UIF" | "BGNLOOP") => depth += 1,
            Some("ENDIF" | "ENDLOOP") => depth -= 1,
            Some("BRK") => assert!(depth > 0),
            _ => {}
        }
        assert!(depth >= 0, "unbalanced at {line}");
    }
    assert_eq!(depth, 0);
}

#[test]
fn the_runtime_shaders_translate() {
    for workgroup in [8, 64] {
        let s = runtime(workgroup).expect("the runtime's shaders translate");
        for t in [&s.run_slice, &s.resolve, &s.run_vector] {
            assert_well_formed(t);
        }
        assert_eq!(s.run_slice.workgroup, [workgroup, 1, 1]);
        assert_eq!(s.run_slice.buffers, (0..=8).collect::<Vec<_>>());
        assert_eq!(s.run_vector.buffers, [0, 1]);
        assert_eq!(s.resolve.workgroup, [256, 1, 1]);
        // wg_running + wg_spawned; wg_acc + wg_entry[7].
        assert_eq!(s.resolve.shared_bytes, 8);
        assert_eq!(s.run_vector.shared_bytes, 32);
        // The hart registers are indexed at run time: an indirect TEMP array.
        assert!(s.run_slice.text.contains("ARRAY(1)"));
        assert!(s.run_slice.text.contains("TEMP[ADDR[0].x+"));
    }
}

/// Every interpreter opcode constant reaches the TGSI as an immediate, so a new opcode in the
/// ISA table needs no edit here (the generated WGSL carries it).
#[test]
fn every_opcode_constant_reaches_the_tgsi() {
    let s = runtime(8).unwrap();
    for line in crate::GENERATED.lines() {
        let Some(rest) = line.strip_prefix("const OP_") else {
            continue;
        };
        let (name, value) = rest.split_once(": u32 = ").unwrap();
        if name == "INVALID" {
            continue;
        }
        let value = value.trim_end_matches(';').split('u').next().unwrap();
        let value = u32::from_str_radix(value.trim_start_matches("0x"), 16).unwrap();
        let imm = format!("{{{value}, {value}, {value}, {value}}}");
        let interpreter = crate::INTERPRETER.contains(&format!("OP_{name}"));
        if interpreter {
            assert!(
                s.run_slice.text.contains(&imm),
                "OP_{name} ({value:#x}) is used by interpreter.wgsl but missing from run_slice"
            );
        }
    }
}

#[test]
fn overrides_set_the_workgroup_size() {
    let src = "override W: u32 = 4u;
        @group(0) @binding(0) var<storage, read_write> out: array<u32>;
        @compute @workgroup_size(W) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
            out[g.x] = g.x;
        }";
    assert_eq!(translate(src, "main", &[]).unwrap().workgroup, [4, 1, 1]);
    let t = translate(src, "main", &[("W", 32.0)]).unwrap();
    assert_eq!(t.workgroup, [32, 1, 1]);
    // global_invocation_id.x = block id * 32 + thread id.
    let imm = t
        .text
        .lines()
        .find_map(|l| l.strip_suffix(" UINT32 {32, 32, 32, 32}"))
        .expect("the block width is an immediate");
    let umad = format!("UMAD TEMP[1].x, SV[1].xxxx, {imm}.xxxx, SV[0].xxxx");
    assert!(t.text.contains(&umad), "{}", t.text);
    assert_eq!(t.buffers, [0]);
}

#[test]
fn exits_across_loops_use_the_pending_exit_register() {
    let src = "@group(0) @binding(0) var<storage, read_write> out: array<u32>;
        fn f() -> u32 {
            loop { loop { if (out[0] == 1u) { return 7u; } out[1] += 1u; } }
            return 0u;
        }
        @compute @workgroup_size(1) fn main() { out[2] = f(); }";
    let t = translate(src, "main", &[]).unwrap();
    assert_well_formed(&t);
    // Function wrapper + two loops; the return sets the marker of the wrapper (loop 0).
    assert_eq!(count(&t.text, "BGNLOOP"), 3);
    assert!(t.text.contains("MOV TEMP[0].x, IMM["), "{}", t.text);
}

#[test]
fn unsupported_constructs_are_errors_with_positions() {
    let cases = [
        (
            "@group(0) @binding(0) var<storage, read_write> out: array<f32>;
            @compute @workgroup_size(1) fn main() { out[0] = sin(out[1]); }",
            "Sin",
        ),
        (
            "@group(1) @binding(0) var<storage, read_write> out: array<u32>;
            @compute @workgroup_size(1) fn main() { out[0] = 1u; }",
            "bind group 1",
        ),
    ];
    for (src, what) in cases {
        let e = translate(src, "main", &[]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(what), "{text}");
        if what == "Sin" {
            assert!(text.starts_with("2:"), "position missing: {text}");
        }
    }
    let missing = translate("@compute @workgroup_size(1) fn main() {}", "nope", &[]);
    assert!(missing.unwrap_err().to_string().contains("nope"));
}

#[test]
fn bad_wgsl_is_a_parse_error() {
    let e = translate("fn (", "main", &[]).unwrap_err();
    assert!(matches!(e, Error::Parse(_)), "{e}");
}
