//! Which stages a build needs, and which earlier stages each one waits
//! for. A stage depends on the stages its `FROM`, `COPY --from`, `RUN
//! --mount=...,from=` (and the `ONBUILD` triggers of a stage it is built
//! on) name; stages the target does not reach are not built, as buildah's
//! `--skip-unused-stages` (on by default in Podman) and BuildKit have it.
//!
//! Pure: names are resolved as the builder resolves them (a stage's name,
//! case-insensitive, or its index, among the stages before it). A
//! `--from` whose value holds a variable may take a stage-local ARG or
//! ENV that is not known before the stage runs: it is taken to depend on
//! every earlier stage, so nothing it might name is skipped.

use crate::image::build::containerfile::{self, Containerfile, Inst, Step};
use crate::image::build::expand;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The stages to build, ascending (the target's last).
    pub needed: Vec<usize>,
    /// For every stage of the file, the earlier stages it waits for.
    pub deps: Vec<Vec<usize>>,
}

/// The stage `name` means for a stage at `before`: a name of an earlier
/// stage, or an index below `before`.
pub fn resolve(file: &Containerfile, name: &str, before: usize) -> Option<usize> {
    file.stages[..before]
        .iter()
        .position(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
}

/// What a value of `--from`/`from=` depends on: one stage, none (an
/// image), or every earlier one (a variable).
fn refer(file: &Containerfile, value: &str, before: usize, out: &mut Vec<usize>) {
    if value.contains('$') {
        out.extend(0..before);
    } else if let Some(i) = resolve(file, value, before) {
        out.push(i);
    }
}

/// The `from=` of a `--mount` value, unexpanded.
fn mount_from(value: &str) -> Option<&str> {
    value.split(',').find_map(|f| {
        let (k, v) = f.split_once('=')?;
        k.trim().eq_ignore_ascii_case("from").then_some(v)
    })
}

fn step_refs(file: &Containerfile, step: &Step, before: usize, out: &mut Vec<usize>) {
    match &step.inst {
        Inst::Copy(spec) => {
            for f in spec.flags.iter().filter(|f| f.name == "from") {
                refer(file, f.value.as_deref().unwrap_or(""), before, out);
            }
        }
        Inst::Run { flags, .. } => {
            for f in flags.iter().filter(|f| f.name == "mount") {
                if let Some(v) = f.value.as_deref().and_then(mount_from) {
                    refer(file, v, before, out);
                }
            }
        }
        _ => {}
    }
}

/// The plan for building up to stage `last`; `global` looks up the ARGs
/// declared before the first FROM (with `--build-arg` applied).
pub fn plan(file: &Containerfile, last: usize, global: &dyn Fn(&str) -> Option<String>) -> Plan {
    let mut deps = Vec::with_capacity(file.stages.len());
    for (i, stage) in file.stages.iter().enumerate() {
        let mut d = Vec::new();
        // FROM is expanded with the global ARGs only, as the builder does.
        let base = expand::word(&stage.base, file.escape, global).unwrap_or_default();
        let base_stage = resolve(file, &base, i);
        d.extend(base_stage);
        for step in &stage.steps {
            step_refs(file, step, i, &mut d);
        }
        // The base stage's ONBUILD triggers run in this one.
        if let Some(b) = base_stage {
            for step in &file.stages[b].steps {
                if let Inst::Onbuild(t) = &step.inst
                    && let Ok(trigger) = containerfile::parse_trigger(t)
                {
                    step_refs(file, &trigger, i, &mut d);
                }
            }
        }
        d.sort_unstable();
        d.dedup();
        deps.push(d);
    }
    let mut want = vec![false; file.stages.len()];
    let mut todo = vec![last];
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut want[i], true) {
            todo.extend(deps[i].iter().copied());
        }
    }
    let needed = (0..=last).filter(|i| want[*i]).collect();
    Plan { needed, deps }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(text: &str, last: Option<usize>) -> Plan {
        let f = containerfile::parse(text).unwrap();
        let last = last.unwrap_or(f.stages.len() - 1);
        let global = |n: &str| (n == "B").then(|| "two".to_owned());
        plan(&f, last, &global)
    }

    #[test]
    fn unused_stages_are_skipped() {
        let p = plan_of(
            "FROM x AS one\nRUN a\nFROM x AS two\nRUN b\nFROM x AS three\nFROM one\nCOPY --from=three /a /a\n",
            None,
        );
        assert_eq!(p.needed, vec![0, 2, 3]);
        assert_eq!(p.deps[3], vec![0, 2]);
        assert!(p.deps[1].is_empty());
        let p = plan_of("FROM x AS one\nFROM x AS two\nFROM x\n", Some(1));
        assert_eq!(p.needed, vec![1]);
    }

    #[test]
    fn indexes_mounts_args_and_triggers_count() {
        let p = plan_of(
            "ARG B\nFROM x AS one\nFROM x AS Two\nFROM x\nRUN --mount=type=bind,from=0,target=/m true\nFROM ${B}\n",
            None,
        );
        // FROM ${B} is "two", case-insensitively stage 1.
        assert_eq!(p.deps[3], vec![1]);
        assert_eq!(p.deps[2], vec![0]);
        assert_eq!(p.needed, vec![1, 3]);
        // A variable in --from may name any earlier stage.
        let p = plan_of(
            "FROM x AS a\nFROM x AS b\nFROM x\nARG S=a\nCOPY --from=$S /f /f\n",
            None,
        );
        assert_eq!(p.needed, vec![0, 1, 2]);
        // A trigger's --from is needed where it runs; an image is no stage.
        let p = plan_of(
            "FROM x AS a\nFROM x AS b\nONBUILD COPY --from=a /f /f\nFROM b\nCOPY --from=docker.io/img /g /g\n",
            None,
        );
        assert_eq!(p.deps[2], vec![0, 1]);
        assert_eq!(p.needed, vec![0, 1, 2]);
    }
}
