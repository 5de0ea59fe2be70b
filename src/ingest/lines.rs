//! Where a record sits in its export: the line a person opens the file at.
//!
//! Record numbers and line numbers differ as soon as a quoted CSV field holds a line break,
//! so the text is scanned once, honouring quotes, and only when a row was rejected.

use crate::config::Format;

/// The 1-based line on which each requested record starts. `records` are 0-based data-row
/// numbers (the header is not a record), in any order. For Parquet the "line" is the row
/// number, 1-based.
pub fn record_lines(text: &[u8], format: Format, records: &[u32]) -> Vec<u64> {
    match format {
        Format::Parquet => records.iter().map(|&r| r as u64 + 1).collect(),
        Format::Csv => lookup(&starts(text, true), records),
        Format::Ndjson => lookup(&starts(text, false), records),
    }
}

fn lookup(starts: &[u64], records: &[u32]) -> Vec<u64> {
    records.iter().map(|&r| starts.get(r as usize).copied().unwrap_or(0)).collect()
}

/// Start line of every data record. Blank lines are not records, as for the reader.
fn starts(text: &[u8], csv_header: bool) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut line = 1u64;
    let mut in_quotes = false;
    let mut at_record_start = true;
    let mut skip_header = csv_header;
    let mut line_has_content = false;
    for &b in text {
        match b {
            b'"' if csv_header => in_quotes = !in_quotes,
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
            if skip_header {
                skip_header = false;
            } else {
                starts.push(line);
            }
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
        let text = b"id,note\r\n1,plain\r\n2,\"two\r\nlines\"\r\n\r\n3,\"a \"\"quoted\"\", x\"\r\n";
        assert_eq!(record_lines(text, Format::Csv, &[0, 1, 2]), vec![2, 3, 6]);
    }

    #[test]
    fn ndjson_counts_non_blank_lines() {
        let text = b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}";
        assert_eq!(record_lines(text, Format::Ndjson, &[2, 0]), vec![4, 1]);
    }

    #[test]
    fn parquet_rows_are_numbered_from_one() {
        assert_eq!(record_lines(b"", Format::Parquet, &[0, 9]), vec![1, 10]);
    }
}
