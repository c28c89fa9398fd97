//! Rebuilds when a locale file changes: rust-i18n embeds `locales/` at compile time
//! but does not tell cargo to watch it.

fn main() {
    println!("cargo:rerun-if-changed=locales");
}
