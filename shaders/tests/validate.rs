//! Every shader parses and validates with naga, and the generated constants
//! match the ISA table.

use std::path::Path;

#[test]
fn generated_constants_are_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated.wgsl");
    let expected = pxi::wgsl::constants();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale: regenerate with `UPDATE_GENERATED=1 cargo test -p shaders`",
        path.display()
    );
}

#[test]
fn every_module_validates() {
    for (name, source) in shaders::all_modules() {
        validate(name, &source);
    }
}

/// Parse and validate `source` with naga, or panic with the error in context.
fn validate(name: &str, source: &str) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| {
        panic!(
            "{name}.wgsl does not validate:\n{}",
            e.emit_to_string(source)
        )
    });
}

#[test]
fn every_opcode_is_handled_by_the_interpreter() {
    // Adding an opcode to the table without giving it semantics in the shader
    // must fail here: scalar opcodes need a `case`, vector ones a vector.wgsl
    // case, float ones a float.wgsl case, tensor ones a tensor.wgsl case.
    for row in pxi::isa::TABLE {
        let name = format!("OP_{}", row.mnemonic.to_ascii_uppercase());
        let in_interpreter = shaders::INTERPRETER.contains(&name);
        let in_vector = shaders::VECTOR.contains(&name);
        let handled = match row.class {
            pxi::isa::Class::Vector => in_vector,
            pxi::isa::Class::Float => shaders::FLOAT.contains(&name),
            pxi::isa::Class::Tensor => shaders::TENSOR.contains(&name),
            // Pure instructions: pxi::wgsl::pure_value, generated from the table.
            _ => in_interpreter || row.op.semantics().is_some(),
        };
        assert!(handled, "{name} has no semantics in the WGSL runtime");
    }
}

#[test]
fn the_fast_path_handles_exactly_the_simple_opcodes() {
    // run_slice's inner loop runs the instructions predecode marks INFO_FAST
    // (`Op::is_simple`): the pure ones through the generated `pure_value`,
    // loads and stores by name, and nop by doing nothing. So the opcodes it
    // names plus the pure simple ones plus nop must be exactly the simple ones.
    let source = shaders::INTERPRETER;
    let start = source
        .find("if (runs_fast(info))")
        .expect("the fast loop's runs_fast test");
    let fast = &source[start..];
    let fast = &fast[..fast.find("if (bail)").expect("the end of the fast switch")];
    let mut named: std::collections::BTreeSet<String> = fast
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("OP_"))
        .map(str::to_string)
        .collect();
    assert!(
        fast.contains("pure_value("),
        "the fast loop runs the pure instructions"
    );
    named.insert("OP_NOP".into());
    named.extend(
        pxi::isa::TABLE
            .iter()
            .filter(|row| row.op.is_simple() && row.op.semantics().is_some())
            .map(|row| format!("OP_{}", row.mnemonic.to_ascii_uppercase())),
    );
    let simple: std::collections::BTreeSet<String> = pxi::isa::TABLE
        .iter()
        .filter(|row| row.op.is_simple())
        .map(|row| format!("OP_{}", row.mnemonic.to_ascii_uppercase()))
        .collect();
    assert_eq!(named, simple, "fast path opcodes vs Op::is_simple");
}

#[test]
fn compiled_modules_validate() {
    // Every simple instruction once, in a block that loops on itself and in
    // one that falls through, each form with its widest fields.
    use pxi::isa::{Instruction, Op, TABLE};
    let mut code = Vec::new();
    let mut push = |inst: Instruction| {
        let (px, n) = inst.encode();
        code.extend_from_slice(&px[..n]);
    };
    for row in TABLE.iter().filter(|row| row.op.is_simple()) {
        if row
            .op
            .semantics()
            .is_some_and(|s| matches!(s, pxi::isa::Semantics::Branch(_)))
        {
            continue;
        }
        let c = if row.form.register_mask() & 4 != 0 {
            15
        } else {
            255
        };
        let word = if row.form.len() == 2 { 0xFFFF_FFFF } else { 0 };
        push(Instruction::new(row.op, 15, 14, c, word));
    }
    push(Instruction::new(Op::Jne, 0, 0, 0, 0));
    push(Instruction::new(Op::Add, 1, 2, 3, 0));
    push(Instruction::new(Op::Addi, 1, 1, 0x80, 0));
    push(Instruction::new(Op::Yield, 0, 0, 0, 0));
    let compiled = shaders::compile::compile(&code, &[]);
    assert_eq!(compiled.blocks.len(), 2, "{:?}", compiled.blocks);
    validate("compiled", &compiled.source);
}
