//! The binary's command line: configuration errors, usage.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smm-storefront"));
    c.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        c.env("PATH", path);
    }
    // An empty folder: no .env is picked up.
    c.current_dir(std::env::temp_dir());
    c
}

#[test]
fn missing_token_prints_one_line_and_exits_2() {
    let out = bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("TELOXIDE_TOKEN"), "{err}");
}

#[test]
fn malformed_value_names_the_variable_and_hides_secrets() {
    let out = bin()
        .env(
            "TELOXIDE_TOKEN",
            "1234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        )
        .env("IACAFE_API_KEY", "ak_test_topsecretvalue")
        .env("ADMIN_IDS", "12,abc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ADMIN_IDS"), "{err}");
    assert!(
        !err.contains("topsecret") && !err.contains("AAHdq"),
        "{err}"
    );
}

#[test]
fn unknown_command_shows_usage() {
    let out = bin().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}
