//! Bad input gives typed errors that name the file and the problem.

mod common;

use common::Fixture;
use pxi::ImageError;
use pxi::counts::{Counts, CountsError};
use pxi_asm::SourceMap;
use visualizer::hotspots::report;
use visualizer::{MapStatus, Profile, VizError};

fn load(fixture: &Fixture) -> Result<Profile, VizError> {
    Profile::load(&fixture.image, &fixture.counts)
}

#[test]
fn missing_files_are_named() {
    let fixture = Fixture::new("errors-missing");
    std::fs::remove_file(&fixture.counts).unwrap();
    let err = load(&fixture).unwrap_err();
    assert!(
        matches!(&err, VizError::Read { path, .. } if *path == fixture.counts),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}: ", fixture.counts.display())),
        "{err}"
    );
    std::fs::remove_file(&fixture.image).unwrap();
    assert!(matches!(load(&fixture), Err(VizError::Read { path, .. }) if path == fixture.image));
}

#[test]
fn corrupt_images_are_rejected() {
    let fixture = Fixture::new("errors-image");
    std::fs::write(&fixture.image, b"not a png at all").unwrap();
    let err = load(&fixture).unwrap_err();
    assert!(
        matches!(
            &err,
            VizError::Image {
                error: ImageError::Png(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("prog.pxi: not a readable PNG"),
        "{err}"
    );

    // A PNG, but an RGB picture rather than a PXI image.
    let picture = visualizer::raster::Canvas::new(4, 4, [1, 2, 3])
        .unwrap()
        .to_png()
        .unwrap();
    std::fs::write(&fixture.image, picture).unwrap();
    assert!(matches!(
        load(&fixture),
        Err(VizError::Image {
            error: ImageError::NotRgba8 { .. },
            ..
        })
    ));

    // RGBA, but pixel 0 is not the magic.
    let mut image = pxi::Image::decode_png(
        &pxi_asm::assemble_source("x.pxs", common::SOURCE)
            .unwrap()
            .image
            .encode_png(),
    )
    .unwrap()
    .to_pixels();
    image[0] = 0;
    std::fs::write(&fixture.image, pxi::png::encode_rgba8(8, &image)).unwrap();
    assert!(matches!(
        load(&fixture),
        Err(VizError::Image {
            error: ImageError::BadMagic { found: 0 },
            ..
        })
    ));
}

#[test]
fn corrupt_counts_are_rejected() {
    let fixture = Fixture::new("errors-counts");
    let bytes = std::fs::read(&fixture.counts).unwrap();
    let cases: [(&[u8], CountsError); 3] = [
        (&bytes[..bytes.len() - 4], CountsError::Truncated),
        (&bytes[..6], CountsError::Truncated),
        (&[0; 12], CountsError::BadMagic),
    ];
    for (content, expected) in cases {
        std::fs::write(&fixture.counts, content).unwrap();
        let err = load(&fixture).unwrap_err();
        assert!(
            matches!(&err, VizError::Counts { error, .. } if *error == expected),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{}: ", fixture.counts.display())),
            "{err}"
        );
    }
}

#[test]
fn counts_of_another_program_are_rejected() {
    let fixture = Fixture::new("errors-mismatch");
    let mut other = Counts::default();
    other.push(1, 3, &[1, 1, 1]);
    std::fs::write(&fixture.counts, other.to_bytes()).unwrap();
    let err = load(&fixture).unwrap_err();
    assert!(
        matches!(
            err,
            VizError::CodeLengthMismatch {
                image_len: 17,
                counts_len: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        fixture.anonymize(&err.to_string()),
        "<dir>/prog.counts counts 3 code pixels but <dir>/prog.pxi has 17: the counts belong to another program"
    );
}

#[test]
fn source_maps_that_do_not_fit_are_ignored_and_corrupt_ones_rejected() {
    let fixture = Fixture::new("errors-map");
    let sidecar = SourceMap::sidecar(&fixture.image);
    let mut map = SourceMap::read(&sidecar).unwrap();
    map.pixels.pop();
    map.write(&sidecar).unwrap();
    let profile = load(&fixture).unwrap();
    assert!(matches!(
        profile.map_status(),
        MapStatus::Mismatched {
            map_len: 16,
            code_len: 17,
            ..
        }
    ));
    let note = report(&profile, 1).map_note.unwrap();
    assert_eq!(
        fixture.anonymize(&note),
        "source map <dir>/prog.pxi.map ignored: it describes 16 code pixels, the image has 17"
    );

    std::fs::write(&sidecar, "pxi-map 1\nbogus\n").unwrap();
    let err = load(&fixture).unwrap_err();
    assert!(matches!(err, VizError::Map { .. }), "{err:?}");
    assert_eq!(
        fixture.anonymize(&err.to_string()),
        "<dir>/prog.pxi.map: source map line 2: unknown record `bogus`"
    );
}
