//! Every example: expected output, golden disassembly, exact reassembly, and
//! PNGs that an independent decoder (the `image` crate) reads back.

mod common;

use std::path::{Path, PathBuf};

use pxi::run::Stop;
use pxi_asm::{assemble_file, assemble_source, disassemble};

/// Paths relative to the package directory (the tests' working directory),
/// so that the source map, and with it the goldens, do not depend on the checkout.
fn example(name: &str) -> PathBuf {
    Path::new("../examples").join(format!("{name}.pxs"))
}

const EXAMPLES: [&str; 6] = ["hello", "fib", "parallel_sum", "vector", "ai", "os"];

fn check_output(name: &str, expected: &str) {
    let assembly = assemble_file(&example(name)).unwrap_or_else(|e| panic!("{e}"));
    let (outcome, output, machine) = common::run(&assembly.image);
    assert!(machine.traps(&assembly.image).is_empty(), "{name} trapped");
    assert_eq!(outcome.stop, Stop::Halted(0), "{name}");
    assert_eq!(output, expected, "{name}");
}

#[test]
fn hello_output() {
    check_output("hello", "Hello from the pixels!\n");
}

#[test]
fn fib_output() {
    let mut expected = String::from("Fibonacci numbers:\n");
    let (mut a, mut b) = (0u32, 1u32);
    for _ in 0..25 {
        expected += &format!("{a}\n");
        (a, b) = (b, a + b);
    }
    check_output("fib", &expected);
}

#[test]
fn parallel_sum_output() {
    check_output("parallel_sum", "sum of 1..1024 = 524800\n");
}

#[test]
fn vector_output() {
    check_output(
        "vector",
        "a+b[0]    = 9\na.b       = 120\nsum(a+b)  = 72\nfind 5    = 4\nfind 42   = 4294967295\n\
         sum(7s)   = 56\ncopy[7]   = 8\n",
    );
}

#[test]
fn os_output() {
    // Without console input the shell sees end of input at once, says bye and
    // halts; full shell sessions run on both executors in gpu-runtime/tests/os.rs.
    check_output(
        "os",
        "pxOS 0.3: protected processes in pixels (4 harts + console, type help)\n\
         pxos$ bye\n",
    );
}

/// Compare with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it, a
/// mismatch leaves `<name>.actual` next to it.
fn golden(name: &str, actual: &str) {
    let path = Path::new("tests/golden").join(name);
    let actual_path = path.with_file_name(format!("{name}.actual"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        let _ = std::fs::remove_file(&actual_path);
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        std::fs::write(&actual_path, actual).unwrap();
        panic!(
            "{} differs from the golden file; the output is in {}. \
             Rerun with UPDATE_GOLDEN=1 to accept it.",
            path.display(),
            actual_path.display()
        );
    }
    let _ = std::fs::remove_file(&actual_path);
}

#[test]
fn golden_disassembly() {
    for name in EXAMPLES {
        let assembly = assemble_file(&example(name)).unwrap_or_else(|e| panic!("{e}"));
        // Through the PNG, as a user would see it.
        let image = pxi::Image::decode_png(&assembly.image.encode_png()).unwrap();
        golden(
            &format!("{name}.pxs.dis"),
            &disassemble(&image, Some(&assembly.map)),
        );
    }
}

#[test]
fn disassembly_reassembles_to_identical_bytes() {
    for name in EXAMPLES {
        let assembly = assemble_file(&example(name)).unwrap_or_else(|e| panic!("{e}"));
        let png = assembly.image.encode_png();
        for map in [Some(&assembly.map), None] {
            let text = disassemble(&assembly.image, map);
            let again = assemble_source("disassembly.pxs", &text)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(
                again.image.encode_png(),
                png,
                "{name} (map: {})",
                map.is_some()
            );
        }
    }
}

#[test]
fn images_read_back_with_the_image_crate() {
    for name in EXAMPLES {
        let assembly = assemble_file(&example(name)).unwrap_or_else(|e| panic!("{e}"));
        let png = assembly.image.encode_png();
        let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        let image::DynamicImage::ImageRgba8(rgba) = decoded else {
            panic!("{name}: not decoded as RGBA8: {:?}", decoded.color());
        };
        assert_eq!(rgba.width(), assembly.image.width);
        let pixels: Vec<u32> = rgba.pixels().map(|p| u32::from_le_bytes(p.0)).collect();
        assert_eq!(pixels, assembly.image.to_pixels(), "{name}");
    }
}
