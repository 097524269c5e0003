//! Any text as an SNS message, with or without a subject: a notification or a clear error, never
//! a panic; a deployment id that comes out is always one the API may be asked about.
#![no_main]

use codedeploy_relink::domain::event::{check_deployment_id, classify_message, Notification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (subject, message) = text
        .split_once('\u{1}')
        .map_or((None, text.as_ref()), |(s, m)| (Some(s), m));
    if let Ok(Notification::Deployment(deployment)) = classify_message(message, subject, "fuzz") {
        assert!(check_deployment_id(&deployment.deployment_id, "fuzz").is_ok());
    }
});
