//! CSV files people open in a spreadsheet (the visitor log export, the
//! reports). Every cell is neutralised against formula injection: a visitor
//! name typed at the gate or read from a card's QR code, a person id or a
//! camera name starting with `=`, `+`, `-`, `@`, a tab or a carriage return
//! would otherwise run as a formula in Excel or LibreOffice (OWASP "CSV
//! Injection": prefix such a cell with `'`).

use crate::error::ApiError;

pub struct CsvSheet {
    writer: csv::Writer<Vec<u8>>,
}

fn csv_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("CSV: {e}"))
}

/// The cell as a spreadsheet will show it, never as a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

impl CsvSheet {
    pub fn new(header: &[&str]) -> Result<CsvSheet, ApiError> {
        let mut sheet = CsvSheet { writer: csv::Writer::from_writer(Vec::new()) };
        sheet.row(header.iter().map(|h| h.to_string()))?;
        Ok(sheet)
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) -> Result<(), ApiError> {
        let cells: Vec<String> = cells.into_iter().map(|c| neutralise(&c).into_owned()).collect();
        self.writer.write_record(&cells).map_err(csv_error)
    }

    pub fn finish(self) -> Result<Vec<u8>, ApiError> {
        self.writer.into_inner().map_err(csv_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_other_cells_are_untouched() {
        for evil in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(evil), format!("'{evil}"));
        }
        for fine in ["Nguyễn Văn An", "p01", "2026-12-02 08:00:00", "0.712", "", "a=b"] {
            assert_eq!(neutralise(fine), fine);
        }
        let mut sheet = CsvSheet::new(&["name"]).expect("header");
        sheet.row(["=cmd|' /C calc'!A0".to_string()]).expect("row");
        let text = String::from_utf8(sheet.finish().expect("csv")).expect("utf8");
        assert_eq!(text.lines().nth(1), Some("'=cmd|' /C calc'!A0"));
    }
}
