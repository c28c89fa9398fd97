//! The smm-storefront binary: hands over to the library.

fn main() {}
