//! JSON-RPC over newline-delimited streams, shared by the server side (the
//! client's stdio) and the upstream side (a child's stdio): bounded line
//! reading, the sorting of what arrives, and writing a message as a line.

pub mod classify;
pub mod lines;
pub mod write;
