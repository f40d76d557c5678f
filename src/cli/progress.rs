//! Transfer progress: a bar per layer when stderr is a terminal; Podman's
//! plain lines when it is not (`Copying blob sha256:…` once per blob, as
//! containers/image prints them without a terminal); nothing with `-q`.
//! stdout gets only the image id either way.

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::image::registry::ProgressEvent;

pub struct Progress {
    mode: Mode,
    bars: HashMap<String, ProgressBar>,
    multi: MultiProgress,
    announced: bool,
    verb: &'static str,
    /// Without a terminal: the config's line, printed after the blobs'
    /// (Podman's order; hutch fetches the config first).
    config_line: Option<String>,
}

#[derive(PartialEq, Eq)]
enum Mode {
    Quiet,
    Bars,
    Lines,
}

impl Progress {
    /// `verb`: "Trying to pull" or "Pushing", said once per reference.
    pub fn new(quiet: bool, verb: &'static str) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            mode,
            bars: HashMap::new(),
            announced: false,
            verb,
            config_line: None,
        }
    }

    pub fn event(&mut self, reference: &str, e: ProgressEvent) {
        if self.mode == Mode::Quiet {
            return;
        }
        if !self.announced {
            self.announced = true;
            // Podman's push says nothing before its signatures line.
            if self.mode == Mode::Bars || self.verb != "Pushing" {
                self.line(format!("{} {reference}...", self.verb));
            }
            self.line("Getting image source signatures".to_owned());
        }
        if self.mode == Mode::Lines {
            // One line per blob and config, the full digest, whatever
            // happened to it: containers/image's output without a terminal.
            match e {
                ProgressEvent::LayerStart { digest, .. }
                | ProgressEvent::LayerSkipped { digest } => {
                    self.line(format!("Copying blob {digest}"))
                }
                ProgressEvent::ConfigCopied { digest }
                | ProgressEvent::ConfigSkipped { digest } => {
                    self.config_line = Some(format!("Copying config {digest}"));
                }
                ProgressEvent::ManifestDone { .. } => {
                    if let Some(config) = self.config_line.take() {
                        self.line(config);
                    }
                    self.line("Writing manifest to image destination".to_owned());
                    self.line("Storing signatures".to_owned());
                }
                ProgressEvent::LayerBytes { .. } | ProgressEvent::LayerDone { .. } => {}
            }
            return;
        }
        match e {
            ProgressEvent::LayerStart { digest, size } => {
                if self.mode == Mode::Bars {
                    let bar = self.multi.add(ProgressBar::new(size));
                    let style = ProgressStyle::with_template(
                        "Copying blob {prefix} [{bar:30}] {binary_bytes} / {binary_total_bytes} | {binary_bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_prefix(digest.short().to_owned());
                    self.bars.insert(digest.hex().to_owned(), bar);
                }
            }
            ProgressEvent::LayerBytes { digest, done } => {
                if let Some(bar) = self.bars.get(digest.hex()) {
                    bar.set_position(done);
                }
            }
            ProgressEvent::LayerDone { digest } => match self.bars.remove(digest.hex()) {
                Some(bar) => bar.finish(),
                None => self.line(format!("Copying blob {} done", digest.short())),
            },
            ProgressEvent::LayerSkipped { digest } => self.line(format!(
                "Copying blob {} skipped: already exists",
                digest.short()
            )),
            ProgressEvent::ConfigCopied { digest } => {
                self.line(format!("Copying config {} done", digest.short()))
            }
            ProgressEvent::ConfigSkipped { digest } => self.line(format!(
                "Copying config {} skipped: already exists",
                digest.short()
            )),
            ProgressEvent::ManifestDone { .. } => {
                self.line("Writing manifest to image destination".to_owned());
                self.line("Storing signatures".to_owned());
            }
        }
    }

    /// Says "Trying to pull REF..." if nothing was said yet: Podman says it
    /// before a pull its policy refuses, which moves nothing.
    pub fn announce(&mut self, reference: &str) {
        if !self.announced && self.verb != "Pushing" {
            self.announced = true;
            self.line(format!("{} {reference}...", self.verb));
        }
    }

    fn line(&self, text: String) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bars => {
                let _ = self.multi.println(text);
            }
            Mode::Lines => eprintln!("{text}"),
        }
    }
}
