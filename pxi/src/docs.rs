//! `docs/isa.md`, generated from the ISA table.

use alloc::format;
use alloc::string::String;

use crate::isa::{Class, Semantics, TABLE};
use crate::mailbox::CALLS;

/// The generated ISA reference (Markdown).
pub fn isa_markdown() -> String {
    let mut s = String::from(include_str!("isa_intro.md"));
    let classes = [
        Class::System,
        Class::Memory,
        Class::Alu,
        Class::Control,
        Class::Atomic,
        Class::Vector,
        Class::Float,
        Class::Tensor,
    ];
    for class in classes {
        s.push_str(&format!("\n### {}\n\n", class.title()));
        if matches!(class, Class::Float | Class::Tensor) {
            s.push_str("Values are f32 bits in registers and memory words; the exact arithmetic (canonical NaN, flushed subnormals, reduction orders, the exp/sin/cos algorithms) and the operand rules are in [tensor.md](tensor.md).\n\n");
        }
        if class == Class::Tensor {
            s.push_str("Quantised (Q8) tensors have runq.c's layout: a tensor's int8 values, four to a word, then one f32 scale per group; the group size is an operand. GGUF's Q8_0 blocks (an f16 scale, then 32 int8 values: 34 bytes) are converted to it when a model is loaded, f16 → f32 exactly ([ai.md](ai.md#gguf-q8_0)).\n\n");
        }
        s.push_str(
            "| R byte | mnemonic | operands | pixels | semantics |\n|---|---|---|---|---|\n",
        );
        for row in TABLE.iter().filter(|r| r.class == class) {
            s.push_str(&format!(
                "| `0x{:02x}` | `{}` | {} | {} | {} |\n",
                row.byte,
                row.mnemonic,
                row.form.name(),
                row.form.len(),
                row.doc
            ));
        }
    }
    s.push_str("\n### WGSL semantics of the pure instructions\n\n\
        Written once in the ISA table (`pxi::isa::Op::semantics`); the GPU interpreter's fast and slow paths and the \
        compiled mode's blocks ([compiler.md](compiler.md)) are generated from these templates, and the differential \
        tests check them against the CPU interpreter. `$a`, `$b`, `$c`: the values of `ra`, `rb`, `rc`; `$i`: the \
        8-bit immediate; `$w`: the word; `$f`: the flags; `$id`: the hart id.\n\n\
        | mnemonic | sets | WGSL |\n|---|---|---|\n");
    for row in TABLE {
        let Some(semantics) = row.op.semantics() else {
            continue;
        };
        let sets = match semantics {
            Semantics::Result(_) => "`ra`",
            Semantics::Flags(_) => "flags",
            Semantics::Branch(_) => "pc (jump to the word when true)",
        };
        s.push_str(&format!(
            "| `{}` | {sets} | `{}` |\n",
            row.mnemonic,
            semantics.template().replace('|', "\\|")
        ));
    }
    s.push_str("\n## Machine constants\n\nPredefined by the assembler, from `pxi::state::CONSTANTS` and `pxi::mailbox::DEVICE_CONSTANTS`.\n\n| name | value | meaning |\n|---|---|---|\n");
    let device = crate::mailbox::DEVICE_CONSTANTS;
    for (name, value, doc) in crate::state::CONSTANTS.iter().chain(device) {
        s.push_str(&format!("| `{name}` | {value} | {doc} |\n"));
    }
    s.push_str("\n## System calls\n\n`syscall` with the call number in `r0` and arguments in `r1`..`r3`; the result comes back in `r0`. The assembler predefines each name as a constant.\n\n| number | name | semantics |\n|---|---|---|\n");
    for (num, name, doc) in CALLS {
        s.push_str(&format!("| {num} | `{name}` | {doc} |\n"));
    }
    s
}
