//! Fuzzing of what the admin API parses from outside: CCCD numbers, the card
//! QR text and uploaded photos. Seeds in `fuzz/corpus/`, mutated by
//! proptest (`FUZZ_CASES` cases per target): nothing may panic, and a photo
//! claiming huge dimensions is refused before anything is allocated for it.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use proptest::prelude::*;

use crate::cccd::{self, Date};
use crate::people::decode_photo;

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
    let valid = seeds("qr").into_iter().filter(|q| cccd::parse_qr(&String::from_utf8_lossy(q), TODAY).is_ok()).count();
    assert_eq!(valid, 2, "the two valid QR seeds parse");
    let photo = |name: &str| std::fs::read(format!("{}/../fuzz/corpus/photo/{name}", env!("CARGO_MANIFEST_DIR")));
    assert!(decode_photo(&photo("tiny.jpg").expect("seed")).is_ok());
    let huge = decode_photo(&photo("huge_dimensions.jpg").expect("seed")).expect_err("refused");
    assert!(huge.contains("65000×65000"), "{huge}");
}
