//! What a device said about itself in `Hello`, owned and ready for `ucrypto info` and `--json`.
use serde::Serialize;
use ucrypto_protocol::{
    Capabilities, Chip, Command, EntropySource, EntropyState, HelloInfo, KeySize, KeySlots,
    SelfTest, TestOutcome,
};

use crate::slots::SlotSummary;

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub port: String,
    #[serde(rename = "virtual")]
    pub virtual_device: bool,
    #[serde(serialize_with = "chip_name")]
    pub chip: Chip,
    pub firmware_version: String,
    pub protocol_version: u16,
    #[serde(serialize_with = "hex_bytes")]
    pub schema: [u8; 8],
    #[serde(serialize_with = "mac")]
    pub device_id: [u8; 6],
    pub capabilities: CapabilitySummary,
    pub entropy: EntropySummary,
    pub self_test: SelfTestSummary,
    /// The device-key slots (`null` on a chip without the Digital Signature peripheral).
    pub key_slots: Option<Vec<SlotSummary>>,
    /// The SHA-256 digest appended to the running application image (docs/protocol.md,
    /// `HelloInfo.app_sha256`), in hex; `null` when the firmware does not report it.
    pub app_sha256: Option<String>,
    #[serde(skip)]
    pub raw_key_slots: Option<KeySlots>,
    /// What the eFuses say about trusting the device (`null` without eFuse access).
    pub security: Option<crate::security_state::SecuritySummary>,
    #[serde(skip)]
    pub raw_security: Option<ucrypto_protocol::SecurityState>,
    #[serde(skip)]
    pub raw_capabilities: Capabilities,
    #[serde(skip)]
    pub raw_self_test: SelfTest,
}

#[derive(Debug, Clone, Serialize)]
pub struct CapabilitySummary {
    pub commands: Vec<&'static str>,
    pub aes_key_bits: Vec<u16>,
    pub aes_hardware_key_bits: Vec<u16>,
    pub rsa_min_bits: u16,
    pub rsa_max_bits: u16,
    pub max_chunk_bytes: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntropySummary {
    pub source: &'static str,
    pub state: &'static str,
    /// What the device tests of its RNG.
    pub device_tests: &'static str,
    /// What `ucrypto` tests of the bytes it receives.
    pub host_tests: &'static str,
    /// What nobody tests.
    pub not_tested: &'static str,
}

/// The device's start-up health test (firmware/src/engine/startup_health.rs).
pub const DEVICE_TESTS: &str = "at start-up, SP 800-90B repetition count and adaptive proportion tests on 1024 words read from the RNG (cutoffs for 8 bits of min-entropy per word, false alarms 2^-20); a failure reports state failed and refuses random output";
/// The host's continuous health tests (verify/health.rs).
pub const HOST_TESTS: &str = "every random byte received, SP 800-90B repetition count and adaptive proportion tests, cumulative over the connection (cutoffs for 8 bits per byte, false alarms 2^-40); they cannot fail on fewer than 6 bytes";
/// The limits of both.
pub const NOT_TESTED: &str = "the raw noise (the chip mixes it into the RNG before software sees it) and whether the output is unpredictable: the tests catch a stuck, dead or short-cycling source, not a weak one";

#[derive(Debug, Clone, Serialize)]
pub struct SelfTestSummary {
    pub rng: &'static str,
    pub aes: &'static str,
    pub sha256: &'static str,
    pub rsa: &'static str,
}

impl DeviceInfo {
    pub fn new(hello: &HelloInfo<'_>) -> Self {
        let caps = hello.capabilities;
        let key_bits = |mask: u8| {
            KeySize::ALL
                .iter()
                .filter(|k| mask & **k as u8 != 0)
                .map(|k| k.bits())
                .collect()
        };
        let outcome = |o: TestOutcome| match o {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::NotRun => "not-run",
        };
        Self {
            port: String::new(),
            virtual_device: hello.virtual_device,
            chip: hello.chip,
            firmware_version: hello.firmware_version.to_string(),
            protocol_version: hello.protocol_version,
            schema: hello.schema,
            device_id: hello.device_id,
            app_sha256: hello.app_sha256.map(hex::encode),
            capabilities: CapabilitySummary {
                commands: Command::ALL
                    .iter()
                    .filter(|c| caps.supports(**c))
                    .map(|c| c.name())
                    .collect(),
                aes_key_bits: key_bits(caps.aes_key_sizes),
                aes_hardware_key_bits: key_bits(caps.aes_hw_key_sizes),
                rsa_min_bits: caps.min_rsa_bits,
                rsa_max_bits: caps.max_rsa_bits,
                max_chunk_bytes: caps.max_chunk_len,
            },
            entropy: EntropySummary {
                source: match hello.entropy.source {
                    EntropySource::SarAdc => "sar-adc",
                    EntropySource::Radio => "radio",
                    EntropySource::HostOs => "host-os",
                    EntropySource::FixedSeed => "fixed-seed",
                },
                state: match hello.entropy.state {
                    EntropyState::Ready => "ready",
                    EntropyState::Failed => "failed",
                    EntropyState::Deterministic => "deterministic",
                },
                device_tests: DEVICE_TESTS,
                host_tests: HOST_TESTS,
                not_tested: NOT_TESTED,
            },
            self_test: SelfTestSummary {
                rng: outcome(hello.self_test.rng),
                aes: outcome(hello.self_test.aes),
                sha256: outcome(hello.self_test.sha256),
                rsa: outcome(hello.self_test.rsa),
            },
            key_slots: hello.key_slots.map(|slots| SlotSummary::all(&slots)),
            raw_key_slots: hello.key_slots,
            security: hello
                .security
                .as_ref()
                .map(crate::security_state::SecuritySummary::new),
            raw_security: hello.security,
            raw_capabilities: caps,
            raw_self_test: hello.self_test,
        }
    }

    pub fn with_port(mut self, port: String) -> Self {
        self.port = port;
        self
    }

    /// Output is reproducible (a fixed seed), not random.
    pub fn deterministic(&self) -> bool {
        self.entropy.state == "deterministic"
    }

    pub fn device_id_string(&self) -> String {
        mac_string(&self.device_id)
    }
}

pub(crate) fn mac_string(id: &[u8; 6]) -> String {
    id.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn chip_name<S: serde::Serializer>(chip: &Chip, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(chip.name())
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8; 8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

fn mac<S: serde::Serializer>(id: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&mac_string(id))
}
