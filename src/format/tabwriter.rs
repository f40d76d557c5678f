//! Column alignment for `table` output, reproducing Go's `text/tabwriter`
//! as Podman configures it (containers/common `report.NewWriterDefault`:
//! minwidth 12, tabwidth 2, padding 2, pad character ' ', no flags).
//!
//! A `\t` ends a cell; the text after the last tab of a line is not part of
//! any column and is never padded. A column spans the consecutive lines
//! that have a cell in it, and is as wide as its widest cell plus 2, but at
//! least 12, so `CONTAINER ID  IMAGE` and `TAG         IMAGE ID` come out as
//! Podman's do. Width is counted in characters (Go counts runes).

const MIN_WIDTH: usize = 12;
const PADDING: usize = 2;

/// Aligns the tab-separated cells of `text` into space-padded columns.
pub(super) fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut w = Aligner {
        lines: &lines,
        out: String::with_capacity(text.len() * 2),
    };
    w.format(&mut Vec::new(), 0, lines.len());
    w.out
}

struct Aligner<'a> {
    lines: &'a [Vec<&'a str>],
    out: String,
}

impl Aligner<'_> {
    /// Go's `Writer.format`: finds the blocks of lines that have a cell in
    /// column `widths.len()`, sizes that column per block, and recurses for
    /// the columns right of it.
    fn format(&mut self, widths: &mut Vec<usize>, mut line0: usize, line1: usize) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if !self.has_cell(this, column) {
                this += 1;
                continue;
            }
            self.write_lines(widths, line0, this);
            line0 = this;
            let mut width = MIN_WIDTH;
            while this < line1 && self.has_cell(this, column) {
                width = width.max(self.lines[this][column].chars().count() + PADDING);
                this += 1;
            }
            widths.push(width);
            self.format(widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(widths, line0, line1);
    }

    /// Whether line `i` has a tab-terminated cell in `column`.
    fn has_cell(&self, i: usize, column: usize) -> bool {
        column + 1 < self.lines[i].len()
    }

    fn write_lines(&mut self, widths: &[usize], line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(cell);
                if let Some(width) = widths.get(j) {
                    let pad = width.saturating_sub(cell.chars().count());
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            // The text after the last newline is a line without one.
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_podman_default_writer() {
        // containers/common report.TestNewWriterDefault.
        assert_eq!(
            align("a46001bfea3a4172b46c173101208244\tRandom\tuuid"),
            "a46001bfea3a4172b46c173101208244  Random      uuid"
        );
    }

    #[test]
    fn columns_take_widest_cell_plus_two() {
        let text = "Identity\tValue\nc061a0839e\tone\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\tthree\n";
        assert_eq!(
            align(text),
            "Identity                          Value\n\
             c061a0839e                        one\n\
             1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three\n"
        );
    }

    #[test]
    fn a_line_without_tabs_ends_the_column_block() {
        let text = "a\tb\nplain line\nlonger-than-twelve\tc\n";
        assert_eq!(
            align(text),
            "a           b\nplain line\nlonger-than-twelve  c\n"
        );
    }

    #[test]
    fn text_without_tabs_is_unchanged() {
        assert_eq!(align("x\ny\n"), "x\ny\n");
        assert_eq!(align(""), "");
    }
}
