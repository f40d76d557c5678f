//! The header row of a `table` template. Podman renders it with the row
//! template itself, fed a map from each Go field name to its column title
//! (containers/common `report.Headers`), so `table {{.ID}}\t{{.Names}}`
//! prints `ID  NAMES` and functions in the template apply to the titles too.
//! hutch has no structs to reflect on, so the map is built from the field
//! names the template uses.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gotmpl::Value;

/// The data to render the header row from: every field chain the template
/// uses maps to its title, nested ones (`.Host.Kernel`) as nested maps so
/// the same lookups succeed.
pub(super) fn header_data(chains: &[Vec<String>], overrides: &HashMap<String, String>) -> Value {
    let mut root = BTreeMap::new();
    for chain in chains {
        insert(&mut root, chain, overrides);
    }
    to_value(root)
}

enum Title {
    Leaf(String),
    Nested(BTreeMap<String, Title>),
}

fn insert(
    map: &mut BTreeMap<String, Title>,
    chain: &[String],
    overrides: &HashMap<String, String>,
) {
    let Some((first, rest)) = chain.split_first() else {
        return;
    };
    if rest.is_empty() {
        // A field used both alone and with sub-fields stays a map: a title
        // string would make the sub-field lookups fail.
        map.entry(first.clone())
            .or_insert_with(|| Title::Leaf(title(first, overrides)));
        return;
    }
    let entry = map
        .entry(first.clone())
        .or_insert_with(|| Title::Nested(BTreeMap::new()));
    if let Title::Leaf(_) = entry {
        *entry = Title::Nested(BTreeMap::new());
    }
    if let Title::Nested(inner) = entry {
        insert(inner, rest, overrides);
    }
}

fn to_value(map: BTreeMap<String, Title>) -> Value {
    Value::Map(Arc::new(
        map.into_iter()
            .map(|(k, t)| {
                let v = match t {
                    Title::Leaf(s) => Value::String(s.into()),
                    Title::Nested(inner) => to_value(inner),
                };
                (Arc::from(k.as_str()), v)
            })
            .collect(),
    ))
}

/// A column title: the caller's override for the field if any (Podman
/// upper-cases those too), else the field name split into its CamelCase
/// words and upper-cased: `CreatedAt` -> `CREATED AT`, `ID` -> `ID`.
pub(super) fn title(field: &str, overrides: &HashMap<String, String>) -> String {
    let chosen = overrides.get(field).or_else(|| {
        overrides
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v)
    });
    match chosen {
        Some(t) => t.to_uppercase(),
        None => camel_words(field).join(" ").to_uppercase(),
    }
}

/// Splits an identifier into words the way Podman does (fatih/camelcase,
/// vendored in containers/common): runs of lower-case letters, upper-case
/// letters, digits and anything else are words, except that the last
/// capital of an upper-case run starts the following lower-case word
/// (`IDMappings` -> `ID`, `Mappings`).
fn camel_words(s: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Lower,
        Upper,
        Digit,
        Other,
    }
    fn class(c: char) -> Class {
        if c.is_lowercase() {
            Class::Lower
        } else if c.is_uppercase() {
            Class::Upper
        } else if c.is_numeric() {
            Class::Digit
        } else {
            Class::Other
        }
    }

    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = None;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if last == Some(k) => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = Some(k);
    }
    for i in 1..runs.len() {
        let starts_upper = runs[i - 1].first().is_some_and(|c| c.is_uppercase());
        let next_lower = runs[i].first().is_some_and(|c| c.is_lowercase());
        if starts_upper
            && next_lower
            && let Some(moved) = runs[i - 1].pop()
        {
            runs[i].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_split_camel_case_like_podman() {
        let none = HashMap::new();
        assert_eq!(title("ID", &none), "ID");
        assert_eq!(title("Names", &none), "NAMES");
        assert_eq!(title("CreatedAt", &none), "CREATED AT");
        assert_eq!(title("IDMappings", &none), "ID MAPPINGS");
        assert_eq!(title("CgroupVersion", &none), "CGROUP VERSION");
        assert_eq!(title("Fieldb", &none), "FIELDB");
        assert_eq!(title("PIDs", &none), "PI DS");
        assert_eq!(title("GPU2", &none), "GPU 2");
    }

    #[test]
    fn overrides_win_and_are_upper_cased() {
        let overrides = HashMap::from([("ID".to_string(), "container id".to_string())]);
        assert_eq!(title("ID", &overrides), "CONTAINER ID");
        assert_eq!(title("Id", &overrides), "CONTAINER ID");
        assert_eq!(title("Names", &overrides), "NAMES");
    }

    #[test]
    fn nested_chains_become_nested_maps() {
        let chains = vec![
            vec!["Host".to_string(), "Kernel".to_string()],
            vec!["Host".to_string()],
            vec!["ID".to_string()],
        ];
        let data = header_data(&chains, &HashMap::new());
        let host = data.field("Host").expect("Host present");
        assert_eq!(host.field("Kernel"), Some(&Value::String("KERNEL".into())));
        assert_eq!(data.field("ID"), Some(&Value::String("ID".into())));
    }
}
