//! JSON-RPC over newline-delimited streams, shared by the server side (the
//! client's stdio) and the upstream side (a child's stdio): bounded line
//! reading and the sorting of what arrives.

pub mod classify;
pub mod lines;
