//! Adapts a parsed template to hutch's data before gotmpl runs it.
//!
//! gotmpl looks a `.Field` up in a map by exact key, but users write Go
//! field names (`.Host.CgroupVersion`) and hutch's data carry Podman's JSON
//! keys (`host.cgroupVersion`). So every field access in the syntax tree
//! (`.A.B`, `$x.A`, `(pipeline).A`) is replaced by a call of the hidden
//! `#field` function (`funcs.rs`), which falls back to a case-insensitive
//! match and reports a missing field with its position. Rewriting the tree
//! rather than the data leaves the data untouched for `json`, `range` and
//! `len`.
//!
//! The same walk applies Podman's text clean-ups (`\t` and `\n` typed
//! literally on the command line become a tab and a newline; in a `table`
//! template spaces become column breaks), collects the field names for the
//! table header, and rejects unknown functions at parse time as Go does.

use std::sync::Arc;

use gotmpl::parse::{
    BranchNode, CommandNode, Expr, ListNode, Node, Number, PipeNode, Pos, SmolStr,
};

use super::funcs::{FIELD_FN, KNOWN_FUNCS};
use super::syntax::line_col;

pub(super) struct Rewrite<'a> {
    /// The text the parser saw, to turn byte offsets into columns.
    src: &'a str,
    /// Characters removed from the start of the first line before parsing
    /// (the `table ` prefix), added back so columns match what the user
    /// typed.
    col_shift: usize,
    table: bool,
    /// Field chains read from dot or from `$`, in order of appearance.
    pub fields: Vec<Vec<String>>,
    /// The template has a `{{range .}}`: like Podman's `EnforceRange`, the
    /// caller then hands it the whole list instead of one item at a time.
    pub ranges_over_dot: bool,
    /// The first call of a function that does not exist: (line, col, name).
    pub undefined: Option<(usize, usize, String)>,
}

impl<'a> Rewrite<'a> {
    pub fn new(src: &'a str, col_shift: usize, table: bool) -> Self {
        Rewrite {
            src,
            col_shift,
            table,
            fields: Vec::new(),
            ranges_over_dot: false,
            undefined: None,
        }
    }

    pub fn list(&mut self, list: &mut ListNode) {
        for node in &mut list.nodes {
            self.node(node);
        }
    }

    fn node(&mut self, node: &mut Node) {
        match node {
            Node::List(list) => self.list(list),
            Node::Text(text) => text.text = self.text(&text.text).into(),
            Node::Action(action) => self.pipe(&mut action.pipe),
            Node::If(branch) | Node::With(branch) => self.branch(branch),
            Node::Range(branch) => {
                if is_bare_dot(&branch.pipe) {
                    self.ranges_over_dot = true;
                }
                self.branch(branch);
            }
            Node::Template(call) => {
                if let Some(pipe) = &mut call.pipe {
                    self.pipe(pipe);
                }
            }
            Node::Define(define) => self.list(&mut define.body),
            Node::Break(_) | Node::Continue(_) => {}
        }
    }

    fn branch(&mut self, branch: &mut BranchNode) {
        self.pipe(&mut branch.pipe);
        self.list(&mut branch.body);
        if let Some(else_body) = &mut branch.else_body {
            self.list(else_body);
        }
    }

    /// Podman's `NormalizeFormat`, applied to literal text only: inside an
    /// action Go's own string escapes already apply, and Podman's blanket
    /// replacement there is what broke `{{printf "\n"}}` (podman#13446).
    /// Spaces inside a table's actions are not turned into tabs either, so
    /// `{{join .Names ", "}}` keeps its separator.
    fn text(&self, text: &str) -> String {
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        if self.table {
            text.replace(' ', "\t")
        } else {
            text
        }
    }

    fn pipe(&mut self, pipe: &mut PipeNode) {
        for command in &mut pipe.commands {
            let args = std::mem::take(&mut command.args);
            command.args = args
                .into_iter()
                .enumerate()
                .map(|(i, arg)| self.expr(arg, i == 0))
                .collect();
        }
    }

    /// `head` is true for the first word of a command, where an identifier
    /// is a call taking the command's other words as arguments.
    fn expr(&mut self, expr: Expr, head: bool) -> Expr {
        match expr {
            Expr::Field(pos, fields) => {
                self.fields
                    .push(fields.iter().map(ToString::to_string).collect());
                let shown = dotted("", &fields);
                self.lookup(pos, Expr::Dot(pos), shown, fields)
            }
            Expr::Variable(pos, name, fields) if !fields.is_empty() => {
                if name == "$" {
                    self.fields
                        .push(fields.iter().map(ToString::to_string).collect());
                }
                let shown = dotted(&name, &fields);
                self.lookup(pos, Expr::Variable(pos, name, Vec::new()), shown, fields)
            }
            Expr::Chain(pos, inner, fields) => match *inner {
                // `func.Field arg...` calls func with the command's
                // arguments before walking the fields; a function call
                // wrapped around it would take them instead. Left to
                // gotmpl's exact-key lookup: a rare form.
                Expr::Identifier(ipos, name) if head => {
                    self.check_func(ipos, &name);
                    Expr::Chain(pos, Box::new(Expr::Identifier(ipos, name)), fields)
                }
                inner => {
                    let inner = self.expr(inner, false);
                    let shown = dotted("(...)", &fields);
                    self.lookup(pos, inner, shown, fields)
                }
            },
            Expr::Pipe(pos, mut pipe) => {
                self.pipe(&mut pipe);
                Expr::Pipe(pos, pipe)
            }
            Expr::Identifier(pos, name) => {
                self.check_func(pos, &name);
                Expr::Identifier(pos, name)
            }
            other => other,
        }
    }

    /// `(#field LINE COL SHOWN BASE "A" "B")` for `BASE.A.B`.
    fn lookup(&self, pos: Pos, base: Expr, shown: String, fields: Vec<SmolStr>) -> Expr {
        let (line, col) = self.position(pos);
        let number = |n: usize| Expr::Number(pos, Number::Int(i64::try_from(n).unwrap_or(0)));
        let mut args = vec![
            Expr::Identifier(pos, FIELD_FN.into()),
            number(line),
            number(col),
            Expr::String(pos, shown.into()),
            base,
        ];
        args.extend(
            fields
                .iter()
                .map(|f| Expr::String(pos, Arc::from(f.as_str()))),
        );
        Expr::Pipe(
            pos,
            PipeNode {
                pos,
                decl: Vec::new(),
                commands: vec![CommandNode { pos, args }],
                is_assign: false,
            },
        )
    }

    fn check_func(&mut self, pos: Pos, name: &str) {
        if self.undefined.is_none() && !KNOWN_FUNCS.contains(&name) {
            let (line, col) = self.position(pos);
            self.undefined = Some((line, col, name.to_string()));
        }
    }

    /// 1-based line and character column, as gotmpl reports parse errors.
    fn position(&self, pos: Pos) -> (usize, usize) {
        let (line, col) = line_col(self.src, pos.offset);
        let shift = if line == 1 { self.col_shift } else { 0 };
        (line, col + shift)
    }
}

fn is_bare_dot(pipe: &PipeNode) -> bool {
    pipe.decl.is_empty()
        && matches!(pipe.commands.as_slice(), [command] if matches!(command.args.as_slice(), [Expr::Dot(_)]))
}

fn dotted(base: &str, fields: &[SmolStr]) -> String {
    let mut s = base.to_string();
    for f in fields {
        s.push('.');
        s.push_str(f);
    }
    s
}
