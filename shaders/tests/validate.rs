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
        let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| {
            panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(&source))
        });
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| {
            panic!(
                "{name}.wgsl does not validate:\n{}",
                e.emit_to_string(&source)
            )
        });
    }
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
            _ => in_interpreter,
        };
        assert!(handled, "{name} has no semantics in the WGSL runtime");
    }
}
