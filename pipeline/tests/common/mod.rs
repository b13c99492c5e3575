//! Helpers shared by the pipeline's integration tests: where the real media,
//! models and fixtures live once `make setup` has run.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A real photo from the fixture sources (taken out of registry packages by `make fixtures`).
pub fn media(name: &str) -> PathBuf {
    let p = repo().join(".cache/fixture-sources/media").join(name);
    assert!(p.is_file(), "{} missing: run `make setup` first", p.display());
    p
}

pub fn fixtures_root() -> PathBuf {
    repo().join("fixtures")
}

/// The fixture RTSP server binary (built by `cargo build --workspace`, which
/// `make test` runs first), next to this test's own executable.
pub fn rtsp_server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target profile dir");
    let bin = dir.join("fixture-rtsp-server");
    assert!(bin.is_file(), "{} missing: run `cargo build --release --workspace` first", bin.display());
    bin
}

/// A running fixture RTSP server; killed (SIGKILL) when dropped.
pub struct RtspServer {
    pub child: std::process::Child,
    pub urls: Vec<String>,
}

impl RtspServer {
    /// Starts the server on `port` (0: any free port) serving NAME=PATH mounts.
    pub fn start(port: u16, mounts: &[(&str, PathBuf)]) -> RtspServer {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(rtsp_server_binary());
        cmd.arg("--port").arg(port.to_string());
        for (name, path) in mounts {
            cmd.arg(format!("{name}={}", path.display()));
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn rtsp server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let urls: Vec<String> = (0..mounts.len()).map(|_| lines.next().expect("url line").expect("utf8")).collect();
        RtspServer { child, urls }
    }

    pub fn port(&self) -> u16 {
        let u = &self.urls[0];
        let after = u.rsplit_once(':').expect("port").1;
        after.split('/').next().expect("port").parse().expect("port number")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}
