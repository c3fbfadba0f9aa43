//! A corrupt image must never load as a different program: every flipped
//! bit, forged checksum, byte after `IEND` or padding row is an `ImageError`.

mod common;

use std::path::Path;

use pxi::png::{SIGNATURE, encode_rgba8};
use pxi::{Image, ImageError};
use pxi_asm::assemble_file;

fn hello_png() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello.pxs");
    let assembly = assemble_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assembly.image.encode_png()
}

/// One chunk with its length and a correct CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&common::crc32(&out[4..]).to_be_bytes());
    out
}

/// The chunks of a PNG: (type, data).
fn chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = SIGNATURE.len();
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = png[at + 4..at + 8].try_into().unwrap();
        out.push((kind, png[at + 8..at + 8 + len].to_vec()));
        at += 12 + len;
    }
    out
}

/// A PNG made of `parts`, each with a correct CRC.
fn assemble_png(parts: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut png = SIGNATURE.to_vec();
    for (kind, data) in parts {
        png.extend(chunk(kind, data));
    }
    png
}

/// `hello.pxi` with an extra chunk inserted before `IEND`.
fn with_chunk_before_iend(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut parts = chunks(&hello_png());
    let iend = parts.pop().expect("IEND");
    parts.push((*kind, data.to_vec()));
    parts.push(iend);
    assemble_png(&parts)
}

fn png_error(result: Result<Image, ImageError>) -> String {
    match result {
        Err(ImageError::Png(message)) => message,
        other => panic!("expected a Png error, got {other:?}"),
    }
}

#[test]
fn every_single_bit_flip_of_hello_is_rejected() {
    let png = hello_png();
    let original = Image::decode_png(&png).expect("hello.pxi loads");
    let mut loaded = Vec::new();
    let mut flips = 0;
    for byte in 0..png.len() {
        for bit in 0..8 {
            let mut corrupt = png.clone();
            corrupt[byte] ^= 1 << bit;
            flips += 1;
            if let Ok(image) = Image::decode_png(&corrupt) {
                let same = if image == original {
                    "same"
                } else {
                    "different"
                };
                loaded.push(format!("byte {byte} bit {bit} ({same} program)"));
            }
        }
    }
    assert_eq!(flips, png.len() * 8);
    assert!(
        loaded.is_empty(),
        "{} of {flips} single-bit flips loaded: {loaded:?}",
        loaded.len()
    );
}

#[test]
fn forged_pixel_data_with_a_good_crc_fails_the_zlib_adler32() {
    let mut parts = chunks(&hello_png());
    let idat = parts
        .iter_mut()
        .find(|(kind, _)| kind == b"IDAT")
        .expect("IDAT");
    // The zlib stream ends with the big-endian Adler-32 of the pixel rows.
    let last = idat.1.len() - 1;
    idat.1[last] ^= 1;
    let message = png_error(Image::decode_png(&assemble_png(&parts)));
    assert!(message.contains("Adler"), "{message}");
}

#[test]
fn a_chunk_with_a_wrong_crc_is_named_with_its_offset() {
    let mut png = hello_png();
    let last = png.len() - 1; // IEND's CRC
    png[last] ^= 0x80;
    let message = png_error(Image::decode_png(&png));
    assert!(
        message.starts_with(&format!(
            "chunk IEND at byte {} is corrupt: CRC",
            png.len() - 12
        )),
        "{message}"
    );
}

#[test]
fn bytes_after_iend_are_rejected() {
    let png = hello_png();
    let mut garbage = png.clone();
    garbage.extend_from_slice(b"garbage");
    assert_eq!(
        png_error(Image::decode_png(&garbage)),
        format!("7 bytes after IEND (byte {} on)", png.len())
    );
    let mut later_chunk = png.clone();
    later_chunk.extend(chunk(b"tEXt", b"Comment\0after the end"));
    assert!(png_error(Image::decode_png(&later_chunk)).contains("bytes after IEND"));
    assert!(png_error(Image::decode_png(&png[..png.len() - 1])).contains("before IEND"));
}

#[test]
fn unknown_critical_and_animation_chunks_are_rejected() {
    assert_eq!(
        png_error(Image::decode_png(&with_chunk_before_iend(b"ZZZZ", b"x"))),
        "unknown critical chunk ZZZZ"
    );
    let actl = [0, 0, 0, 1, 0, 0, 0, 0];
    assert!(
        png_error(Image::decode_png(&with_chunk_before_iend(b"acTL", &actl)))
            .contains("single frame")
    );
}

#[test]
fn ancillary_chunks_with_good_crcs_still_load() {
    let original = Image::decode_png(&hello_png()).unwrap();
    let annotated = with_chunk_before_iend(b"tEXt", b"Comment\0made by a paint program");
    assert_eq!(Image::decode_png(&annotated), Ok(original));
}

#[test]
fn extra_zero_rows_are_rejected_so_every_image_has_one_encoding() {
    let image = Image::decode_png(&hello_png()).unwrap();
    let mut pixels = image.to_pixels();
    let height = image.height();
    pixels.extend(std::iter::repeat_n(0, image.width as usize));
    assert_eq!(
        Image::decode_png(&encode_rgba8(image.width, &pixels)),
        Err(ImageError::ExtraRows {
            height: height + 1,
            needed: height
        })
    );
}
