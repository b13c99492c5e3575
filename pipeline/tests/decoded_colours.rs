//! Colours come out of the decoder as the stream says they were written:
//! an untagged stream as BT.601, a BT.709-tagged one (the usual HD tag) as
//! BT.709, and a full-range one (common on IP cameras) without clipping its
//! darkest and brightest codes. Odd frame sizes decode too.

use std::path::{Path, PathBuf};
use std::process::Command;

use pipeline::eval::replay::{ReplayError, for_each_frame};
use pipeline::vision::frame::BgrImage;

/// Encodes 3 frames of one colour (`lavfi` colour `colour`) with `args`
/// (filters and tags) into `dir/name.mp4`.
fn encode(dir: &Path, name: &str, colour: &str, size: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.mp4"));
    let source = format!("color=c={colour}:size={size}:rate=10");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", &source, "-frames:v", "3"])
        .args(args)
        .args(["-c:v", "libx264", "-preset", "ultrafast"])
        .arg(&out)
        .output()
        .expect("ffmpeg (make setup)");
    assert!(status.status.success(), "ffmpeg {name}: {}", String::from_utf8_lossy(&status.stderr));
    out
}

/// The first frame's centre pixel, BGR.
fn centre(video: &Path) -> (usize, usize, [u8; 3]) {
    let mut first: Option<BgrImage> = None;
    for_each_frame(video, |f, _, _| {
        first.get_or_insert_with(|| f.clone());
        Ok::<(), ReplayError>(())
    })
    .expect("decodes");
    let f = first.expect("a frame");
    let (w, h) = (f.width(), f.height());
    let i = ((h / 2) * w + w / 2) * 3;
    (w, h, [f.data()[i], f.data()[i + 1], f.data()[i + 2]])
}

fn near(got: [u8; 3], want: [u8; 3], what: &str) {
    assert!(got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 6), "{what}: got BGR {got:?}, want {want:?}");
}

#[test]
fn each_stream_is_read_with_the_colour_it_was_written_in() {
    let dir = std::env::temp_dir().join(format!("gatewatch-colours-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pix = ["-pix_fmt", "yuv420p"];

    // Untagged, written as BT.601 limited (ffmpeg's default, and our fixtures').
    let untagged = encode(&dir, "untagged", "red", "64x48", &pix);
    near(centre(&untagged).2, [0, 0, 255], "untagged red");
    // At HD sizes too, where GStreamer would assume BT.709 (green would be about 24).
    near(centre(&encode(&dir, "untagged_hd", "red", "1280x720", &pix)).2, [0, 0, 255], "untagged HD red");

    // BT.709, tagged: read as BT.601 it would be a duller red (about 233).
    let bt709 = [
        &pix[..],
        &["-vf", "scale=out_color_matrix=bt709", "-colorspace", "bt709", "-color_primaries", "bt709"],
        &["-color_trc", "bt709"],
    ]
    .concat();
    near(centre(&encode(&dir, "bt709", "red", "64x48", &bt709)).2, [0, 0, 255], "BT.709 red");

    // Full range: a dark grey of 40 stays 40 (read as limited range it would be 28).
    let full = [&pix[..], &["-vf", "scale=out_range=pc", "-color_range", "pc"]].concat();
    near(centre(&encode(&dir, "full", "0x282828", "64x48", &full)).2, [40, 40, 40], "full-range dark grey");

    // An odd size decodes to that size, in the right colour (4:4:4, as 4:2:0
    // cannot be encoded at odd sizes; GStreamer hands it on as I420).
    let odd = ["-vf", "scale=63:47", "-pix_fmt", "yuv444p"];
    let (w, h, px) = centre(&encode(&dir, "odd", "blue", "64x48", &odd));
    assert_eq!((w, h), (63, 47));
    near(px, [255, 0, 0], "odd-sized blue");
    let _ = std::fs::remove_dir_all(&dir);
}
