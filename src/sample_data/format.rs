//! Byte-level field formatting for the export writers: dates, amounts, fixed decimals and CSV
//! quoting, appended straight into a reusable line buffer so millions of rows allocate nothing.

use chrono::{Datelike, NaiveDate};

use super::Day;

/// Chainable appenders on a line buffer.
pub trait Fields {
    fn text(&mut self, s: &str) -> &mut Self;
    /// `n` in decimal, left-padded with zeros to at least `width` digits.
    fn int(&mut self, n: u64, width: usize) -> &mut Self;
    /// `YYYY{sep}MM{sep}DD`.
    fn date(&mut self, day: Day, sep: u8) -> &mut Self;
    /// `1,234.50`: thousands separators, two decimals, no quotes.
    fn grouped_cents(&mut self, cents: u64) -> &mut Self;
    /// `120000.00`.
    fn plain_cents(&mut self, cents: u64) -> &mut Self;
    /// One decimal, e.g. `4.5` from 45 tenths.
    fn tenths(&mut self, tenths: u64) -> &mut Self;
    /// Always wrapped in double quotes, inner quotes doubled.
    fn quoted(&mut self, s: &str) -> &mut Self;
    /// Quoted only when the value contains the delimiter, a quote or a line break.
    fn csv(&mut self, s: &str, delimiter: u8) -> &mut Self;
}

impl Fields for Vec<u8> {
    fn text(&mut self, s: &str) -> &mut Self {
        self.extend_from_slice(s.as_bytes());
        self
    }

    fn int(&mut self, mut n: u64, width: usize) -> &mut Self {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        while n > 0 || digits.len() - i < width.max(1) {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.extend_from_slice(&digits[i..]);
        self
    }

    fn date(&mut self, day: Day, sep: u8) -> &mut Self {
        let d = to_date(day);
        self.int(d.year() as u64, 4);
        self.push(sep);
        self.int(d.month() as u64, 2);
        self.push(sep);
        self.int(d.day() as u64, 2)
    }

    fn grouped_cents(&mut self, cents: u64) -> &mut Self {
        let yuan = cents / 100;
        let mut group = 1;
        while group * 1000 <= yuan {
            group *= 1000;
        }
        self.int(yuan / group, 1);
        while group > 1 {
            group /= 1000;
            self.push(b',');
            self.int(yuan / group % 1000, 3);
        }
        self.push(b'.');
        self.int(cents % 100, 2)
    }

    fn plain_cents(&mut self, cents: u64) -> &mut Self {
        self.int(cents / 100, 1).text(".").int(cents % 100, 2)
    }

    fn tenths(&mut self, tenths: u64) -> &mut Self {
        self.int(tenths / 10, 1).text(".").int(tenths % 10, 1)
    }

    fn quoted(&mut self, s: &str) -> &mut Self {
        self.push(b'"');
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                self.extend_from_slice(b"\"\"");
            }
            self.text(part);
        }
        self.push(b'"');
        self
    }

    fn csv(&mut self, s: &str, delimiter: u8) -> &mut Self {
        let needs_quotes = s.bytes().any(|b| matches!(b, b'"' | b'\n' | b'\r') || b == delimiter);
        if needs_quotes {
            self.quoted(s)
        } else {
            self.text(s)
        }
    }
}

pub fn to_date(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).expect("generated days stay within chrono's range")
}

pub fn to_day(date: NaiveDate) -> Day {
    date.num_days_from_ce()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut line = Vec::new();
        f(&mut line);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn formats_fields() {
        assert_eq!(
            render(|l| {
                l.grouped_cents(123_450);
            }),
            "1,234.50"
        );
        assert_eq!(
            render(|l| {
                l.grouped_cents(5);
            }),
            "0.05"
        );
        assert_eq!(
            render(|l| {
                l.grouped_cents(10_000_000_001);
            }),
            "100,000,000.01"
        );
        assert_eq!(
            render(|l| {
                l.plain_cents(12_000_000);
            }),
            "120000.00"
        );
        assert_eq!(
            render(|l| {
                l.int(42, 7);
            }),
            "0000042"
        );
        assert_eq!(
            render(|l| {
                l.tenths(45);
            }),
            "4.5"
        );
        assert_eq!(
            render(|l| {
                l.quoted("a \"b\"; c");
            }),
            "\"a \"\"b\"\"; c\""
        );
        assert_eq!(
            render(|l| {
                l.csv("上海,华信", b',');
            }),
            "\"上海,华信\""
        );
        let day = to_day(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
        assert_eq!(
            render(|l| {
                l.date(day, b'/');
            }),
            "2026/06/01"
        );
    }
}
