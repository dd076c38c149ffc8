//! The device's security state from `Hello` (its eFuses), for people and JSON, and the checks a
//! recipe's `security-check` step asks of it.
use serde::Serialize;
use ucrypto_protocol::{DownloadMode, FlashEncryption, SecurityState};

/// The security state as `ucrypto info` and `--json` show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecuritySummary {
    pub provisioning_locked: bool,
    pub secure_boot: bool,
    /// `off`, `development` or `release`.
    pub flash_encryption: &'static str,
    pub usb_jtag_disabled: bool,
    pub pad_jtag_disabled: bool,
    /// Both JTAG paths are disabled for good.
    pub jtag_disabled: bool,
    /// `enabled`, `secure` or `disabled`.
    pub download_mode: &'static str,
    /// `WR_DIS.RD_DIS`: no key block can be read-protected any more (no new device key).
    pub read_protection_locked: bool,
}

impl SecuritySummary {
    pub fn new(s: &SecurityState) -> Self {
        Self {
            provisioning_locked: s.provisioning_locked,
            secure_boot: s.secure_boot,
            flash_encryption: match s.flash_encryption {
                FlashEncryption::Off => "off",
                FlashEncryption::Development => "development",
                FlashEncryption::Release => "release",
            },
            usb_jtag_disabled: s.usb_jtag_disabled,
            pad_jtag_disabled: s.pad_jtag_disabled,
            jtag_disabled: s.usb_jtag_disabled && s.pad_jtag_disabled,
            download_mode: match s.download_mode {
                DownloadMode::Enabled => "enabled",
                DownloadMode::Secure => "secure",
                DownloadMode::Disabled => "disabled",
            },
            read_protection_locked: s.read_protection_locked,
        }
    }

    /// The lines of `ucrypto info`.
    pub fn lines(&self) -> Vec<String> {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        vec![
            format!(
                "provisioning:     {}",
                if self.provisioning_locked {
                    "locked (no more burns or provisioning writes)"
                } else {
                    "open (not locked)"
                }
            ),
            format!("secure boot:      {}", yes_no(self.secure_boot)),
            format!("flash encryption: {}", self.flash_encryption),
            format!(
                "jtag disabled:    usb {}, pads {}",
                yes_no(self.usb_jtag_disabled),
                yes_no(self.pad_jtag_disabled)
            ),
            format!("download mode:    {}", self.download_mode),
            format!(
                "rd_dis locked:    {}",
                if self.read_protection_locked {
                    "yes (WR_DIS.RD_DIS: no new device key can be stored)"
                } else {
                    "no"
                }
            ),
        ]
    }
}

/// What a `security-check` step requires; an absent field is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecurityRequirements {
    pub jtag_disabled: Option<bool>,
    pub usb_jtag_disabled: Option<bool>,
    pub pad_jtag_disabled: Option<bool>,
    pub secure_boot: Option<bool>,
    /// `off`, `development` or `release`.
    pub flash_encryption: Option<String>,
    /// `enabled`, `secure` or `disabled`.
    pub download_mode: Option<String>,
    pub provisioning_locked: Option<bool>,
    pub read_protection_locked: Option<bool>,
}

impl SecurityRequirements {
    /// Refuses values that can never match, before any device is touched.
    pub fn check(&self) -> std::result::Result<(), String> {
        if let Some(v) = &self.flash_encryption {
            if !["off", "development", "release"].contains(&v.as_str()) {
                return Err(format!(
                    "flash-encryption = \"{v}\": use off, development or release"
                ));
            }
        }
        if let Some(v) = &self.download_mode {
            if !["enabled", "secure", "disabled"].contains(&v.as_str()) {
                return Err(format!(
                    "download-mode = \"{v}\": use enabled, secure or disabled"
                ));
            }
        }
        if *self == Self::default() {
            return Err("names nothing to check: add e.g. jtag-disabled = true".into());
        }
        Ok(())
    }

    /// Every requirement `state` does not meet, as `name: required X, device has Y`.
    pub fn unmet(&self, state: &SecuritySummary) -> Vec<String> {
        let mut unmet = Vec::new();
        let mut flag = |name: &str, want: Option<bool>, have: bool| {
            if let Some(want) = want {
                if want != have {
                    unmet.push(format!("{name}: required {want}, device has {have}"));
                }
            }
        };
        flag("jtag-disabled", self.jtag_disabled, state.jtag_disabled);
        flag(
            "usb-jtag-disabled",
            self.usb_jtag_disabled,
            state.usb_jtag_disabled,
        );
        flag(
            "pad-jtag-disabled",
            self.pad_jtag_disabled,
            state.pad_jtag_disabled,
        );
        flag("secure-boot", self.secure_boot, state.secure_boot);
        flag(
            "provisioning-locked",
            self.provisioning_locked,
            state.provisioning_locked,
        );
        flag(
            "read-protection-locked",
            self.read_protection_locked,
            state.read_protection_locked,
        );
        for (name, want, have) in [
            (
                "flash-encryption",
                &self.flash_encryption,
                state.flash_encryption,
            ),
            ("download-mode", &self.download_mode, state.download_mode),
        ] {
            if let Some(want) = want {
                if want != have {
                    unmet.push(format!("{name}: required {want}, device has {have}"));
                }
            }
        }
        unmet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> SecurityState {
        SecurityState {
            provisioning_locked: false,
            secure_boot: false,
            flash_encryption: FlashEncryption::Off,
            usb_jtag_disabled: false,
            pad_jtag_disabled: true,
            download_mode: DownloadMode::Enabled,
            read_protection_locked: false,
        }
    }

    #[test]
    fn jtag_is_disabled_only_when_both_paths_are() {
        let wants = SecurityRequirements {
            jtag_disabled: Some(true),
            flash_encryption: Some("off".into()),
            ..Default::default()
        };
        let unmet = wants.unmet(&SecuritySummary::new(&open()));
        assert_eq!(unmet, ["jtag-disabled: required true, device has false"]);
        let mut closed = open();
        closed.usb_jtag_disabled = true;
        assert!(wants.unmet(&SecuritySummary::new(&closed)).is_empty());
    }

    #[test]
    fn impossible_or_empty_requirements_are_refused() {
        assert!(SecurityRequirements::default().check().is_err());
        let bad = SecurityRequirements {
            download_mode: Some("off".into()),
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .contains("enabled, secure or disabled"));
    }
}
