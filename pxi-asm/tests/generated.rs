//! Files generated from the Rust tables (`docs/isa.md`, the OS ABI include
//! files, `examples/os.pxi`) must not go stale.

/// Compare (or, with UPDATE_GENERATED, rewrite) the generated file `relative`.
fn check_generated(relative: &str, generated: &str, from: &str) {
    let path = format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"));
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        // Only when it changed: another test may be reading it (os.pxs includes the ABI files).
        if current != generated {
            std::fs::write(&path, generated).unwrap();
        }
        return;
    }
    assert!(
        current == generated,
        "{relative} is stale: it differs from {from}.\n\
         Regenerate it with: UPDATE_GENERATED=1 cargo test -p pxi-asm --test generated"
    );
}

#[test]
fn isa_reference_is_up_to_date() {
    check_generated(
        "docs/isa.md",
        &pxi::docs::isa_markdown(),
        "pxi::docs::isa_markdown()",
    );
}

#[test]
fn os_abi_includes_are_up_to_date() {
    check_generated(
        "examples/lib/abi.pxs",
        &pxi::osabi::abi_pxs(),
        "pxi::osabi::abi_pxs()",
    );
    check_generated(
        "examples/lib/abi_kernel.pxs",
        &pxi::osabi::abi_kernel_pxs(),
        "pxi::osabi::abi_kernel_pxs()",
    );
}

/// docs/abi.md documents every call under its number, and every error and capability.
#[test]
fn abi_document_matches_the_tables() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/abi.md")).unwrap();
    for (num, name, cap) in pxi::osabi::OS_CALLS {
        let heading = format!("### {num} `{name}`");
        let at = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/abi.md lacks `{heading}`"));
        let section = &doc[at..];
        let end = section[1..].find("\n### ").map_or(section.len(), |e| e + 1);
        let needs = if cap.is_empty() {
            "Capability: none".to_string()
        } else {
            format!("Capability: `{cap}`")
        };
        assert!(
            section[..end].contains(&needs),
            "docs/abi.md: {name} must say {needs}"
        );
    }
    for (name, value, _) in pxi::osabi::ERRORS.iter().chain(pxi::osabi::CAPS) {
        let row = if name.starts_with("ERR") {
            format!("| `{name}` | 0x{value:08X} |")
        } else {
            format!("| {value} | `{name}` |")
        };
        assert!(doc.contains(&row), "docs/abi.md lacks the row `{row}`");
    }
}

/// The microkernel embeds `examples/os.pxi`; it must match `examples/os.pxs`.
#[test]
fn os_image_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxi");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/os.pxs");
    let assembly =
        pxi_asm::assemble_file(std::path::Path::new(source)).unwrap_or_else(|e| panic!("{e}"));
    let png = assembly.image.encode_png();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(path, &png).unwrap();
        return;
    }
    assert!(
        std::fs::read(path).ok().as_deref() == Some(&png[..]),
        "examples/os.pxi is stale: it differs from examples/os.pxs assembled.\n\
         Regenerate it with: UPDATE_GENERATED=1 cargo test -p pxi-asm --test generated"
    );
}
