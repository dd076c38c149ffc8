//! AES stream sessions (ECB, CBC, CFB8, CFB128, CTR): the RustCrypto mode crates chain blocks of
//! the backend's accelerator, or of software AES for key sizes the accelerator lacks.
//!
//! A session keeps only the key and the chaining state between chunks (the CBC/CFB register, the
//! CFB128 position inside a block, the stream position that seeks CTR), so a stream of any length
//! passes through fixed-size buffers.
//!
//! A chunk may also start where the stream has been before (protocol section 6): ECB and CTR
//! at any offset, CBC and CFB at one of the last [`MARKS`] offsets where a chunk ended, whose
//! chaining state the session remembers. A host that lost one answer on the line sends that chunk
//! again and keeps the answers after it, instead of the whole stream from there.
use aes::cipher::consts::{U1, U16};
use aes::cipher::generic_array::GenericArray;
use aes::cipher::inout::{InOut, InOutBuf};
use aes::cipher::{
    Block, BlockBackend, BlockCipher, BlockClosure, BlockDecrypt, BlockDecryptMut, BlockEncrypt,
    BlockEncryptMut, BlockSizeUser, InnerIvInit, IvState, KeyInit, ParBlocksSizeUser, StreamCipher,
    StreamCipherSeek,
};
use ctr::cipher::StreamCipherCoreWrapper;
use ucrypto_protocol::{
    AesDirection, AesMode, ErrorCode, ResponseBody, SelfTest, TestOutcome, MAX_CHUNK_LEN,
};
use zeroize::Zeroize;

use super::outcome::{refuse_after_failed_self_test, Outcome, Relies};
use super::session::{AesSession, AesUnit, Chaining, Mark, Session, SessionSlot, MARKS};
use crate::backend::AesKey;
use crate::{Backend, BackendError};

use super::session::BLOCK;

/// Opens an AES session, replacing this port's open session. The key is checked, and where the block
/// cipher will run is decided here: a key size the accelerator refuses runs in software.
pub(super) fn start<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    direction: AesDirection,
    mode: AesMode,
    key: &[u8],
    iv: Option<[u8; 16]>,
) -> Outcome<'d> {
    // A new start abandons whatever stream this port had open, even if the start itself fails;
    // another port's session is left alone (Busy).
    sessions.claim()?;
    refuse_after_failed_self_test(self_test, Relies::Aes)?;
    let key = AesKey::from_slice(key)
        .ok_or((ErrorCode::BadArgument, "the key must be 16, 24 or 32 bytes"))?;
    let iv = match (mode.needs_iv(), iv) {
        (true, Some(iv)) => iv,
        (true, None) => {
            return Err((
                ErrorCode::BadArgument,
                "CBC, CFB and CTR need a 16-byte IV (CTR: the initial counter block)",
            ))
        }
        (false, None) => [0; BLOCK],
        (false, Some(_)) => return Err((ErrorCode::BadArgument, "ECB takes no IV")),
    };
    let engine = select_engine(backend, &key)?;
    let mut chaining = Chaining {
        register: iv,
        block_pos: 0,
    };
    if mode == AesMode::Cfb128 {
        // cfb_mode's buffered state starts from the encrypted IV.
        let mut fault = None;
        let cipher = BlockEngine::new(engine, backend, &key, &mut fault);
        let (register, block_pos) = cfb128_start(cipher, direction, &iv);
        check(fault)?;
        chaining.register = register;
        chaining.block_pos = block_pos;
    }
    let mut session = AesSession {
        direction,
        mode,
        key,
        engine,
        chaining,
        position: 0,
        marks: [Mark::EMPTY; MARKS],
        marks_written: 0,
    };
    session.mark();
    let session = sessions.open(backend, Session::Aes(session))?;
    Ok(ResponseBody::SessionStarted { session })
}

/// Processes a chunk of session `id`. An error inside the session ends it (and wipes its key),
/// except `OutOfSequence`, which changes nothing: the host sends the chunk again where the
/// session can take it.
pub(super) fn data<'d, B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    out: &'d mut [u8; MAX_CHUNK_LEN],
    id: u32,
    offset: u64,
    data: &[u8],
) -> Outcome<'d> {
    let Some(Session::Aes(session)) = sessions.get(id) else {
        return Err((ErrorCode::NoSession, "no AES session with this id"));
    };
    let result = session.process(backend, offset, data, out);
    if matches!(result, Err((code, _)) if code != ErrorCode::OutOfSequence) {
        sessions.end(id);
    }
    let len = result?;
    Ok(ResponseBody::AesData {
        offset,
        data: &out[..len],
    })
}

impl AesSession {
    fn process<B: Backend>(
        &mut self,
        backend: &mut B,
        offset: u64,
        data: &[u8],
        out: &mut [u8; MAX_CHUNK_LEN],
    ) -> Result<usize, (ErrorCode, &'static str)> {
        if data.len() > MAX_CHUNK_LEN {
            return Err((ErrorCode::BadArgument, "a chunk is at most 3072 bytes"));
        }
        if offset.checked_add(data.len() as u64).is_none() {
            return Err((
                ErrorCode::BadArgument,
                "the chunk would end past offset 2^64 - 1",
            ));
        }
        if self.mode.needs_whole_blocks() && !data.len().is_multiple_of(BLOCK) {
            return Err((
                ErrorCode::BadArgument,
                "ECB and CBC chunks must be whole 16-byte blocks",
            ));
        }
        self.seek(offset)?;
        let buf = &mut out[..data.len()];
        buf.copy_from_slice(data);
        let mut fault = None;
        let cipher = BlockEngine::new(self.engine, backend, &self.key, &mut fault);
        self.chaining
            .apply(self.mode, self.direction, self.position, cipher, buf);
        if let Err(e) = check(fault) {
            buf.zeroize();
            return Err(e);
        }
        self.position += data.len() as u64;
        self.mark();
        Ok(data.len())
    }

    /// Moves the stream to `offset`: anywhere in ECB and CTR (their state follows from the
    /// offset), to a mark in CBC and CFB. Changes nothing when it cannot.
    fn seek(&mut self, offset: u64) -> Result<(), (ErrorCode, &'static str)> {
        if offset == self.position {
            return Ok(());
        }
        if matches!(self.mode, AesMode::Ecb | AesMode::Ctr) {
            self.position = offset;
            return Ok(());
        }
        let mark = self
            .marks
            .iter()
            .find(|m| m.offset == Some(offset))
            .ok_or((
                ErrorCode::OutOfSequence,
                "the chunk's offset is neither the stream position nor a recent chunk end",
            ))?;
        self.chaining.register = mark.register;
        self.chaining.block_pos = mark.block_pos;
        self.position = offset;
        Ok(())
    }

    /// Remembers the chaining state at the current position: over the mark already there, or
    /// else over an unused slot or the least recently written mark. Either way it is now the
    /// newest.
    fn mark(&mut self) {
        let position = Some(self.position);
        let slot = self
            .marks
            .iter()
            .position(|m| m.offset == position)
            .or_else(|| self.marks.iter().position(|m| m.offset.is_none()))
            .unwrap_or_else(|| {
                let oldest = self.marks.iter().map(|m| m.written).min();
                self.marks
                    .iter()
                    .position(|m| Some(m.written) == oldest)
                    .unwrap_or(0)
            });
        self.marks_written = self.marks_written.wrapping_add(1);
        self.marks[slot] = Mark {
            offset: position,
            register: self.chaining.register,
            block_pos: self.chaining.block_pos,
            written: self.marks_written,
        };
    }
}

impl Chaining {
    /// Runs `mode` over `buf` in place, continuing the stream at `position`.
    fn apply<C>(
        &mut self,
        mode: AesMode,
        direction: AesDirection,
        position: u64,
        mut cipher: C,
        buf: &mut [u8],
    ) where
        C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncryptMut + BlockDecryptMut,
    {
        let register = GenericArray::from(self.register);
        let encrypt = direction == AesDirection::Encrypt;
        match mode {
            AesMode::Ecb => {
                let (blocks, _) = InOutBuf::from(buf).into_chunks::<U16>();
                if encrypt {
                    cipher.encrypt_blocks_inout_mut(blocks);
                } else {
                    cipher.decrypt_blocks_inout_mut(blocks);
                }
            }
            AesMode::Cbc => {
                let (blocks, _) = InOutBuf::from(buf).into_chunks::<U16>();
                self.register = if encrypt {
                    let mut cbc = cbc::Encryptor::inner_iv_init(cipher, &register);
                    cbc.encrypt_blocks_inout_mut(blocks);
                    cbc.iv_state().into()
                } else {
                    let mut cbc = cbc::Decryptor::inner_iv_init(cipher, &register);
                    cbc.decrypt_blocks_inout_mut(blocks);
                    cbc.iv_state().into()
                };
            }
            AesMode::Cfb8 => {
                // CFB8's "blocks" are single bytes.
                let (bytes, _) = InOutBuf::from(buf).into_chunks::<U1>();
                self.register = if encrypt {
                    let mut cfb = cfb8::Encryptor::inner_iv_init(cipher, &register);
                    cfb.encrypt_blocks_inout_mut(bytes);
                    cfb.iv_state().into()
                } else {
                    let mut cfb = cfb8::Decryptor::inner_iv_init(cipher, &register);
                    cfb.decrypt_blocks_inout_mut(bytes);
                    cfb.iv_state().into()
                };
            }
            AesMode::Cfb128 => {
                // The buffered CFB carries a partial block from one chunk to the next.
                let (next, pos) = if encrypt {
                    let mut cfb =
                        cfb_mode::BufEncryptor::from_state(cipher, &register, self.block_pos);
                    cfb.encrypt(buf);
                    let (block, pos) = cfb.get_state();
                    ((*block).into(), pos)
                } else {
                    let mut cfb =
                        cfb_mode::BufDecryptor::from_state(cipher, &register, self.block_pos);
                    cfb.decrypt(buf);
                    let (block, pos) = cfb.get_state();
                    ((*block).into(), pos)
                };
                self.register = next;
                self.block_pos = pos;
            }
            AesMode::Ctr => {
                // The counter for any position follows from the initial block: seek, then XOR.
                let core =
                    ctr::CtrCore::<C, ctr::flavors::Ctr128BE>::inner_iv_init(cipher, &register);
                let mut ctr = StreamCipherCoreWrapper::from_core(core);
                ctr.seek(position);
                ctr.apply_keystream(buf);
            }
        }
    }
}

/// The first CFB128 state: the encrypted IV, nothing of it used yet.
fn cfb128_start<C>(cipher: C, direction: AesDirection, iv: &[u8; BLOCK]) -> ([u8; BLOCK], usize)
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncryptMut,
{
    let iv = GenericArray::from(*iv);
    match direction {
        AesDirection::Encrypt => {
            let cfb = cfb_mode::BufEncryptor::inner_iv_init(cipher, &iv);
            let (block, pos) = cfb.get_state();
            ((*block).into(), pos)
        }
        AesDirection::Decrypt => {
            let cfb = cfb_mode::BufDecryptor::inner_iv_init(cipher, &iv);
            let (block, pos) = cfb.get_state();
            ((*block).into(), pos)
        }
    }
}

/// Asks the accelerator for one block with `key`: a refusal of the key size means software.
fn select_engine<B: Backend>(
    backend: &mut B,
    key: &AesKey,
) -> Result<AesUnit, (ErrorCode, &'static str)> {
    let mut probe = [0u8; BLOCK];
    let result = backend.aes_encrypt_block(key, &mut probe);
    // E_K(0) identifies the key: it does not stay in memory.
    probe.zeroize();
    match result {
        Ok(()) => Ok(AesUnit::Accelerator),
        Err(BackendError::Unsupported) => Ok(AesUnit::Software),
        Err(_) => Err(ACCELERATOR_FAILED),
    }
}

const ACCELERATOR_FAILED: (ErrorCode, &str) = (ErrorCode::Internal, "the AES accelerator failed");

fn check(fault: Option<BackendError>) -> Result<(), (ErrorCode, &'static str)> {
    match fault {
        None => Ok(()),
        Some(_) => Err(ACCELERATOR_FAILED),
    }
}

/// The block cipher the modes run on: one type for both engines, so each mode is compiled once.
// Built on the stack for each chunk; the device has no heap to box the software key schedule in.
#[allow(clippy::large_enum_variant)]
enum BlockEngine<'a, B: Backend> {
    Accelerator {
        backend: &'a mut B,
        key: &'a AesKey,
        /// The first failure the accelerator reported; the modes cannot return errors, so the
        /// caller checks this after each run and discards the output.
        fault: &'a mut Option<BackendError>,
    },
    Software(SoftwareAes),
}

/// Software AES with its expanded key (wiped on drop by the `aes` crate's `zeroize` feature).
enum SoftwareAes {
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
}

impl SoftwareAes {
    fn new(key: &AesKey) -> Self {
        match key {
            AesKey::Aes128(k) => SoftwareAes::Aes128(aes::Aes128::new(k.into())),
            AesKey::Aes192(k) => SoftwareAes::Aes192(aes::Aes192::new(k.into())),
            AesKey::Aes256(k) => SoftwareAes::Aes256(aes::Aes256::new(k.into())),
        }
    }
}

impl<'a, B: Backend> BlockEngine<'a, B> {
    fn new(
        engine: AesUnit,
        backend: &'a mut B,
        key: &'a AesKey,
        fault: &'a mut Option<BackendError>,
    ) -> Self {
        match engine {
            AesUnit::Accelerator => BlockEngine::Accelerator {
                backend,
                key,
                fault,
            },
            AesUnit::Software => BlockEngine::Software(SoftwareAes::new(key)),
        }
    }
}

impl<B: Backend> BlockSizeUser for BlockEngine<'_, B> {
    type BlockSize = U16;
}

impl<B: Backend> BlockCipher for BlockEngine<'_, B> {}

impl<B: Backend> BlockEngine<'_, B> {
    /// Hands `f` the blocks of whichever engine this is, in one direction.
    fn with_blocks(&mut self, encrypt: bool, f: impl BlockClosure<BlockSize = U16>) {
        match self {
            BlockEngine::Accelerator {
                backend,
                key,
                fault,
            } => f.call(&mut AcceleratorBlocks {
                backend: &mut **backend,
                key,
                fault,
                encrypt,
            }),
            BlockEngine::Software(SoftwareAes::Aes128(c)) => software_blocks(c, encrypt, f),
            BlockEngine::Software(SoftwareAes::Aes192(c)) => software_blocks(c, encrypt, f),
            BlockEngine::Software(SoftwareAes::Aes256(c)) => software_blocks(c, encrypt, f),
        }
    }
}

fn software_blocks<C>(cipher: &C, encrypt: bool, f: impl BlockClosure<BlockSize = U16>)
where
    C: BlockEncrypt + BlockDecrypt + BlockSizeUser<BlockSize = U16>,
{
    if encrypt {
        cipher.encrypt_with_backend(f);
    } else {
        cipher.decrypt_with_backend(f);
    }
}

impl<B: Backend> BlockEncryptMut for BlockEngine<'_, B> {
    fn encrypt_with_backend_mut(&mut self, f: impl BlockClosure<BlockSize = U16>) {
        self.with_blocks(true, f);
    }
}

impl<B: Backend> BlockDecryptMut for BlockEngine<'_, B> {
    fn decrypt_with_backend_mut(&mut self, f: impl BlockClosure<BlockSize = U16>) {
        self.with_blocks(false, f);
    }
}

/// One pass of blocks through the accelerator, one block at a time (its only granularity).
struct AcceleratorBlocks<'p, B: Backend> {
    backend: &'p mut B,
    key: &'p AesKey,
    fault: &'p mut Option<BackendError>,
    encrypt: bool,
}

impl<B: Backend> BlockSizeUser for AcceleratorBlocks<'_, B> {
    type BlockSize = U16;
}

impl<B: Backend> ParBlocksSizeUser for AcceleratorBlocks<'_, B> {
    type ParBlocksSize = U1;
}

impl<B: Backend> BlockBackend for AcceleratorBlocks<'_, B> {
    fn proc_block(&mut self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut buf: [u8; BLOCK] = (*block.get_in()).into();
        let result = if self.encrypt {
            self.backend.aes_encrypt_block(self.key, &mut buf)
        } else {
            self.backend.aes_decrypt_block(self.key, &mut buf)
        };
        if let Err(e) = result {
            self.fault.get_or_insert(e);
        }
        *block.get_out() = buf.into();
        buf.zeroize();
    }
}

/// FIPS-197 appendix C: key 00 01 .. , plaintext 00 11 22 .. ff, for AES-128, -192 and -256.
const FIPS197_PLAINTEXT: [u8; BLOCK] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];
const FIPS197_CIPHERTEXTS: [(usize, [u8; BLOCK]); 3] = [
    (
        16,
        [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ],
    ),
    (
        24,
        [
            0xdd, 0xa9, 0x7c, 0xa4, 0x86, 0x4c, 0xdf, 0xe0, 0x6e, 0xaf, 0x70, 0xa0, 0xec, 0x0d,
            0x71, 0x91,
        ],
    ),
    (
        32,
        [
            0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49,
            0x60, 0x89,
        ],
    ),
];

/// The start-up known-answer test: every key size, both directions, on the engine each size
/// runs on (the accelerator, or the software fallback).
pub(super) fn self_test<B: Backend>(backend: &mut B) -> TestOutcome {
    let key_bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
    for (len, expected) in FIPS197_CIPHERTEXTS {
        let Some(key) = AesKey::from_slice(&key_bytes[..len]) else {
            return TestOutcome::Failed;
        };
        let Ok(engine) = select_engine(backend, &key) else {
            return TestOutcome::Failed;
        };
        let mut fault = None;
        let mut cipher = BlockEngine::new(engine, backend, &key, &mut fault);
        let mut block = GenericArray::from(FIPS197_PLAINTEXT);
        cipher.encrypt_block_mut(&mut block);
        let encrypted = block == GenericArray::from(expected);
        cipher.decrypt_block_mut(&mut block);
        let decrypted = block == GenericArray::from(FIPS197_PLAINTEXT);
        drop(cipher);
        if fault.is_some() || !encrypted || !decrypted {
            return TestOutcome::Failed;
        }
    }
    TestOutcome::Passed
}
