//! Echoes every kind of WIT value, so that the host's value conversions can be checked both ways.

use std::sync::atomic::{AtomicU32, Ordering};

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "types",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
    bitflags_path: "componentry_sdk::wit_bindgen::rt::bitflags",
});

use exports::componentry::test::echo::{Color, Guest as Echo, Perms, Point, Shape};

struct Types;

static CALLS: AtomicU32 = AtomicU32::new(0);

impl Guest for Types {
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }

    fn count() -> u32 {
        CALLS.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl Echo for Types {
    fn echo_bool(v: bool) -> bool {
        v
    }
    fn echo_s8(v: i8) -> i8 {
        v
    }
    fn echo_u8(v: u8) -> u8 {
        v
    }
    fn echo_s16(v: i16) -> i16 {
        v
    }
    fn echo_u16(v: u16) -> u16 {
        v
    }
    fn echo_s32(v: i32) -> i32 {
        v
    }
    fn echo_u32(v: u32) -> u32 {
        v
    }
    fn echo_s64(v: i64) -> i64 {
        v
    }
    fn echo_u64(v: u64) -> u64 {
        v
    }
    fn echo_f32(v: f32) -> f32 {
        v
    }
    fn echo_f64(v: f64) -> f64 {
        v
    }
    fn echo_char(v: char) -> char {
        v
    }
    fn echo_string(v: String) -> String {
        v
    }
    fn echo_list(v: Vec<u32>) -> Vec<u32> {
        v
    }
    fn echo_record(v: Point) -> Point {
        v
    }
    fn echo_tuple(v: (u8, String, bool)) -> (u8, String, bool) {
        v
    }
    fn echo_variant(v: Shape) -> Shape {
        v
    }
    fn echo_enum(v: Color) -> Color {
        v
    }
    fn echo_option(v: Option<String>) -> Option<String> {
        v
    }
    fn echo_result(v: Result<u32, String>) -> Result<u32, String> {
        v
    }
    fn echo_flags(v: Perms) -> Perms {
        v
    }
    fn echo_nested(v: Vec<Option<Point>>) -> Vec<Option<Point>> {
        v
    }
}

export!(Types);
