//! The admin API over HTTPS (rustls) with a certificate from a site's own CA:
//! an agent given that CA (`admin_api.ca_file`) delivers its events; an agent
//! without it refuses the connection (unknown issuer) and keeps its events;
//! sessions get `Secure` cookies.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=gatewatch test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

#[test]
fn agents_deliver_over_https_only_to_a_server_their_ca_vouches_for() {
    let dir = scratch("tls").expect("a scratch folder");
    certificates(&dir);
    let f = fixture("s01_walk_in_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.enrol_fixture(&f.dir).expect("the fixture enrolled");
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    let tls_options = ["--tls-cert", cert.to_str().expect("utf-8"), "--tls-key", key.to_str().expect("utf-8")];
    api.start_with(&tls_options).expect("the HTTPS admin API starts");
    let url = format!("https://127.0.0.1:{}", api.port);

    // Without the CA: the server is not trusted, events stay with the agent.
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let untrusting_dir = dir.join("untrusting");
    std::fs::create_dir_all(&untrusting_dir).expect("dir");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&untrusting_dir, &url, &token, &cams, "");
    let mut untrusting = start_agent(&config, 0, "info");
    untrusting
        .wait_line("admin API unreachable", Instant::now() - Duration::from_secs(1), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("an untrusted server was accepted:\n{}", untrusting.text()));
    assert!(untrusting.text().to_lowercase().contains("certificate"), "says why: {}", untrusting.text());
    untrusting.kill();
    assert!(api.events().expect("stored events").is_empty(), "nothing reached an untrusted server");

    // With the CA: delivered.
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let ca = dir.join("ca.pem");
    let config = agent_config(&dir, &url, &token, &cams, "");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replacen("batch_size = 20\n", &format!("batch_size = 20\nca_file = \"{}\"\n", ca.display()), 1);
    std::fs::write(&config, text).expect("config");
    let mut agent = start_agent(&config, 10, "info");
    let t0 = Instant::now();
    while passages_of(&api.events().expect("stored events"), Some("gate1")) != truth_of(&f) {
        assert!(t0.elapsed() < Duration::from_secs(40), "not delivered over HTTPS:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(agent.terminate(Duration::from_secs(20)));

    // Sessions over HTTPS carry Secure cookies.
    let pem = std::fs::read(&ca).expect("ca");
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect();
    let tls =
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs))).build();
    let http =
        ureq::Agent::new_with_config(ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build());
    api.create_user("guard1", "guard", "site-e2e", "guard1-password-123").expect("create-user");
    let r = http
        .post(&format!("{url}/api/v1/auth/login"))
        .send_json(serde_json::json!({"username": "guard1", "password": "guard1-password-123"}))
        .expect("login over https");
    assert_eq!(r.status(), 200);
    let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    api.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
