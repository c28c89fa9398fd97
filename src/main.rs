//! The smm-storefront binary: parses the command line, loads configuration, hands over to the library.

use std::process::ExitCode;

use smm_storefront::{app, config::Config};

const USAGE: &str =
    "usage: smm-storefront [run | check | sandbox --port N | backup FILE | restore FILE]";

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match words.as_slice() {
        [] | ["run"] => with_config(|cfg| runtime.block_on(app::run(cfg))),
        ["check"] => with_config(|cfg| runtime.block_on(app::check(cfg))),
        ["sandbox"] => runtime.block_on(app::sandbox(8088)),
        ["sandbox", "--port", port] => match port.parse::<u16>() {
            Ok(p) => runtime.block_on(app::sandbox(p)),
            Err(_) => usage_error("--port takes a port number from 0 to 65535"),
        },
        ["backup", file] => with_data_dir(|dir| runtime.block_on(app::backup(dir, file.as_ref()))),
        ["restore", file] => {
            with_data_dir(|dir| runtime.block_on(app::restore(dir, file.as_ref())))
        }
        ["-h"] | ["--help"] | ["help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        ["-V"] | ["--version"] => {
            println!("smm-storefront {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => usage_error("unknown command"),
    }
}

fn init_logging() {
    let mut builder = pretty_env_logger::formatted_timed_builder();
    builder.parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()));
    // Request-level logs of HTTP crates could include URLs with tokens; keep them quiet.
    builder.filter_module("reqwest", log::LevelFilter::Warn);
    builder.filter_module("hyper", log::LevelFilter::Warn);
    let _ = builder.try_init();
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("{why}\n{USAGE}");
    ExitCode::from(2)
}

/// Loads the configuration, or prints the one line that says what is wrong and exits with 2.
fn with_config(f: impl FnOnce(Config) -> ExitCode) -> ExitCode {
    match Config::from_env() {
        Ok(cfg) => f(cfg),
        Err(e) => {
            eprintln!("configuration error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Backup and restore need only the data folder, not a bot token.
fn with_data_dir(f: impl FnOnce(&std::path::Path) -> ExitCode) -> ExitCode {
    let _ = dotenvy::dotenv();
    let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "./data".to_string());
    f(std::path::Path::new(&dir))
}
