//! The load test, short: 50 agents × 20 events/s with 100 guards on the
//! alert stream for 10 s against a real admin API — no failed request, no
//! lost event, every alert to every guard. `make soak` runs it for 5 minutes.

#[test]
fn fifty_agents_and_a_hundred_guards_lose_nothing() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-bench"))
        .args(["load", "--load-seconds", "10"])
        .output()
        .expect("gatewatch-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "the load test failed:\n{stderr}");
    assert!(stderr.contains("0 failed requests") && stderr.contains("100.0 % delivered"), "{stderr}");
}
