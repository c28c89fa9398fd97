//! Integration tests: whole conversations against the sandbox panel over loopback.
