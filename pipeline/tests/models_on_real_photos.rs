//! Both models, loaded through ONNX Runtime, on real photos.

mod common;

use opencv::core::Size;
use opencv::imgproc;
use opencv::prelude::*;
use pipeline::vision::detect::{Detection, Detector, DetectorConfig};
use pipeline::vision::embed::Embedder;
use pipeline::vision::frame::BgrImage;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use wire::Embedding;

fn models() -> Models {
    Models::in_dir(&common::repo().join("models")).expect("models installed (run `make models`)")
}

fn single_face(det: &mut Detector, img: &BgrImage) -> Detection {
    let faces = det.detect(img).expect("detect");
    assert_eq!(faces.len(), 1, "expected exactly one face, got {faces:?}");
    faces[0]
}

fn embed_photo(det: &mut Detector, emb: &mut Embedder, img: &BgrImage) -> Embedding {
    let face = single_face(det, img);
    emb.embed_face(img, &face.landmarks).expect("embed")
}

#[test]
fn manifest_hashes_match_the_installed_models() {
    let m = models();
    m.detector.verify().expect("detector hash");
    m.recogniser.verify().expect("recogniser hash");
}

#[test]
fn yunet_finds_the_face_and_its_five_landmarks_as_opencv_does() {
    let m = models();
    let cfg = DetectorConfig { input_size: 512, ..Default::default() };
    let mut det = Detector::new(&m.detector, cfg, Threads::default()).expect("detector");
    let img = BgrImage::open(&common::media("portrait_m7.jpg")).expect("photo");
    let face = single_face(&mut det, &img);
    // Reference: OpenCV 5.0 cv2.FaceDetectorYN on the same file, same model, input 512×512.
    let expected_box = [46.56, 146.74, 225.25, 321.60];
    let expected_lm = [[73.32, 256.58], [157.49, 264.95], [79.25, 317.61], [79.85, 381.83], [146.77, 385.86]];
    let got_box = [face.bbox.x, face.bbox.y, face.bbox.w, face.bbox.h];
    for (g, e) in got_box.iter().zip(expected_box) {
        assert!((g - e).abs() < 1.5, "box {got_box:?} vs OpenCV {expected_box:?}");
    }
    for (g, e) in face.landmarks.iter().zip(expected_lm) {
        assert!(
            (g[0] - e[0]).abs() < 1.5 && (g[1] - e[1]).abs() < 1.5,
            "landmarks {:?} vs OpenCV {expected_lm:?}",
            face.landmarks
        );
    }
    assert!((face.score - 0.93).abs() < 0.01, "score {}", face.score);
    // Anatomy: the right eye (image left) is left of the left eye, eyes above nose above mouth.
    let [re, le, nose, rm, lm] = face.landmarks;
    assert!(re[0] < le[0] && rm[0] < lm[0]);
    assert!(re[1].max(le[1]) < nose[1] && nose[1] < rm[1].min(lm[1]));
}

#[test]
fn a_photo_without_a_face_yields_no_detection() {
    let m = models();
    let mut det = Detector::new(&m.detector, DetectorConfig::default(), Threads::default()).expect("detector");
    let mut img = BgrImage::new(640, 480);
    for (i, b) in img.data_mut().iter_mut().enumerate() {
        *b = ((i * 31) % 251) as u8; // texture, no face
    }
    assert!(det.detect(&img).expect("detect").is_empty());
}

fn brighter(img: &BgrImage, gain: f32) -> BgrImage {
    let mut out = img.clone();
    for b in out.data_mut() {
        *b = (*b as f32 * gain).min(255.0) as u8;
    }
    out
}

fn rescaled(img: &BgrImage, factor: f64) -> BgrImage {
    let src = img.as_mat().expect("mat");
    let mut dst = Mat::default();
    let size = Size::new((img.width() as f64 * factor) as i32, (img.height() as f64 * factor) as i32);
    imgproc::resize(&src, &mut dst, size, 0.0, 0.0, imgproc::INTER_AREA).expect("resize");
    BgrImage::from_raw(size.width as usize, size.height as usize, dst.data_bytes().expect("bytes").to_vec())
        .expect("image")
}

fn shifted(img: &BgrImage, dx: usize, dy: usize) -> BgrImage {
    let (w, h) = (img.width() - dx, img.height() - dy);
    let mut out = BgrImage::new(w, h);
    for y in 0..h {
        let src = &img.data()[((y + dy) * img.width() + dx) * 3..((y + dy) * img.width() + dx + w) * 3];
        out.data_mut()[y * w * 3..(y + 1) * w * 3].copy_from_slice(src);
    }
    out
}

#[test]
fn same_person_under_small_changes_is_similar_and_different_people_are_not() {
    let m = models();
    let mut det = Detector::new(&m.detector, DetectorConfig::default(), Threads::default()).expect("detector");
    let mut emb = Embedder::new(&m.recogniser, Threads::default()).expect("embedder");

    let people = [
        "portrait_m7.jpg",
        "portrait_f13.jpg",
        "portrait_f15.jpg",
        "portrait_f1.jpg",
        "lenna.png",
        "single_face_jpg.jpg",
    ];
    let mut originals = Vec::new();
    for name in people {
        let img = BgrImage::open(&common::media(name)).expect("photo");
        let e = embed_photo(&mut det, &mut emb, &img);
        let variants = [
            ("brighter", brighter(&img, 1.25)),
            ("darker", brighter(&img, 0.7)),
            ("scaled to 70%", rescaled(&img, 0.7)),
            ("shifted", shifted(&img, 17, 11)),
            ("jpeg q35", BgrImage::decode(&img.to_jpeg(35).expect("jpeg")).expect("decode")),
        ];
        for (what, v) in variants {
            let cos = e.cosine(&embed_photo(&mut det, &mut emb, &v));
            assert!(cos >= 0.8, "{name} {what}: cosine {cos:.3} < 0.8");
        }
        originals.push((name, e));
    }
    for (i, (a, ea)) in originals.iter().enumerate() {
        for (b, eb) in &originals[i + 1..] {
            let cos = ea.cosine(eb);
            assert!(cos <= 0.5, "{a} vs {b}: different people have cosine {cos:.3} > 0.5");
        }
    }
}
