//! `edge-agent replay`: run the pipeline over recorded fixtures and report
//! speed and accuracy — the engineers' measuring tool.
//!
//! Exit status is 0 whenever the replay ran, however low the accuracy; it is
//! non-zero only when it could not run (a bad folder, missing models), with a
//! message that says what to do.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::engine::EngineConfig;
use pipeline::eval::evaluate::{EarlyCounts, FoundReport, RunReport, Scores, Verdict};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::replay_fixture;
use pipeline::eval::stats::StageTimings;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use serde::Serialize;

#[derive(Serialize)]
struct Report {
    fixtures: Vec<RunReport>,
    total: RunReport,
}

/// Expands the arguments: a fixture folder stands for itself; a folder of
/// fixtures (such as `fixtures/`) for each fixture inside it.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.join("camera.toml").is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            let inner = Fixture::discover(p)?;
            if inner.is_empty() {
                bail!(
                    "{}: neither a fixture folder (no camera.toml) nor a folder of fixtures; run `make fixtures` to generate them",
                    p.display()
                );
            }
            out.extend(inner);
        } else {
            bail!("{}: no such folder", p.display());
        }
    }
    Ok(out)
}

/// What to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Only the JSON report on stdout.
    pub json: bool,
    /// Every found and missed passage, fixture by fixture.
    pub passages: bool,
}

/// The recognition settings to replay with: the defaults, or a TOML file laid
/// out as an agent configuration's `[recognition]` table.
pub fn recognition_config(path: Option<&Path>) -> Result<EngineConfig> {
    let Some(path) = path else { return Ok(EngineConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: EngineConfig = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    config.validate().with_context(|| format!("{}", path.display()))?;
    Ok(config)
}

pub fn run(paths: &[PathBuf], output: Output, config: EngineConfig, threads: Threads) -> Result<()> {
    let json = output.json;
    let dirs = expand(paths)?;
    let fixtures: Vec<Fixture> =
        dirs.iter().map(|d| Fixture::open(d).map_err(anyhow::Error::from)).collect::<Result<_>>()?;
    let models = Models::locate()?;
    let show_progress = !json && std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    let mut all_timings = StageTimings::default();
    let mut total_scores = Scores::default();
    let mut total_early = EarlyCounts::default();
    let (mut frames, mut seconds) = (0u64, 0.0f64);
    for fixture in &fixtures {
        let bar = if show_progress {
            let bar = ProgressBar::new(fixture.camera.frames);
            bar.set_style(
                ProgressStyle::with_template("{msg:32} [{bar:30}] {pos}/{len} frames {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(fixture.name.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        let (report, run) = replay_fixture(&models, fixture, config, threads, |n| bar.set_position(n))
            .with_context(|| format!("replaying {}", fixture.dir.display()))?;
        bar.finish_and_clear();
        all_timings.append(&run.timings);
        total_scores.add(&report.scores);
        total_early.add(&report.early);
        frames += report.frames;
        seconds += report.seconds;
        if !json {
            eprintln!(
                "{}: {} frames at {:.1} fps, {} of {} passages matched",
                report.name, report.frames, report.fps, report.scores.passages.matched, report.scores.passages.expected
            );
            if output.passages {
                print_passages(&report);
            }
        }
        reports.push(report);
    }
    let mut total = RunReport::new("total", frames, seconds, &all_timings, total_scores);
    total.early = total_early;
    let report = Report { fixtures: reports, total };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &Report) {
    println!(
        "{:<32} {:>6} {:>7} {:>13} {:>6} {:>6} {:>7} {:>4} {:>4} {:>7} {:>9} {:>9} {:>14} {:>11}",
        "fixture",
        "frames",
        "fps",
        "passages e/f/m",
        "recall",
        "prec",
        "id acc",
        "FA",
        "FR",
        "dir acc",
        "entry e/f",
        "exit e/f",
        "detect/embed ms",
        "early n/e/w"
    );
    for f in r.fixtures.iter().chain(std::iter::once(&r.total)) {
        let s = &f.scores;
        println!(
            "{:<32} {:>6} {:>7.1} {:>13} {:>6.3} {:>6.3} {:>7.3} {:>4} {:>4} {:>7.3} {:>9} {:>9} {:>14} {:>11}",
            f.name,
            f.frames,
            f.fps,
            format!("{}/{}/{}", s.passages.expected, s.passages.found, s.passages.matched),
            s.passages.recall,
            s.passages.precision,
            s.identity.accuracy,
            s.identity.false_accept,
            s.identity.false_reject,
            s.direction.accuracy,
            format!("{}/{}", s.counts.entry.expected, s.counts.entry.found),
            format!("{}/{}", s.counts.exit.expected, s.counts.exit.found),
            format!("{:.1}/{:.1}", f.stages_ms.detect.p50, f.stages_ms.embed.p50),
            format!("{}/{}/{}", f.early.named_early, f.early.enrolled_passages, f.early.wrong),
        );
    }
    let e = &r.total.early;
    println!(
        "\nNamed before the passage (early n/e/w): {} of {} passages of enrolled people, {:.0} ms (p50) before \
         the crossing; decided {:.0} / {:.0} ms (p50 / p99) after the frame of the last face used, \
         {:.0} / {:.0} ms after the first. {} early names, {} wrong, {} of a track with no true passage.",
        e.named_early,
        e.enrolled_passages,
        e.lead_ms.p50,
        e.engine_ms.p50,
        e.engine_ms.p99,
        e.wait_ms.p50,
        e.wait_ms.p99,
        e.named,
        e.wrong,
        e.unconfirmed
    );
}

/// One fixture's passages, found and missed, for seeing why it scores as it does.
fn print_passages(r: &RunReport) {
    let found = r.passages_found.as_deref().unwrap_or_default();
    let missed = r.passages_missed.as_deref().unwrap_or_default();
    eprintln!(
        "  {:<6} {:<5} {:>6} {:>6} {:>6}  {:<8} {:>5}  {:<28} verdict",
        "track", "dir", "first", "cross", "last", "person", "sim", "truth (person dir cross)"
    );
    for p in found {
        eprintln!("  {}", found_line(p));
    }
    for t in missed {
        eprintln!(
            "  {:<6} {:<5} {:>6} {:>6} {:>6}  {:<8} {:>5}  {:<28} missed",
            "-",
            "-",
            "",
            "",
            "",
            "",
            "",
            format!(
                "{} {} {}",
                t.person.as_deref().unwrap_or("stranger"),
                t.direction.as_str(),
                t.t_cross.map_or_else(|| format!("{:.2}..{:.2}", t.t_start, t.t_end), |c| format!("{c:.2}"))
            )
        );
    }
}

fn found_line(p: &FoundReport) -> String {
    let f = &p.found;
    let truth = p.truth.as_ref().map_or_else(
        || "-".to_string(),
        |t| {
            format!(
                "#{} {} {} {}",
                p.truth_index.unwrap_or_default(),
                t.person.as_deref().unwrap_or("stranger"),
                t.direction.as_str(),
                t.t_cross.map_or_else(|| format!("{:.2}..{:.2}", t.t_start, t.t_end), |c| format!("{c:.2}"))
            )
        },
    );
    let verdicts: Vec<&str> = p
        .verdicts
        .iter()
        .map(|v| match v {
            Verdict::Correct => "correct",
            Verdict::WrongDirection => "wrong direction",
            Verdict::FalseAccept => "false accept",
            Verdict::FalseReject => "false reject",
            Verdict::Spurious => "spurious",
        })
        .collect();
    format!(
        "{:<6} {:<5} {:>6.2} {:>6.2} {:>6.2}  {:<8} {:>5}  {:<28} {}",
        f.track,
        f.direction.as_str(),
        f.t_start,
        f.t_cross,
        f.t_end,
        f.person.as_deref().unwrap_or("unknown"),
        f.similarity.map_or_else(|| "-".into(), |s| format!("{s:.2}")),
        truth,
        verdicts.join(", ")
    )
}
