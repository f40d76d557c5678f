//! A parsed `--format` Go template and its rendering, following
//! containers/common `pkg/report` (the code behind Podman's `--format`).

use std::collections::HashMap;
use std::fmt;

use gotmpl::TemplateError;

use super::rewrite::Rewrite;
use super::syntax::parse_tree;
use super::{FormatError, funcs, header, tabwriter, value};

/// Name under which the user's template body is registered with gotmpl.
/// Its `{{define}}`s are registered before it, so one of them with the same
/// name cannot replace it.
const BODY: &str = "hutch --format";

/// A `--format` template, parsed and ready to render.
pub struct Template {
    /// What the user wrote, for error messages.
    source: String,
    /// Started with `table `: print a header row and align columns.
    table: bool,
    /// `--noheading`: a `table` template keeps its aligned columns but
    /// prints no header row.
    heading: bool,
    /// Has a `{{range .}}` of its own (see `Rewrite::ranges_over_dot`).
    ranges_over_list: bool,
    /// The field chains the template reads, for the header row.
    fields: Vec<Vec<String>>,
    /// Boxed because gotmpl's template is large and `OutputFormat` holds a
    /// `Template` by value.
    engine: Box<gotmpl::Template>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses a `--format` value. A leading `table ` asks for a header row
    /// and aligned columns. As in Podman, a newline is added to the end
    /// unless the template already ends with one (or with `\n` typed
    /// literally), so each rendering is a line; a closing `-}}` trims it.
    pub fn parse(src: &str) -> Result<Template, FormatError> {
        let (table, body) = match src.strip_prefix("table ") {
            Some(rest) => (true, rest),
            None => (false, src),
        };
        let col_shift = src.len() - body.len();
        let mut text = body.to_string();
        if !text.ends_with('\n') && !text.ends_with("\\n") {
            text.push('\n');
        }

        let (mut tree, mut defines) = parse_tree(&text).map_err(|e| {
            // Report the error against what the user typed: an unclosed
            // action would otherwise be found on the line the added newline
            // opened.
            let e = if text.len() > body.len() {
                parse_tree(body).err().unwrap_or(e)
            } else {
                e
            };
            parse_error(src, col_shift, e)
        })?;

        let mut rewrite = Rewrite::new(&text, col_shift, table);
        rewrite.list(&mut tree);
        for define in &mut defines {
            rewrite.list(&mut define.body);
        }
        if let Some((line, col, name)) = rewrite.undefined {
            return Err(FormatError::Parse {
                template: src.to_string(),
                line,
                col,
                message: format!("function {name:?} not defined"),
            });
        }

        // gotmpl runs the tree it parsed itself; a one-action stub that calls
        // the rewritten body by name makes it run ours.
        let mut engine = gotmpl::Template::new("")
            .funcs(funcs::all())
            .parse(&format!("{{{{template {BODY:?} .}}}}"))
            .map_err(|e| parse_error(src, 0, e))?;
        for define in defines {
            engine = engine.add_parse_tree(&define.name, define.body);
        }
        engine = engine.add_parse_tree(BODY, tree);

        Ok(Template {
            source: src.to_string(),
            table,
            heading: true,
            ranges_over_list: rewrite.ranges_over_dot,
            fields: rewrite.fields,
            engine: Box::new(engine),
        })
    }

    /// Drops the header row of a `table` template (Podman's `--noheading`).
    pub fn without_heading(mut self) -> Self {
        self.heading = false;
        self
    }

    /// Renders a list (`ps`, `images`, `inspect`): once per item, or, when
    /// the template has its own `{{range .}}`, once with the whole list as
    /// Podman's `EnforceRange` does. A `table` template starts with the
    /// header row, rendered from the template with each field replaced by
    /// its title (`headers` maps Go field names to titles, overriding the
    /// ones derived from the names), and its columns are aligned.
    pub fn render_list(
        &self,
        items: &[serde_json::Value],
        headers: &HashMap<String, String>,
    ) -> Result<String, FormatError> {
        let mut out = String::new();
        if self.table {
            if self.heading {
                out.push_str(&self.execute(&header::header_data(&self.fields, headers))?);
            }
            for item in items {
                out.push_str(&self.execute(&value::to_template(item))?);
            }
            return Ok(tabwriter::align(&out));
        }
        if self.ranges_over_list {
            let list = gotmpl::Value::List(items.iter().map(value::to_template).collect());
            return self.execute(&list);
        }
        for item in items {
            out.push_str(&self.execute(&value::to_template(item))?);
        }
        Ok(out)
    }

    /// Renders one object (`info`, `version`). No header row, as in Podman,
    /// but a `table` template still gets its columns aligned.
    pub fn render_one(&self, item: &serde_json::Value) -> Result<String, FormatError> {
        let out = self.execute(&value::to_template(item))?;
        Ok(if self.table {
            tabwriter::align(&out)
        } else {
            out
        })
    }

    fn execute(&self, data: &gotmpl::Value) -> Result<String, FormatError> {
        funcs::clear_field_failure();
        self.engine
            .execute_to_string(data)
            .map_err(|source| match funcs::take_field_failure() {
                Some(f) => FormatError::MissingField {
                    template: self.source.clone(),
                    line: f.line,
                    col: f.col,
                    expr: f.expr,
                    field: f.field,
                    kind: f.kind,
                },
                None => FormatError::Execute {
                    template: self.source.clone(),
                    source,
                },
            })
    }
}

fn parse_error(template: &str, col_shift: usize, e: TemplateError) -> FormatError {
    let template = template.to_string();
    match e {
        TemplateError::Parse {
            line, col, message, ..
        }
        | TemplateError::Lex {
            line, col, message, ..
        } => {
            let col = if line <= 1 { col + col_shift } else { col };
            FormatError::Parse {
                template,
                line,
                col,
                message,
            }
        }
        other => FormatError::Parse {
            template,
            line: 0,
            col: 0,
            message: other.to_string(),
        },
    }
}
