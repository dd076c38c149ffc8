//! A damaged link for the virtual device (`ucrypto sim --faults ...`): dropped bytes, flipped
//! bits, delays and device restarts, from a seeded generator so a failing run can be replayed.
use std::str::FromStr;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use ucrypto_protocol::{FrameDecoder, Response, ResponseBody};

/// What to damage, parsed from `drop=P,flip=P,delay=MS,reset-after=N,lose=baud-set,seed=S`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultSpec {
    /// Probability that a byte is lost, in each direction.
    pub drop: f64,
    /// Probability that a byte has one bit flipped, in each direction.
    pub flip: f64,
    /// Delay before each answer.
    pub delay: Duration,
    /// Restart the device (losing its sessions and any partial frame) after every N answers.
    pub reset_after: Option<u32>,
    /// Lose every `BaudSet` answer on the line (the device switches all the same).
    pub lose_baud_set: bool,
    /// Seed of the fault generator.
    pub seed: u64,
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut spec = FaultSpec::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            // Echoed escaped: a control character in the spec must not break the one-line error.
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{}` is not KEY=VALUE", part.escape_debug()))?;
            let key_shown = key.escape_debug();
            let probability = |v: &str| -> Result<f64, String> {
                let p: f64 = v
                    .parse()
                    .map_err(|_| format!("{key_shown}={}: not a number", v.escape_debug()))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(format!(
                        "{key_shown}={}: a probability is between 0 and 1",
                        v.escape_debug()
                    ))
                }
            };
            let count = |v: &str| -> Result<u64, String> {
                v.parse()
                    .map_err(|_| format!("{key_shown}={}: not a whole number", v.escape_debug()))
            };
            match key {
                "drop" => spec.drop = probability(value)?,
                "flip" => spec.flip = probability(value)?,
                "delay" => spec.delay = Duration::from_millis(count(value)?),
                "reset-after" => {
                    let n = count(value)?;
                    if n == 0 {
                        return Err(
                            "reset-after=0: give the number of answers between restarts".into()
                        );
                    }
                    spec.reset_after =
                        Some(u32::try_from(n).map_err(|_| "reset-after: too large")?);
                }
                "seed" => spec.seed = count(value)?,
                "lose" if value == "baud-set" => spec.lose_baud_set = true,
                "lose" => {
                    return Err(format!(
                        "lose={}: the answer that can be lost is baud-set",
                        value.escape_debug()
                    ))
                }
                _ => {
                    return Err(format!(
                    "unknown fault `{key_shown}`: use drop, flip, delay, reset-after, lose or seed"
                ))
                }
            }
        }
        Ok(spec)
    }
}

/// What the injector did, for the report a test prints.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultStats {
    pub dropped: u64,
    pub flipped: u64,
    pub resets: u64,
}

/// Applies a [`FaultSpec`] to bytes crossing the link.
pub struct FaultInjector {
    spec: FaultSpec,
    rng: ChaCha8Rng,
    answers: u32,
    stats: FaultStats,
}

impl FaultInjector {
    pub fn new(spec: FaultSpec) -> Self {
        Self {
            spec,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            answers: 0,
            stats: FaultStats::default(),
        }
    }

    pub fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64) < p * (u64::MAX as f64)
    }

    /// Returns `bytes` as the other end receives them: some lost, some with a bit flipped.
    pub fn damage(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.spec.drop == 0.0 && self.spec.flip == 0.0 {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if self.chance(self.spec.drop) {
                self.stats.dropped += 1;
                continue;
            }
            if self.chance(self.spec.flip) {
                self.stats.flipped += 1;
                out.push(b ^ (1 << (self.rng.next_u32() % 8)));
            } else {
                out.push(b);
            }
        }
        out
    }

    /// Whether the answer frame `wire` (whole, as the device sends it) is lost on the line.
    pub fn loses(&self, wire: &[u8]) -> bool {
        self.spec.lose_baud_set && is_baud_set(wire)
    }

    /// Counts an answer sent; true when the device must restart now.
    pub fn answered(&mut self) -> bool {
        self.answers += 1;
        match self.spec.reset_after {
            Some(n) if self.answers.is_multiple_of(n) => {
                self.stats.resets += 1;
                true
            }
            _ => false,
        }
    }
}

/// Whether `wire` is one frame answering `SetBaud`.
fn is_baud_set(wire: &[u8]) -> bool {
    let mut decoder: Box<FrameDecoder> = Box::default();
    let mut rest = wire;
    while !rest.is_empty() {
        let (used, frame) = decoder.push(rest);
        rest = &rest[used..];
        if let Some(Ok(body)) = frame {
            return matches!(
                postcard::from_bytes::<Response<'_>>(body),
                Ok(Response {
                    body: ResponseBody::BaudSet { .. },
                    ..
                })
            );
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault() {
        let spec: FaultSpec = "drop=0.01,flip=0.001,delay=5,reset-after=100,lose=baud-set,seed=9"
            .parse()
            .unwrap();
        assert!(spec.lose_baud_set);
        assert_eq!(spec.drop, 0.01);
        assert_eq!(spec.flip, 0.001);
        assert_eq!(spec.delay, Duration::from_millis(5));
        assert_eq!(spec.reset_after, Some(100));
        assert_eq!(spec.seed, 9);
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        for (bad, why) in [
            ("drop=2", "between 0 and 1"),
            ("flip=x", "not a number"),
            ("reset-after=0", "number of answers"),
            ("melt=1", "unknown fault"),
            ("lose=hello", "baud-set"),
            ("drop", "KEY=VALUE"),
        ] {
            let err = bad.parse::<FaultSpec>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_stay_on_one_line() {
        // Found by the cli_input fuzz target: the spec was echoed with its line break.
        for bad in ["9\n\u{e}", "drop=\n", "a\nb=1", "flip=0.5\r\n"] {
            let err = bad.parse::<FaultSpec>().unwrap_err();
            assert!(!err.contains(['\n', '\r']), "{bad:?}: {err:?}");
        }
        assert_eq!(
            "x\ny".parse::<FaultSpec>().unwrap_err(),
            "`x\\ny` is not KEY=VALUE"
        );
    }

    #[test]
    fn damage_rates_follow_the_spec() {
        let mut f = FaultInjector::new("drop=0.1,flip=0.1,seed=1".parse().unwrap());
        let input = vec![0x55u8; 100_000];
        let out = f.damage(&input);
        let stats = f.stats();
        assert_eq!(out.len() as u64, 100_000 - stats.dropped);
        // 10% ± a generous margin (the standard deviation is under 0.1%).
        assert!((9_000..11_000).contains(&stats.dropped), "{stats:?}");
        assert!((8_000..10_000).contains(&stats.flipped), "{stats:?}");
        let changed = out.iter().filter(|&&b| b != 0x55).count() as u64;
        assert_eq!(changed, stats.flipped);
    }

    #[test]
    fn resets_come_every_n_answers() {
        let mut f = FaultInjector::new("reset-after=3".parse().unwrap());
        let resets: Vec<bool> = (0..7).map(|_| f.answered()).collect();
        assert_eq!(resets, [false, false, true, false, false, true, false]);
    }
}
