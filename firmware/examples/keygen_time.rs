//! Measures `KeyGenerate` on the virtual device: wall time per key and the number of modular
//! exponentiations and multiplications the engine asked the RSA accelerator for, which is what
//! the ESP32-C3 estimate in docs/keys.md ("Timing") multiplies by the accelerator's time.
//!
//! `cargo run --release -p ucrypto-firmware --features software --example keygen_time -- BITS N`
use std::time::Instant;

use ucrypto_firmware::backend::software::{Seed, SoftwareBackend};
use ucrypto_firmware::backend::{AesKey, KeyHardware, Modulus};
use ucrypto_firmware::{Backend, BackendError, Engine};
use ucrypto_protocol::{
    encode_frame, Chip, Entropy, FrameDecoder, HashAlg, Request, RequestBody, Response,
    ResponseBody, MAX_FRAME_LEN, MAX_WIRE_FRAME_LEN,
};

/// The software backend, counting accelerator operations by operand size (words).
struct Counting {
    inner: SoftwareBackend,
    exp: [u32; 129],
    mul: [u32; 129],
}

impl Backend for Counting {
    fn chip(&self) -> Chip {
        self.inner.chip()
    }
    fn device_id(&self) -> [u8; 6] {
        self.inner.device_id()
    }
    fn is_virtual(&self) -> bool {
        true
    }
    fn entropy(&self) -> Entropy {
        self.inner.entropy()
    }
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        self.inner.fill_random(out)
    }
    fn aes_encrypt_block(&mut self, k: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.inner.aes_encrypt_block(k, b)
    }
    fn aes_decrypt_block(&mut self, k: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.inner.aes_decrypt_block(k, b)
    }
    type ShaState = <SoftwareBackend as Backend>::ShaState;
    fn sha_start(&mut self, alg: HashAlg) -> Self::ShaState {
        self.inner.sha_start(alg)
    }
    fn sha_update(&mut self, s: &mut Self::ShaState, d: &[u8]) {
        self.inner.sha_update(s, d)
    }
    fn sha_finish(&mut self, s: Self::ShaState, out: &mut [u8; 32]) {
        self.inner.sha_finish(s, out)
    }
    fn rsa_mod_exp(
        &mut self,
        b: &[u32],
        e: &[u32],
        m: &Modulus<'_>,
        o: &mut [u32],
    ) -> Result<(), BackendError> {
        self.exp[m.words.len()] += 1;
        self.inner.rsa_mod_exp(b, e, m, o)
    }
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        m: &Modulus<'_>,
        o: &mut [u32],
    ) -> Result<(), BackendError> {
        self.mul[m.words.len()] += 1;
        self.inner.rsa_mod_mul(a, b, m, o)
    }
    fn key_hardware(&mut self) -> Option<&mut dyn KeyHardware> {
        self.inner.key_hardware()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bits: u16 = args.get(1).map_or(2048, |a| a.parse().expect("BITS"));
    let runs: u64 = args.get(2).map_or(20, |a| a.parse().expect("N"));
    let mut times = Vec::new();
    let (mut exps, mut muls) = (0u64, 0u64);
    for seed in 0..runs {
        let backend = Counting {
            inner: SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1000 + seed)),
            exp: [0; 129],
            mul: [0; 129],
        };
        let mut engine = Engine::new(backend);
        // Start from zero after the start-up self-tests.
        engine.backend_mut().exp = [0; 129];
        engine.backend_mut().mul = [0; 129];
        let request = Request {
            seq: 1,
            body: RequestBody::KeyGenerate { slot: 0, bits },
        };
        let mut scratch = vec![0u8; MAX_FRAME_LEN];
        let mut wire = vec![0u8; MAX_WIRE_FRAME_LEN];
        let frame = encode_frame(&request, &mut scratch, &mut wire)
            .unwrap()
            .to_vec();
        let start = Instant::now();
        let mut answer = Vec::new();
        engine.receive(&frame, |f| answer.extend_from_slice(f));
        times.push(start.elapsed().as_secs_f64());
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (_, body) = decoder.push(&answer);
        let response: Response = postcard::from_bytes(body.unwrap().unwrap()).unwrap();
        assert!(
            matches!(response.body, ResponseBody::PublicKey(_)),
            "{response:?}"
        );
        let half = usize::from(bits) / 64;
        exps += u64::from(engine.backend().exp[half]);
        muls += u64::from(engine.backend().mul[half]);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{bits}-bit keys, {runs} runs: median {:.3} s, mean {:.3} s, min {:.3} s, max {:.3} s; \
         per key {:.1} exponentiations and {:.1} multiplications of {}-bit operands",
        times[times.len() / 2],
        mean,
        times[0],
        times[times.len() - 1],
        exps as f64 / runs as f64,
        muls as f64 / runs as f64,
        bits / 2
    );
}
