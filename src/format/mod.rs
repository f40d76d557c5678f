//! TEMPORARY STUB so the crate compiles; helper-2 replaces this whole file.
use std::collections::HashMap;
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct FormatError(String);
pub enum OutputFormat {
    Default,
    Json,
    Template(Template),
}
impl OutputFormat {
    pub fn parse(s: Option<&str>) -> Result<OutputFormat, FormatError> {
        match s {
            None | Some("") => Ok(OutputFormat::Default),
            Some("json") => Ok(OutputFormat::Json),
            Some(t) => Ok(OutputFormat::Template(Template(t.to_owned()))),
        }
    }
}
pub struct Template(String);
impl Template {
    pub fn render_one(&self, _v: &serde_json::Value) -> Result<String, FormatError> {
        Err(FormatError(self.0.clone()))
    }
    pub fn render_list(
        &self,
        _v: &[serde_json::Value],
        _h: &HashMap<String, String>,
    ) -> Result<String, FormatError> {
        Err(FormatError(self.0.clone()))
    }
}
pub fn to_json_pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
