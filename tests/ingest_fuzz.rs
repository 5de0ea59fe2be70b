//! Thousands of random mutations of the sample exports through ingest: cut short, bytes
//! flipped, delimiters, quotes, line ends, NUL bytes and stray multi-byte text inserted,
//! pieces repeated, the whole file in another encoding. None may panic, and each is either
//! ingested with every row accounted for (read = accepted + rejected, the accepted rows in
//! bronze) or refused with an error naming the file. The mutations are seeded: a failure
//! names its source and case, which replay the same bytes.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vitals::config::{Encoding, Pipeline};
use vitals::layout::OutputLayout;
use vitals::publish::Drafts;

/// Cases per export; the sample pipeline has seven.
const CASES: usize = 300;
/// Lines of each sample export the mutations start from.
const HEAD_LINES: usize = 30;

/// The first `lines` lines of `bytes`.
fn head(bytes: &[u8], lines: usize) -> Vec<u8> {
    let end = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(lines).map_or(bytes.len(), |(i, _)| i + 1);
    bytes[..end].to_vec()
}

/// One to three random changes to `bytes`, declared in `encoding`.
fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, encoding: Encoding) {
    for _ in 0..rng.random_range(1..=3) {
        let at = rng.random_range(0..=bytes.len());
        let insert = |bytes: &mut Vec<u8>, piece: &[u8]| {
            bytes.splice(at..at, piece.iter().copied());
        };
        match rng.random_range(0..11) {
            0 => bytes.truncate(at),
            1 if at < bytes.len() => bytes[at] = rng.random(),
            2 => insert(bytes, b","),
            3 => insert(bytes, b"\""),
            4 => insert(bytes, b"\n"),
            5 => insert(bytes, b"\r"),
            6 => insert(bytes, b"\0"),
            7 => insert(bytes, "投诉 é\u{feff}".as_bytes()),
            8 => insert(bytes, &[0xff, 0xfe, 0x80]),
            9 => {
                let end = (at + rng.random_range(0..200)).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                insert(bytes, &piece);
            }
            _ => {
                // The whole file in the other encoding than the one declared.
                *bytes = match encoding {
                    Encoding::Gbk => encoding_rs::GBK.decode(bytes).0.into_owned().into_bytes(),
                    _ => encoding_rs::GBK.encode(&String::from_utf8_lossy(bytes)).0.into_owned(),
                };
            }
        }
    }
}

#[test]
fn random_mutations_of_the_sample_exports_never_panic_and_every_row_is_accounted_for() {
    let pipeline = Pipeline::load(&repo().join("pipelines/sample.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let as_of = day("2026-06-30");
    let drafts = Drafts::new(&OutputLayout::new(dir.path().join("out")), as_of).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20261203);
    let (mut ingested, mut refused) = (0, 0);
    for source in &pipeline.sources {
        let original = head(&std::fs::read(&source.path).unwrap(), HEAD_LINES);
        for case in 0..CASES {
            let mut bytes = original.clone();
            mutate(&mut rng, &mut bytes, source.encoding);
            let file = dir.path().join(format!("{}_{case}.{}", source.name(), extension(&source.path)));
            std::fs::write(&file, &bytes).unwrap();
            let mut cfg = source.clone();
            cfg.path = file.clone();
            let outcome =
                catch_unwind(AssertUnwindSafe(|| vitals::ingest::ingest_source(&cfg, &pipeline.file, as_of, &drafts)));
            let named = format!("source {} case {case}", source.name());
            match outcome {
                Err(_) => panic!("{named} panicked; its bytes are in {}", keep(&file)),
                Ok(Ok(ingest)) => {
                    let report = &ingest.report;
                    assert_eq!(report.rows_read, report.rows_accepted + report.rows_rejected, "{named}");
                    assert_eq!(ingest.bronze.rows, report.rows_accepted, "{named}: bronze holds the accepted rows");
                    ingested += 1;
                }
                Ok(Err(error)) => {
                    let message = format!("{error:#}");
                    let name = file.file_name().unwrap().to_string_lossy().to_string();
                    assert!(message.contains(&name), "{named}: the error names no file: {message}");
                    refused += 1;
                }
            }
            std::fs::remove_file(&file).unwrap();
        }
    }
    // Both outcomes must occur, or the mutations test only one of them.
    assert!(ingested > CASES && refused > CASES / 10, "{ingested} ingested, {refused} refused");
}

fn extension(path: &Path) -> String {
    path.extension().unwrap().to_string_lossy().to_string()
}

/// Keeps a failing case's bytes past the test's temp folder, for replaying it.
fn keep(file: &Path) -> String {
    let kept = std::env::temp_dir().join(file.file_name().unwrap());
    std::fs::copy(file, &kept).unwrap();
    kept.display().to_string()
}
