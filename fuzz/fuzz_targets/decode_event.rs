//! Any bytes as an invocation payload: a decoded event or a clear error, never a panic, and every
//! error's excerpt bounded.
#![no_main]

use codedeploy_relink::domain::error::EXCERPT_CHARS;
use codedeploy_relink::domain::event::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match decode(&payload) {
        Ok(event) => {
            for item in event.items {
                if let Err(error) = item.notification {
                    assert!(error.excerpt.chars().count() <= EXCERPT_CHARS + 1);
                }
            }
        }
        Err(error) => assert!(error.excerpt.chars().count() <= EXCERPT_CHARS + 1),
    }
});
