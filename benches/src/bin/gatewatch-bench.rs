//! `gatewatch-bench`: runs the benchmark sections and writes the report to
//! `benches/results/` (`make bench` runs `gatewatch-bench all`).
//!
//! ```text
//! gatewatch-bench all [--runs 3]      every section, then the report
//! gatewatch-bench replay|reference|gallery|live|ingest|memory|day|capacity
//! gatewatch-bench report              the report from the results present
//! ```

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use benches::procs::repo;
use benches::sections::{self, results_dir, write};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "gatewatch benchmarks: measure, compare, report")]
struct Cli {
    #[command(subcommand)]
    section: Section,
    /// Repetitions of each throughput measurement.
    #[arg(long, global = true, default_value_t = 3)]
    runs: usize,
    /// Seconds of live streaming for the live-latency section.
    #[arg(long, global = true, default_value_t = 45)]
    live_seconds: u64,
    /// Seconds of sustained ingest per database.
    #[arg(long, global = true, default_value_t = 10)]
    ingest_seconds: u64,
    /// Seconds of streaming per camera count in the memory section.
    #[arg(long, global = true, default_value_t = 20)]
    memory_seconds: u64,
    /// Seconds measured per camera count in the cameras-per-box section.
    #[arg(long, global = true, default_value_t = 30)]
    capacity_seconds: u64,
    /// Seconds of the load test.
    #[arg(long, global = true, default_value_t = 300)]
    load_seconds: u64,
}

#[derive(Subcommand, Clone, Copy, PartialEq)]
enum Section {
    /// Every section, then the report.
    All,
    /// 1, 2, 4: replay FPS (1, 2, 4 streams), decode-only and detect-only limits, per-stage latency.
    Replay,
    /// 3: OpenCV's Python face pipeline on the same fixtures.
    Reference,
    /// 5: gallery search at 1k–1M embeddings (criterion).
    Gallery,
    /// 6: live alert latency, RTSP → agent → admin API → SSE.
    Live,
    /// 7: admin API ingest from 20 agents (SQLite, PostgreSQL) and fan-out to 100 guards.
    Ingest,
    /// 8: edge agent peak RSS with 1, 2, 4 cameras.
    Memory,
    /// 9: a realistic day (10 min, mostly empty) at 720p and 1080p: FPS ÷ decode-only, motion gate on and off.
    Day,
    /// 10: cameras per box: the most live RTSP cameras (1080p@25, 720p@15) one agent keeps up with on the realistic day.
    Capacity,
    /// Writes report.md, report.json and the plots from the results present.
    Report,
    /// Load test (not part of `all`): 50 agents × 20 events/s and 100 guards
    /// for `--load-seconds`; fails on any error, lost event or lost alert.
    Load,
}

fn gallery() -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo())
        // The release profile: the workspace is already built with it.
        .args(["bench", "--profile", "release", "-p", "benches", "--bench", "gallery_search"])
        .status()
        .context("running cargo bench")?;
    ensure!(status.success(), "the gallery search benchmark failed");
    Ok(())
}

fn run_section(cli: &Cli, section: Section) -> Result<()> {
    let dir = results_dir();
    match section {
        Section::Replay => write(&dir, "replay", &sections::replay::run(cli.runs, &[2, 4])?),
        Section::Reference => write(&dir, "reference", &sections::reference::run(cli.runs)?),
        Section::Gallery => gallery(),
        Section::Live => write(&dir, "live", &sections::live::run(cli.live_seconds)?),
        Section::Ingest => write(&dir, "ingest", &sections::ingest::run(cli.ingest_seconds)?),
        Section::Memory => write(&dir, "memory", &sections::memory::run(cli.memory_seconds, &[1, 2, 4])?),
        Section::Day => write(&dir, "day", &sections::day::run()?),
        Section::Capacity => write(
            &dir,
            "capacity",
            &sections::capacity::run(cli.capacity_seconds, &sections::capacity::default_streams())?,
        ),
        Section::Load => write(&dir, "load", &sections::load::run(cli.load_seconds, 50, 20, 100)?),
        Section::Report | Section::All => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let started = Instant::now();
    let dir = results_dir();
    let mut failed = Vec::new();
    let order = [
        Section::Replay,
        Section::Reference,
        Section::Gallery,
        Section::Live,
        Section::Ingest,
        Section::Memory,
        Section::Day,
        Section::Capacity,
    ];
    let chosen: Vec<Section> = match cli.section {
        Section::All => {
            // Results of an earlier run must not pass for this one's.
            for name in ["replay", "reference", "gallery", "live", "ingest", "memory", "day", "capacity", "report"] {
                let _ = std::fs::remove_file(dir.join(format!("{name}.json")));
            }
            order.to_vec()
        }
        s => vec![s],
    };
    for section in chosen {
        if let Err(e) = run_section(&cli, section) {
            eprintln!("error: {e:#}");
            failed.push(e);
        }
    }
    if matches!(cli.section, Section::All | Section::Report) {
        let wall = (cli.section == Section::All).then(|| started.elapsed().as_secs_f64());
        match benches::report::write_report(&dir, wall) {
            Ok(md) => {
                println!("{md}");
                println!("(written to {})", dir.display());
            }
            Err(e) => {
                eprintln!("error: writing the report: {e:#}");
                failed.push(e);
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} section(s) failed; see the errors above", failed.len());
        ExitCode::FAILURE
    }
}
