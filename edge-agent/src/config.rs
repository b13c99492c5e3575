//! The edge agent's configuration file (TOML). Every option, with its unit and
//! default, is documented in `edge-agent/agent.example.toml`.
//!
//! Loading never panics: a malformed or invalid file gives one message naming
//! the field and what is wrong with it. Secrets (the agent's API token) may
//! come from an environment variable instead of the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pipeline::engine::EngineConfig;
use pipeline::fleet::valid_id;
use pipeline::rules::RulesConfig;
use pipeline::rules::tamper::TamperConfig;
use pipeline::vision::live::LiveConfig;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config {path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("config {path}: {field}: {reason}")]
    Invalid { path: String, field: String, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Unique id of this agent (as registered in the admin API).
    pub id: String,
    /// Site this agent belongs to; it may only report events for this site.
    pub site: String,
    /// Folder for the gallery cache and the outbox (sled databases).
    pub data_dir: PathBuf,
    /// Folder holding `manifest.toml` and the model files. Without it, the
    /// `models/` folder of the repository the agent runs from (or of
    /// `GATEWATCH_ROOT`).
    #[serde(default)]
    pub models_dir: Option<PathBuf>,
}

impl AgentSection {
    /// The models this agent runs: from `models_dir` if set, else found.
    pub fn models(&self) -> Result<pipeline::vision::models::Models, pipeline::vision::models::ModelError> {
        match &self.models_dir {
            Some(dir) => pipeline::vision::models::Models::in_dir(dir),
            None => pipeline::vision::models::Models::locate(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminApiSection {
    /// Base URL of the admin API, e.g. `https://antt.example.gov.vn`.
    pub url: String,
    /// The agent's token. Prefer `token_env` to keep it out of the file.
    #[serde(default)]
    pub token: Option<String>,
    /// Name of an environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Events per batch sent to the API.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// PEM file of the certificate authority that signed the admin API's
    /// certificate, for a site's own CA; without it the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allow `http://` to a host other than this machine: the token, face
    /// crops and embeddings then cross the network in clear. Only for a
    /// closed test network; logged loudly at every start.
    #[serde(default)]
    pub insecure_http: bool,
}

impl AdminApiSection {
    /// `http://` to another machine (allowed only with `insecure_http`).
    pub fn is_cleartext_over_network(&self) -> bool {
        self.url.strip_prefix("http://").is_some_and(|rest| !is_loopback_host(host_of(rest)))
    }
}

/// The host of `authority[/path…]`: without user info, port or IPv6 brackets.
fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn default_batch() -> usize {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSection {
    /// Disk budget of the outbox, megabytes (fractions allowed).
    #[serde(default = "default_budget")]
    pub budget_mb: f64,
}

fn default_budget() -> f64 {
    1024.0
}

impl Default for OutboxSection {
    fn default() -> Self {
        OutboxSection { budget_mb: default_budget() }
    }
}

impl OutboxSection {
    pub fn budget_bytes(&self) -> u64 {
        (self.budget_mb * 1024.0 * 1024.0) as u64
    }
}

/// A `[[camera]]` of the file: the same shape as a camera set centrally.
pub use pipeline::fleet::{CameraMode, CameraSpec as CameraSection};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSection {
    /// Seconds between gallery (and verification) syncs with the admin API.
    pub interval_s: u64,
}

impl Default for SyncSection {
    fn default() -> Self {
        SyncSection { interval_s: 30 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatSection {
    /// Milliseconds between heartbeats to the admin API (a camera changing
    /// state sends one at once). The admin API raises `edge_offline` when
    /// they stop for its `--edge-offline-after-secs`.
    pub interval_ms: u64,
}

impl Default for HeartbeatSection {
    fn default() -> Self {
        HeartbeatSection { interval_ms: 5000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSection {
    /// A camera down this long raises `camera_offline`, ms.
    pub offline_after_ms: u64,
    pub tamper: TamperConfig,
}

impl Default for HealthSection {
    fn default() -> Self {
        HealthSection { offline_after_ms: 5000, tamper: TamperConfig::default() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsSection {
    /// Address for `/healthz` and `/metrics`; empty turns them off.
    pub listen: String,
}

impl Default for OpsSection {
    fn default() -> Self {
        OpsSection { listen: "127.0.0.1:9464".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub agent: AgentSection,
    pub admin_api: AdminApiSection,
    #[serde(default)]
    pub outbox: OutboxSection,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraSection>,
    #[serde(default)]
    pub recognition: EngineConfig,
    #[serde(default)]
    pub live: LiveConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub sync: SyncSection,
    #[serde(default)]
    pub heartbeat: HeartbeatSection,
    #[serde(default)]
    pub health: HealthSection,
    #[serde(default)]
    pub ops: OpsSection,
}

/// Checks a set of cameras (from the file or from the admin API) against
/// this agent's recognition settings; names the camera at fault by index.
pub fn check_cameras(
    cameras: &[CameraSection],
    recognition: &EngineConfig,
) -> Result<(), (usize, pipeline::fleet::SpecError)> {
    let mut ids = BTreeSet::new();
    for (i, cam) in cameras.iter().enumerate() {
        let bad = |field: &str, reason: String| (i, pipeline::fleet::SpecError { field: field.into(), reason });
        cam.validate().map_err(|e| (i, e))?;
        if !ids.insert(cam.id.as_str()) {
            return Err(bad("id", format!("{:?} is used by two cameras", cam.id)));
        }
        cam.recognition(recognition).validate().map_err(|e| bad("detector", e.to_string()))?;
    }
    Ok(())
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: origin.to_string(), reason: e.to_string() })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad =
            |field: &str, reason: String| ConfigError::Invalid { path: origin.into(), field: field.into(), reason };
        if !valid_id(&self.agent.id) {
            return Err(bad("agent.id", "must be 1–64 letters, digits, '-' or '_'".into()));
        }
        if !valid_id(&self.agent.site) {
            return Err(bad("agent.site", "must be 1–64 letters, digits, '-' or '_'".into()));
        }
        if !(self.admin_api.url.starts_with("http://") || self.admin_api.url.starts_with("https://")) {
            return Err(bad("admin_api.url", format!("{:?} must start with http:// or https://", self.admin_api.url)));
        }
        if self.admin_api.is_cleartext_over_network() && !self.admin_api.insecure_http {
            return Err(bad(
                "admin_api.url",
                format!(
                    "{:?} is plain http:// to another machine: the agent's token, face crops and embeddings would \
                     cross the network in clear. Use https:// (with ca_file for a site's own CA), or set \
                     insecure_http = true in [admin_api] on a closed test network",
                    self.admin_api.url
                ),
            ));
        }
        if self.admin_api.batch_size == 0 || self.admin_api.batch_size > 1000 {
            return Err(bad("admin_api.batch_size", "must be within 1..1000".into()));
        }
        if !(self.outbox.budget_mb.is_finite() && self.outbox.budget_mb > 0.0) {
            return Err(bad("outbox.budget_mb", "must be a positive number of megabytes".into()));
        }
        self.recognition.validate().map_err(|e| bad("recognition", e.to_string()))?;
        // No [[camera]] is valid: the agent then runs the cameras an admin
        // sets up centrally (and the last set it received, offline).
        check_cameras(&self.cameras, &self.recognition)
            .map_err(|(i, e)| bad(&format!("camera[{i}].{}", e.field), e.reason))?;
        if self.heartbeat.interval_ms < 200 {
            return Err(bad("heartbeat.interval_ms", "must be at least 200 ms".into()));
        }
        if self.sync.interval_s == 0 {
            return Err(bad("sync.interval_s", "must be at least 1 second".into()));
        }
        if !self.ops.listen.is_empty() && self.ops.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad("ops.listen", format!("{:?} is not an address like 127.0.0.1:9464", self.ops.listen)));
        }
        Ok(())
    }

    /// The agent's token: from `token_env` when set, else `token`.
    pub fn token(&self) -> Result<String, ConfigError> {
        let missing =
            |reason: String| ConfigError::Invalid { path: "file".into(), field: "admin_api.token".into(), reason };
        if let Some(var) = &self.admin_api.token_env {
            return std::env::var(var)
                .map_err(|_| missing(format!("environment variable {var} (named by admin_api.token_env) is not set")));
        }
        self.admin_api.token.clone().ok_or_else(|| missing("set admin_api.token or admin_api.token_env".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../agent.example.toml");

    #[test]
    fn the_documented_example_is_valid() {
        let c = Config::parse(EXAMPLE, "agent.example.toml").expect("example parses");
        assert!(!c.cameras.is_empty());
    }

    #[test]
    fn models_come_from_models_dir_when_it_is_set() {
        let repo_models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let with = |dir: &std::path::Path| {
            let text = EXAMPLE.replacen(
                "data_dir = \"data/agent\"",
                &format!("data_dir = \"data/agent\"\nmodels_dir = {:?}", dir.display().to_string()),
                1,
            );
            Config::parse(&text, "x.toml").expect("parses")
        };
        // The manifest is read from there: an empty folder names its manifest.
        let empty = std::env::temp_dir().join(format!("gatewatch-no-models-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("tmp");
        let e = with(&empty).agent.models().expect_err("no manifest there").to_string();
        assert!(e.contains(&empty.join("manifest.toml").display().to_string()) && e.contains("make models"), "{e}");
        let _ = std::fs::remove_dir_all(&empty);
        // The repository's own folder, named explicitly, is read from there
        // (or says which model file is missing where).
        match with(&repo_models).agent.models() {
            Ok(m) => assert!(m.recogniser.path.starts_with(&repo_models)),
            Err(e) => assert!(e.to_string().contains("make models"), "{e}"),
        }
        assert!(Config::parse(EXAMPLE, "x.toml").expect("parses").agent.models_dir.is_none());
    }

    fn broken(from: &str, to: &str) -> String {
        assert!(EXAMPLE.contains(from), "example contains {from:?}");
        Config::parse(&EXAMPLE.replacen(from, to, 1), "x.toml").expect_err("invalid").to_string()
    }

    #[test]
    fn cleartext_to_another_machine_is_refused_unless_allowed() {
        for url in
            ["http://10.0.0.5:8080", "http://antt.example.gov.vn", "http://user@192.168.1.2/", "http://[fe80::1]:80"]
        {
            let e = broken("url = \"http://127.0.0.1:8080\"", &format!("url = \"{url}\""));
            assert!(e.contains("admin_api.url") && e.contains("insecure_http"), "{url}: {e}");
            let allowed = EXAMPLE.replacen(
                "url = \"http://127.0.0.1:8080\"",
                &format!("url = \"{url}\"\ninsecure_http = true"),
                1,
            );
            assert!(Config::parse(&allowed, "x.toml").is_ok(), "{url} with insecure_http");
        }
        for url in
            ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:8080/", "https://10.0.0.5", "http://127.3.2.1"]
        {
            let ok = EXAMPLE.replacen("url = \"http://127.0.0.1:8080\"", &format!("url = \"{url}\""), 1);
            assert!(Config::parse(&ok, "x.toml").is_ok(), "{url} is loopback or TLS");
        }
    }

    #[test]
    fn invalid_fields_are_named() {
        assert!(broken("url = \"http://127.0.0.1:8080\"", "url = \"ftp://x\"").contains("admin_api.url"));
        assert!(broken("inside = \"below\"", "inside = \"left\"").contains("camera[0].line"));
        assert!(broken("id = \"gate1\"", "id = \"gate 1\"").contains("camera[0].id"));
        assert!(broken("input_size = 640", "input_size = 300").contains("recognition"));
        let e = broken("max_lost_ms = 1500", "max_misses = 12");
        assert!(e.contains("max_lost_ms") && e.contains("milliseconds"), "{e}");
        let e = broken("embed_every_ms = 80 ", "embed_every_frames = 2");
        assert!(e.contains("embed_every_ms"), "{e}");
        let e = broken("idle_detect_ms = 1000", "idle_detect_ms = 0");
        assert!(e.contains("idle_detect_ms"), "{e}");
        let e = broken("# score_threshold = 0.5", "score_threshold = 1.5");
        assert!(e.contains("camera[0].score_threshold"), "{e}");
    }

    #[test]
    fn a_camera_may_have_its_own_detector_threshold() {
        let c = Config::parse(&EXAMPLE.replacen("# score_threshold = 0.5", "score_threshold = 0.5", 1), "x.toml")
            .expect("valid");
        assert_eq!(c.cameras[0].recognition(&c.recognition).detector.score_threshold, 0.5);
        assert_eq!(c.recognition.detector.score_threshold, 0.6, "the agent's own is unchanged");
        let e = broken("url = \"rtsp://127.0.0.1:8554/gate1\"", "url = \"rtsp://127.0.0.1:85540/gate1\"");
        assert!(e.contains("camera[0].url") && e.contains("invalid port"), "{e}");
    }

    #[test]
    fn malformed_toml_and_unknown_keys_are_reported() {
        let e = Config::parse("[agent\nid=", "x.toml").expect_err("malformed").to_string();
        assert!(e.starts_with("config x.toml:"), "{e}");
        let e = broken("budget_mb = 1024", "budget_mb = 1024\nbudget_gb = 1").to_string();
        assert!(e.contains("budget_gb"), "{e}");
    }

    #[test]
    fn token_comes_from_the_environment_when_configured() {
        let text = EXAMPLE.replacen(
            "token_env = \"GATEWATCH_AGENT_TOKEN\"",
            "token_env = \"GATEWATCH_TEST_TOKEN_UNSET_XYZ\"",
            1,
        );
        let c = Config::parse(&text, "x.toml").expect("valid");
        assert!(c.token().expect_err("unset").to_string().contains("GATEWATCH_TEST_TOKEN_UNSET_XYZ"));
    }
}
