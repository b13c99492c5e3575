//! The admin API as the agent sees it: three calls over HTTP(S), each
//! authenticated with the agent's token, each failing with a reason the log
//! can show (the caller decides whether to retry).
//!
//! - `POST /api/v1/events` — a batch of events; the answer lists the ids the
//!   API has durably stored (including ids it already had).
//! - `GET /api/v1/gallery?since=N` — gallery changes after version N.
//! - `GET /api/v1/expectations` — who each verification camera expects.
//! - `POST /api/v1/agent/heartbeat` — how the agent is doing; the answer says
//!   which camera set is current and which snapshots an admin asked for.
//! - `GET /api/v1/agent/cameras` — the camera set made centrally.
//! - `PUT /api/v1/agent/snapshots/{camera}` — one camera's picture (JPEG).

use std::time::Duration;

use pipeline::fleet::{CameraSet, Heartbeat, HeartbeatReply};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use wire::events::Event;
use wire::sync::{Expectations, GalleryDelta};

use crate::config::{Config, ConfigError};

pub struct ApiClient {
    http: ureq::Agent,
    base: String,
    authorization: String,
}

#[derive(Deserialize)]
struct Ack {
    accepted: Vec<String>,
}

/// Why a batch was not acknowledged.
#[derive(Debug)]
pub enum SendError {
    /// Try again later: the network, the API busy or down (5xx, 429, 408),
    /// the token refused (401: fixed by an operator, not by dropping events),
    /// or an address that is not the events route (404, 405: misconfigured).
    Retry(String),
    /// The API will never accept this batch as it is (400, 403, 409, 413,
    /// 415, 422): one of its events is refused — find it, set it aside.
    Refused(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry(r) | SendError::Refused(r) => f.write_str(r),
        }
    }
}

/// Answers that refuse a batch for good; every other failure is retried.
fn refuses_for_good(status: u16) -> bool {
    matches!(status, 400 | 403 | 409 | 413 | 415 | 422)
}

impl ApiClient {
    pub fn new(config: &Config) -> Result<ApiClient, ConfigError> {
        let token = config.token()?;
        if config.admin_api.is_cleartext_over_network() {
            tracing::warn!(
                url = %config.admin_api.url,
                "INSECURE: insecure_http = true — the agent's token, face crops and embeddings cross the network \
                 unencrypted; use https:// outside a closed test network"
            );
        }
        let mut builder =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(15))).http_status_as_error(false);
        if let Some(ca) = &config.admin_api.ca_file {
            builder = builder.tls_config(tls_trusting(ca)?);
        }
        let http = ureq::Agent::new_with_config(builder.build());
        Ok(ApiClient {
            http,
            base: config.admin_api.url.trim_end_matches('/').to_string(),
            authorization: format!("Bearer {token}"),
        })
    }

    fn read<T: DeserializeOwned>(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<T, String> {
        let mut resp = response.map_err(|e| e.to_string())?;
        let status = resp.status();
        if !status.is_success() {
            let detail = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(format!("admin API answered {status}: {}", detail.chars().take(300).collect::<String>()));
        }
        resp.body_mut().read_json::<T>().map_err(|e| format!("unreadable answer from the admin API: {e}"))
    }

    /// Sends a batch; returns the ids the API acknowledged.
    pub fn post_events(&self, events: &[&Event]) -> Result<Vec<String>, SendError> {
        let mut resp = self
            .http
            .post(&format!("{}/api/v1/events", self.base))
            .header("Authorization", &self.authorization)
            .send_json(events)
            .map_err(|e| SendError::Retry(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return resp
                .body_mut()
                .read_json::<Ack>()
                .map(|a| a.accepted)
                .map_err(|e| SendError::Retry(format!("unreadable answer from the admin API: {e}")));
        }
        let detail = resp.body_mut().read_to_string().unwrap_or_default();
        let reason = format!("admin API answered {status}: {}", detail.chars().take(300).collect::<String>());
        // 400, 403 and 409 count as a refusal only from the API itself (its
        // JSON error): a proxy or a firewall answering 403 must not send every
        // event to the quarantine. 413, 415 and 422 are about the body
        // whoever says them (a proxy's size limit, an older API that does not
        // know a new kind of event): splitting finds the event.
        let from_the_api = serde_json::from_str::<serde_json::Value>(&detail)
            .is_ok_and(|v| v.get("error").is_some_and(|e| e.is_string()));
        let about_the_body = matches!(status.as_u16(), 413 | 415 | 422);
        if refuses_for_good(status.as_u16()) && (from_the_api || about_the_body) {
            Err(SendError::Refused(reason))
        } else {
            Err(SendError::Retry(reason))
        }
    }

    pub fn gallery(&self, since: u64) -> Result<GalleryDelta, String> {
        let resp = self
            .http
            .get(&format!("{}/api/v1/gallery?since={since}", self.base))
            .header("Authorization", &self.authorization)
            .call();
        Self::read(resp)
    }

    pub fn heartbeat(&self, beat: &Heartbeat) -> Result<HeartbeatReply, String> {
        let resp = self
            .http
            .post(&format!("{}/api/v1/agent/heartbeat", self.base))
            .header("Authorization", &self.authorization)
            .send_json(beat);
        Self::read(resp)
    }

    pub fn cameras(&self) -> Result<CameraSet, String> {
        let resp = self
            .http
            .get(&format!("{}/api/v1/agent/cameras", self.base))
            .header("Authorization", &self.authorization)
            .call();
        Self::read(resp)
    }

    pub fn put_snapshot(&self, camera: &str, jpeg: Vec<u8>) -> Result<(), String> {
        let resp = self
            .http
            .put(&format!("{}/api/v1/agent/snapshots/{camera}", self.base))
            .header("Authorization", &self.authorization)
            .header("Content-Type", "image/jpeg")
            .send(&jpeg[..]);
        Self::read::<serde_json::Value>(resp).map(|_| ())
    }

    pub fn expectations(&self) -> Result<Expectations, String> {
        let resp = self
            .http
            .get(&format!("{}/api/v1/expectations", self.base))
            .header("Authorization", &self.authorization)
            .call();
        Self::read(resp)
    }
}

/// TLS that trusts only the certificate authorities in `ca` (PEM).
fn tls_trusting(ca: &std::path::Path) -> Result<ureq::tls::TlsConfig, ConfigError> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let invalid = |reason: String| ConfigError::Invalid {
        path: ca.display().to_string(),
        field: "admin_api.ca_file".into(),
        reason,
    };
    let pem = std::fs::read(ca).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(invalid("no PEM certificate in it".into()));
    }
    Ok(TlsConfig::builder().root_certs(RootCerts::Specific(std::sync::Arc::new(certs))).build())
}
