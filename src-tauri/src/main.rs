//! The `gatehouse-tray` binary: everything is in the library (`run`).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    gatehouse_tray::run();
}
