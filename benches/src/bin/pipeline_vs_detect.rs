//! Pipeline throughput against its own limit, in the same run.
//!
//! For the 720p fixtures (or those of `--height`), alternately:
//! - **detect-only**: decode (the same GStreamer source and decoder thread as
//!   replay) + YuNet on every frame, nothing else — the bare-inference loop;
//! - **pipeline**: the full replay (detect, track, refine, embed, match, passages).
//!
//! Each is run `--runs` times, interleaved so that machine noise hits both;
//! the report gives the median FPS of each and their ratio (target ≥ 0.8).
//!
//! ```text
//! cargo run --release -p benches --bin pipeline_vs_detect -- [--runs 3] [--height 720] [--threads 2]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use pipeline::detect::{Detector, DetectorConfig};
use pipeline::engine::EngineConfig;
use pipeline::fixture::Fixture;
use pipeline::models::Models;
use pipeline::replay::{ReplayError, for_each_frame, replay_fixture};
use pipeline::runtime::Threads;
use pipeline::stats::percentile;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 720)]
    height: u32,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let models = Models::locate()?;
    let threads = Threads { intra_op: args.threads, spinning: false };
    let fixtures: Vec<Fixture> = Fixture::discover(&args.fixtures)?
        .iter()
        .map(|d| Fixture::open(d))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|f| f.camera.height == args.height)
        .collect();
    anyhow::ensure!(
        !fixtures.is_empty(),
        "no {}p fixtures under {} (run `make fixtures`)",
        args.height,
        args.fixtures.display()
    );
    let mut detector = Detector::new(&models.detector, DetectorConfig::default(), threads)?;
    let mut faces = Vec::new();
    let (mut bare_fps, mut pipe_fps) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let (mut frames, started) = (0u64, Instant::now());
        for f in &fixtures {
            frames += for_each_frame(&f.video, |frame, _, _| {
                detector
                    .detect_into(frame, &mut faces)
                    .map_err(|e| ReplayError::Source(pipeline::source::SourceError::Gst(e.to_string())))
            })?;
        }
        bare_fps.push((frames as f64 / started.elapsed().as_secs_f64()) as f32);
        let (mut frames, mut secs) = (0u64, 0.0f64);
        for f in &fixtures {
            let (report, _) = replay_fixture(&models, f, EngineConfig::default(), threads, |_| {})
                .with_context(|| format!("replaying {}", f.name))?;
            frames += report.frames;
            secs += report.seconds;
        }
        pipe_fps.push((frames as f64 / secs) as f32);
        eprintln!("run {}: detect-only {:.1} fps, pipeline {:.1} fps", run + 1, bare_fps[run], pipe_fps[run]);
    }
    let (bare, pipe) = (percentile(&bare_fps, 50.0), percentile(&pipe_fps, 50.0));
    let spread = |v: &[f32]| (v.iter().cloned().fold(f32::MAX, f32::min), v.iter().cloned().fold(0.0f32, f32::max));
    let report = serde_json::json!({
        "fixtures": fixtures.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
        "height": args.height,
        "runs": args.runs,
        "ort_intra_threads": args.threads,
        "detect_only_fps": {"median": bare, "min": spread(&bare_fps).0, "max": spread(&bare_fps).1, "runs": bare_fps},
        "pipeline_fps": {"median": pipe, "min": spread(&pipe_fps).0, "max": spread(&pipe_fps).1, "runs": pipe_fps},
        "ratio": pipe / bare,
    });
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join(format!("pipeline_vs_detect_{}p.json", args.height));
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("| {}p fixtures | median fps | min–max |", args.height);
    println!("|---|---|---|");
    println!("| detect-only (decode + YuNet) | {bare:.1} | {:.1}–{:.1} |", spread(&bare_fps).0, spread(&bare_fps).1);
    println!("| pipeline (replay) | {pipe:.1} | {:.1}–{:.1} |", spread(&pipe_fps).0, spread(&pipe_fps).1);
    println!("| ratio pipeline / detect-only | {:.3} | target ≥ 0.8 |", pipe / bare);
    println!("(written to {})", path.display());
    Ok(())
}
