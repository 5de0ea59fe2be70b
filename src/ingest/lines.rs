//! Where a record sits in its export: the line a person opens the file at.
//!
//! Record numbers and line numbers differ as soon as a quoted CSV field holds a line break,
//! so a chunk's text is scanned once, honouring quotes, and only when a row of it was
//! rejected.

/// The 1-based line on which each requested record starts, for a chunk of whole records
/// (no header) starting on line `first_line`. `records` are 0-based record numbers within
/// the chunk, in any order; `quoted` says whether double quotes can hold line breaks (CSV).
pub fn record_lines(text: &[u8], quoted: bool, first_line: u64, records: &[u32]) -> Vec<u64> {
    let wanted = records.iter().max().map_or(0, |r| *r as usize + 1);
    let starts = starts(text, quoted, wanted);
    records.iter().map(|&r| starts.get(r as usize).map_or(0, |l| l + first_line - 1)).collect()
}

/// Start line (1-based, within the text) of the first `wanted` records. Blank lines are not
/// records, as for the parser. Only quotes and line breaks change the state, so the scan
/// jumps from one to the next; the bytes between them only say whether the line has content.
fn starts(text: &[u8], quoted: bool, wanted: usize) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut line = 1u64;
    let mut in_quotes = false;
    let mut at_record_start = true;
    let mut line_has_content = false;
    let mut at = 0;
    while at < text.len() && starts.len() < wanted {
        let next = match quoted {
            true => memchr::memchr2(b'"', b'\n', &text[at..]),
            false => memchr::memchr(b'\n', &text[at..]),
        }
        .map_or(text.len(), |i| at + i);
        // A quote is content too; a carriage return is not.
        let quote = next < text.len() && text[next] == b'"';
        if quote || text[at..next].iter().any(|&b| b != b'\r') {
            if at_record_start {
                at_record_start = false;
                starts.push(line);
            }
            line_has_content = true;
        }
        if next == text.len() {
            break;
        }
        if quote {
            in_quotes = !in_quotes;
        } else {
            line += 1;
            if !in_quotes {
                at_record_start |= line_has_content;
                line_has_content = false;
            }
        }
        at = next + 1;
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoted_newlines_and_crlf_shift_later_lines() {
        let text = b"1,plain\r\n2,\"two\r\nlines\"\r\n\r\n3,\"a \"\"quoted\"\", x\"\r\n";
        assert_eq!(record_lines(text, true, 2, &[0, 1, 2]), vec![2, 3, 6]);
    }

    /// The rule spelled out byte by byte, for the scan above to agree with.
    fn starts_byte_by_byte(text: &[u8], quoted: bool) -> Vec<u64> {
        let (mut starts, mut line) = (Vec::new(), 1u64);
        let (mut in_quotes, mut at_record_start, mut line_has_content) = (false, true, false);
        for &b in text {
            match b {
                b'"' if quoted => in_quotes = !in_quotes,
                b'\n' => {
                    line += 1;
                    if !in_quotes {
                        at_record_start |= line_has_content;
                        line_has_content = false;
                    }
                    continue;
                }
                b'\r' => continue,
                _ => {}
            }
            if at_record_start {
                at_record_start = false;
                starts.push(line);
            }
            line_has_content = true;
        }
        starts
    }

    #[test]
    fn the_scan_agrees_with_the_rule_byte_by_byte() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let alphabet = b"ab,\"\"\n\n\r ";
        for _ in 0..2000 {
            let len = rng.random_range(0..40);
            let text: Vec<u8> = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            for quoted in [true, false] {
                let expected = starts_byte_by_byte(&text, quoted);
                assert_eq!(starts(&text, quoted, usize::MAX), expected, "{:?}", String::from_utf8_lossy(&text));
                let some = expected.len() / 2;
                assert_eq!(starts(&text, quoted, some), expected[..some], "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }

    #[test]
    fn only_the_records_asked_for_are_located() {
        let text = b"a\nb\n\"c\nd\"\ne\n";
        assert_eq!(starts(text, true, 2), vec![1, 2]);
        assert_eq!(starts(text, true, 10), vec![1, 2, 3, 5]);
        assert_eq!(record_lines(text, true, 1, &[3, 2]), vec![5, 3]);
        assert_eq!(record_lines(text, true, 1, &[]), Vec::<u64>::new());
    }

    #[test]
    fn ndjson_counts_non_blank_lines() {
        let text = b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}";
        assert_eq!(record_lines(text, false, 1, &[2, 0]), vec![4, 1]);
        assert_eq!(record_lines(text, false, 101, &[1]), vec![103]);
    }
}
