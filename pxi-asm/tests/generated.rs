//! `docs/isa.md` is generated from the ISA table and must not go stale.

#[test]
fn isa_reference_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/isa.md");
    let generated = pxi::docs::isa_markdown();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/isa.md is stale: it differs from pxi::docs::isa_markdown().\n\
         Regenerate it with: UPDATE_GENERATED=1 cargo test -p pxi-asm --test generated"
    );
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
