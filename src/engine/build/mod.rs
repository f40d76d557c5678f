//! `build`: images from a Containerfile on the same storage and runtime
//! as `run` and `commit`. The instruction semantics (expansion, config
//! changes) come from `crate::image::build`, which makes no syscalls;
//! this module runs the stages: RUN steps as containers, COPY and ADD
//! into created containers' roots, metadata steps as config-only images,
//! each step committed as an image (Podman's `--layers`) and found again
//! through the layer cache.

pub mod cache;
mod commit;
pub mod download;
pub mod image;
mod parallel;
pub mod runmounts;
pub mod sources;
mod sshagent;
pub mod stages;
pub mod step;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::config::Context;
use crate::engine::container::create::{self, PullPolicy};
use crate::engine::state::State;
use crate::engine::{Error, Result, ResultExt};
use crate::image::build::config as cfg;
use crate::image::build::containerfile::{
    self, CommandForm, Containerfile, CopySource, CopySpec, Flag, Inst, Stage, Step,
};
use crate::image::build::expand;
use crate::image::build::ignore::IgnoreRules;
use crate::image::reference;
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;

use self::cache::Cache;
use self::sources::{EntryOptions, SourceRoot, SourceWriter};
use self::step::{Process, RunSettings, StepContainer};

/// Docker's predefined proxy ARGs: usable without an ARG line, never
/// stored in the image.
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Containerfile's text, read by the front end.
    pub containerfile: String,
    /// The build context, absolute.
    pub context: PathBuf,
    /// The context's `.containerignore`/`.dockerignore` text, if any.
    pub ignore: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// Podman's `--layers` (default true): each step committed and cached.
    pub layers: bool,
    pub labels: Vec<(String, String)>,
    pub pull: PullPolicy,
    pub quiet: bool,
    pub rootless: bool,
    /// `--secret`: id → value, read by the front end (at most
    /// [`runmounts::MAX_SECRET`] bytes each); mounted by `RUN
    /// --mount=type=secret`, never in a layer, the history or a cache key.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--ssh`: id → the agent socket `RUN --mount=type=ssh` reaches
    /// (checked by the front end to be a socket).
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--network`, `-v`, `--cap-add`, `--cap-drop`, `--security-opt`,
    /// `--userns`: how every RUN container is made.
    pub run: RunSettings,
    /// `--env`: KEY=VALUE set in every image the build commits.
    pub env: Vec<String>,
    /// `--unsetenv`: names removed from every image the build commits.
    pub unsetenv: Vec<String>,
    /// `--annotation`: in the manifest of every image the build commits.
    pub annotations: Vec<(String, String)>,
    /// `--timestamp`: the created time of the images and their history,
    /// and the modification time of every file in the layers the build
    /// makes (seconds since the epoch).
    pub timestamp: Option<i64>,
    /// `--omit-history`: images without a history.
    pub omit_history: bool,
    pub squash: Squash,
    /// `--jobs`: how many independent stages are built at once; 0 (the
    /// default) and 1 build them one after the other, as Podman's default
    /// does. Podman's `--jobs 0` (no limit) is `usize::MAX` here.
    pub jobs: usize,
    /// `--tls-verify`, `--creds`, `--authfile` for the pulls of base images.
    pub registry: crate::engine::image::pull::RegistryOptions,
    /// `--from`: the image that replaces the first FROM's.
    pub from: Option<String>,
}

/// `--squash`, `--squash-all`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Squash {
    #[default]
    No,
    /// The final stage's new layers as one, on top of its base's.
    New,
    /// The final image as one layer.
    All,
}

#[derive(Debug, Clone)]
pub struct BuildReport {
    pub image: ImageRecord,
    pub names: Vec<String>,
}

/// A stage's state while its steps run.
struct Work {
    image: Option<ImageRecord>,
    config: Value,
    /// ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
}

impl Work {
    fn cc(&mut self) -> &mut Map<String, Value> {
        if !self.config["config"].is_object() {
            self.config["config"] = json!({});
        }
        self.config["config"]
            .as_object_mut()
            .expect("set to an object above")
    }

    fn env(&self) -> Vec<String> {
        cfg::strings(self.config["config"].get("Env"))
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let env = self.env();
        env.iter()
            .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
            .map(String::from)
            .or_else(|| self.args.get(name).cloned())
    }

    fn shell(&self) -> Vec<String> {
        let s = cfg::strings(self.config["config"].get("Shell"));
        if s.is_empty() {
            cfg::default_shell()
        } else {
            s
        }
    }

    fn parent_id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id.hex().to_owned())
            .unwrap_or_else(|| "scratch".into())
    }
}

struct Builder<'a> {
    ctx: &'a Context,
    store: &'a Store,
    state: &'a State,
    opts: &'a BuildOptions,
    file: &'a Containerfile,
    cache: Cache,
    context: std::sync::Arc<SourceRoot>,
    global_args: BTreeMap<String, String>,
    /// Stage results, by index (`None`: not built, or not yet).
    done: Vec<Option<ImageRecord>>,
    /// The index of the stage being built: names and indexes resolve
    /// among the stages before it.
    current: usize,
    /// The number of stages up to the target (the `[i/n]` prefix's n).
    n_stages: usize,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// Images this build committed that no later step or tag keeps
    /// (`--layers=false` removes them at the end).
    intermediates: Vec<ImageRecord>,
    /// `[2/3] ` while stage 2 of 3 runs; empty for one stage.
    prefix: String,
    /// The base image of the stage last begun (`--squash` keeps its layers).
    last_base: Option<ImageRecord>,
    /// The config of the image last stored, before `--env`/`--unsetenv`.
    running_config: std::cell::RefCell<Option<Value>>,
}

/// Podman's (buildah's) short id: 11 hex digits.
fn short(img: &ImageRecord) -> &str {
    &img.id.hex()[..11]
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::bad_input(msg)
}

/// The platform's ARGs (`TARGETPLATFORM`, `BUILDARCH`, ...), all native.
fn platform_args() -> BTreeMap<String, String> {
    let p = crate::image::registry::Platform::host();
    let plat = format!("{}/{}", p.os, p.architecture);
    let mut m = BTreeMap::new();
    for pre in ["TARGET", "BUILD"] {
        m.insert(format!("{pre}PLATFORM"), plat.clone());
        m.insert(format!("{pre}OS"), p.os.clone());
        m.insert(format!("{pre}ARCH"), p.architecture.clone());
        m.insert(
            format!("{pre}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    m
}

pub fn build(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &BuildOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<BuildReport> {
    // containers.conf's pull_policy where --pull kept its default.
    let with_conf;
    let opts = if opts.pull == PullPolicy::Missing {
        let mut o = opts.clone();
        o.pull = opts.pull.or_conf(ctx)?;
        with_conf = o;
        &with_conf
    } else {
        opts
    };
    let mut file = containerfile::parse(&opts.containerfile)
        .map_err(|e| bad(format!("parsing the Containerfile: {e}")))?;
    if let (Some(from), Some(first)) = (&opts.from, file.stages.first_mut()) {
        // The STEP line names it too, as Podman's does.
        first.from_text = first.from_text.replacen(&first.base, from, 1);
        first.base = from.clone();
    }
    if let Some(s) = &file.syntax {
        writeln!(
            err,
            "NOTE: the # syntax={s} directive is ignored: hutch parses the Containerfile itself"
        )?;
    }
    let ignore = IgnoreRules::parse(&opts.ignore)
        .map_err(|e| bad(format!("reading .containerignore: {e}")))?;
    let context = std::sync::Arc::new(SourceRoot::open(
        &opts.context,
        ignore,
        format!("the build context {:?}", opts.context.display().to_string()),
    )?);
    // ARGs before FROM: --build-arg overrides their defaults.
    let mut global_args = platform_args();
    for raw in &file.global_args {
        let look = |n: &str| global_args.get(n).cloned();
        for (name, default) in
            cfg::arg_decls(raw, file.escape, &look).map_err(|e| bad(format!("ARG {raw}: {e}")))?
        {
            let v = opts.build_args.get(&name).cloned().or(default);
            if let Some(v) = v {
                global_args.insert(name, v);
            }
        }
    }
    // The last stage, or --target's.
    let last = match &opts.target {
        None => file.stages.len() - 1,
        Some(t) => file
            .stages
            .iter()
            .position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(t)))
            .ok_or_else(|| {
                bad(format!(
                    "the target {t:?} is not a stage of the Containerfile"
                ))
            })?,
    };
    let plan = {
        let look = |n: &str| global_args.get(n).cloned();
        stages::plan(&file, last, &look)
    };
    let mut b = Builder {
        ctx,
        store,
        state,
        opts,
        file: &file,
        cache: Cache::new(store.root()),
        context,
        global_args,
        done: vec![None; file.stages.len()],
        current: 0,
        n_stages: last + 1,
        out,
        err,
        intermediates: Vec::new(),
        prefix: String::new(),
        last_base: None,
        running_config: Default::default(),
    };
    if opts.jobs > 1 && plan.needed.len() > 1 {
        parallel::build_stages(&mut b, &plan, last)?;
    } else {
        for &i in &plan.needed {
            let img = b.stage(i, &file.stages[i], i == last)?;
            b.done[i] = Some(img);
        }
    }
    let mut image = b.done[last]
        .clone()
        .ok_or_else(|| Error::internal("the target stage was not built"))?;
    if opts.squash != Squash::No {
        let base = b.last_base.clone();
        image = b.squash(base.as_ref(), &image)?;
        b.say(&format!("--> {}", short(&image)))?;
        b.done[last] = Some(image.clone());
    }
    let mut names = Vec::new();
    for t in &opts.tags {
        let n = crate::engine::image::tag(store, &image, t)?;
        names.push(n);
    }
    if !opts.layers {
        let keep: Vec<String> = b
            .done
            .iter()
            .flatten()
            .map(|i| i.id.hex().to_owned())
            .collect();
        for i in &b.intermediates {
            if !keep.iter().any(|k| k == i.id.hex()) {
                let _ = store.remove_image(&i.id);
            }
        }
    }
    if !opts.quiet {
        for n in &names {
            writeln!(b.out, "Successfully tagged {n}")?;
        }
    }
    Ok(BuildReport { image, names })
}

impl Builder<'_> {
    fn say(&mut self, line: &str) -> Result<()> {
        if !self.opts.quiet {
            writeln!(self.out, "{line}")?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn stage(&mut self, index: usize, stage: &Stage, last: bool) -> Result<ImageRecord> {
        self.current = index;
        let n_stages = self.n_stages;
        let prefix = if n_stages > 1 {
            format!("[{}/{}] ", index + 1, n_stages)
        } else {
            String::new()
        };
        self.prefix = prefix.clone();
        let look = |n: &str| self.global_args.get(n).cloned();
        let base = expand::word(&stage.base, self.file.escape, &look)
            .map_err(|e| bad(format!("FROM {}: {e}", stage.base)))?;
        if let Some(p) = &stage.platform {
            let p = expand::word(p, self.file.escape, &look).unwrap_or_default();
            check_platform(&p)?;
        }
        let mut work = self.from(&base)?;
        self.last_base = work.image.clone();
        // ONBUILD triggers of the base run first, and are not inherited.
        let triggers = cfg::strings(work.config["config"].get("OnBuild"));
        let mut steps: Vec<Step> = Vec::new();
        for t in &triggers {
            steps.push(
                containerfile::parse_trigger(t).map_err(|e| bad(format!("ONBUILD {t}: {e}")))?,
            );
        }
        if !triggers.is_empty() {
            work.cc().remove("OnBuild");
        }
        steps.extend(stage.steps.iter().cloned());
        let n = steps.len();
        // Triggers are numbered with the steps they precede.
        self.say(&format!("{prefix}STEP 1/{}: {}", n + 1, stage.from_text))?;
        for (k, step) in steps.iter().enumerate() {
            self.say(&format!("{prefix}STEP {}/{}: {}", k + 2, n + 1, step.text))?;
            let is_last = last && k + 1 == n;
            self.step(&mut work, step, is_last)
                .map_err(|e| e.context(format!("building at STEP \"{}\"", step.text)))?;
        }
        // --label goes on the final image; a stage with no step of its own
        // still makes a new image, as Podman's does.
        if last && (!self.opts.labels.is_empty() || n == 0) {
            let labels = self.opts.labels.clone();
            let mut text = String::from("LABEL");
            for (k, v) in &labels {
                text.push_str(&format!(" {k}={v}"));
            }
            self.meta_commit(&mut work, &text, last, |w| {
                let cc = w.cc();
                let map = cc.entry("Labels").or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                for (k, v) in &labels {
                    map[k.as_str()] = json!(v);
                }
                Ok(())
            })?;
        }
        let image = match work.image {
            Some(img) => img,
            None => {
                // A scratch stage with no step: an empty image.
                self.store_image(None, work.config.clone(), None, None)?
            }
        };
        Ok(image)
    }

    /// The image of stage `i`, which the plan built before this one.
    fn built(&self, i: usize) -> Result<ImageRecord> {
        self.done.get(i).cloned().flatten().ok_or_else(|| {
            Error::internal(format!(
                "stage {i} is used by stage {} but was not built",
                self.current
            ))
        })
    }

    fn from(&mut self, base: &str) -> Result<Work> {
        if base.eq_ignore_ascii_case("scratch") {
            return Ok(Work {
                image: None,
                config: image::scratch_config(),
                args: BTreeMap::new(),
            });
        }
        // A stage by name (case-insensitive, as Docker) or index.
        let img = match stages::resolve(self.file, base, self.current) {
            Some(i) => self.built(i)?,
            None => create::resolve_image_with(
                self.ctx,
                self.store,
                base,
                self.opts.pull,
                None,
                &self.opts.registry,
                None,
            )
            .map_err(Error::from_any)
            .with_context(|| format!("FROM {base}"))?,
        };
        let mut config = crate::engine::image::config(self.store, &img)?;
        // buildah gives an image without PATH the default one.
        let env = cfg::strings(config["config"].get("Env"));
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            let mut with = vec![DEFAULT_PATH.to_owned()];
            with.extend(env);
            if !config["config"].is_object() {
                config["config"] = json!({});
            }
            config["config"]["Env"] = json!(with);
        }
        Ok(Work {
            image: Some(img),
            config,
            args: BTreeMap::new(),
        })
    }

    /// Looks the step up in the cache, or runs `make` and records it.
    fn cached(
        &mut self,
        work: &mut Work,
        parts: &[&str],
        make: impl FnOnce(&mut Self, &mut Work) -> Result<ImageRecord>,
    ) -> Result<()> {
        let args = serde_json::to_string(&work.args)?;
        let parent = work.parent_id();
        let settings = self.settings_key();
        let mut all = vec!["v1", parent.as_str(), args.as_str()];
        if !settings.is_empty() {
            all.push(&settings);
        }
        all.extend_from_slice(parts);
        let key = cache::key(&all);
        // With --env/--unsetenv the steps go on with the config as the
        // Containerfile made it, not as committed (buildah's order): the
        // record keeps that config beside the image id.
        let with_running = !settings.is_empty();
        if self.opts.layers
            && !self.opts.no_cache
            && let Some((img, running)) = self.cache.get(self.store, &key)
            && (running.is_some() || !with_running)
        {
            self.say(&format!("--> Using cache {}", img.id.hex()))?;
            work.config = match running {
                Some(c) => c,
                None => crate::engine::image::config(self.store, &img)?,
            };
            work.image = Some(img);
            return Ok(());
        }
        let img = make(self, work)?;
        let running = self
            .running_config
            .borrow_mut()
            .take()
            .filter(|_| with_running);
        if self.opts.layers {
            self.cache.put(&key, img.id.hex(), running.as_ref());
        }
        self.intermediates.push(img.clone());
        work.config = match running {
            Some(c) => c,
            None => crate::engine::image::config(self.store, &img)?,
        };
        work.image = Some(img);
        Ok(())
    }

    fn finish_line(&mut self, last: bool, img: &ImageRecord) -> Result<()> {
        if last {
            let name = self.opts.tags.first().cloned().unwrap_or_default();
            let shown = reference::local_name(&name).unwrap_or(name);
            let prefix = self.prefix.clone();
            self.say(format!("{prefix}COMMIT {shown}").trim_end())?;
        }
        self.say(&format!("--> {}", short(img)))
    }

    /// A config-only step: `change` edits the config; committed with an
    /// empty-layer history entry.
    fn meta_commit(
        &mut self,
        work: &mut Work,
        text: &str,
        last: bool,
        change: impl FnOnce(&mut Work) -> Result<()>,
    ) -> Result<()> {
        let parent = work.image.clone();
        let mut next = Work {
            image: parent.clone(),
            config: work.config.clone(),
            args: work.args.clone(),
        };
        change(&mut next)?;
        let after = serde_json::to_string(&next.config["config"])?;
        work.args = next.args;
        let new_config = next.config;
        self.cached(work, &[text, &after], |b, _| {
            let config = new_config;
            b.store_image(
                parent.as_ref(),
                config,
                None,
                Some(&format!("/bin/sh -c #(nop) {text}")),
            )
        })?;
        let img = work.image.clone().expect("set by cached");
        self.finish_line(last, &img)
    }

    fn expand(&self, work: &Work, s: &str) -> Result<String> {
        let look = |n: &str| work.lookup(n);
        expand::word(s, self.file.escape, &look).map_err(|e| bad(format!("{s}: {e}")))
    }

    fn step(&mut self, work: &mut Work, step: &Step, last: bool) -> Result<()> {
        let esc = self.file.escape;
        match &step.inst {
            Inst::Arg(raw) => {
                let look = |n: &str| work.lookup(n);
                let decls = cfg::arg_decls(raw, esc, &look).map_err(|e| bad(e.to_string()))?;
                let decls: Vec<(String, String)> = decls
                    .into_iter()
                    .filter_map(|(name, default)| {
                        let v = self
                            .opts
                            .build_args
                            .get(&name)
                            .cloned()
                            .or(default)
                            .or_else(|| self.global_args.get(&name).cloned());
                        v.map(|v| (name, v))
                    })
                    .collect();
                self.meta_commit(work, &step.text, last, move |w| {
                    for (k, v) in decls {
                        w.args.insert(k, v);
                    }
                    Ok(())
                })
            }
            Inst::Env(raw) | Inst::Label(raw) => {
                let look = |n: &str| work.lookup(n);
                let pairs =
                    cfg::pairs(raw, esc, &look).map_err(|e| bad(format!("{}: {e}", step.text)))?;
                let is_env = matches!(step.inst, Inst::Env(_));
                self.meta_commit(work, &step.text, last, move |w| {
                    let cc = w.cc();
                    if is_env {
                        let mut env = cfg::env_list(cc);
                        for (k, v) in &pairs {
                            cfg::set_env(&mut env, k, v);
                        }
                        cc.insert("Env".into(), json!(env));
                    } else {
                        let map = cc.entry("Labels").or_insert_with(|| json!({}));
                        if !map.is_object() {
                            *map = json!({});
                        }
                        for (k, v) in &pairs {
                            map[k.as_str()] = json!(v);
                        }
                    }
                    Ok(())
                })
            }
            Inst::User(u) => {
                let u = self.expand(work, u)?;
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert("User".into(), json!(u));
                    Ok(())
                })
            }
            Inst::Expose(ports) => {
                let ports: Vec<String> = ports
                    .iter()
                    .map(|p| self.expand(work, p))
                    .collect::<Result<_>>()?;
                self.meta_commit(work, &step.text, last, move |w| {
                    cfg::expose(w.cc(), &ports).map_err(bad)
                })
            }
            Inst::Volume(v) => {
                let v: Vec<String> = v
                    .iter()
                    .map(|p| self.expand(work, p))
                    .collect::<Result<_>>()?;
                self.meta_commit(work, &step.text, last, move |w| {
                    cfg::volumes(w.cc(), &v);
                    Ok(())
                })
            }
            Inst::Entrypoint(form) | Inst::Cmd(form) => {
                let argv = cfg::argv(form, &work.shell());
                let key = if matches!(step.inst, Inst::Cmd(_)) {
                    "Cmd"
                } else {
                    "Entrypoint"
                };
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert(key.into(), json!(argv));
                    Ok(())
                })
            }
            Inst::Shell(s) => {
                let s = s.clone();
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert("Shell".into(), json!(s));
                    Ok(())
                })
            }
            Inst::Stopsignal(s) => {
                let s = self.expand(work, s)?;
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert("StopSignal".into(), json!(s));
                    Ok(())
                })
            }
            Inst::Healthcheck { flags, command } => {
                let hc = cfg::healthcheck(flags, command.as_ref()).map_err(bad)?;
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert("Healthcheck".into(), hc);
                    Ok(())
                })
            }
            Inst::Onbuild(t) => {
                let t = t.clone();
                self.meta_commit(work, &step.text, last, move |w| {
                    let cc = w.cc();
                    let mut list = cfg::strings(cc.get("OnBuild"));
                    list.push(t);
                    cc.insert("OnBuild".into(), json!(list));
                    Ok(())
                })
            }
            Inst::Maintainer(m) => {
                let m = self.expand(work, m)?;
                self.meta_commit(work, &step.text, last, move |w| {
                    w.config["author"] = json!(m);
                    Ok(())
                })
            }
            Inst::Workdir(dir) => {
                // Config only, as buildah: the directory is made by the
                // next RUN (or COPY into it), not by WORKDIR.
                let dir = self.expand(work, dir)?;
                let base = work.config["config"]["WorkingDir"]
                    .as_str()
                    .unwrap_or("/")
                    .to_owned();
                let abs = if dir.starts_with('/') {
                    dir
                } else {
                    format!("{}/{dir}", base.trim_end_matches('/'))
                };
                self.meta_commit(work, &step.text, last, move |w| {
                    w.cc().insert("WorkingDir".into(), json!(abs));
                    Ok(())
                })
            }
            Inst::Run {
                command,
                heredocs,
                flags,
            } => self.run(work, step, command, heredocs, flags, last),
            Inst::Copy(spec) => self.copy(work, step, spec, last),
        }
    }

    fn process(&self, work: &Work, argv: Vec<String>) -> Process {
        let mut env = work.env();
        // Declared ARGs are in RUN's environment, under ENV of the same name.
        for (k, v) in &work.args {
            if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                env.push(format!("{k}={v}"));
            }
        }
        for k in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(k) {
                env.push(format!("{k}={v}"));
            }
        }
        Process {
            argv,
            env,
            workdir: work.config["config"]["WorkingDir"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(String::from),
            user: work.config["config"]["User"].as_str().map(String::from),
            ..Process::default()
        }
    }

    /// Commits a step container's changes on top of the work's image.
    fn commit_container(
        &self,
        work: &Work,
        sc: &StepContainer<'_>,
        created_by: &str,
    ) -> Result<ImageRecord> {
        let _adding = self.store.adding()?;
        let layer = sc.diff()?;
        self.store_image(
            work.image.as_ref(),
            work.config.clone(),
            Some(layer),
            Some(created_by),
        )
    }

    fn run(
        &mut self,
        work: &mut Work,
        _step: &Step,
        command: &CommandForm,
        heredocs: &[containerfile::Heredoc],
        flags: &[Flag],
        last: bool,
    ) -> Result<()> {
        let workdir = work.config["config"]["WorkingDir"]
            .as_str()
            .unwrap_or("/")
            .to_owned();
        let mut mounts = Vec::new();
        let mut settings = self.opts.run.clone();
        let mut flag_key = Vec::new();
        for f in flags {
            let v = self.expand(work, f.value.as_deref().unwrap_or(""))?;
            match f.name.as_str() {
                "mount" => mounts.push(
                    crate::image::build::runmount::parse(&v, &workdir)
                        .map_err(|e| bad(format!("RUN --mount={v}: {e}")))?,
                ),
                "network" => {
                    settings.network = match v.as_str() {
                        "default" | "" => self.opts.run.network.clone(),
                        "none" | "host" => Some(
                            hutch_rootless_net::NetworkMode::parse(
                                &v,
                                &hutch_rootless_net::NetworkMode::None,
                            )
                            .map_err(|e| bad(format!("RUN --network={v}: {e}")))?,
                        ),
                        _ => crate::fail!(BadInput, "RUN --network={v}: use default, none or host"),
                    };
                    flag_key.push(format!("network={v}"));
                }
                "security" if v == "sandbox" => {}
                "security" => crate::fail!(
                    BadInput,
                    "RUN --security={v}: only sandbox is supported (insecure needs a privileged build)"
                ),
                other => crate::fail!(
                    BadInput,
                    "RUN --{other} is not supported by hutch build (use --mount or --network)"
                ),
            }
        }
        let shell = work.shell();
        let argv = match (command, heredocs.first()) {
            // `RUN <<EOF` alone: the document is the script.
            (CommandForm::Shell(s), Some(doc))
                if s.trim().is_empty()
                    || (s.trim_start().starts_with("<<") && !s.trim().contains(' ')) =>
            {
                let mut v = shell.clone();
                v.push(doc.body.clone());
                v
            }
            // Otherwise the shell reads the documents itself.
            (CommandForm::Shell(s), Some(_)) => {
                let mut text = s.clone();
                let delims = heredoc_delimiters(s);
                for (doc, d) in heredocs.iter().zip(delims) {
                    text.push('\n');
                    text.push_str(&doc.body);
                    if !doc.body.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&d);
                }
                let mut v = shell.clone();
                v.push(text);
                v
            }
            (form, _) => cfg::argv(form, &shell),
        };
        let created_by = argv.join(" ");
        let mut p = self.process(work, argv.clone());
        p.settings = settings;
        let Some(img) = work.image.clone() else {
            crate::fail!(
                BadInput,
                "RUN in a stage FROM scratch with no files: there is no shell to run it"
            );
        };
        let resolved = {
            let mut from = |name: &str| self.stage_or_image(name, "RUN --mount from=");
            runmounts::Resolved::resolve(self.store, &self.context, mounts, &mut from)?
        };
        let key_argv = serde_json::to_string(&argv)?;
        let user = p.user.clone().unwrap_or_default();
        let mut key: Vec<String> = vec!["RUN".into(), key_argv, user];
        // Steps without RUN flags keep the keys they had before.
        if !resolved.key.is_empty() || !flag_key.is_empty() {
            key.push(serde_json::to_string(&(&resolved.key, &flag_key))?);
        }
        let key_refs: Vec<&str> = key.iter().map(String::as_str).collect();
        self.cached(work, &key_refs, move |b, w| {
            let mut resolved = resolved;
            let secret_dir = b.ctx.runtime_root().join("build-secrets");
            let (mounts, tmpfs) =
                resolved.materialize(&b.opts.secrets, &b.opts.ssh, &secret_dir, b.opts.rootless)?;
            if let Some(sock) = &resolved.ssh_auth_sock {
                p.env.retain(|e| !e.starts_with("SSH_AUTH_SOCK="));
                p.env.push(format!("SSH_AUTH_SOCK={sock}"));
            }
            let mut targets = resolved.targets();
            targets.extend(p.settings.volumes.iter().map(|m| m.destination.clone()));
            p.mounts = p.settings.volumes.clone();
            p.mounts.extend(mounts);
            p.tmpfs = tmpfs;
            let sc = StepContainer::create(b.ctx, b.store, b.state, &img, &p)?;
            if let Some(wd) = &p.workdir {
                sc.mkdir(wd)?;
            }
            // Mount points the image does not have are not committed.
            let mut new_points = Vec::new();
            for t in targets {
                if !sc.exists(&t)? {
                    new_points.push(t);
                }
            }
            // -q: a RUN's stdout goes nowhere and its stderr still shows,
            // as in Podman.
            let code = if b.opts.quiet {
                sc.run(&mut std::io::sink(), &mut *b.err)?
            } else {
                sc.run(&mut *b.out, &mut *b.err)?
            };
            if code != 0 {
                return Err(Error::runtime(
                    code.clamp(1, 255) as u8,
                    format!("while running runtime: exit status {code}"),
                ));
            }
            // Deepest first, so a mount below another's target goes first.
            new_points.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for t in &new_points {
                sc.remove_mount_point(t)?;
            }
            b.commit_container(w, &sc, &format!("/bin/sh -c {created_by}"))
        })?;
        let img = work.image.clone().expect("set by cached");
        self.finish_line(last, &img)
    }

    /// A stage (by name or index, among those built) or an image, for
    /// `COPY --from` and `RUN --mount=from=`.
    fn stage_or_image(&self, name: &str, what: &str) -> Result<ImageRecord> {
        match stages::resolve(self.file, name, self.current) {
            Some(i) => self.built(i),
            None => create::resolve_image_with(
                self.ctx,
                self.store,
                name,
                self.opts.pull,
                None,
                &self.opts.registry,
                None,
            )
            .map_err(Error::from_any)
            .with_context(|| format!("{what}{name}")),
        }
    }

    fn copy(&mut self, work: &mut Work, step: &Step, spec: &CopySpec, last: bool) -> Result<()> {
        let mut from = None;
        let mut chown = None;
        let mut chmod = None;
        let mut checksum = None;
        let mut parents = false;
        for f in &spec.flags {
            let v = f.value.clone().unwrap_or_default();
            match f.name.as_str() {
                "from" => from = Some(self.expand(work, &v)?),
                "chown" => chown = Some(self.expand(work, &v)?),
                "chmod" => {
                    let v = self.expand(work, &v)?;
                    chmod = Some(
                        u32::from_str_radix(&v, 8)
                            .map_err(|_| bad(format!("--chmod={v}: not an octal mode")))?,
                    );
                }
                // Accepted, no different on a single-writer store.
                "link" => {}
                "checksum" if spec.add => checksum = Some(self.expand(work, &v)?),
                // buildah's (Podman 5) and BuildKit's: the source's
                // directories are kept below the destination.
                "parents" => {
                    parents = match f.value.as_deref() {
                        None | Some("true") => true,
                        Some("false") => false,
                        Some(o) => crate::fail!(BadInput, "--parents={o}: use true or false"),
                    }
                }
                other => crate::fail!(BadInput, "{}: unknown flag --{other}", step.text),
            }
        }
        let dest_raw = self.expand(work, &spec.dest)?;
        let workdir = work.config["config"]["WorkingDir"]
            .as_str()
            .unwrap_or("/")
            .to_owned();
        let dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), dest_raw)
        };
        let dest_is_dir_syntax =
            dest_raw.ends_with('/') || dest_raw.ends_with("/.") || dest_raw == ".";
        // ADD's URLs: downloaded, then read as COPY reads a stage's root.
        let mut urls = Vec::new();
        for src in &spec.sources {
            if let CopySource::Path(p) = src
                && p.contains("://")
            {
                let p = self.expand(work, p)?;
                if !spec.add || !download::is_url(&p) {
                    crate::fail!(
                        BadInput,
                        "{}: {p:?}: only ADD takes URLs, and only http:// and https://",
                        step.text
                    );
                }
                urls.push(p);
            }
        }
        if checksum.is_some() && urls.is_empty() {
            crate::fail!(
                BadInput,
                "{}: --checksum is for URL sources only",
                step.text
            );
        }
        let downloads = if urls.is_empty() {
            None
        } else {
            if urls.len() != spec.sources.len() || from.is_some() {
                crate::fail!(
                    BadInput,
                    "{}: URL sources cannot be mixed with files or --from",
                    step.text
                );
            }
            Some(download::fetch_all(self.store, &urls, checksum.as_deref())?)
        };
        // Where the sources come from: the context, or a stage's image
        // (or any image) mounted read-only.
        let mut mounted: Option<ImageRecord> = None;
        let stage_root = match &from {
            None => None,
            Some(name) => {
                let img = self.stage_or_image(name, "COPY --from=")?;
                let path = self
                    .store
                    .mount_image(&img)
                    .with_context(|| format!("mounting {name}"))?;
                mounted = Some(img);
                Some(SourceRoot::open(
                    &path,
                    IgnoreRules::default(),
                    format!("stage or image {name:?}"),
                )?)
            }
        };
        let url_spec;
        let (spec, stage_root) = match &downloads {
            None => (spec, stage_root.as_ref()),
            Some(d) => {
                url_spec = CopySpec {
                    // Never unpacked, whatever it holds.
                    add: false,
                    flags: Vec::new(),
                    sources: d.names.iter().cloned().map(CopySource::Path).collect(),
                    dest: spec.dest.clone(),
                };
                (&url_spec, Some(&d.root))
            }
        };
        let result = self.copy_from(
            work,
            step,
            spec,
            stage_root,
            &dest,
            dest_is_dir_syntax,
            chown,
            chmod,
            parents && downloads.is_none(),
            last,
        );
        if let Some(img) = mounted {
            let _ = self.store.unmount_image(&img.id);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_from(
        &mut self,
        work: &mut Work,
        step: &Step,
        spec: &CopySpec,
        stage_root: Option<&SourceRoot>,
        dest: &str,
        dest_is_dir_syntax: bool,
        chown: Option<String>,
        chmod: Option<u32>,
        parents: bool,
        last: bool,
    ) -> Result<()> {
        let ctx_root = self.context.clone();
        let root: &SourceRoot = stage_root.unwrap_or(&ctx_root);
        let mut found = Vec::new();
        // With --parents, how many leading components each found source
        // drops (those before a `/./` pivot).
        let mut strips = Vec::new();
        let mut docs = Vec::new();
        let mut globbed = false;
        for s in &spec.sources {
            match s {
                CopySource::Path(p) => {
                    if p.contains("://") {
                        crate::fail!(
                            BadInput,
                            "{}: URL sources are not supported by hutch build yet",
                            step.text
                        );
                    }
                    let p = self.expand(work, p)?;
                    globbed |= crate::image::build::glob::is_glob(&p);
                    let more = root.find(&p)?;
                    strips.extend(std::iter::repeat_n(pivot_depth(&p), more.len()));
                    found.extend(more);
                }
                CopySource::Heredoc(h) => docs.push(h.clone()),
            }
        }
        let many = found.len() + docs.len() > 1 || globbed || parents;
        if many && !dest_is_dir_syntax && !parents {
            crate::fail!(
                BadInput,
                "{}: when copying several sources the destination must be a directory and end with a /",
                step.text
            );
        }
        // ADD unpacks local tar archives.
        let archives: Vec<bool> = found
            .iter()
            .map(|f| spec.add && !f.is_dir && is_archive(&root.path.join(f.parts.join("/"))))
            .collect();
        // Where each source goes below the destination directory: with
        // --parents, its directories (a directory's own path, as its
        // contents go into it); else the destination itself.
        let kept: Vec<String> = found
            .iter()
            .zip(&strips)
            .map(|(f, strip)| {
                if !parents {
                    return String::new();
                }
                let keep = &f.parts[(*strip).min(f.parts.len())..];
                let keep = if f.is_dir {
                    keep
                } else {
                    &keep[..keep.len().saturating_sub(1)]
                };
                keep.join("/")
            })
            .collect();
        let zero = EntryOptions {
            chmod,
            zero_times: true,
        };
        let digest = sources::digest_of(|w| {
            let mut sw = SourceWriter::new(root, w, zero);
            for f in &found {
                sw.add(f, &f.parts.join("/"))?;
            }
            for (i, d) in docs.iter().enumerate() {
                sw.add_bytes(&format!("heredoc{i}"), d.body.as_bytes(), 0o644)?;
            }
            sw.finish()?;
            Ok(())
        })?;
        let keyword = if spec.add { "ADD" } else { "COPY" };
        let created_by = format!("/bin/sh -c #(nop) {keyword} dir:{digest} in {dest}");
        let chown_key = chown.clone().unwrap_or_default();
        let chmod_key = chmod.map(|m| format!("{m:o}")).unwrap_or_default();
        let text = step.text.clone();
        let dest = dest.to_owned();
        let Some(img) = work.image.clone() else {
            return self.copy_scratch(
                work,
                &text,
                root,
                &found,
                &docs,
                &kept,
                &dest,
                dest_is_dir_syntax,
                chmod,
                &digest,
                &created_by,
                last,
            );
        };
        self.cached(
            work,
            &[&text, &digest, &dest, &chown_key, &chmod_key],
            |b, w| {
                let sc = StepContainer::create(
                    b.ctx,
                    b.store,
                    b.state,
                    &img,
                    &b.process(w, vec!["/".into()]),
                )?;
                let owner = match &chown {
                    Some(u) => sc.user_ids(u)?,
                    None => (0, 0),
                };
                let into_dir = many
                    || dest_is_dir_syntax
                    || sc.is_dir(&dest)?
                    || found.first().is_some_and(|f| f.is_dir);
                let (dir, leaf) = if into_dir {
                    (dest.clone(), None)
                } else {
                    let (d, l) = dest.rsplit_once('/').unwrap_or(("", &dest));
                    (
                        if d.is_empty() {
                            "/".to_owned()
                        } else {
                            d.to_owned()
                        },
                        Some(l.to_owned()),
                    )
                };
                let opts = EntryOptions {
                    chmod,
                    zero_times: false,
                };
                for ((f, arch), kept) in found.iter().zip(&archives).zip(&kept) {
                    // --parents: a directory is written as itself (its
                    // mode kept) into its kept parent.
                    let (kept_dir, dir_name) = match (f.is_dir, kept.rsplit_once('/')) {
                        (false, _) => (kept.as_str(), ""),
                        (true, Some((d, n))) => (d, n),
                        (true, None) => ("", kept.as_str()),
                    };
                    let dir = if kept_dir.is_empty() {
                        dir.clone()
                    } else {
                        format!("{}/{kept_dir}", dir.trim_end_matches('/'))
                    };
                    if *arch {
                        let path = root.path.join(f.parts.join("/"));
                        sc.apply(&dir, owner, b.opts.rootless, move |w| {
                            copy_archive(&path, w)
                        })?;
                        continue;
                    }
                    let name = match (&leaf, f.is_dir) {
                        (_, true) => dir_name.to_owned(),
                        (Some(l), false) => l.clone(),
                        (None, false) => sources::base_name(f).to_owned(),
                    };
                    sc.apply(&dir, owner, b.opts.rootless, |w| {
                        let mut sw = SourceWriter::new(root, w, opts);
                        sw.add(f, &name)?;
                        sw.finish()?;
                        Ok(())
                    })?;
                }
                for (i, d) in docs.iter().enumerate() {
                    let name = leaf.clone().unwrap_or_else(|| format!("heredoc{i}"));
                    sc.apply(&dir, owner, b.opts.rootless, |w| {
                        let mut sw = SourceWriter::new(root, w, opts);
                        sw.add_bytes(&name, d.body.as_bytes(), 0o644)?;
                        sw.finish()?;
                        Ok(())
                    })?;
                }
                b.commit_container(w, &sc, &created_by)
            },
        )?;
        let img = work.image.clone().expect("set by cached");
        self.finish_line(last, &img)
    }

    /// COPY into a scratch stage with no layer yet: the files become the
    /// first layer directly (there is no root to mount).
    #[allow(clippy::too_many_arguments)]
    fn copy_scratch(
        &mut self,
        work: &mut Work,
        text: &str,
        root: &SourceRoot,
        found: &[sources::Found],
        docs: &[containerfile::Heredoc],
        kept: &[String],
        dest: &str,
        dest_is_dir_syntax: bool,
        chmod: Option<u32>,
        digest: &str,
        created_by: &str,
        last: bool,
    ) -> Result<()> {
        let parts = crate::image::build::glob::clean(dest).unwrap_or_default();
        let many = found.len() + docs.len() > 1 || kept.iter().any(|k| !k.is_empty());
        let into_dir = many || dest_is_dir_syntax || found.first().is_some_and(|f| f.is_dir);
        let (dir_parts, leaf) = if into_dir || parts.is_empty() {
            (parts.clone(), None)
        } else {
            (
                parts[..parts.len() - 1].to_vec(),
                parts.last().map(|s| s.to_string()),
            )
        };
        let prefix = dir_parts.join("/");
        self.cached(work, &[text, digest, dest], |b, w| {
            let _adding = b.store.adding()?;
            let layer = image::put_layer(b.store, |pipe| {
                let mut sw = SourceWriter::new(
                    root,
                    pipe,
                    EntryOptions {
                        chmod,
                        zero_times: false,
                    },
                );
                for i in 1..=dir_parts.len() {
                    sw.add_plain_dir(&dir_parts[..i].join("/"))?;
                }
                let join = |n: &str| {
                    if prefix.is_empty() {
                        n.to_owned()
                    } else if n.is_empty() {
                        prefix.clone()
                    } else {
                        format!("{prefix}/{n}")
                    }
                };
                let mut made = std::collections::BTreeSet::new();
                for (f, kept) in found.iter().zip(kept) {
                    let name = match (&leaf, f.is_dir) {
                        (_, true) => String::new(),
                        (Some(l), false) => l.clone(),
                        (None, false) => sources::base_name(f).to_owned(),
                    };
                    // --parents: the kept directories first, once each.
                    let kept_parts: Vec<&str> = kept.split('/').filter(|p| !p.is_empty()).collect();
                    let upto = if f.is_dir {
                        kept_parts.len().saturating_sub(1)
                    } else {
                        kept_parts.len()
                    };
                    for i in 1..=upto {
                        let d = join(&kept_parts[..i].join("/"));
                        if made.insert(d.clone()) {
                            sw.add_plain_dir(&d)?;
                        }
                    }
                    let under = |n: &str| {
                        if kept.is_empty() {
                            join(n)
                        } else if n.is_empty() {
                            join(kept)
                        } else {
                            join(&format!("{kept}/{n}"))
                        }
                    };
                    if f.is_dir {
                        let mut sub = f.clone();
                        sub.is_dir = true;
                        // Contents under the prefix.
                        sw.add(&sub, &under(""))?;
                    } else {
                        sw.add(f, &under(&name))?;
                    }
                }
                for (i, d) in docs.iter().enumerate() {
                    sw.add_bytes(
                        &join(&leaf.clone().unwrap_or_else(|| format!("heredoc{i}"))),
                        d.body.as_bytes(),
                        0o644,
                    )?;
                }
                sw.finish()?;
                Ok(())
            })?;
            b.store_image(None, w.config.clone(), Some(layer), Some(created_by))
        })?;
        let img = work.image.clone().expect("set by cached");
        self.finish_line(last, &img)
    }
}

/// `--platform` other than the host's is refused: there is no emulation.
fn check_platform(p: &str) -> Result<()> {
    let host = crate::image::registry::Platform::host();
    let mut it = p.split('/');
    let (os, arch) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    if (!os.is_empty() && os != host.os) || (!arch.is_empty() && arch != host.architecture) {
        crate::fail!(
            BadInput,
            "platform {p:?} is not this host's ({}/{}): hutch build builds for the native platform only",
            host.os,
            host.architecture
        );
    }
    Ok(())
}

/// How many leading components `COPY --parents` drops from what `src`
/// finds: those before its first `/./` (BuildKit's pivot), else none.
fn pivot_depth(src: &str) -> usize {
    let body = src.trim_start_matches("./");
    match body.find("/./") {
        Some(i) => crate::image::build::glob::clean(&body[..i]).map_or(0, |c| c.len()),
        None => 0,
    }
}

/// The delimiters of `<<EOF`, `<<-EOF`, `<<"EOF"` in a RUN line, in order.
fn heredoc_delimiters(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("<<") {
        let after = rest[i + 2..].trim_start_matches('-');
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            out.push(word);
        }
        rest = &rest[i + 2..];
    }
    out
}

/// Whether a file is a tar archive ADD unpacks: gzip, or plain tar
/// (`ustar` at offset 257).
fn is_archive(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 262];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    (n >= 2 && head[..2] == [0x1f, 0x8b]) || (n >= 262 && &head[257..262] == b"ustar")
}

fn copy_archive(path: &std::path::Path, mut w: std::io::PipeWriter) -> Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    drop(f);
    let f = std::fs::File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        std::io::copy(&mut flate2::read::GzDecoder::new(f), &mut w)?;
    } else {
        std::io::copy(&mut std::io::BufReader::new(f), &mut w)?;
    }
    Ok(())
}
