//! Fuzzing of what the admin API parses from outside: CCCD numbers, the card
//! QR text, uploaded photos and agents' event batches (through ingest's checks). Seeds in `fuzz/corpus/`, mutated by
//! proptest (`FUZZ_CASES` cases per target): nothing may panic, and a photo
//! claiming huge dimensions is refused before anything is allocated for it.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use proptest::prelude::*;

use wire::events::{Event, EventBody, MAX_BATCH_EVENTS, MAX_CROP_BYTES};

use crate::auth::Agent;
use crate::cccd::{self, Date};
use crate::people::decode_photo;
use crate::routes::events::{check_batch, decode_crops};

const TODAY: Date = Date { year: 2026, month: 11, day: 22 };

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn cccd_numbers(number in mutate::text_inputs("cccd")) {
        let _ = cccd::validate(&number, None);
        let _ = cccd::validate(&number, Date::new(1990, 1, 1));
    }

    #[test]
    fn card_qr_text(text in mutate::text_inputs("qr")) {
        let _ = cccd::parse_qr(&text, TODAY);
    }

    #[test]
    fn event_batches(bytes in mutate::inputs("event_batch")) {
        // What ingest lets through to the database: the checks it runs on a
        // batch from agent-1 at s1 (the seeds' agent), then its crops.
        let agent = Agent { id: "agent-1".into(), site: "s1".into() };
        if let Ok(events) = serde_json::from_slice::<Vec<Event>>(&bytes)
            && check_batch(&agent, &events).is_ok()
        {
            prop_assert!(events.len() <= MAX_BATCH_EVENTS);
            for e in &events {
                prop_assert!(uuid::Uuid::parse_str(&e.id).is_ok(), "{:?}", e.id);
                prop_assert!(e.agent == "agent-1" && e.site == "s1");
                if let EventBody::Anomaly(a) = &e.body {
                    prop_assert!(!a.kind.raised_centrally());
                }
            }
            if let Ok(crops) = decode_crops(&events) {
                prop_assert_eq!(crops.len(), events.iter().filter(|e| e.face_jpeg_b64().is_some()).count());
                for (_, jpeg) in crops {
                    prop_assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) && jpeg.len() <= MAX_CROP_BYTES);
                }
            }
        }
    }

    #[test]
    fn uploaded_photos(bytes in mutate::inputs("photo")) {
        if let Ok(image) = decode_photo(&bytes) {
            prop_assert!(image.width() * image.height() <= 40_000_000);
        }
    }
}

#[test]
fn the_corpus_parses_as_its_names_say() {
    let seeds = |t| mutate::corpus(t);
    assert_eq!(seeds("cccd").len(), 7);
    // The batch seeds pass ingest's checks, so mutations start from accepted batches.
    let agent = Agent { id: "agent-1".into(), site: "s1".into() };
    let batches = seeds("event_batch");
    assert_eq!(batches.len(), 2);
    for seed in batches {
        let events: Vec<Event> = serde_json::from_slice(&seed).expect("a batch seed decodes");
        assert!(check_batch(&agent, &events).is_ok() && decode_crops(&events).is_ok());
    }
    let valid = seeds("qr").into_iter().filter(|q| cccd::parse_qr(&String::from_utf8_lossy(q), TODAY).is_ok()).count();
    assert_eq!(valid, 2, "the two valid QR seeds parse");
    let photo = |name: &str| std::fs::read(format!("{}/../fuzz/corpus/photo/{name}", env!("CARGO_MANIFEST_DIR")));
    assert!(decode_photo(&photo("tiny.jpg").expect("seed")).is_ok());
    let huge = decode_photo(&photo("huge_dimensions.jpg").expect("seed")).expect_err("refused");
    assert!(huge.contains("65000×65000"), "{huge}");
}
