//! Fails on request: a panic, an integer division by zero.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "faults",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

struct Faults;

impl Guest for Faults {
    fn panic_with(message: String) {
        panic!("{message}");
    }

    fn divide(a: u32, b: u32) -> u32 {
        a / b
    }

    fn ok() -> String {
        "still fine".to_owned()
    }
}

export!(Faults);
