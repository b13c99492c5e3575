//! gatewatch edge agent: the command line. The agent itself is the `edge_agent` library.

use edge_agent::{config, outbox, replay, run};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use pipeline::vision::detect::{Detector, DetectorConfig};
use pipeline::vision::frame::BgrImage;
use std::sync::{Arc, RwLock};

use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::enrol_fixture;
use pipeline::gallery::GalleryStore;
use pipeline::tracking::identity::Identity;
use pipeline::tracking::passage::{Passage, Sighting};
use pipeline::vision::enrol::Enroller;
use pipeline::vision::live::{Feed, FeedEvent, LinkState, LiveConfig};
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use pipeline::vision::source::{SourceOptions, SourceUrl};
use wire::{PersonRecord, StoredEmbedding};

#[derive(Parser)]
#[command(version, about = "gatewatch edge agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch one stream and log, once a second, frames and faces seen.
    Watch {
        /// rtsp://…, file://…, a file path, or v4l2:///dev/videoN.
        url: String,
        /// Stop after this many seconds (default: run until the stream ends).
        #[arg(long)]
        seconds: Option<u64>,
        /// Recognise passages too, with this fixture's gallery and counting line.
        #[arg(long)]
        fixture: Option<PathBuf>,
    },
    /// Run the agent: every configured camera, outbox, sender.
    Run {
        /// Path to the agent's TOML configuration (see agent.example.toml).
        #[arg(long)]
        config: PathBuf,
        /// When every camera is a recording that has ended, keep delivering
        /// the outbox for at most this many seconds before exiting.
        #[arg(long, default_value_t = 60)]
        drain_secs: u64,
    },
    /// Fill the agent's local gallery cache from a fixture's gallery folder
    /// (development and tests; sites get their gallery from the admin API).
    EnrolFixture {
        #[arg(long)]
        config: PathBuf,
        /// A fixture folder (its gallery/ is enrolled).
        fixture: PathBuf,
    },
    /// List the events the admin API refused for good (one JSON line each:
    /// reason, when, the event), or send them again once the cause is fixed.
    /// Run it while the agent is stopped (the outbox has one user at a time).
    Quarantine {
        #[arg(long)]
        config: PathBuf,
        /// Put every event set aside back in the sending queue.
        #[arg(long)]
        release: bool,
    },
    /// Validate a configuration file and print what it configures.
    CheckConfig {
        /// Path to the agent's TOML configuration (see agent.example.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Replay recorded fixtures through the pipeline and report FPS and accuracy.
    Replay {
        /// Fixture folders, or folders of fixtures (e.g. `fixtures/`).
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        /// Print only the JSON report on stdout.
        #[arg(long)]
        json: bool,
        /// List every passage found, the truth it was paired with and why it
        /// scores as it does (and every truth passage missed).
        #[arg(long)]
        passages: bool,
        /// Recognition settings to replay with: a TOML file laid out as an
        /// agent configuration's [recognition] table (`[detector]`, `[tracker]`, …).
        #[arg(long)]
        recognition: Option<PathBuf>,
        /// ONNX Runtime intra-op threads per model.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Watch { url, seconds, fixture } => watch(&url, seconds.map(Duration::from_secs), fixture.as_deref()),
        Command::CheckConfig { config } => check_config(&config),
        Command::Quarantine { config, release } => quarantine(&config, release),
        Command::Run { config, drain_secs } => run::run(&config, Duration::from_secs(drain_secs)),
        Command::EnrolFixture { config, fixture } => enrol_into_cache(&config, &fixture),
        Command::Replay { fixtures, json, passages, recognition, threads } => {
            let config = replay::recognition_config(recognition.as_deref())?;
            let output = replay::Output { json, passages };
            replay::run(&fixtures, output, config, Threads { intra_op: threads, ..Threads::default() })
        }
    }
}

fn quarantine(config: &std::path::Path, release: bool) -> Result<()> {
    let c = config::Config::load(config)?;
    let outbox = outbox::Outbox::open(&c.agent.data_dir.join("outbox"), c.outbox.budget_bytes())?;
    if release {
        let n = outbox.release_quarantine()?;
        eprintln!("{n} event(s) back in the sending queue");
        return Ok(());
    }
    for q in outbox.quarantined()? {
        println!("{}", serde_json::to_string(&q)?);
    }
    Ok(())
}

fn enrol_into_cache(config: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    let c = config::Config::load(config)?;
    let models = c.agent.models()?;
    let fixture = Fixture::open(dir)?;
    let mut enroller = Enroller::new(&models, Threads::default())?;
    std::fs::create_dir_all(&c.agent.data_dir)?;
    let store = GalleryStore::open(&c.agent.data_dir.join("gallery"))?;
    let model_id = models.recogniser.model_id();
    let gallery = enrol_fixture(&mut enroller, &fixture, &model_id)?;
    for (i, person) in gallery.people().iter().enumerate() {
        let embeddings =
            gallery.embeddings_of(i).map(|vector| StoredEmbedding { model_id: model_id.clone(), vector }).collect();
        store.upsert(PersonRecord { person: person.clone(), embeddings, negatives: vec![], version: 0 }, None)?;
    }
    println!(
        "enrolled {} people into {} (gallery version {})",
        gallery.len(),
        c.agent.data_dir.display(),
        store.version()?
    );
    Ok(())
}

fn check_config(path: &std::path::Path) -> Result<()> {
    let c = config::Config::load(path)?;
    println!("agent {} at site {} (data in {})", c.agent.id, c.agent.site, c.agent.data_dir.display());
    let models = c.agent.models()?;
    println!(
        "models: {} ({}), {} ({})",
        models.detector.path.display(),
        models.detector.model_id(),
        models.recogniser.path.display(),
        models.recogniser.model_id()
    );
    let token = match c.token() {
        Ok(_) => "token present".to_string(),
        Err(e) => format!("warning: {e}"),
    };
    println!("admin API {} ({token}), batches of {}", c.admin_api.url, c.admin_api.batch_size);
    println!("outbox budget {} MB; camera watchdog {} ms", c.outbox.budget_mb, c.live.watchdog_ms);
    println!(
        "gallery sync every {} s; camera_offline after {} ms; /healthz and /metrics on {}",
        c.sync.interval_s,
        c.health.offline_after_ms,
        if c.ops.listen.is_empty() { "(off)" } else { c.ops.listen.as_str() }
    );
    let hours = c.rules.schedule.map(|s| s.to_string()).unwrap_or_else(|| "always open".into());
    println!("rules: {:?}; opening hours {hours}", RulesSummary(&c.rules));
    for cam in &c.cameras {
        let url = SourceUrl::parse(&cam.url).map(|u| u.describe()).unwrap_or_default();
        let restricted = if cam.restricted { ", restricted" } else { "" };
        let hours = cam.schedule.map(|s| format!(", own hours {s}")).unwrap_or_default();
        println!("camera {} at gate {}: {url}, mode {:?}{restricted}{hours}", cam.id, cam.gate, cam.mode);
    }
    Ok(())
}

/// The rules' switches, without the schedule (printed on its own).
struct RulesSummary<'a>(&'a pipeline::rules::RulesConfig);

impl std::fmt::Debug for RulesSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        f.debug_struct("rules")
            .field("watchlist", &r.watchlist)
            .field("tailgating_window_ms", &r.tailgating_window_ms)
            .field("anti_passback", &r.anti_passback)
            .field("capacity", &r.capacity)
            .field("loitering_after_ms", &r.loitering_after_ms)
            .finish()
    }
}

/// Recognition for `watch --fixture`: the fixture's gallery and line.
fn fixture_engine(models: &Models, dir: &std::path::Path, camera: &str) -> Result<Engine> {
    let fixture = Fixture::open(dir)?;
    let mut enroller = Enroller::new(models, Threads::default())?;
    let gallery = enrol_fixture(&mut enroller, &fixture, &models.recogniser.model_id())?;
    tracing::info!(people = gallery.len(), fixture = %fixture.name, "gallery enrolled");
    let context = CameraContext { id: camera.to_string(), line: fixture.camera.line };
    let shared = Arc::new(RwLock::new(Arc::new(gallery)));
    Ok(Engine::new(models, context, EngineConfig::default(), shared, Threads::default())?)
}

fn who(identity: &Identity) -> String {
    match identity {
        Identity::Known { name, category, similarity, .. } => {
            format!("{name} ({category:?}, similarity {similarity:.2})")
        }
        Identity::Unknown { best_similarity } => {
            format!("unknown person (best similarity {:.2})", best_similarity.unwrap_or(0.0))
        }
    }
}

fn log_passage(p: &Passage) {
    tracing::info!(camera = %p.camera, direction = p.direction.as_str(), "passage: {}", who(&p.identity));
}

fn log_sighting(s: &Sighting) {
    tracing::info!(camera = %s.camera, track = s.track, "recognised before the line: {}", who(&s.identity));
}

fn watch(url: &str, limit: Option<Duration>, fixture: Option<&std::path::Path>) -> Result<()> {
    let models = Models::locate()?;
    let url = SourceUrl::parse(url)?;
    let mut engine = match fixture {
        Some(dir) => Some(fixture_engine(&models, dir, &url.describe())?),
        None => None,
    };
    // Without a fixture, only faces are counted: the detector alone suffices.
    let mut detector = match engine {
        Some(_) => None,
        None => Some(Detector::new(&models.detector, DetectorConfig::default(), Threads::default())?),
    };
    let mut frame = BgrImage::default();
    let started = Instant::now();
    let (mut window, mut frames, mut faces) = (Instant::now(), 0u64, 0usize);
    let mut out = pipeline::tracking::passage::Emitted::default();
    let mut feed = Feed::open(&url, SourceOptions::default(), LiveConfig::default())?;
    loop {
        if limit.is_some_and(|l| started.elapsed() >= l) {
            break;
        }
        let got = match feed.next(&mut frame, Duration::from_secs(1)) {
            FeedEvent::Frame { .. } => true,
            FeedEvent::NoFrame => false,
            FeedEvent::Ended => break,
            FeedEvent::Failed(e) => return Err(e.into()),
        };
        if got {
            frames += 1;
            if let Some(e) = engine.as_mut() {
                e.process(&frame, started.elapsed(), &mut out)?;
                faces += e.live_tracks().len();
                out.sightings.drain(..).for_each(|s| log_sighting(&s));
                out.passages.drain(..).for_each(|p| log_passage(&p));
            } else if let Some(d) = detector.as_mut() {
                faces += d.detect(&frame)?.len();
            }
        }
        if window.elapsed() >= Duration::from_secs(5) {
            let fps = frames as f64 / window.elapsed().as_secs_f64();
            match feed.state() {
                Some(LinkState::Down { since, reason }) => {
                    tracing::warn!(camera = %url.describe(), down_for_s = since.elapsed().as_secs(), %reason, "camera down")
                }
                _ => tracing::info!(camera = %url.describe(), fps = format!("{fps:.1}"), faces, "watching"),
            }
            (window, frames, faces) = (Instant::now(), 0, 0);
        }
    }
    if let Some(e) = engine.as_mut() {
        e.flush(&mut out);
        out.sightings.drain(..).for_each(|s| log_sighting(&s));
        out.passages.drain(..).for_each(|p| log_passage(&p));
    }
    Ok(())
}
