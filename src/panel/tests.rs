//! HTTP behaviour of the client against a scripted loopback server.
