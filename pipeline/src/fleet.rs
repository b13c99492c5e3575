//! What an edge agent and the admin API say to each other about the fleet:
//! the cameras an agent runs (set centrally, versioned, synced like the
//! gallery), and the heartbeat an agent sends about itself.
//!
//! One definition for both ends: the agent deserialises what the API
//! serialises, so a field cannot drift between them.

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::rules::schedule::Schedule;
use crate::tracking::line::CountingLine;
use crate::vision::source::SourceUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraMode {
    /// Count and identify everyone who passes.
    Count,
    /// 1:1 verification against the person the admin API says is expected.
    Verify,
}

fn default_mode() -> CameraMode {
    CameraMode::Count
}

/// One camera of an agent: where its stream is, the gate it watches, and
/// how its passages are counted and judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    pub id: String,
    /// Gate the camera watches (for reports).
    pub gate: String,
    /// `rtsp://…`, `file://…`, a file path, or `v4l2:///dev/videoN`. May hold
    /// the camera's credentials: never shown back to a person (see
    /// [`CameraSpec::redacted_url`]).
    pub url: String,
    pub line: CountingLine,
    #[serde(default = "default_mode")]
    pub mode: CameraMode,
    /// Unknown people at a restricted gate raise an `unknown_person` alert.
    #[serde(default)]
    pub restricted: bool,
    /// This gate's opening hours, where they differ from the site's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// This camera's detector score threshold, where it differs from the agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f32>,
    /// This camera's low-light brightening threshold (mean luma), where it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_light_luma: Option<f32>,
}

/// Stands for a password in a URL shown to a person; sent back unchanged,
/// it means "keep the password held".
pub const HIDDEN_PASSWORD: &str = "***";

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{field}: {reason}")]
pub struct SpecError {
    pub field: String,
    pub reason: String,
}

pub fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl CameraSpec {
    /// The recognition settings for this camera: the agent's, with this
    /// camera's own detector settings where it has them.
    pub fn recognition(&self, agent: &EngineConfig) -> EngineConfig {
        let mut c = *agent;
        if let Some(t) = self.score_threshold {
            c.detector.score_threshold = t;
        }
        if let Some(l) = self.low_light_luma {
            c.detector.low_light_luma = l;
        }
        c
    }

    /// Checks everything that does not depend on the agent's own settings.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |field: &str, reason: String| SpecError { field: field.into(), reason };
        if !valid_id(&self.id) {
            return Err(bad("id", "must be 1–64 letters, digits, '-' or '_'".into()));
        }
        if self.gate.trim().is_empty() || self.gate.len() > 100 {
            return Err(bad("gate", "must be 1–100 characters".into()));
        }
        SourceUrl::parse(&self.url).map_err(|e| bad("url", e.to_string()))?;
        self.line.validate().map_err(|e| bad("line", e.to_string()))?;
        if self.score_threshold.is_some_and(|t| !(t.is_finite() && (0.05..=0.99).contains(&t))) {
            return Err(bad("score_threshold", "must be within 0.05..0.99".into()));
        }
        if self.low_light_luma.is_some_and(|l| !(l.is_finite() && (0.0..=255.0).contains(&l))) {
            return Err(bad("low_light_luma", "must be within 0..255".into()));
        }
        Ok(())
    }

    /// The URL with its password replaced by [`HIDDEN_PASSWORD`].
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// This spec as a person may see it.
    pub fn redacted(&self) -> CameraSpec {
        CameraSpec { url: self.redacted_url(), ..self.clone() }
    }
}

/// The byte range of the password in `scheme://user:password@host…`, and
/// where the authority (host and port) ends.
fn password_span(url: &str) -> Option<(usize, usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    let colon = url[start..at].find(':')? + start;
    Some((colon + 1, at, authority_end))
}

/// Query parameters that carry a password on cheap cameras
/// (`…?user=admin&password=…`).
const SECRET_PARAMS: &[&str] = &["password=", "passwd=", "pwd=", "pass="];

/// Byte ranges of secret query values.
fn secret_params(url: &str) -> Vec<(usize, usize)> {
    let Some(q) = url.find('?') else { return Vec::new() };
    let mut out = Vec::new();
    let mut pos = q + 1;
    for part in url[q + 1..].split('&') {
        let lower = part.to_ascii_lowercase();
        if let Some(key) = SECRET_PARAMS.iter().find(|k| lower.starts_with(**k)) {
            let value_end = part.find('#').unwrap_or(part.len());
            out.push((pos + key.len(), pos + value_end));
        }
        pos += part.len() + 1;
    }
    out
}

/// A URL with its password (in the login or the query) hidden.
pub fn redact(url: &str) -> String {
    let mut spans = secret_params(url);
    if let Some((from, to, _)) = password_span(url) {
        spans.push((from, to));
    }
    spans.sort();
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for (from, to) in spans {
        if from < last {
            continue;
        }
        out.push_str(&url[last..from]);
        out.push_str(HIDDEN_PASSWORD);
        last = to;
    }
    out.push_str(&url[last..]);
    out
}

/// `text` (an error message, a log line) with every secret of `url` hidden.
pub fn scrub(text: &str, url: &str) -> String {
    let mut secrets: Vec<&str> = secret_params(url).into_iter().map(|(a, b)| &url[a..b]).collect();
    if let Some((from, to, _)) = password_span(url) {
        secrets.push(&url[from..to]);
    }
    let mut out = text.replace(url, &redact(url));
    for secret in secrets.into_iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, HIDDEN_PASSWORD);
    }
    out
}

/// `edited` with the password of `held` put back where a person left the
/// hidden placeholder (they edited the camera without retyping it) — only
/// for the same scheme, user, host and port: a password is never sent to a
/// place it was not typed for.
pub fn keep_hidden_password(edited: &str, held: &str) -> String {
    match (password_span(edited), password_span(held)) {
        (Some((from, to, end)), Some((hf, ht, hend)))
            if &edited[from..to] == HIDDEN_PASSWORD
                && edited[..from] == held[..hf]
                && edited[to..end] == held[ht..hend] =>
        {
            format!("{}{}{}", &edited[..from], &held[hf..ht], &edited[to..])
        }
        _ => edited.to_string(),
    }
}

/// A camera set centrally must be a network or attached camera: an admin's
/// browser does not get to name files on the gate box.
pub fn check_central_url(url: &str) -> Result<(), SpecError> {
    let url = url.trim();
    if ["rtsp://", "rtsps://", "v4l2://"].iter().any(|p| url.starts_with(p)) {
        Ok(())
    } else {
        Err(SpecError { field: "url".into(), reason: "must start with rtsp://, rtsps:// or v4l2://".into() })
    }
}

/// The cameras an agent should run, as set centrally. Version 0 means "none
/// set centrally: run the cameras of the agent's own file".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraSet {
    pub version: u64,
    pub cameras: Vec<CameraSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    /// Opening its stream; no frame yet.
    Starting,
    Up,
    Down,
    /// Frames arrive but the picture is black, flat or frozen.
    Tampered,
    /// Its recording ended or it could not start.
    Stopped,
}

/// One camera in a heartbeat: what it is (the full spec, so the admin API
/// can take a file-configured camera over) and how it is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub spec: CameraSpec,
    pub state: CameraState,
    /// Why it is down, tampered or stopped.
    #[serde(default)]
    pub reason: Option<String>,
    /// Frames per second over the last few seconds.
    pub fps: f64,
    /// Frames dropped since the agent started (decoding could not keep up).
    pub dropped_frames: u64,
}

/// What an agent reports about itself, every few seconds and on a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub agent_version: String,
    pub started_ms: i64,
    pub sent_ms: i64,
    pub cameras: Vec<CameraStatus>,
    /// Events waiting in the outbox, and when the oldest was made.
    pub outbox_backlog: u64,
    pub outbox_oldest_ms: Option<i64>,
    pub gallery_version: u64,
    /// The central camera configuration the agent runs (0: its own file's).
    pub config_version: u64,
    /// Free space on the disk of the agent's data folder.
    pub disk_free_bytes: Option<u64>,
    /// Why the newest camera set was not applied (the agent runs the last
    /// good one meanwhile).
    #[serde(default)]
    pub config_error: Option<String>,
}

/// The admin API's answer to a heartbeat: what the agent should do next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The newest central camera configuration (0: none): fetch it when newer.
    pub config_version: u64,
    /// Cameras an admin asked a snapshot of.
    #[serde(default)]
    pub snapshots: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_kept_when_left_hidden() {
        let held = "rtsp://admin:s3cr%40t@10.0.0.5:554/Streaming/101";
        assert_eq!(redact(held), "rtsp://admin:***@10.0.0.5:554/Streaming/101");
        assert_eq!(redact("rtsp://10.0.0.5/a@b"), "rtsp://10.0.0.5/a@b", "an @ in the path is not a login");
        assert_eq!(redact("rtsp://user@10.0.0.5/x"), "rtsp://user@10.0.0.5/x");
        let edited = "rtsp://admin:***@10.0.0.5:554/Streaming/102";
        assert_eq!(keep_hidden_password(edited, held), "rtsp://admin:s3cr%40t@10.0.0.5:554/Streaming/102");
        let retyped = "rtsp://admin:new@10.0.0.6/x";
        assert_eq!(keep_hidden_password(retyped, held), retyped);
        // Another host, port, user or scheme: the password held is not sent there.
        for elsewhere in [
            "rtsp://admin:***@attacker.example/x",
            "rtsp://admin:***@10.0.0.5:8554/Streaming/101",
            "rtsp://root:***@10.0.0.5:554/Streaming/101",
            "http://admin:***@10.0.0.5:554/Streaming/101",
        ] {
            assert_eq!(keep_hidden_password(elsewhere, held), elsewhere);
        }
        let query = "rtsp://10.0.0.7:554/cam?user=admin&password=hunter22&channel=1";
        assert_eq!(redact(query), "rtsp://10.0.0.7:554/cam?user=admin&password=***&channel=1");
        let said = format!("cannot connect to {held}: 401 (password s3cr%40t refused); {query}");
        let scrubbed = scrub(&scrub(&said, held), query);
        assert!(!scrubbed.contains("s3cr%40t") && !scrubbed.contains("hunter22"), "{scrubbed}");
        assert!(check_central_url("file:///etc/shadow").is_err() && check_central_url("rtsp://x/y").is_ok());
    }

    #[test]
    fn specs_are_checked_field_by_field() {
        let spec: CameraSpec = serde_json::from_value(serde_json::json!({
            "id": "gate1", "gate": "main", "url": "rtsp://127.0.0.1:8554/gate1",
            "line": {"a": [0.0, 0.5], "b": [1.0, 0.5], "inside": "below"}
        }))
        .expect("spec");
        assert!(spec.validate().is_ok());
        let e = CameraSpec { id: "gate 1".into(), ..spec.clone() }.validate().expect_err("id");
        assert_eq!(e.field, "id");
        let e = CameraSpec { url: "ftp://x".into(), ..spec.clone() }.validate().expect_err("url");
        assert_eq!(e.field, "url");
        let mut vertical = spec.clone();
        vertical.line.b = [0.0, 1.0];
        assert_eq!(vertical.validate().expect_err("side").field, "line");
        let e = CameraSpec { score_threshold: Some(1.5), ..spec }.validate().expect_err("threshold");
        assert_eq!(e.field, "score_threshold");
    }
}
