//! Fails on request: a panic, an integer division by zero, an endless loop, a memory bomb, deep
//! recursion.

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

    fn spin(rounds: u64) -> u64 {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..rounds {
            x = std::hint::black_box(x.rotate_left(5) ^ i).wrapping_mul(0x0100_0000_01b3);
        }
        x
    }

    fn forever() {
        let mut x: u64 = 1;
        loop {
            x = std::hint::black_box(x.wrapping_mul(3));
        }
    }

    fn allocate(mib: u32) -> u32 {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        for _ in 0..mib {
            blocks.push(vec![1u8; 1 << 20]);
        }
        std::hint::black_box(&blocks);
        blocks.len() as u32
    }

    fn recurse(depth: u64) -> u64 {
        if depth == 0 {
            return 0;
        }
        // Not a tail call: every frame stays on the stack.
        1 + std::hint::black_box(Self::recurse(std::hint::black_box(depth - 1)))
    }

    fn out_of_bounds() -> u32 {
        // Far beyond any linear memory this plugin can have: the access traps.
        let far = std::hint::black_box(0xffff_fff0usize) as *const u32;
        unsafe { std::ptr::read_volatile(far) }
    }
}

export!(Faults);
