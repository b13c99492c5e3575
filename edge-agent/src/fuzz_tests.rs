//! Fuzzing of the agent's configuration loader with seeds in
//! `fuzz/corpus/agent_config/` (`FUZZ_CASES` cases): any text gives a
//! configuration or an error naming the problem, never a panic.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use proptest::prelude::*;

use crate::config::Config;

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn agent_configuration(text in mutate::text_inputs("agent_config")) {
        if let Err(e) = Config::parse(&text, "fuzz.toml") {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn the_seed_configurations_are_valid() {
    for seed in mutate::corpus("agent_config") {
        Config::parse(&String::from_utf8_lossy(&seed), "seed.toml").expect("seed parses");
    }
}
