//! Parsing template text into gotmpl's syntax tree, with the block checks
//! gotmpl 0.6 skips.
//!
//! gotmpl's parser ends a list at end of input and at `{{end}}` alike, so
//! it accepts `{{if .A}}x` (no `{{end}}`) and silently drops everything
//! after a stray `{{end}}` or `{{else}}`, where Go reports "unexpected EOF"
//! and "unexpected {{end}}". A mark appended to the text shows which
//! happened: it must come back as the tail of the last top-level text;
//! inside a block, that block was never closed; missing altogether, the
//! parser stopped early.

use gotmpl::TemplateError;
use gotmpl::parse::{DefineNode, ListNode, Node, Parser, Pos};

/// Cannot be typed in a command-line argument, which holds no NUL.
const EOF_MARK: &str = "\u{0}hutch-eof";

pub(super) fn parse_tree(text: &str) -> Result<(ListNode, Vec<DefineNode>), TemplateError> {
    let marked = format!("{text}{EOF_MARK}");
    let (mut tree, defines) =
        Parser::with_name(None, &marked, "{{", "}}").and_then(Parser::parse)?;
    if let Some(Node::Text(last)) = tree.nodes.last_mut()
        && let Some(kept) = last.text.strip_suffix(EOF_MARK)
    {
        if kept.is_empty() {
            tree.nodes.pop();
        } else {
            last.text = kept.into();
        }
        return Ok((tree, defines));
    }

    let unclosed = mark_in(&tree).or_else(|| {
        defines
            .iter()
            .rev()
            .find_map(|d| mark_in(&d.body).map(|inner| inner.or(Some(d.pos))))
    });
    let (offset, message) = match unclosed {
        Some(opened) => (opened.map(|p| p.offset), "unexpected EOF: missing {{end}}"),
        None => (stray_end(text, &tree), "unexpected {{end}} or {{else}}"),
    };
    let (line, col) = offset.map_or((0, 0), |o| line_col(text, o));
    Err(TemplateError::Parse {
        name: None,
        line,
        col,
        message: message.to_string(),
    })
}

/// Where the mark ended up: `None` if not under this list, `Some(None)` if
/// in its own text, `Some(Some(pos))` if inside the block opened at `pos`
/// (the innermost one).
fn mark_in(list: &ListNode) -> Option<Option<Pos>> {
    match list.nodes.last()? {
        Node::Text(t) if t.text.contains(EOF_MARK) => Some(None),
        Node::If(b) | Node::Range(b) | Node::With(b) => {
            let inner = b
                .else_body
                .as_ref()
                .and_then(mark_in)
                .or_else(|| mark_in(&b.body))?;
            Some(inner.or(Some(b.pos)))
        }
        Node::List(l) => mark_in(l),
        _ => None,
    }
}

/// The offset of the first `{{end}}` or `{{else}}` that closes nothing,
/// looked for from the start of the last node the parser kept.
fn stray_end(text: &str, tree: &ListNode) -> Option<usize> {
    let from = match tree.nodes.last() {
        None => 0,
        Some(Node::Text(t)) => t.pos.offset,
        // Back to the `{{` of the last action, so its own `{{end}}` pairs up.
        Some(node) => {
            let at = node_offset(node).min(text.len());
            text.get(..at).and_then(|t| t.rfind("{{")).unwrap_or(0)
        }
    };
    let mut depth = 0usize;
    let mut i = from;
    while let Some(found) = text.get(i..).and_then(|t| t.find("{{")) {
        let start = i + found;
        i = start + 2;
        let action = text[i..]
            .strip_prefix("- ")
            .unwrap_or(&text[i..])
            .trim_start();
        let keyword = |k: &str| {
            action
                .strip_prefix(k)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        };
        if ["if", "range", "with", "define", "block"]
            .into_iter()
            .any(keyword)
        {
            depth += 1;
        } else if keyword("end") {
            if depth == 0 {
                return Some(start);
            }
            depth -= 1;
        } else if keyword("else") && depth == 0 {
            return Some(start);
        }
    }
    None
}

fn node_offset(node: &Node) -> usize {
    match node {
        Node::List(l) => l.pos.offset,
        Node::Text(t) => t.pos.offset,
        Node::Action(a) => a.pos.offset,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pos.offset,
        Node::Template(t) => t.pos.offset,
        Node::Define(d) => d.pos.offset,
        Node::Break(p) | Node::Continue(p) => p.offset,
    }
}

/// 1-based line and character column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (usize, usize, String) {
        match parse_tree(text) {
            Err(TemplateError::Parse {
                line, col, message, ..
            }) => (line, col, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn balanced_templates_parse_without_the_mark() {
        let (tree, _) = parse_tree("{{if .A}}x{{else}}y{{end}} tail\n").expect("parses");
        match tree.nodes.last() {
            Some(Node::Text(t)) => assert_eq!(&*t.text, " tail\n"),
            other => panic!("unexpected last node {other:?}"),
        }
        let (tree, _) = parse_tree("{{.A}}").expect("parses");
        assert_eq!(tree.nodes.len(), 1);
        assert!(parse_tree("{{range .}}{{.}}{{end -}}\n").is_ok());
        assert!(parse_tree("{{define \"x\"}}a{{end}}{{template \"x\"}}").is_ok());
    }

    #[test]
    fn missing_end_points_at_the_open_block() {
        assert_eq!(error("{{if .A}}x").0, 1);
        let (line, col, message) = error("a\n{{range .}}{{with .B}}{{end}}");
        assert_eq!(
            (line, message.as_str()),
            (2, "unexpected EOF: missing {{end}}")
        );
        assert!(col >= 1);
        assert_eq!(
            error("{{define \"x\"}}a").2,
            "unexpected EOF: missing {{end}}"
        );
    }

    #[test]
    fn stray_end_is_found() {
        assert_eq!(
            error("{{.A}}{{end}}{{.B}}"),
            (1, 7, "unexpected {{end}} or {{else}}".to_string())
        );
        assert_eq!(error("{{if .A}}x{{end}}\n{{- end}}").0, 2);
        assert_eq!(error("{{if .A}}x{{end}} {{else}}").1, 19);
    }
}
