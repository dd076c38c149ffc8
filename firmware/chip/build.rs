fn main() {
    // esp-hal's build script puts linkall.x (and the chip's memory map) on the link search path;
    // the binary must ask for it. Here rather than in .cargo/config.toml's rustflags, which a
    // RUSTFLAGS environment variable (as CI sets) would silently replace.
    println!("cargo:rustc-link-arg-bins=-Tlinkall.x");
}
