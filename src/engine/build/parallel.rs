//! `build --jobs N`: the stages the plan needs, up to N at once, each as
//! soon as the stages it waits for are built. Each stage runs on a thread
//! of its own with its own state connection (SQLite connections are not
//! shared between threads); the store is shared, its locks are `flock`s
//! on files each operation opens, which threads hold independently.
//!
//! Output reaches the caller's writers through one channel, so the lines
//! of stages running at once interleave as they come (as Podman's do);
//! the build's images are the same as with one job, since every step's
//! cache key and inputs are the stage's own.

use std::io::{self, Write};
use std::sync::mpsc;

use hutch_storage::images::ImageRecord;

use super::cache::Cache;
use super::stages::Plan;
use super::{Builder, Error, Result};

enum Msg {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Done(usize, Box<Result<Finished>>),
}

/// What a stage's thread hands back.
struct Finished {
    image: ImageRecord,
    intermediates: Vec<ImageRecord>,
    last_base: Option<ImageRecord>,
}

/// A stage's stdout or stderr, sent to the thread that owns the real ones.
struct Relay {
    tx: mpsc::Sender<Msg>,
    stderr: bool,
}

impl Write for Relay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let m = if self.stderr {
            Msg::Err(buf.to_vec())
        } else {
            Msg::Out(buf.to_vec())
        };
        self.tx
            .send(m)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the build's output is gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Builds `plan.needed` into `b.done`, at most `b.opts.jobs` at once. On a
/// failure no further stage starts; those running finish, then the first
/// error is returned.
pub(super) fn build_stages(b: &mut Builder<'_>, plan: &Plan, last: usize) -> Result<()> {
    let jobs = b.opts.jobs.max(1);
    let (ctx, store, opts, file) = (b.ctx, b.store, b.opts, b.file);
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut pending: Vec<usize> = plan.needed.clone();
    let mut running = 0usize;
    let mut failed: Option<Error> = None;
    std::thread::scope(|s| -> Result<()> {
        loop {
            while failed.is_none() && running < jobs {
                let Some(pos) = pending
                    .iter()
                    .position(|&i| plan.deps[i].iter().all(|d| b.done[*d].is_some()))
                else {
                    break;
                };
                let i = pending.remove(pos);
                let done = b.done.clone();
                let context = b.context.clone();
                let global_args = b.global_args.clone();
                let n_stages = b.n_stages;
                let tx = tx.clone();
                s.spawn(move || {
                    let result = (|| -> Result<Finished> {
                        let state = crate::engine::container::open_state(ctx)?;
                        let mut out = Relay {
                            tx: tx.clone(),
                            stderr: false,
                        };
                        let mut err = Relay {
                            tx: tx.clone(),
                            stderr: true,
                        };
                        let mut w = Builder {
                            ctx,
                            store,
                            state: &state,
                            opts,
                            file,
                            cache: Cache::new(store.root()),
                            context,
                            global_args,
                            done,
                            current: i,
                            n_stages,
                            out: &mut out,
                            err: &mut err,
                            intermediates: Vec::new(),
                            prefix: String::new(),
                            last_base: None,
                            running_config: Default::default(),
                        };
                        let image = w.stage(i, &file.stages[i], i == last)?;
                        Ok(Finished {
                            image,
                            intermediates: w.intermediates,
                            last_base: w.last_base,
                        })
                    })();
                    let _ = tx.send(Msg::Done(i, Box::new(result)));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let msg = rx
                .recv()
                .map_err(|_| Error::internal("the build's stage threads went away"))?;
            match msg {
                Msg::Out(d) => {
                    b.out.write_all(&d)?;
                    b.out.flush()?;
                }
                Msg::Err(d) => {
                    b.err.write_all(&d)?;
                    b.err.flush()?;
                }
                Msg::Done(i, result) => {
                    running -= 1;
                    match *result {
                        Ok(f) => {
                            b.done[i] = Some(f.image);
                            b.intermediates.extend(f.intermediates);
                            if i == last {
                                b.last_base = f.last_base;
                            }
                        }
                        Err(e) => {
                            failed.get_or_insert(e);
                        }
                    }
                }
            }
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if !pending.is_empty() {
        crate::fail!(Internal, "stages {pending:?} were never ready to build");
    }
    Ok(())
}
