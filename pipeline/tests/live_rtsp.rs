//! A live RTSP camera that goes away and comes back, against a real RTSP
//! server process on 127.0.0.1.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use pipeline::vision::frame::BgrImage;
use pipeline::vision::live::{LinkState, LiveConfig, LiveEvent, LiveSource};
use pipeline::vision::source::{SourceOptions, SourceUrl};
use testkit::rtsp::RtspServer;

fn wait_for_frame(live: &mut LiveSource, frame: &mut BgrImage, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if live.next(frame, Duration::from_millis(200)) == LiveEvent::Frame {
            return Some(start.elapsed());
        }
    }
    None
}

#[test]
fn a_camera_that_is_killed_and_restarted_reconnects_within_five_seconds() {
    let video = common::fixtures_root().join("s08_empty_gate_720p/video.mp4");
    let mut server = RtspServer::start(0, &[], &[("gate", &video)]).expect("RTSP server");
    let port = server.port().expect("port");
    let url = SourceUrl::parse(&server.urls[0]).expect("url");
    let mut live = LiveSource::new(url, SourceOptions::default(), LiveConfig::default());
    let mut frame = BgrImage::default();

    let first = wait_for_frame(&mut live, &mut frame, Duration::from_secs(10)).expect("first frame");
    assert!(first < Duration::from_secs(5), "first frame after {first:?}");
    assert_eq!((frame.width(), frame.height()), (1280, 720));
    assert_eq!(*live.state(), LinkState::Up);

    server.kill();
    let lost = Instant::now();
    while matches!(live.state(), LinkState::Up) && lost.elapsed() < Duration::from_secs(10) {
        let _ = live.next(&mut frame, Duration::from_millis(200));
    }
    assert!(matches!(live.state(), LinkState::Down { .. }), "disconnection noticed");
    // Either rtspsrc reports the closed connection (EOS, at once) or, when the
    // server died in a state where it does not, the no-frame watchdog (3 s)
    // fires and the stuck pipeline is abandoned after the teardown limit.
    assert!(lost.elapsed() < Duration::from_secs(7), "noticed after {:?}", lost.elapsed());
    // Down for a while: the source keeps retrying without error or panic.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(live.next(&mut frame, Duration::from_millis(200)), LiveEvent::NoFrame);
    }

    let _server = RtspServer::start(port, &[], &[("gate", &video)]).expect("RTSP server");
    let back = wait_for_frame(&mut live, &mut frame, Duration::from_secs(10)).expect("frames again");
    assert!(back < Duration::from_secs(5), "reconnected {back:?} after the server returned");
    assert_eq!(live.connections(), 2);
}

#[test]
fn an_unreachable_camera_is_down_with_the_reason_not_an_error() {
    // Port 9 on loopback: nothing listens there.
    let url = SourceUrl::parse("rtsp://127.0.0.1:9/nothing").expect("url");
    let mut live = LiveSource::new(url, SourceOptions::default(), LiveConfig::default());
    let mut frame = BgrImage::default();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert_eq!(live.next(&mut frame, Duration::from_millis(300)), LiveEvent::NoFrame);
    }
    match live.state() {
        LinkState::Down { reason, .. } => assert!(!reason.is_empty(), "a reason is given"),
        LinkState::Up => panic!("cannot be up"),
    }
}

#[test]
fn an_address_with_no_video_is_down_saying_so() {
    // An RTSP server that answers, with an audio stream and no video: a
    // microphone or an intercom's address typed in place of a camera's.
    let server = RtspServer::start(0, &[], &[("tone", Path::new("@tone"))]).expect("RTSP server");
    let url = SourceUrl::parse(&server.urls[0]).expect("url");
    let mut live = LiveSource::new(url, SourceOptions::default(), LiveConfig::default());
    let mut frame = BgrImage::default();
    let start = Instant::now();
    let reason = loop {
        assert_eq!(live.next(&mut frame, Duration::from_millis(200)), LiveEvent::NoFrame);
        if let LinkState::Down { reason, .. } = live.state()
            && reason.contains("no video")
        {
            break reason.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no clear reason: {:?}", live.state());
    };
    // Said at once, not after the frozen-camera watchdog (3 s).
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    assert!(reason.contains("audio"), "says what it carries: {reason}");
    assert_eq!(live.connections(), 0);
}

#[test]
fn a_camera_with_a_microphone_is_decoded_from_its_video_stream() {
    // Many IP cameras have a microphone; the server lists its audio stream
    // first. The video must reach the decoder (rtspsrc exposes streams in the
    // order their first packets arrive, so which one comes first varies; the
    // source links by media type, never "the first pad"), and the audio must
    // not stall the session.
    let video = common::fixtures_root().join("s08_empty_gate_720p/video.mp4");
    let server =
        RtspServer::start(0, &[], &[("gate", Path::new(&format!("{}+mic", video.display())))]).expect("RTSP server");
    let url = SourceUrl::parse(&server.urls[0]).expect("url");
    let mut live = LiveSource::new(url, SourceOptions::default(), LiveConfig::default());
    let mut frame = BgrImage::default();
    let first = wait_for_frame(&mut live, &mut frame, Duration::from_secs(10));
    assert!(first.is_some(), "no video frame from a camera with audio: {:?}", live.state());
    assert_eq!((frame.width(), frame.height()), (1280, 720));
    let mut frames = 1;
    while frames < 25 && wait_for_frame(&mut live, &mut frame, Duration::from_secs(2)).is_some() {
        frames += 1;
    }
    assert_eq!(frames, 25, "video keeps flowing beside the audio");
}

/// Frames a slow consumer misses are counted as dropped, exactly (up to the
/// two the queue holds); a consumer that keeps up drops none, whatever the
/// stream's timestamps do (RTSP jitter, two frames on one timestamp).
#[test]
fn frames_dropped_while_recognition_is_busy_are_counted_and_none_when_it_keeps_up() {
    let video = common::fixtures_root().join("s08_empty_gate_720p/video.mp4");
    let server = RtspServer::start(0, &[], &[("fast", &video), ("slow", &video)]).expect("RTSP server");
    let mut frame = BgrImage::default();
    let mut watch = |url: &str, pause: Duration| {
        let mut live =
            LiveSource::new(SourceUrl::parse(url).expect("url"), SourceOptions::default(), LiveConfig::default());
        wait_for_frame(&mut live, &mut frame, Duration::from_secs(10)).expect("first frame");
        let (start, mut pulled) = (Instant::now(), 0u64);
        while start.elapsed() < Duration::from_secs(4) {
            if live.next(&mut frame, Duration::from_millis(200)) == LiveEvent::Frame {
                pulled += 1;
                std::thread::sleep(pause);
            }
        }
        (pulled, live.dropped())
    };
    let (pulled, dropped) = watch(&server.urls[0], Duration::ZERO);
    assert!(pulled >= 90, "a consumer that keeps up gets the stream's 25 fps: {pulled} in 4 s");
    assert_eq!(dropped, 0, "nothing dropped while keeping up");
    // Taking 120 ms a frame: about 8 of 25 frames a second are taken, the rest dropped.
    let (pulled, dropped) = watch(&server.urls[1], Duration::from_millis(120));
    assert!(pulled <= 40, "{pulled}");
    assert!((50..=80).contains(&dropped), "{dropped} dropped of ≈ 100 sent while {pulled} were taken");
}
