//! Where a record sits in its export: the line a person opens the file at.
//!
//! Record numbers and line numbers differ as soon as a quoted CSV field holds a line break,
//! so a chunk's text is scanned once, honouring quotes, and only when a row of it was
//! rejected.

/// The 1-based line on which each requested record starts, for a chunk of whole records
/// (no header) starting on line `first_line`. `records` are 0-based record numbers within
/// the chunk, in any order; `quoted` says whether double quotes can hold line breaks (CSV).
pub fn record_lines(text: &[u8], quoted: bool, first_line: u64, records: &[u32]) -> Vec<u64> {
    let starts = starts(text, quoted);
    records.iter().map(|&r| starts.get(r as usize).map_or(0, |l| l + first_line - 1)).collect()
}

/// Start line (1-based, within the text) of every record. Blank lines are not records, as
/// for the parser.
fn starts(text: &[u8], quoted: bool) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut line = 1u64;
    let mut in_quotes = false;
    let mut at_record_start = true;
    let mut line_has_content = false;
    for &b in text {
        match b {
            b'"' if quoted => in_quotes = !in_quotes,
            b'\n' => {
                line += 1;
                if !in_quotes {
                    if line_has_content {
                        at_record_start = true;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoted_newlines_and_crlf_shift_later_lines() {
        let text = b"1,plain\r\n2,\"two\r\nlines\"\r\n\r\n3,\"a \"\"quoted\"\", x\"\r\n";
        assert_eq!(record_lines(text, true, 2, &[0, 1, 2]), vec![2, 3, 6]);
    }

    #[test]
    fn ndjson_counts_non_blank_lines() {
        let text = b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}";
        assert_eq!(record_lines(text, false, 1, &[2, 0]), vec![4, 1]);
        assert_eq!(record_lines(text, false, 101, &[1]), vec![103]);
    }
}
