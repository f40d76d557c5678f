//! Behaviour of `--format` as a user sees it: template text in, lines out.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{FormatError, OutputFormat, Template, to_json_pretty};

fn one(template: &str, data: &Value) -> String {
    Template::parse(template)
        .expect("template parses")
        .render_one(data)
        .expect("template renders")
}

fn list(template: &str, items: &[Value]) -> String {
    Template::parse(template)
        .expect("template parses")
        .render_list(items, &HashMap::new())
        .expect("template renders")
}

fn info() -> Value {
    json!({
        "host": {
            "kernel": "6.1.0",
            "cgroupVersion": "v2",
            "idMappings": {"uidmap": [{"container_id": 0, "host_id": 1000, "size": 1}]},
            "cpus": 8,
            "load": 0.5
        },
        "store": {"graphDriverName": "overlay"}
    })
}

fn containers() -> Vec<Value> {
    vec![
        json!({"Id": "c061a0839e", "Names": ["web"], "Image": "alpine", "CreatedAt": "2 hours ago", "Size": 42}),
        json!({"Id": "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a", "Names": ["db", "db2"], "Image": "postgres:16", "CreatedAt": "1 day ago", "Size": 7}),
    ]
}

#[test]
fn nested_field_on_json_keys() {
    assert_eq!(one("{{.Host.Kernel}}", &info()), "6.1.0\n");
}

#[test]
fn go_field_names_match_json_keys_ignoring_case() {
    assert_eq!(
        one(
            "{{.Host.CgroupVersion}} {{.Store.GraphDriverName}}",
            &info()
        ),
        "v2 overlay\n"
    );
    assert_eq!(one("{{len .Host.IDMappings.UIDMap}}", &info()), "1\n");
    assert_eq!(
        list("{{.ID}}", &containers()),
        "c061a0839e\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\n"
    );
    // Through variables and parenthesised pipelines too.
    assert_eq!(
        one(
            "{{$h := .Host}}{{$h.Kernel}} {{(.Host).CPUs}} {{$.Host.Kernel}}",
            &info()
        ),
        "6.1.0 8 6.1.0\n"
    );
}

#[test]
fn an_exact_key_wins_over_a_case_insensitive_one() {
    assert_eq!(
        one("{{.id}} {{.ID}}", &json!({"ID": "upper", "id": "lower"})),
        "lower upper\n"
    );
}

#[test]
fn integers_print_as_integers() {
    assert_eq!(list("{{.Size}}", &containers()), "42\n7\n");
    assert_eq!(
        one(
            "{{.Host.Cpus}} {{.Host.Load}} {{printf \"%d\" .Host.Cpus}}",
            &info()
        ),
        "8 0.5 8\n"
    );
}

#[test]
fn json_function_writes_compact_json_of_the_original_keys() {
    assert_eq!(one("{{json .Host.Kernel}}", &info()), "\"6.1.0\"\n");
    assert_eq!(
        one("{{json .Store}}", &info()),
        "{\"graphDriverName\":\"overlay\"}\n"
    );
    let host = one("{{json .Host}}", &info());
    let parsed: Value = serde_json::from_str(host.trim_end()).expect("json output parses");
    assert_eq!(parsed, info()["host"]);
    assert_eq!(
        list("{{json .Names}}", &containers()),
        "[\"web\"]\n[\"db\",\"db2\"]\n"
    );
}

#[test]
fn podman_string_functions() {
    assert_eq!(
        list(
            "{{upper .Image}} {{join .Names \",\"}} {{truncate .ID 4}}|{{pad .Image 1 1}}|",
            &containers()
        ),
        "ALPINE web c061| alpine |\nPOSTGRES:16 db,db2 1eb6| postgres:16 |\n"
    );
    assert_eq!(
        one("{{range split .Host.Kernel \".\"}}[{{.}}]{{end}}", &info()),
        "[6][1][0]\n"
    );
    assert_eq!(
        one("{{title \"hello world\"}} {{lower \"ABC\"}}", &info()),
        "Hello World abc\n"
    );
}

#[test]
fn go_builtins_work() {
    let t = "{{index .Names 0}} {{len .Names}} {{if eq .Size 42}}big{{else}}small{{end}} {{printf \"%-4s|\" .Image}}";
    assert_eq!(
        list(t, &containers()),
        "web 1 big alpine|\ndb 2 small postgres:16|\n"
    );
}

#[test]
fn range_over_a_list_field() {
    assert_eq!(
        list("{{range .Names}}<{{.}}>{{end}}", &containers()),
        "<web>\n<db><db2>\n"
    );
    assert_eq!(
        one(
            "{{range $m := .Host.IDMappings.UIDMap}}{{$m.ContainerID}}->{{$m.HostID}}{{end}}",
            &info()
        ),
        "0->1000\n"
    );
}

#[test]
fn a_template_with_its_own_range_gets_the_whole_list() {
    // Podman's EnforceRange: no per-item wrapping, one newline at the end.
    assert_eq!(
        list("{{range .}}{{.Image}} {{end}}", &containers()),
        "alpine postgres:16 \n"
    );
    // A closing `-}}` trims the newline Podman appends.
    assert_eq!(list("{{range .}}{{.Size}}{{end -}}", &containers()), "427");
}

#[test]
fn renderings_end_in_exactly_one_newline() {
    assert_eq!(list("{{.Size}}\n", &containers()), "42\n7\n");
    // Typed literally on a command line.
    assert_eq!(list("{{.Size}}\\n", &containers()), "42\n7\n");
    assert_eq!(
        list("{{.Size}}\\t{{.Image}}", &containers()),
        "42\talpine\n7\tpostgres:16\n"
    );
    assert_eq!(list("{{.Size}}", &[]), "");
}

#[test]
fn table_prints_header_and_aligns_columns() {
    let t = Template::parse("table {{.ID}}\\t{{.Names}}\\t{{.CreatedAt}}").expect("parses");
    let out = t
        .render_list(&containers(), &HashMap::new())
        .expect("renders");
    assert_eq!(
        out,
        "ID                                NAMES       CREATED AT\n\
         c061a0839e                        [web]       2 hours ago\n\
         1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  [db db2]    1 day ago\n"
    );
}

#[test]
fn table_header_overrides_and_spaces_as_columns() {
    let headers = HashMap::from([("ID".to_string(), "container id".to_string())]);
    let t = Template::parse("table {{.ID}} {{.Image}} {{join .Names \", \"}}").expect("parses");
    let out = t.render_list(&containers(), &headers).expect("renders");
    assert_eq!(
        out,
        "CONTAINER ID                      IMAGE        NAMES\n\
         c061a0839e                        alpine       web\n\
         1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  postgres:16  db, db2\n"
    );
    // No rows still prints the header, as `podman ps` does.
    assert_eq!(
        t.render_list(&[], &headers).expect("renders"),
        "CONTAINER ID  IMAGE       NAMES\n"
    );
}

#[test]
fn render_one_with_table_aligns_without_header() {
    assert_eq!(
        one("table {{.Host.Kernel}}\\t{{.Host.CgroupVersion}}", &info()),
        "6.1.0       v2\n"
    );
}

#[test]
fn bad_template_is_a_parse_error_with_position() {
    let err = Template::parse("{{.ID").expect_err("unclosed action");
    let FormatError::Parse {
        template,
        line,
        col,
        ..
    } = &err
    else {
        panic!("expected a parse error, got {err:?}");
    };
    assert_eq!(template, "{{.ID");
    assert_eq!(*line, 1);
    assert!(*col >= 1, "column {col}");
    assert!(
        err.to_string().starts_with("template \"{{.ID\": 1:"),
        "{err}"
    );

    let err = Template::parse("table {{.ID}} {{nosuch .ID}}").expect_err("unknown function");
    assert_eq!(
        err.to_string(),
        "template \"table {{.ID}} {{nosuch .ID}}\": 1:17: function \"nosuch\" not defined"
    );
    // gotmpl alone accepts these (see syntax.rs).
    assert!(Template::parse("{{if .X}}").is_err());
    assert!(Template::parse("{{.A}}{{end}}{{.B}}").is_err());
}

#[test]
fn missing_field_is_an_error_naming_it() {
    let t = Template::parse("{{.Host.Kernal}}").expect("parses");
    let err = t.render_one(&info()).expect_err("no such field");
    let FormatError::MissingField {
        field,
        expr,
        line,
        col,
        ..
    } = &err
    else {
        panic!("expected a missing-field error, got {err:?}");
    };
    assert_eq!(
        (field.as_str(), expr.as_str(), *line, *col),
        ("Kernal", ".Host.Kernal", 1, 3)
    );
    assert_eq!(
        err.to_string(),
        "template \"{{.Host.Kernal}}\": 1:3: executing at <.Host.Kernal>: can't evaluate field Kernal in type map"
    );
    let err = Template::parse("{{.Host.Kernel.Major}}")
        .expect("parses")
        .render_one(&info());
    assert!(
        matches!(err, Err(FormatError::MissingField { kind: "string", .. })),
        "{err:?}"
    );
    // A field of null has no value, as in Go for a nil map.
    assert_eq!(one("{{.A.B}}", &json!({"A": null})), "<no value>\n");
}

#[test]
fn other_render_errors_are_reported() {
    let err = Template::parse("{{upper .Size}}")
        .expect("parses")
        .render_list(&containers(), &HashMap::new());
    assert!(matches!(err, Err(FormatError::Execute { .. })), "{err:?}");
}

#[test]
fn defines_and_template_calls_get_the_same_lookup() {
    assert_eq!(
        one(
            "{{define \"k\"}}{{.Kernel}}{{end}}{{template \"k\" .Host}}",
            &info()
        ),
        "6.1.0\n"
    );
}

#[test]
fn output_format_parse() {
    assert!(matches!(
        OutputFormat::parse(None),
        Ok(OutputFormat::Default)
    ));
    assert!(matches!(
        OutputFormat::parse(Some("")),
        Ok(OutputFormat::Default)
    ));
    for json in [
        "json",
        " json ",
        "{{json .}}",
        "{{ json . }}",
        "{{json}}",
        "{{json.}}",
    ] {
        assert!(
            matches!(OutputFormat::parse(Some(json)), Ok(OutputFormat::Json)),
            "{json:?}"
        );
    }
    assert!(matches!(
        OutputFormat::parse(Some("{{json .Host}}")),
        Ok(OutputFormat::Template(_))
    ));
    assert!(matches!(
        OutputFormat::parse(Some("JSON")),
        Ok(OutputFormat::Template(_))
    ));
    assert!(matches!(
        OutputFormat::parse(Some("{{.ID}}")),
        Ok(OutputFormat::Template(_))
    ));
    assert!(matches!(
        OutputFormat::parse(Some("{{.ID")),
        Err(FormatError::Parse { .. })
    ));
}

#[test]
fn json_output_is_indented_like_podman() {
    assert_eq!(
        to_json_pretty(&json!({"a": [1, 2], "b": "x<y"})),
        "{\n     \"a\": [\n          1,\n          2\n     ],\n     \"b\": \"x<y\"\n}"
    );
}

#[test]
fn noheading_keeps_the_columns_aligned() {
    let t = Template::parse("table {{.ID}}\t{{.Names}}")
        .expect("parses")
        .without_heading();
    let rows = [
        serde_json::json!({"ID": "a", "Names": "x"}),
        serde_json::json!({"ID": "bbbb", "Names": "y"}),
    ];
    let out = t.render_list(&rows, &Default::default()).expect("renders");
    // Podman's tabwriter: cells at least 12 wide, two spaces of padding.
    assert_eq!(out, "a           x\nbbbb        y\n");
}
