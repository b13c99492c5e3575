//! The recorded-scene format: the contract between the fixture generator and
//! every accuracy test and benchmark. Any folder in this format works with
//! `edge-agent replay`.
//!
//! ```text
//! <fixture>/video.mp4                H.264 recording
//! <fixture>/camera.toml              fps, width, height, frames, [line] a, b, inside
//! <fixture>/gallery/<person_id>/*.jpg enrolment photos
//! <fixture>/gallery/people.toml      [<person_id>] name, category, cccd
//! <fixture>/truth.json               {"passages": [{"person", "direction", "t_start", "t_end"}]}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use wire::{Category, Direction};

use crate::tracking::line::{CountingLine, LineError};

/// Files larger than this are refused rather than read (they are tiny in practice).
const MAX_TEXT_FILE: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: counting line: {source}")]
    Line { path: PathBuf, source: LineError },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    pub fps: f32,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub line: CountingLine,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PersonSpec {
    pub name: String,
    pub category: Category,
    #[serde(default)]
    pub cccd: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TruthPassage {
    pub person: Option<String>,
    pub direction: Direction,
    pub t_start: f64,
    pub t_end: f64,
    /// When the person's face passed the counting line, seconds. Older truth
    /// files have none; scoring then matches by the span instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_cross: Option<f64>,
    /// Where along the line the face crossed, 0..1 from `a` to `b` (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_pos: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    pub passages: Vec<TruthPassage>,
}

#[derive(Debug, Clone)]
pub struct EnrolledPerson {
    pub id: String,
    pub spec: PersonSpec,
    pub photos: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub dir: PathBuf,
    pub video: PathBuf,
    pub camera: CameraSpec,
    pub people: Vec<EnrolledPerson>,
    pub truth: Truth,
}

fn read_text(path: &Path) -> Result<String, FixtureError> {
    let io = |reason: String| FixtureError::Io { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if meta.len() > MAX_TEXT_FILE {
        return Err(io(format!("file is {} bytes; the limit is {MAX_TEXT_FILE}", meta.len())));
    }
    std::fs::read_to_string(path).map_err(|e| io(e.to_string()))
}

/// Parses camera.toml text (exposed for fuzzing and tests).
pub fn parse_camera(text: &str, path: &Path) -> Result<CameraSpec, FixtureError> {
    let camera: CameraSpec =
        toml::from_str(text).map_err(|e| FixtureError::Parse { path: path.to_path_buf(), reason: e.to_string() })?;
    camera.line.validate().map_err(|source| FixtureError::Line { path: path.to_path_buf(), source })?;
    if !(camera.fps.is_finite() && camera.fps > 0.0 && camera.fps <= 240.0) {
        return Err(FixtureError::Invalid {
            path: path.to_path_buf(),
            reason: format!("fps must be within 0..240, got {}", camera.fps),
        });
    }
    if camera.width == 0 || camera.height == 0 {
        return Err(FixtureError::Invalid {
            path: path.to_path_buf(),
            reason: "width and height must be positive".into(),
        });
    }
    Ok(camera)
}

/// Parses truth.json text (exposed for fuzzing and tests).
pub fn parse_truth(text: &str, path: &Path) -> Result<Truth, FixtureError> {
    let truth: Truth = serde_json::from_str(text)
        .map_err(|e| FixtureError::Parse { path: path.to_path_buf(), reason: e.to_string() })?;
    for (i, p) in truth.passages.iter().enumerate() {
        if !(p.t_start.is_finite() && p.t_end.is_finite() && p.t_start >= 0.0 && p.t_start <= p.t_end) {
            return Err(FixtureError::Invalid {
                path: path.to_path_buf(),
                reason: format!("passage {i}: need 0 <= t_start <= t_end, got {}..{}", p.t_start, p.t_end),
            });
        }
        if let Some(t) = p.t_cross
            && !(t.is_finite() && p.t_start <= t && t <= p.t_end)
        {
            return Err(FixtureError::Invalid {
                path: path.to_path_buf(),
                reason: format!("passage {i}: t_cross {t} is outside its span {}..{}", p.t_start, p.t_end),
            });
        }
        if let Some(x) = p.cross_pos
            && !(0.0..=1.0).contains(&x)
        {
            return Err(FixtureError::Invalid {
                path: path.to_path_buf(),
                reason: format!("passage {i}: cross_pos {x} must be within 0..1 (along the line from a to b)"),
            });
        }
    }
    Ok(truth)
}

impl Fixture {
    /// Reads and checks a fixture folder.
    pub fn open(dir: &Path) -> Result<Fixture, FixtureError> {
        if !dir.is_dir() {
            return Err(FixtureError::Io {
                path: dir.to_path_buf(),
                reason: "not a folder (expected a fixture folder with video.mp4, camera.toml, gallery/ and truth.json)"
                    .into(),
            });
        }
        let video = dir.join("video.mp4");
        if !video.is_file() {
            return Err(FixtureError::Io {
                path: video,
                reason: "missing (run `make fixtures` to generate the fixtures)".into(),
            });
        }
        let camera_path = dir.join("camera.toml");
        let camera = parse_camera(&read_text(&camera_path)?, &camera_path)?;
        let truth_path = dir.join("truth.json");
        let truth = parse_truth(&read_text(&truth_path)?, &truth_path)?;
        let gallery = dir.join("gallery");
        let people_path = gallery.join("people.toml");
        let specs: BTreeMap<String, PersonSpec> = toml::from_str(&read_text(&people_path)?)
            .map_err(|e| FixtureError::Parse { path: people_path.clone(), reason: e.to_string() })?;
        let mut people = Vec::new();
        for (id, spec) in specs {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(FixtureError::Invalid {
                    path: people_path,
                    reason: format!("person id {id:?} must be letters, digits, '_' or '-'"),
                });
            }
            let folder = gallery.join(&id);
            let mut photos: Vec<PathBuf> = std::fs::read_dir(&folder)
                .map_err(|e| FixtureError::Io { path: folder.clone(), reason: e.to_string() })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
                })
                .collect();
            photos.sort();
            if photos.is_empty() {
                return Err(FixtureError::Invalid {
                    path: folder,
                    reason: "no enrolment photos (*.jpg, *.png)".into(),
                });
            }
            people.push(EnrolledPerson { id, spec, photos });
        }
        for (i, p) in truth.passages.iter().enumerate() {
            if let Some(id) = &p.person
                && !people.iter().any(|e| &e.id == id)
            {
                return Err(FixtureError::Invalid {
                    path: truth_path,
                    reason: format!("passage {i} names {id:?}, who is not in gallery/people.toml"),
                });
            }
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Fixture { name, dir: dir.to_path_buf(), video, camera, people, truth })
    }

    /// Every fixture folder directly under `root` (folders holding a camera.toml), sorted by name.
    pub fn discover(root: &Path) -> Result<Vec<PathBuf>, FixtureError> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| FixtureError::Io { path: root.to_path_buf(), reason: e.to_string() })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("camera.toml").is_file())
            .collect();
        dirs.sort();
        Ok(dirs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_with_reversed_times_is_rejected() {
        let text = r#"{"passages": [{"person": null, "direction": "entry", "t_start": 3.0, "t_end": 1.0}]}"#;
        let err = parse_truth(text, Path::new("truth.json")).expect_err("reversed times");
        assert!(err.to_string().contains("t_start <= t_end"), "{err}");
    }

    #[test]
    fn truth_without_a_crossing_time_still_reads() {
        let text = r#"{"passages": [{"person": null, "direction": "entry", "t_start": 1.0, "t_end": 3.0}]}"#;
        let truth = parse_truth(text, Path::new("truth.json")).expect("old format");
        assert_eq!(truth.passages[0].t_cross, None);
        let text =
            r#"{"passages": [{"person": null, "direction": "exit", "t_start": 1.0, "t_end": 3.0, "t_cross": 2.5}]}"#;
        assert_eq!(parse_truth(text, Path::new("truth.json")).expect("new format").passages[0].t_cross, Some(2.5));
    }

    #[test]
    fn a_crossing_time_outside_its_span_is_rejected() {
        let text =
            r#"{"passages": [{"person": null, "direction": "entry", "t_start": 1.0, "t_end": 3.0, "t_cross": 4.0}]}"#;
        let err = parse_truth(text, Path::new("truth.json")).expect_err("t_cross past t_end");
        assert!(err.to_string().contains("t_cross"), "{err}");
    }

    #[test]
    fn truth_with_unknown_direction_names_the_problem() {
        let text = r#"{"passages": [{"person": "p1", "direction": "sideways", "t_start": 0, "t_end": 1}]}"#;
        let err = parse_truth(text, Path::new("truth.json")).expect_err("bad direction");
        assert!(err.to_string().contains("sideways"), "{err}");
    }

    #[test]
    fn camera_toml_round_trip_and_validation() {
        let ok = "fps = 25\nwidth = 1280\nheight = 720\nframes = 10\n[line]\na = [0.0, 0.5]\nb = [1.0, 0.5]\ninside = \"below\"\n";
        let cam = parse_camera(ok, Path::new("camera.toml")).expect("valid");
        assert_eq!(cam.frames, 10);
        let bad = ok.replace("fps = 25", "fps = -1");
        assert!(parse_camera(&bad, Path::new("camera.toml")).is_err());
        let ambiguous = ok.replace("below", "left");
        assert!(matches!(parse_camera(&ambiguous, Path::new("c")), Err(FixtureError::Line { .. })));
    }
}
