//! A panic inside the decoder becomes the file's error and prints nothing,
//! while a panic anywhere else still reaches the hook that was there
//! before. A test binary of its own: the panic hook is the process's.

#[allow(dead_code)] // this file uses only part of the shared builders
mod common;

use std::panic;
use std::path::Path;
use std::sync::{Arc, Mutex};

use mfcc_rs::audio::load_bytes;

#[test]
fn a_decoder_panic_is_the_files_error_and_reaches_no_hook() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let ear = heard.clone();
    panic::set_hook(Box::new(move |info| {
        ear.lock().unwrap().push(info.to_string());
    }));
    // Copied out: a failing assertion calls the hook, which takes the lock.
    let heard = move || heard.lock().unwrap().clone();

    let bytes = common::vorbis_panicking_on_setup();
    let err = load_bytes(bytes, Some("ogg"), Path::new("p.ogg"), Some(16000)).unwrap_err();
    // The message of a caught panic, and no other.
    assert_eq!(
        err.to_string(),
        "p.ogg: malformed audio data (the decoder gave up on it)"
    );
    assert_eq!(heard(), Vec::<String>::new());

    let outside = panic::catch_unwind(|| panic!("outside the decoder"));
    assert!(outside.is_err());
    let after = heard();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].contains("outside the decoder"), "{after:?}");
}
