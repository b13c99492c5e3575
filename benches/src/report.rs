//! The report: every section's results in one Markdown file, one JSON file
//! and SVG plots, with the targets checked against the medians.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::measure::Summary;
use crate::plot::{self, Bars, Line};
use crate::procs::repo;
use crate::sections::capacity::CapacityResults;
use crate::sections::day::DayResults;
use crate::sections::ingest::IngestResults;
use crate::sections::live::LiveResults;
use crate::sections::memory::MemoryResults;
use crate::sections::reference::{ReferenceResults, ReferenceRun};
use crate::sections::replay::{ReplayResults, Resolution};
use crate::sections::{read, write};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub what: String,
    pub goal: f64,
    pub measured: Option<f64>,
    pub unit: String,
    pub higher_is_better: bool,
}

impl Target {
    fn met(&self) -> Option<bool> {
        self.measured.map(|m| if self.higher_is_better { m >= self.goal } else { m < self.goal })
    }

    fn row(&self) -> String {
        let (measured, verdict) = match (self.measured, self.met()) {
            (Some(m), Some(true)) => (format!("{m:.3} {}", self.unit), "**met**".to_string()),
            (Some(m), _) => {
                let off = if self.higher_is_better { 1.0 - m / self.goal } else { m / self.goal - 1.0 };
                (format!("{m:.3} {}", self.unit), format!("missed by {:.0} %", off * 100.0))
            }
            (None, _) => ("not measured".into(), "—".into()),
        };
        let op = if self.higher_is_better { "≥" } else { "<" };
        format!("| {} | {op} {} {} | {measured} | {verdict} |\n", self.what, self.goal, self.unit)
    }
}

/// Criterion's median estimate for one gallery size: (ns, lower, upper).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GalleryRow {
    pub embeddings: u64,
    pub median_us: f64,
    pub ci95_us: (f64, f64),
    pub memory_mb: f64,
    pub agrees_with_exhaustive: f64,
    pub finds_the_probed_person: f64,
}

fn gallery_rows(results: &Path) -> Result<Vec<GalleryRow>> {
    let Some(facts): Option<Vec<serde_json::Value>> = read(results, "gallery")? else { return Ok(Vec::new()) };
    let mut rows = Vec::new();
    for f in facts {
        let n = f["embeddings"].as_u64().unwrap_or(0);
        let path = repo().join(format!("target/criterion/gallery_search/{n}/new/estimates.json"));
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let est: serde_json::Value = serde_json::from_str(&text)?;
        let m = &est["median"];
        let us = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0) / 1000.0;
        rows.push(GalleryRow {
            embeddings: n,
            median_us: us(&m["point_estimate"]),
            ci95_us: (us(&m["confidence_interval"]["lower_bound"]), us(&m["confidence_interval"]["upper_bound"])),
            memory_mb: f["memory_mb"].as_f64().unwrap_or(0.0),
            agrees_with_exhaustive: f["agrees_with_exhaustive"].as_f64().unwrap_or(0.0),
            finds_the_probed_person: f["finds_the_probed_person"].as_f64().unwrap_or(0.0),
        });
    }
    Ok(rows)
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("MemTotal:").map(str::to_string)))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let commit = std::process::Command::new("git")
        .current_dir(repo())
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    json!({"cpu": cpu, "cores": cores, "memory_gib": mem_gib, "commit": commit, "date": date})
}

/// Pipeline FPS ÷ the slower of the two limits, run by run: the runs are
/// interleaved, so each ratio compares measurements taken moments apart
/// (machine noise cancels more than between medians).
fn fraction_of_limit(r: &Resolution) -> Summary {
    let runs = r.pipeline_fps.runs.iter().zip(&r.decode_only_fps.runs).zip(&r.detect_only_fps.runs);
    Summary::of(runs.map(|((p, dec), det)| p / dec.min(*det)).collect())
}

/// Peak RSS added per camera beyond the first, with `cameras` cameras.
fn extra_camera_mb(m: &MemoryResults, cameras: usize) -> Option<f64> {
    let one = m.runs.iter().find(|r| r.cameras == 1)?;
    let n = m.runs.iter().find(|r| r.cameras == cameras && cameras > 1)?;
    Some((n.peak_rss_mb - one.peak_rss_mb) / (cameras - 1) as f64)
}

/// Realistic-day FPS with the motion gate ÷ decode-only FPS.
fn day_ratio(day: Option<&DayResults>, label: &str) -> Option<f64> {
    let r = day?.resolutions.iter().find(|r| r.label == label)?;
    let on = r.runs.iter().find(|x| x.motion_gate == "on")?;
    Some(on.fps / r.decode_only_fps.max(1e-9))
}

fn ratio(a: &Summary, b: &Summary) -> f64 {
    if b.median > 0.0 { a.median / b.median } else { 0.0 }
}

fn set(s: &std::collections::BTreeSet<String>) -> String {
    if s.is_empty() { "none".into() } else { s.iter().cloned().collect::<Vec<_>>().join(", ") }
}

/// Section 10: cameras per box.
fn capacity_section(md: &mut String, c: &CapacityResults) {
    let _ = writeln!(md, "\n## 10. Cameras per box: live RTSP cameras one agent keeps up with on the realistic day\n");
    let _ = writeln!(
        md,
        "Each count: that many cameras streaming the day's first minutes over RTSP on 127.0.0.1, the agent as \
         shipped, {} s measured after a warm-up. Sustained: every camera at ≥ 97 % of the stream's rate and ≤ 0.2 % \
         of frames dropped. The RTSP server shares the two cores (real cameras would not).\n\n\
         | stream | cameras | slowest camera fps | frames dropped | agent CPU % | RTSP server CPU % | sustained |\n|---|---|---|---|---|---|---|",
        c.seconds
    );
    for s in &c.streams {
        for r in &s.runs {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.0} of {:.0} | {:.0} | {:.0} | {} |",
                s.stream,
                r.cameras,
                r.min_fps,
                r.dropped,
                r.frames + r.dropped,
                r.agent_cpu_percent,
                r.server_cpu_percent,
                if r.sustained { "yes" } else { "**no**" }
            );
        }
    }
    for s in &c.streams {
        let _ = writeln!(md, "\n**{}: {} cameras sustained.**", s.stream, s.sustained);
    }
}

pub fn write_report(results: &Path, wall_s: Option<f64>) -> Result<String> {
    let replay: Option<ReplayResults> = read(results, "replay")?;
    let reference: Option<ReferenceResults> = read(results, "reference")?;
    let live: Option<LiveResults> = read(results, "live")?;
    let ingest: Option<IngestResults> = read(results, "ingest")?;
    let memory: Option<MemoryResults> = read(results, "memory")?;
    let day: Option<DayResults> = read(results, "day")?;
    let capacity: Option<CapacityResults> = read(results, "capacity")?;
    let gallery = gallery_rows(results)?;
    let machine = machine();
    let measured = Measured {
        replay: replay.as_ref(),
        reference: reference.as_ref(),
        live: live.as_ref(),
        ingest: ingest.as_ref(),
        memory: memory.as_ref(),
        day: day.as_ref(),
        capacity: capacity.as_ref(),
        gallery: &gallery,
    };
    let targets = targets(&measured);

    let mut md = String::new();
    header_section(&mut md, &machine, wall_s, &measured);
    let _ = writeln!(md, "## Targets\n\n| target | goal | measured (median) | verdict |\n|---|---|---|---|");
    for t in &targets {
        md += &t.row();
    }
    if let Some(replay) = &replay {
        fps_section(&mut md, replay, reference.as_ref());
        stages_section(&mut md, replay);
    }
    if !gallery.is_empty() {
        gallery_section(&mut md, &gallery);
    }
    if let Some(l) = &live {
        live_section(&mut md, l);
    }
    if let Some(i) = &ingest {
        ingest_section(&mut md, i);
    }
    if let Some(m) = &memory {
        memory_section(&mut md, m);
    }
    if let Some(d) = &day {
        day_section(&mut md, d);
    }
    if let Some(c) = &capacity {
        capacity_section(&mut md, c);
    }

    let _ = writeln!(
        md,
        "\nPlots: `fps.svg`, `streams.svg`, `stages.svg`, `gallery.svg`, `memory.svg`. Raw figures: `report.json`."
    );
    std::fs::write(results.join("report.md"), &md)?;
    write(
        results,
        "report",
        &json!({
            "machine": machine,
            "threads": {"ort_intra_op_per_stream": crate::ORT_THREADS, "decoder_per_stream": crate::DECODER_THREADS},
            "targets": targets.iter().map(|t| json!({"what": t.what, "goal": t.goal, "measured": t.measured, "unit": t.unit, "met": t.met()})).collect::<Vec<_>>(),
            "replay": replay, "reference": reference, "gallery": gallery, "live": live, "ingest": ingest, "memory": memory, "day": day, "capacity": capacity,
            "make_bench_seconds": wall_s,
        }),
    )?;
    plots(results, replay.as_ref(), reference.as_ref(), &gallery, memory.as_ref())?;
    Ok(md)
}

/// Every section's results that were found (a section not run is `None`).
struct Measured<'a> {
    replay: Option<&'a ReplayResults>,
    reference: Option<&'a ReferenceResults>,
    live: Option<&'a LiveResults>,
    ingest: Option<&'a IngestResults>,
    memory: Option<&'a MemoryResults>,
    day: Option<&'a DayResults>,
    capacity: Option<&'a CapacityResults>,
    gallery: &'a [GalleryRow],
}

/// The OpenCV reference's run at `label` with `schedule` (`every-face`: naive;
/// `per-track`: same schedule as ours).
fn reference_of<'a>(reference: Option<&'a ReferenceResults>, label: &str, schedule: &str) -> Option<&'a ReferenceRun> {
    reference.and_then(|x| {
        // Results of before the schedules were named are the naive one.
        x.resolutions.iter().find(|o| {
            o.label == label && (o.schedule == schedule || (o.schedule.is_empty() && schedule == "every-face"))
        })
    })
}

/// Every target with its goal and what was measured.
fn targets(m: &Measured) -> Vec<Target> {
    let Measured { replay, reference, live, ingest, memory, day, capacity, gallery } = *m;
    let r720 = replay.and_then(|r| r.resolutions.iter().find(|x| x.label == "720p"));
    let naive720 = reference_of(reference, "720p", "every-face");
    let same720 = reference_of(reference, "720p", "per-track");
    let target = |what: &str, goal: f64, measured: Option<f64>, unit: &str, higher: bool| Target {
        what: what.into(),
        goal,
        measured,
        unit: unit.into(),
        higher_is_better: higher,
    };
    vec![
        target(
            "Busy 720p: pipeline ÷ slower limit (decode-only, detect-only)",
            0.9,
            r720.map(|r| fraction_of_limit(r).median),
            "×",
            true,
        ),
        target(
            "Pipeline ÷ OpenCV naive (every face embedded), 720p, FPS",
            8.0,
            r720.zip(naive720).map(|(r, o)| ratio(&r.pipeline_fps, &o.fps)),
            "×",
            true,
        ),
        target(
            "OpenCV naive CPU-seconds per frame ÷ pipeline's, 720p",
            8.0,
            r720.zip(naive720).map(|(r, o)| ratio(&o.cpu_ms, &r.pipeline_cpu_ms)),
            "×",
            true,
        ),
        target(
            "Pipeline ÷ OpenCV same schedule (IoU tracker, ≤ 7 embeddings per track), 720p, FPS",
            2.0,
            r720.zip(same720).map(|(r, o)| ratio(&r.pipeline_fps, &o.fps)),
            "×",
            true,
        ),
        target(
            "OpenCV same-schedule CPU-seconds per frame ÷ pipeline's, 720p",
            2.0,
            r720.zip(same720).map(|(r, o)| ratio(&o.cpu_ms, &r.pipeline_cpu_ms)),
            "×",
            true,
        ),
        target(
            "Gallery search, 100k embeddings, one core",
            2.0,
            gallery.iter().find(|g| g.embeddings == 100_000).map(|g| g.median_us / 1000.0),
            "ms/probe",
            false,
        ),
        target("Realistic day, 720p: pipeline ÷ decode-only", 0.9, day_ratio(day, "720p"), "×", true),
        target("Realistic day, 1080p: pipeline ÷ decode-only", 0.9, day_ratio(day, "1080p"), "×", true),
        target(
            "Busy 1080p: pipeline ÷ slower limit",
            0.85,
            replay.and_then(|r| r.resolutions.iter().find(|x| x.label == "1080p")).map(|r| fraction_of_limit(r).median),
            "×",
            true,
        ),
        target(
            "Agent RSS, 1 camera",
            150.0,
            memory.and_then(|m| m.runs.iter().find(|r| r.cameras == 1)).map(|r| r.peak_rss_mb),
            "MB",
            false,
        ),
        target(
            "Agent RSS added per extra camera (at the most cameras measured)",
            30.0,
            memory.and_then(|m| m.runs.iter().map(|r| r.cameras).max().and_then(|n| extra_camera_mb(m, n))),
            "MB",
            false,
        ),
        target(
            "Cameras per box, 1080p@25 live RTSP, realistic day",
            6.0,
            capacity.and_then(|c| c.streams.iter().find(|s| s.stream == "1080p@25")).map(|s| s.sustained as f64),
            "cameras",
            true,
        ),
        target("Live alert latency p99, loopback", 500.0, live.map(|l| l.latency_ms.p99), "ms", false),
        target(
            "Watch-list alert p99, from the frame that made the face recognisable",
            300.0,
            live.and_then(|l| l.watchlist_ms.as_ref()).map(|w| w.p99),
            "ms",
            false,
        ),
        target(
            "Ingest, 20 agents, SQLite",
            2000.0,
            ingest.and_then(|i| i.runs.iter().find(|r| r.database == "SQLite")).map(|r| r.events_per_s),
            "events/s",
            true,
        ),
    ]
}

/// What was run where, and what is compared.
fn header_section(md: &mut String, machine: &serde_json::Value, wall_s: Option<f64>, m: &Measured) {
    let (replay, reference) = (m.replay, m.reference);
    let _ = writeln!(md, "# gatewatch benchmarks\n");
    let _ = writeln!(
        md,
        "Run {} at commit `{}` on {} ({} cores, {:.0} GiB){}.\n",
        machine["date"].as_str().unwrap_or(""),
        machine["commit"].as_str().unwrap_or(""),
        machine["cpu"].as_str().unwrap_or(""),
        machine["cores"],
        machine["memory_gib"].as_f64().unwrap_or(0.0),
        wall_s.map(|s| format!("; `make bench` measured for {:.1} min", s / 60.0)).unwrap_or_default()
    );
    let runs = replay.map_or(0, |r| r.runs);
    let _ = writeln!(
        md,
        "**What is compared:** every contender runs on the same CPUs ({cpus}; the OpenCV reference under `taskset -c`) \
         with 1 ONNX Runtime intra-op thread and 1 video-decoder thread per stream (GStreamer `avdec` `max-threads=1`; \
         OpenCV `cv2.setNumThreads(1)` and FFmpeg `threads=1`). Within those, gatewatch runs its stages in parallel \
         threads (decoder, detector, recogniser) where the Python reference is one serial loop, so **CPU ms per frame** \
         (user + system time of the whole process, every thread, over the run) is reported beside FPS: FPS says how \
         fast, CPU time says how much work. The OpenCV reference runs twice: *naive* embeds every face of every frame; \
         *same schedule* follows faces with an IoU tracker and embeds at most as many per track as gatewatch does. \
         gatewatch's motion gate skips the detector on still frames while nobody is tracked. Sections 6 and 8 run the \
         edge agent as shipped (2 intra-op threads, decoder threads chosen by GStreamer). Figures are medians of {runs} \
         runs with their min–max, unless stated.\n",
        cpus = reference.map_or("all", |r| if r.cpus.is_empty() { "all" } else { r.cpus.as_str() })
    );
}

/// Sections 1–3: frames per second of the pipeline, its limits and the OpenCV reference.
fn fps_section(md: &mut String, replay: &ReplayResults, reference: Option<&ReferenceResults>) {
    let _ = writeln!(md, "\n## 1–3. Frames per second: pipeline, its limits, the OpenCV reference\n");
    let cols: Vec<String> =
        replay.resolutions.iter().map(|r| format!("{} (`{}`, {} frames)", r.label, r.fixture, r.frames)).collect();
    let _ = writeln!(md, "| | {} |\n|---|{}", cols.join(" | "), "---|".repeat(cols.len()));
    let row = |md: &mut String, name: &str, f: &dyn Fn(&Resolution) -> String| {
        let cells: Vec<String> = replay.resolutions.iter().map(f).collect();
        let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
    };
    let naive = |label: &str| reference_of(reference, label, "every-face");
    let same = |label: &str| reference_of(reference, label, "per-track");
    row(md, "decode-only: GStreamer → appsink (I420) → BGR", &|r| r.decode_only_fps.show(1));
    row(md, "decode-only, CPU ms per frame", &|r| r.decode_only_cpu_ms.show(2));
    row(md, "detect-only: YuNet at 640 px on every decoded frame", &|r| r.detect_only_fps.show(1));
    row(md, "detect-only, CPU ms per frame", &|r| r.detect_only_cpu_ms.show(2));
    row(md, "**pipeline, 1 stream** (decode, detect, track, align, embed, match)", &|r| r.pipeline_fps.show(1));
    row(md, "pipeline, CPU ms per frame", &|r| r.pipeline_cpu_ms.show(2));
    row(
        md,
        "where the pipeline's CPU per frame goes: decode / detect (frames not skipped) / the rest \
         (track, align, embed, match, hand-offs)",
        &|r| {
            let detected = 1.0 - r.frames_skipped as f64 / r.frames.max(1) as f64;
            let (decode, detect) = (r.decode_only_cpu_ms.median, r.detect_only_cpu_ms.median * detected);
            format!("{decode:.2} / {detect:.2} / {:.2} ms", r.pipeline_cpu_ms.median - decode - detect)
        },
    );
    row(md, "pipeline: faces embedded per run", &|r| r.faces_embedded.to_string());
    row(md, "frames the motion gate spared the detector", &|r| format!("{} of {}", r.frames_skipped, r.frames));
    row(
        md,
        "**pipeline ÷ slower limit** (run by run; the gate's skipped frames make it slightly more than a limit)",
        &|r| fraction_of_limit(r).show(3),
    );
    for (name, of) in [("naive", &naive as &dyn Fn(&str) -> _), ("same schedule", &same)] {
        row(md, &format!("OpenCV {name}: FPS"), &|r| of(&r.label).map_or("—".into(), |o| o.fps.show(1)));
        row(md, &format!("OpenCV {name}: CPU ms per frame"), &|r| {
            of(&r.label).map_or("—".into(), |o| o.cpu_ms.show(2))
        });
        row(md, &format!("OpenCV {name}: faces detected / embedded per run"), &|r| {
            of(&r.label).map_or("—".into(), |o| format!("{} / {}", o.faces_per_run, o.embedded_per_run))
        });
        row(md, &format!("**pipeline ÷ OpenCV {name}** FPS; OpenCV ÷ pipeline CPU ms per frame"), &|r| {
            of(&r.label).map_or("—".into(), |o| {
                format!("{:.2}×, {:.2}×", ratio(&r.pipeline_fps, &o.fps), ratio(&o.cpu_ms, &r.pipeline_cpu_ms))
            })
        });
    }
    for k in 0..replay.resolutions.first().map_or(0, |r| r.streams.len()) {
        let n = replay.resolutions[0].streams[k].streams;
        row(md, &format!("pipeline, {n} streams at once (aggregate)"), &|r| {
            r.streams.get(k).map_or("—".into(), |s| s.aggregate_fps.show(1))
        });
    }
    row(md, "passages expected / found / matched (ours)", &|r| {
        format!("{} / {} / {}", r.passages[0], r.passages[1], r.passages[2])
    });
    row(md, "people named: truth", &|r| set(&r.truth_identities));
    row(md, "people named: ours", &|r| set(&r.identities));
    row(md, "people named: OpenCV naive (≥ 3 frames)", &|r| {
        naive(&r.label).map_or("—".into(), |o| set(&o.identities))
    });
    row(md, "same people as OpenCV naive", &|r| {
        naive(&r.label)
            .map_or("—".into(), |o| if o.identities == r.identities { "yes".into() } else { "**no**".into() })
    });
}

/// Section 4: per-stage latency.
fn stages_section(md: &mut String, replay: &ReplayResults) {
    let _ = writeln!(md, "\n## 4. Per-stage latency, ms (all runs of the 1-stream pipeline)\n");
    let _ = writeln!(
        md,
        "| stage | one sample per | {} |\n|---|---|{}",
        replay.resolutions.iter().map(|r| format!("{} p50 / p99 (n)", r.label)).collect::<Vec<_>>().join(" | "),
        "---|".repeat(replay.resolutions.len())
    );
    if let Some(first) = replay.resolutions.first() {
        for (i, s) in first.stages.iter().enumerate() {
            let cells: Vec<String> = replay
                .resolutions
                .iter()
                .map(|r| {
                    r.stages.get(i).map_or("—".into(), |x| format!("{:.2} / {:.2} ({})", x.p50_ms, x.p99_ms, x.count))
                })
                .collect();
            let _ = writeln!(md, "| {} | {} | {} |", s.stage, s.per, cells.join(" | "));
        }
    }
}

/// Section 5: gallery search.
fn gallery_section(md: &mut String, gallery: &[GalleryRow]) {
    let _ = writeln!(
        md,
        "\n## 5. Gallery search (criterion; 5 clustered embeddings per person, look-alike groups, one thread)\n"
    );
    let _ = writeln!(
        md,
        "| embeddings | µs per probe, median (95 % CI) | memory MB | same top-1 as exhaustive | finds the probed person |\n|---|---|---|---|---|"
    );
    for g in gallery {
        let _ = writeln!(
            md,
            "| {} | {:.1} ({:.1}–{:.1}) | {:.1} | {:.3} | {:.3} |",
            g.embeddings,
            g.median_us,
            g.ci95_us.0,
            g.ci95_us.1,
            g.memory_mb,
            g.agrees_with_exhaustive,
            g.finds_the_probed_person
        );
    }
}

/// Section 6: live alert latency.
fn live_section(md: &mut String, l: &LiveResults) {
    let _ = writeln!(md, "\n## 6. Live alert latency: frame enters the agent → alert on a guard's SSE stream\n");
    let _ = writeln!(
        md,
        "{} restricted cameras streaming over RTSP on 127.0.0.1 for {} s, every passage an `unknown_person` alert: \
         **p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms** over {} alerts. (Before that frame, the engine waits {} ms of \
         stream time after a crossing for a better face; that wait is by design and not counted.)",
        l.cameras, l.seconds, l.latency_ms.p50, l.latency_ms.p99, l.latency_ms.max, l.latency_ms.count, l.emit_delay_ms
    );
    if let Some(w) = &l.watchlist_ms {
        let _ = writeln!(
            md,
            "\nWatch-list alerts alone: **p50 {:.0} ms, p99 {:.0} ms** over {} alerts, {} of them raised as the \
             person was recognised, ahead of the line (the others waited for their passage). Each counts from the \
             arrival of the frame whose face completed the decision (`decide_early_after` faces).",
            w.p50, w.p99, w.count, l.watchlist_early
        );
    }
}

/// Section 7: the admin API's ingest and alert fan-out.
fn ingest_section(md: &mut String, i: &IngestResults) {
    let _ = writeln!(md, "\n## 7. Admin API ingest and alert fan-out\n");
    let _ = writeln!(
        md,
        "| database | agents × batch | events/s | POST p50 / p99 ms | refused, sent again | stored = distinct sent | fan-out to guards: delivered, p50 / p99 ms |\n|---|---|---|---|---|---|---|"
    );
    for r in &i.runs {
        let _ = writeln!(
            md,
            "| {} | {} × {} | **{:.0}** ({} in {:.1} s) | {:.0} / {:.0} | {} | {} | {} guards × {} alerts: {:.1} %, {:.0} / {:.0} |",
            r.database,
            r.agents,
            r.batch,
            r.events_per_s,
            r.distinct_events,
            r.seconds,
            r.batch_latency_ms.p50,
            r.batch_latency_ms.p99,
            r.refused_and_resent,
            if r.stored_matches { "yes" } else { "**no**" },
            r.fan_out.guards,
            r.fan_out.alerts,
            r.fan_out.delivered * 100.0,
            r.fan_out.latency_ms.p50,
            r.fan_out.latency_ms.p99
        );
    }
}

/// Section 8: the agent's memory.
fn memory_section(md: &mut String, m: &MemoryResults) {
    let _ = writeln!(md, "\n## 8. Edge agent memory (peak RSS, {} s of live 720p cameras each)\n", m.seconds);
    let _ = writeln!(
        md,
        "| cameras | peak RSS MB | per camera MB | added per extra camera MB | frames/s per camera (cameras send 25) |\n|---|---|---|---|---|"
    );
    for r in &m.runs {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {} | {:.1} |",
            r.cameras,
            r.peak_rss_mb,
            r.peak_rss_mb / r.cameras as f64,
            extra_camera_mb(m, r.cameras).map_or("—".into(), |x| format!("{x:.0}")),
            r.fps_per_camera
        );
    }
}

/// Section 9: a realistic day.
fn day_section(md: &mut String, d: &DayResults) {
    let _ = writeln!(
        md,
        "\n## 9. A realistic day: 10 generated minutes of one gate, empty most of the time (`fixtures/generate.py --bench`)\n"
    );
    let _ = writeln!(
        md,
        "One run each, 1 ONNX Runtime thread and 1 decoder thread as in sections 1–3.\n\n\
         | fixture | motion gate | FPS | ÷ decode-only | CPU ms per frame | frames the gate skipped | passages expected / found / matched | identity accuracy |\n|---|---|---|---|---|---|---|---|"
    );
    for r in &d.resolutions {
        let _ = writeln!(
            md,
            "| `{}` ({} frames) | decode-only | {:.1} | 1 | {:.2} | — | — | — |",
            r.fixture, r.frames, r.decode_only_fps, r.decode_only_cpu_ms
        );
        for run in &r.runs {
            let _ = writeln!(
                md,
                "| `{}` | {} | {:.1} | {:.3} | {:.2} | {} ({:.0} %) | {} / {} / {} | {:.3} |",
                r.fixture,
                run.motion_gate,
                run.fps,
                run.fps / r.decode_only_fps.max(1e-9),
                run.cpu_ms,
                run.frames_skipped,
                run.frames_skipped as f64 * 100.0 / r.frames.max(1) as f64,
                run.passages[0],
                run.passages[1],
                run.passages[2],
                run.identity_accuracy
            );
        }
    }
}

fn plots(
    results: &Path,
    replay: Option<&ReplayResults>,
    reference: Option<&ReferenceResults>,
    gallery: &[GalleryRow],
    memory: Option<&MemoryResults>,
) -> Result<()> {
    if let Some(replay) = replay {
        let cats: Vec<String> = replay.resolutions.iter().map(|r| r.label.clone()).collect();
        let series = |name: &str, f: &dyn Fn(&Resolution) -> Option<Summary>| Bars {
            name: name.into(),
            values: replay.resolutions.iter().map(f).collect(),
        };
        let of_ref = |label: &str, schedule: &str| {
            reference
                .and_then(|x| x.resolutions.iter().find(|o| o.label == label && o.schedule == schedule))
                .map(|o| o.fps.clone())
        };
        plot::grouped_bars(
            &results.join("fps.svg"),
            "Frames per second, 1 stream (median, min–max)",
            "frames/s",
            &cats,
            &[
                series("decode-only", &|r| Some(r.decode_only_fps.clone())),
                series("detect-only", &|r| Some(r.detect_only_fps.clone())),
                series("gatewatch pipeline", &|r| Some(r.pipeline_fps.clone())),
                series("OpenCV naive", &|r| of_ref(&r.label, "every-face")),
                series("OpenCV same schedule", &|r| of_ref(&r.label, "per-track")),
            ],
        )?;
        let lines: Vec<Line> = replay
            .resolutions
            .iter()
            .map(|r| Line {
                name: r.label.clone(),
                points: std::iter::once((1.0, r.pipeline_fps.median))
                    .chain(r.streams.iter().map(|s| (s.streams as f64, s.aggregate_fps.median)))
                    .collect(),
            })
            .collect();
        plot::lines(
            &results.join("streams.svg"),
            "Aggregate pipeline FPS by concurrent streams",
            "streams",
            "frames/s",
            false,
            &lines,
        )?;
        let stage_cats: Vec<String> =
            replay.resolutions.first().map(|r| r.stages.iter().map(|s| s.stage.clone()).collect()).unwrap_or_default();
        let bars: Vec<Bars> = replay
            .resolutions
            .iter()
            .flat_map(|r| {
                [("p50", false), ("p99", true)].map(|(name, p99)| Bars {
                    name: format!("{} {name}", r.label),
                    values: r
                        .stages
                        .iter()
                        .map(|s| {
                            let v = if p99 { s.p99_ms } else { s.p50_ms };
                            Some(Summary::of(vec![v]))
                        })
                        .collect(),
                })
            })
            .collect();
        plot::grouped_bars(&results.join("stages.svg"), "Per-stage latency, ms", "ms", &stage_cats, &bars)?;
    }
    if !gallery.is_empty() {
        plot::lines(
            &results.join("gallery.svg"),
            "Gallery search: µs per probe (median) by enrolled embeddings",
            "embeddings",
            "µs per probe",
            true,
            &[Line {
                name: "two-stage search".into(),
                points: gallery.iter().map(|g| (g.embeddings as f64, g.median_us)).collect(),
            }],
        )?;
    }
    if let Some(m) = memory {
        plot::lines(
            &results.join("memory.svg"),
            "Edge agent peak RSS by cameras",
            "cameras",
            "MB",
            false,
            &[Line {
                name: "peak RSS".into(),
                points: m.runs.iter().map(|r| (r.cameras as f64, r.peak_rss_mb)).collect(),
            }],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(goal: f64, measured: Option<f64>, higher: bool) -> Target {
        Target { what: "x".into(), goal, measured, unit: "u".into(), higher_is_better: higher }
    }

    #[test]
    fn targets_say_met_or_by_how_much_they_missed() {
        assert_eq!(t(0.8, Some(0.6), true).met(), Some(false));
        assert!(t(0.8, Some(0.6), true).row().contains("missed by 25 %"));
        assert!(t(500.0, Some(100.0), false).row().contains("**met**"));
        assert!(t(2.0, Some(3.0), false).row().contains("missed by 50 %"));
        assert!(t(2.0, None, false).row().contains("not measured"));
    }

    #[test]
    fn a_report_is_written_from_whatever_sections_ran() {
        let dir = std::env::temp_dir().join(format!("gatewatch-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let live = crate::sections::live::LiveResults {
            cameras: 3,
            seconds: 45,
            latency_ms: crate::measure::Latency::of(&[10.0, 20.0, 700.0]),
            emit_delay_ms: 1000,
            watchlist_ms: Some(crate::measure::Latency::of(&[100.0, 240.0])),
            watchlist_early: 2,
        };
        write(&dir, "live", &live).expect("write");
        let md = write_report(&dir, None).expect("report");
        assert!(md.contains("| Live alert latency p99, loopback | < 500 ms | 700.000 ms | missed by 40 % |"), "{md}");
        assert!(md.contains("| Ingest, 20 agents, SQLite | ≥ 2000 events/s | not measured | — |"), "{md}");
        assert!(md.contains("the face recognisable | < 300 ms | 240.000 ms | **met** |"), "{md}");
        assert!(dir.join("report.json").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
