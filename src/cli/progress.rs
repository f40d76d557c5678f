//! Transfer progress: a bar per layer when stderr is a terminal; nothing
//! when it is piped or with `-q`, so logs and scripts get only the image id
//! on stdout.

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
}

#[derive(PartialEq, Eq)]
enum Mode {
    Quiet,
    Bars,
}

impl Progress {
    /// `verb`: "Trying to pull" or "Pushing", said once per reference.
    pub fn new(quiet: bool, verb: &'static str) -> Progress {
        let mode = if quiet || !std::io::stderr().is_terminal() {
            Mode::Quiet
        } else {
            Mode::Bars
        };
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            mode,
            bars: HashMap::new(),
            announced: false,
            verb,
        }
    }

    pub fn event(&mut self, reference: &str, e: ProgressEvent) {
        if self.mode == Mode::Quiet {
            return;
        }
        if !self.announced {
            self.announced = true;
            self.line(format!("{} {reference}...", self.verb));
            self.line("Getting image source signatures".to_owned());
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
                self.line("Writing manifest to image destination".to_owned())
            }
        }
    }

    fn line(&self, text: String) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bars => {
                let _ = self.multi.println(text);
            }
        }
    }
}
