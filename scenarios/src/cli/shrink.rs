//! `shrink`: the failing run made small, with its progress on standard error and the smallest
//! failing run so far saved after every accepted step (so that Ctrl-C, or a budget, loses nothing).

use super::args::ShrinkArgs;
use super::error::CliError;
use super::runs::{OUTPUT_FOLDER, create_parent, target};
use crate::replay::{ReplayFile, RunSize};
use crate::shrink::{BudgetSpent, ShrinkObserver, ShrinkStep, shrink_observed};
use crate::{Registry, ShrinkError, ShrinkOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant as WallInstant};

/// Prints each accepted step, draws the progress (on a terminal), and saves the best run so far.
struct Progress<'a> {
    bar: ProgressBar,
    path: &'a Path,
    /// The first failure to save, reported after the shrink.
    unsaved: Option<CliError>,
}

impl ShrinkObserver for Progress<'_> {
    fn tried(&mut self, runs: u32, best: RunSize) {
        self.bar.set_message(format!("{runs} runs; smallest failing run {} events", best.events));
        self.bar.tick();
    }

    fn accepted(&mut self, step: &ShrinkStep, best: &ReplayFile) {
        self.bar.suspend(|| {
            say!("  {:<64} -> {} trace records, {} events", step.what, step.size.trace_records, step.size.events);
        });
        if self.unsaved.is_none()
            && let Err(error) = save_atomically(best, self.path)
        {
            self.unsaved = Some(error);
        }
    }
}

/// Writes `file` beside `path` and renames it into place, so that `path` always holds a whole file.
fn save_atomically(file: &ReplayFile, path: &Path) -> Result<(), CliError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    file.save(&partial)?;
    std::fs::rename(&partial, path).map_err(|source| CliError::WriteFile { path: path.to_path_buf(), source })
}

/// `pangea-sim shrink`.
pub(super) fn shrink_command(registry: &Registry, args: ShrinkArgs) -> Result<ExitCode, CliError> {
    let ShrinkArgs { target: name, seed, selection, output, runs_max, time_max, no_progress } = args;
    let target = target(registry, &name, seed, &selection)?;
    let started = WallInstant::now();
    let time_max = (time_max > 0).then(|| Duration::from_secs(time_max));
    let limits = ShrinkOptions { runs_max, time_max, ..ShrinkOptions::default() };
    let path = output.unwrap_or_else(|| {
        Path::new(OUTPUT_FOLDER).join(format!("{}-seed-{}.shrunk.json", target.scenario.name(), target.options.seed))
    });
    create_parent(&path)?;
    let bar = if no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(ProgressStyle::with_template("[{elapsed_precise}] {spinner} {msg}").expect("a valid template"));
    let mut progress = Progress { bar, path: &path, unsaved: None };
    say!(
        "shrinking {} seed {} (saving the smallest failing run so far to {})",
        target.scenario.name(),
        target.options.seed,
        path.display()
    );
    let shrunk = shrink_observed(target.scenario, &target.options, limits, &mut progress);
    progress.bar.finish_and_clear();
    let outcome = match shrunk {
        Ok(outcome) => outcome,
        Err(ShrinkError::Invalid(message)) => return Err(target.refused(message)),
        Err(error) => return Err(error.into()),
    };
    if let Some(error) = progress.unsaved {
        return Err(error);
    }
    let file = outcome.replay_file();
    let before = file.shrunk_from.unwrap_or_else(|| RunSize::of(&outcome.original));
    let after = RunSize::of(&outcome.shrunk);
    say!(
        "shrunk in {} runs ({:.2}s): {} -> {} trace records ({:.1}%), {} -> {} events ({:.1}%)",
        outcome.runs,
        started.elapsed().as_secs_f64(),
        before.trace_records,
        after.trace_records,
        100.0 * outcome.ratio(),
        before.events,
        after.events,
        100.0 * after.events as f64 / before.events.max(1) as f64
    );
    match outcome.budget_spent {
        Some(BudgetSpent::Runs) => {
            say!("  stopped at the budget of {runs_max} runs (--runs-max); it may shrink further")
        }
        Some(BudgetSpent::Time) => say!("  stopped at the budget of {time_max:?} (--time-max); it may shrink further"),
        None => {}
    }
    say!("  before: {before}");
    say!("  after:  {after}");
    save_atomically(&file, &path)?;
    let mut shown = outcome.shrunk.clone();
    shown.replay_file = Some(path.display().to_string());
    say!("{}", shown.render().trim_end());
    say!("saved {}", path.display());
    Ok(ExitCode::SUCCESS)
}
