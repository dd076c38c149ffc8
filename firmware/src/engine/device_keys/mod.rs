//! Device keys: RSA keys generated on (or imported into) the device, kept as a Digital
//! Signature parameter block in flash under an eFuse key that software can no longer read, and
//! used through the DS peripheral (`KeyGenerate`, `KeyImport`, `PublicKey`, `SignSlot`,
//! `SignDigestSlot`, and the slot states in `Hello`).
use ucrypto_protocol::{
    EntropySource, ErrorCode, KeyOrigin, KeySlots, PublicKeyInfo, ResponseBody, RsaPrivateKey,
    SelfTest, SlotState, ANY_SLOT, KEY_SLOTS, MAX_CHUNK_LEN, MIN_RSA_BITS,
};
use zeroize::Zeroize;

use super::outcome::{refuse_after_failed_self_test, rng_refusal, Outcome, Refusal, Relies};
use super::rsa::bigint;
use super::rsa::emsa;
use super::rsa::montgomery::MontModulus;
use super::rsa::{self, MAX_WORDS};
use crate::backend::key_hardware::{DsBlock, DsError, KEY_WORDS};
use crate::{Backend, BackendError, ChipProfile};

pub(crate) mod certificate;
mod ds_block;
mod efuse;
pub(crate) mod generate;
mod record;
mod refusals;
mod security;
mod spki;

pub(crate) use security::{lock, read as security_state, refuse_if_locked};

use efuse::BlockState;
use record::SlotRecord;
use refusals::NO_KEYS;

/// The largest DS modulus of the backend's chip, when the backend drives device keys.
fn ds_max_bits<B: Backend>(backend: &mut B) -> Option<u16> {
    let bits = ChipProfile::of(backend.chip()).ds_max_bits?;
    backend.key_hardware().map(|_| bits)
}

/// Whether device keys are served on `backend`.
pub(crate) fn available<B: Backend>(backend: &mut B) -> bool {
    ds_max_bits(backend).is_some()
}

/// What one slot holds; its record is left in `record` when it is a DS key.
fn slot_state<B: Backend>(backend: &mut B, slot: u8, record: &mut SlotRecord) -> SlotState {
    let Some(max_bits) = ds_max_bits(backend) else {
        return SlotState::BurnIncomplete;
    };
    let Some(hw) = backend.key_hardware() else {
        return SlotState::BurnIncomplete;
    };
    let block0 = hw.efuse_block0();
    let key = hw.efuse_key(slot);
    match efuse::block_state(&block0, &key, slot) {
        BlockState::Empty => SlotState::Free,
        BlockState::OtherPurpose(purpose) => SlotState::OtherPurpose { purpose },
        BlockState::Partial => SlotState::BurnIncomplete,
        state @ (BlockState::DsKey | BlockState::DsKeyReadable) => {
            let readable = state == BlockState::DsKeyReadable;
            let c_len = c_len(max_bits);
            match record::read(hw, slot, c_len, record) {
                Ok(true) if spki::decode(record.spki()).is_some() => {
                    let mut h = backend.sha256_start();
                    backend.sha256_update(&mut h, record.spki());
                    SlotState::DsKey {
                        bits: record.bits,
                        spki_sha256: backend.sha256_finish(h),
                        origin: record.origin,
                        readable,
                    }
                }
                // A readable key without a record is a burn of ours that lost its read
                // protection, not a development burn.
                _ if readable => SlotState::BurnIncomplete,
                _ => SlotState::RecordMissing,
            }
        }
    }
}

/// The ciphertext length of a DS block for a chip whose largest modulus is `max_bits`.
fn c_len(max_bits: u16) -> usize {
    3 * usize::from(max_bits) / 8 + 32 + 8 + 8
}

/// The slot states for `Hello`, or `None` without device keys.
pub(crate) fn slots<B: Backend>(backend: &mut B) -> Option<KeySlots> {
    if !available(backend) {
        return None;
    }
    let mut record = SlotRecord::new();
    let mut states = [SlotState::Free; KEY_SLOTS];
    for (slot, state) in states.iter_mut().enumerate() {
        *state = slot_state(backend, slot as u8, &mut record);
    }
    Some(states)
}

/// Slots below this are never taken for `ANY_SLOT`: `KEY0` and `KEY1` are where ESP-IDF's
/// Secure Boot v2 digests and the flash-encryption key usually go (docs/security.md), so a device
/// key lands there only when the host names the slot.
const FIRST_ANY_SLOT: u8 = 2;

/// The slot to store a new key in: `slot` if free, or for `ANY_SLOT` the highest free one of
/// `KEY2`..`KEY5`.
fn free_slot<B: Backend>(backend: &mut B, slot: u8) -> Result<u8, Refusal> {
    let mut record = SlotRecord::new();
    if slot == ANY_SLOT {
        return (FIRST_ANY_SLOT..KEY_SLOTS as u8)
            .rev()
            .find(|&s| slot_state(backend, s, &mut record) == SlotState::Free)
            .ok_or((
                ErrorCode::NoFreeKeyBlock,
                "no free eFuse key block in slots 2 to 5 (slots 0 and 1 are taken only when named)",
            ));
    }
    check_slot(slot)?;
    match slot_state(backend, slot, &mut record) {
        SlotState::Free => Ok(slot),
        SlotState::DsKey { .. } => Err((
            ErrorCode::SlotUsed,
            "the slot already holds a device key: pick a free slot",
        )),
        SlotState::OtherPurpose { .. } => Err((
            ErrorCode::SlotUsed,
            "the slot's eFuse block holds a key of another purpose: pick a free slot",
        )),
        _ => Err((
            ErrorCode::SlotUsed,
            "the slot's eFuse block is partly burned and cannot be used: pick a free slot",
        )),
    }
}

fn check_slot(slot: u8) -> Result<(), Refusal> {
    if usize::from(slot) < KEY_SLOTS {
        Ok(())
    } else {
        Err((ErrorCode::BadArgument, "slot must be 0 to 5"))
    }
}

/// `bits` a DS key may have: what ESP-IDF's `esp_ds_start_sign` accepts, up to the chip's
/// largest.
fn ds_size_ok(bits: usize, max_bits: u16) -> bool {
    matches!(bits, 1024 | 2048 | 3072 | 4096) && bits <= usize::from(max_bits)
}

/// The smallest device key: 2048 bits. A virtual device running from a fixed seed (tests only:
/// `ucrypto sim --seed`, `Seed::Fixed`) also takes 1024-bit keys, so tests stay quick; no chip
/// and no randomly seeded virtual device does.
fn min_device_key_bits<B: Backend>(backend: &B) -> usize {
    if backend.entropy().source == EntropySource::FixedSeed {
        usize::from(MIN_RSA_BITS)
    } else {
        2048
    }
}

const TOO_SMALL: Refusal = (
    ErrorCode::BadArgument,
    "device keys are at least 2048 bits (an identity key of 1024 bits is too weak)",
);

/// The refusals every request that stores a device key shares, in order: the lock, then the
/// eFuse state that would make the stored key unsafe or unreadable.
fn refuse_to_store<B: Backend>(backend: &mut B) -> Result<(), Refusal> {
    refuse_if_locked(backend)?;
    security::refuse_if_unsafe_to_store_keys(backend)
}

/// `KeyGenerate`.
pub(crate) fn generate<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    bits: u16,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let max_bits = ds_max_bits(backend).ok_or(NO_KEYS)?;
    refuse_to_store(backend)?;
    refuse_after_failed_self_test(self_test, Relies::DeviceKeysAndRng)?;
    if bits > max_bits {
        return Err((
            ErrorCode::Unsupported,
            "key larger than this chip's Digital Signature peripheral (3072 bits on the C3 and C6)",
        ));
    }
    if bits < MIN_RSA_BITS || !ds_size_ok(usize::from(bits), max_bits) {
        return Err((
            ErrorCode::BadArgument,
            "bits must be 1024, 2048, 3072 or 4096",
        ));
    }
    if usize::from(bits) < min_device_key_bits(backend) {
        return Err(TOO_SMALL);
    }
    let slot = free_slot(backend, slot)?;
    let mut key = generate::KeyNumbers::new();
    generate::generate(backend, usize::from(bits), &mut key).map_err(|e| {
        rng_refusal(
            e,
            (
                ErrorCode::SelfTestFailed,
                "the random number generator failed during key generation",
            ),
        )
    })?;
    let words = usize::from(bits) / 32;
    store(
        backend,
        slot,
        &key.n,
        &key.d[..words],
        generate::E,
        KeyOrigin::Generated,
        max_bits,
        out,
    )
}

/// `KeyImport`.
pub(crate) fn import<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    key: &RsaPrivateKey<'_>,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let max_bits = ds_max_bits(backend).ok_or(NO_KEYS)?;
    refuse_to_store(backend)?;
    // The eFuse key and IV come from the RNG: refused after its start-up test failed too.
    refuse_after_failed_self_test(self_test, Relies::DeviceKeysAndRng)?;
    if slot != ANY_SLOT {
        check_slot(slot)?;
    }
    check_before_burn(backend, key, max_bits)?;
    let mut e = [0u32; 2];
    if !bigint::from_be_bytes(key.e, &mut e) || e[1] != 0 {
        return Err((
            ErrorCode::Unsupported,
            "public exponents above 2^32 cannot be stored as a device key",
        ));
    }
    let mut n = MontModulus::new();
    bigint::from_be_bytes(key.n, &mut n.words);
    let words = bigint::word_len(&n.words);
    if !ds_size_ok(words * 32, max_bits) {
        return Err((
            ErrorCode::Unsupported,
            "the Digital Signature peripheral takes 1024, 2048, 3072 or 4096-bit keys",
        ));
    }
    if words * 32 < min_device_key_bits(backend) {
        return Err(TOO_SMALL);
    }
    let slot = free_slot(backend, slot)?;
    let mut tmp = [0u32; MAX_WORDS];
    n.compute(&mut tmp);
    // φ = n - p - q + 1.
    let mut phi = [0u32; MAX_WORDS];
    let mut prime = [0u32; MAX_WORDS];
    phi[..words].copy_from_slice(&n.words[..words]);
    for bytes in [key.p, key.q] {
        bigint::from_be_bytes(bytes, &mut prime);
        tmp[..words].copy_from_slice(&phi[..words]);
        bigint::sub_into(&mut phi[..words], &tmp[..words], &prime[..words]);
    }
    bigint::add_assign(&mut phi[..words], &[1]);
    let mut d = [0u32; MAX_WORDS];
    let coprime = generate::private_exponent(&phi[..words], e[0], &mut d[..words]);
    phi.zeroize();
    prime.zeroize();
    tmp.zeroize();
    if !coprime {
        d.zeroize();
        return Err((
            ErrorCode::BadArgument,
            "the public exponent is not coprime to (p-1)(q-1)",
        ));
    }
    let outcome = store(
        backend,
        slot,
        &n,
        &d[..words],
        e[0],
        KeyOrigin::Imported,
        max_bits,
        out,
    );
    d.zeroize();
    outcome
}

/// What an imported key must pass before anything is burned: the checks of a sent key (`p q = n`,
/// CRT values in range), `p` and `q` probable primes, and a test signature that verifies with
/// the public exponent (the CRT values belong to this key).
fn check_before_burn<B: Backend>(
    backend: &mut B,
    key: &RsaPrivateKey<'_>,
    max_bits: u16,
) -> Result<(), Refusal> {
    let k = rsa::check_private_key(key, max_bits)?;
    let mut prime = [0u32; MAX_WORDS];
    for bytes in [key.p, key.q] {
        bigint::from_be_bytes(bytes, &mut prime);
        let probable = generate::is_probable_prime(backend, &prime);
        prime.zeroize();
        match probable {
            Ok(true) => {}
            Ok(false) => {
                return Err((
                    ErrorCode::BadArgument,
                    "p or q is not prime: nothing was burned",
                ))
            }
            Err(BackendError::Unsupported) => return Err((
                ErrorCode::Unsupported,
                "p and q must each be at most half the largest modulus long: nothing was burned",
            )),
            Err(e) => {
                return Err(rng_refusal(
                    e,
                    (
                        ErrorCode::Internal,
                        "the prime check failed: nothing was burned",
                    ),
                ))
            }
        }
    }
    let mut signature = [0u8; 4 * MAX_WORDS];
    let signed = rsa::sign_digest(backend, key, &IMPORT_CHECK_DIGEST, max_bits, &mut signature);
    signature.zeroize();
    match signed {
        Ok(len) if len == k => Ok(()),
        _ => Err((
            ErrorCode::BadArgument,
            "the key does not sign (dp, dq or qinv do not belong to it): nothing was burned",
        )),
    }
}

/// SHA-256 of "ucrypto key import check", the digest an imported key signs before the burn.
const IMPORT_CHECK_DIGEST: [u8; 32] = [
    0x8b, 0xb5, 0x79, 0xc7, 0xd2, 0xbf, 0xa9, 0x14, 0xfc, 0x77, 0x6a, 0x43, 0x29, 0xc8, 0x32, 0xc1,
    0xb1, 0x8a, 0xad, 0x2f, 0x1c, 0xdd, 0x2b, 0x52, 0x9d, 0xea, 0xb8, 0x27, 0xca, 0x67, 0xa4, 0xad,
];

/// Builds the DS block of (`n`, `d`), burns a fresh eFuse key into `slot`, checks the burn with a
/// DS test signature, writes the record (with the key's `origin`) and answers the public key.
#[allow(clippy::too_many_arguments)]
fn store<'d, B: Backend>(
    backend: &mut B,
    slot: u8,
    n: &MontModulus,
    d: &[u32],
    e: u32,
    origin: KeyOrigin,
    max_bits: u16,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    const RNG_FAILED: Refusal = (
        ErrorCode::SelfTestFailed,
        "the random number generator failed",
    );
    let words = n.len;
    let mut k = [0u8; 32];
    let mut iv = [0u8; 16];
    backend
        .fill_random(&mut k)
        .and_then(|()| backend.fill_random(&mut iv))
        .map_err(|e| {
            k.zeroize();
            rng_refusal(e, RNG_FAILED)
        })?;
    let mut block = DsBlock::empty();
    ds_block::build(
        backend,
        &k,
        iv,
        &ds_block::DsNumbers {
            d,
            n: &n.words[..words],
            r_squared: &n.r_squared[..words],
            m_prime: n.m_prime,
        },
        max_bits,
        &mut block,
    );
    let mut k_words = [0u32; KEY_WORDS];
    for (w, chunk) in k_words.iter_mut().zip(k.chunks_exact(4)) {
        *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    k.zeroize();

    // The public key, kept as DER for the record.
    let k_len = words * 4;
    let n_bytes = &mut out[..k_len];
    if !bigint::to_be_bytes(&n.words[..words], n_bytes) {
        return Err((ErrorCode::Internal, "modulus encoding failed"));
    }
    let mut spki = [0u8; record::MAX_SPKI_LEN];
    let spki_len = spki::encode(n_bytes, &e.to_be_bytes(), &mut spki)
        .ok_or((ErrorCode::Internal, "public key encoding failed"))?;

    // The record must have room on erased flash before anything is burned.
    let hw = backend.key_hardware().ok_or(NO_KEYS)?;
    match record::room(hw, slot, record::record_len(block.c_len, spki_len)) {
        Ok(record::Room::Yes) => {}
        Ok(record::Room::SlotHasEntries) => return Err((
            ErrorCode::StorageFailed,
            "the esp_secure_cert partition already has entries for this slot (erase it to reuse the slot): nothing was burned",
        )),
        _ => return Err((
            ErrorCode::StorageFailed,
            "no erased room for the key record in the esp_secure_cert partition: nothing was burned",
        )),
    }

    // The burn: key block first, then purpose and protection in one BLOCK0 write.
    let burned = hw
        .efuse_program_key(slot, &k_words)
        .and_then(|()| hw.efuse_program_block0(&efuse::ds_burn_bits(slot)));
    k_words.zeroize();
    const BURN_FAILED: Refusal = (
        ErrorCode::BurnFailed,
        "the eFuse burn did not complete: the slot is lost (see key list)",
    );
    burned.map_err(|_| BURN_FAILED)?;
    let block0 = hw.efuse_block0();
    let read_back = hw.efuse_key(slot);
    if efuse::block_state(&block0, &read_back, slot) != BlockState::DsKey {
        return Err(BURN_FAILED);
    }

    // The DS peripheral must sign with the new block before the key is reported.
    let mut e_words = [0u32; MAX_WORDS];
    e_words[0] = e;
    let mut check = [0u8; 512];
    let mut digest = backend.sha256_start();
    backend.sha256_update(&mut digest, b"ucrypto device key check");
    let digest = backend.sha256_finish(digest);
    let sig_len = bigint::bit_len(&n.words[..words]).div_ceil(8);
    ds_sign_checked(
        backend,
        slot,
        &block,
        n,
        &e_words,
        &digest,
        &mut check[..sig_len],
    )
    .map_err(|_| {
        (
            ErrorCode::BurnFailed,
            "the burned key failed its test signature: the slot is lost",
        )
    })?;

    let hw = backend.key_hardware().ok_or(NO_KEYS)?;
    let bits = bigint::bit_len(&n.words[..words]) as u16;
    const STORE_FAILED: Refusal = (
        ErrorCode::StorageFailed,
        "writing the key record to flash failed: the slot's key is lost",
    );
    record::append(hw, slot, &block, bits, &spki[..spki_len], origin).map_err(|_| STORE_FAILED)?;
    let mut again = SlotRecord::new();
    match record::read(hw, slot, c_len(max_bits), &mut again) {
        Ok(true)
            if again.spki() == &spki[..spki_len]
                && again.block.c == block.c
                && again.origin == origin => {}
        _ => return Err(STORE_FAILED),
    }
    public_key_answer(slot, bits, &spki[..spki_len], out)
}

/// The `PublicKey` answer for `spki`, with `n` and `e` copied into `out`.
fn public_key_answer<'d>(
    slot: u8,
    bits: u16,
    spki: &[u8],
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let (n, e) = spki::decode(spki).ok_or((ErrorCode::Internal, "stored public key unreadable"))?;
    let (n_len, e_len) = (n.len(), e.len());
    out[..n_len].copy_from_slice(n);
    out[n_len..n_len + e_len].copy_from_slice(e);
    let (n, rest) = out.split_at(n_len);
    Ok(ResponseBody::PublicKey(PublicKeyInfo {
        slot,
        bits,
        n,
        e: &rest[..e_len],
    }))
}

/// `PublicKey`.
pub(crate) fn public_key<'d, B: Backend>(
    backend: &mut B,
    slot: u8,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    ds_max_bits(backend).ok_or(NO_KEYS)?;
    check_slot(slot)?;
    let mut record = SlotRecord::new();
    match slot_state(backend, slot, &mut record) {
        SlotState::DsKey { bits, .. } => public_key_answer(slot, bits, record.spki(), out),
        _ => Err(no_key()),
    }
}

fn no_key() -> Refusal {
    (ErrorCode::NoKey, "no device key in this slot: see key list")
}

/// `SignSlot` (after the hash) and `SignDigestSlot`.
pub(crate) fn sign_digest<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    digest: &[u8; 32],
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let k = sign_digest_into(backend, self_test, slot, digest, &mut out[..])?;
    Ok(ResponseBody::Signature { data: &out[..k] })
}

/// The slot's key as `Hello` reports it (`SlotState::DsKey`), or `NoKey`.
pub(crate) fn slot_key<B: Backend>(backend: &mut B, slot: u8) -> Result<SlotState, Refusal> {
    ds_max_bits(backend).ok_or(NO_KEYS)?;
    check_slot(slot)?;
    let mut record = SlotRecord::new();
    match slot_state(backend, slot, &mut record) {
        state @ SlotState::DsKey { .. } => Ok(state),
        _ => Err(no_key()),
    }
}

/// Signs `digest` with the slot's key into the start of `out` (at least the modulus's length);
/// returns the signature's length.
pub(crate) fn sign_digest_into<B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    digest: &[u8; 32],
    out: &mut [u8],
) -> Result<usize, Refusal> {
    let key = SlotKey::read(backend, self_test, slot)?;
    let k = key.len();
    if out.len() < k {
        return Err((ErrorCode::Internal, "no room for the signature"));
    }
    ds_sign_checked(
        backend,
        slot,
        &key.record.block,
        &key.n,
        &key.e,
        digest,
        &mut out[..k],
    )?;
    Ok(k)
}

/// RSADP with the device key in `slot` (the raw private operation of `DecryptSlot`): the
/// ciphertext (exactly as long as the modulus, and below it) through the DS peripheral, checked
/// with the public key, big-endian into `out`; returns the modulus length in bytes.
pub(crate) fn decrypt_raw<B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    ciphertext: &[u8],
    out: &mut [u8; MAX_CHUNK_LEN],
) -> Result<usize, Refusal> {
    let key = SlotKey::read(backend, self_test, slot)?;
    let k = key.len();
    let mut c = [0u32; MAX_WORDS];
    // The ciphertext is public: these checks may branch.
    if ciphertext.len() != k
        || !bigint::from_be_bytes(ciphertext, &mut c)
        || !bigint::less_than(&c[..key.n.len], &key.n.words[..key.n.len])
    {
        return Err(rsa::DECRYPT_FAILED);
    }
    ds_private_checked(
        backend,
        slot,
        &key.record.block,
        &key.n,
        &key.e,
        &c,
        &mut out[..k],
    )?;
    Ok(k)
}

/// The device key of one slot: its DS parameter block and its public key.
struct SlotKey {
    record: SlotRecord,
    n: MontModulus,
    e: [u32; MAX_WORDS],
}

impl SlotKey {
    /// The key in `slot`, when the device serves device keys and the slot holds one.
    fn read<B: Backend>(backend: &mut B, self_test: &SelfTest, slot: u8) -> Result<Self, Refusal> {
        ds_max_bits(backend).ok_or(NO_KEYS)?;
        refuse_after_failed_self_test(self_test, Relies::DeviceKeys)?;
        check_slot(slot)?;
        let mut record = SlotRecord::new();
        let SlotState::DsKey { .. } = slot_state(backend, slot, &mut record) else {
            return Err(no_key());
        };
        let (n_bytes, e_bytes) = spki::decode(record.spki())
            .ok_or((ErrorCode::Internal, "stored public key unreadable"))?;
        let mut n = MontModulus::new();
        let mut e = [0u32; MAX_WORDS];
        if !bigint::from_be_bytes(n_bytes, &mut n.words) || !bigint::from_be_bytes(e_bytes, &mut e)
        {
            return Err((ErrorCode::Internal, "stored public key too large"));
        }
        let mut tmp = [0u32; MAX_WORDS];
        n.compute(&mut tmp);
        Ok(Self { record, n, e })
    }

    /// The modulus length in bytes.
    fn len(&self) -> usize {
        bigint::bit_len(&self.n.words).div_ceil(8)
    }
}

/// Signs `digest` through the DS peripheral with `block` and checks the signature with the
/// public key (`n`, `e`) before writing it, big-endian, into `out` (the modulus's length in
/// bytes).
fn ds_sign_checked<B: Backend>(
    backend: &mut B,
    slot: u8,
    block: &DsBlock,
    n: &MontModulus,
    e: &[u32; MAX_WORDS],
    digest: &[u8; 32],
    out: &mut [u8],
) -> Result<(), Refusal> {
    let mut em = [0u32; MAX_WORDS];
    if !emsa::encode_sha256(digest, out) || !bigint::from_be_bytes(out, &mut em) {
        return Err((ErrorCode::Internal, "message encoding failed"));
    }
    ds_private_checked(backend, slot, block, n, e, &em, out)
}

/// `message ^ d mod n` through the DS peripheral with `block` (`message` below `n`, in words),
/// checked with the public key (`n`, `e`) before it is written, big-endian, into `out` (the
/// modulus's length in bytes).
fn ds_private_checked<B: Backend>(
    backend: &mut B,
    slot: u8,
    block: &DsBlock,
    n: &MontModulus,
    e: &[u32; MAX_WORDS],
    message: &[u32; MAX_WORDS],
    out: &mut [u8],
) -> Result<(), Refusal> {
    let words = n.len;
    let mut result = [0u32; MAX_WORDS];
    let hw = backend.key_hardware().ok_or(NO_KEYS)?;
    hw.ds_sign(slot, block, &message[..words], &mut result[..words])
        .map_err(|e| match e {
            DsError::Hardware => (ErrorCode::Internal, "the Digital Signature peripheral failed"),
            _ => (
                ErrorCode::DsFailed,
                "the Digital Signature peripheral refused the stored key (digest or padding): the record does not match the eFuse key",
            ),
        })?;
    // The fault guard: result^e mod n must give back the message.
    let mut recovered = [0u32; MAX_WORDS];
    let fault = (
        ErrorCode::FaultDetected,
        "the private operation failed its check with the public key: nothing released",
    );
    let checked = (|| {
        if !bigint::less_than(&result[..words], &n.words[..words]) {
            return Err(fault);
        }
        backend
            .rsa_mod_exp(
                &result[..words],
                &e[..words],
                &n.as_modulus(),
                &mut recovered[..words],
            )
            .map_err(|_| (ErrorCode::Internal, "the RSA accelerator failed"))?;
        if !bigint::equal(&recovered[..words], &message[..words]) {
            return Err(fault);
        }
        if !bigint::to_be_bytes(&result[..words], out) {
            return Err((ErrorCode::Internal, "result longer than the modulus"));
        }
        Ok(())
    })();
    result.zeroize();
    recovered.zeroize();
    checked
}

#[cfg(test)]
mod certificate_tests;
#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod tests;
