//! `ucrypto records list|show|export`: what the station recorded, for people, scripts and
//! spreadsheets.
use ucrypto::untrusted::for_terminal;
use ucrypto_station::records::{self, credentials, report::write_csv};

use crate::args::records::{
    ExportFormat, RecordsArgs, RecordsCommand, RecordsExportArgs, RecordsShowArgs,
};
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::{print_json, print_line, Format, Output};

pub fn run(global: &GlobalArgs, command: &RecordsCommand) -> Result<()> {
    match command {
        RecordsCommand::List(args) => list(global, args),
        RecordsCommand::Show(args) => show(global, args),
        RecordsCommand::Export(args) => export(args),
        RecordsCommand::Verify(args) => verify(global, args),
    }
}

/// Warns, as `--key HEX` does, when the records URL with a password came on the command line
/// (the same text in `UCRYPTO_RECORDS` came from there instead).
pub fn warn_password_on_command_line(records: &str) {
    let from_env = std::env::var("UCRYPTO_RECORDS").is_ok_and(|env| env == records);
    if !from_env && credentials::has_password(records) {
        eprintln!("warning: {}", credentials::PASSWORD_ON_COMMAND_LINE);
    }
}

fn verify(global: &GlobalArgs, args: &RecordsArgs) -> Result<()> {
    let records = open_existing(&args.records)?;
    let report = records.verify_events()?;
    if global.json {
        return print_json(&serde_json::json!({
            "records": records.describe(),
            "events": report.events,
            "head": report.head,
        }));
    }
    print_line(&format!(
        "records {}: {} events, each as written; the newest event's hash is {}",
        records.describe(),
        report.events,
        report.head
    ))
}

/// Reading records must not create a database where none was: a mistyped path is an error.
fn open_existing(url: &str) -> Result<records::Records> {
    warn_password_on_command_line(url);
    let is_file = !credentials::is_postgres(url) && !credentials::is_key_value(url);
    if is_file && !std::path::Path::new(url).exists() {
        return Err(Error::input(format!(
            "no records at {url}: pass the station's --records FILE or URL"
        )));
    }
    Ok(records::open(url)?)
}

fn list(global: &GlobalArgs, args: &RecordsArgs) -> Result<()> {
    let records = open_existing(&args.records)?;
    let devices = records.devices()?;
    if global.json {
        for device in &devices {
            print_json(&serde_json::to_value(device).expect("a device serializes"))?;
        }
        return Ok(());
    }
    print_line(&format!(
        "{:<17}  {:<8}  {:<10}  {:<16}  {:>4}  {:>6}  {:>4}",
        "DEVICE", "CHIP", "FIRMWARE", "STATION", "DONE", "FAILED", "KEYS"
    ))?;
    for d in &devices {
        print_line(&format!(
            "{:<17}  {:<8}  {:<10}  {:<16}  {:>4}  {:>6}  {:>4}{}",
            for_terminal(&d.device_id),
            for_terminal(&d.chip),
            for_terminal(&d.firmware_version),
            for_terminal(d.station_id.as_deref().unwrap_or("-")),
            d.steps_done,
            d.steps_failed,
            d.keys.len(),
            if d.is_virtual { "  (virtual)" } else { "" }
        ))?;
    }
    Ok(())
}

fn show(global: &GlobalArgs, args: &RecordsShowArgs) -> Result<()> {
    let records = open_existing(&args.store.records)?;
    let wanted = args.device.trim().to_ascii_lowercase();
    let history = records.device(&wanted)?.ok_or_else(|| {
        Error::input(format!(
            "no device {} in {}: `ucrypto records list` shows the devices",
            for_terminal(&wanted),
            records.describe()
        ))
    })?;
    if global.json {
        return print_json(&serde_json::to_value(&history).expect("a history serializes"));
    }
    let d = &history.device;
    let mut lines = vec![
        format!(
            "device:    {}{}",
            for_terminal(&d.device_id),
            if d.is_virtual { " (virtual)" } else { "" }
        ),
        format!("chip:      {}", for_terminal(&d.chip)),
        format!("firmware:  {}", for_terminal(&d.firmware_version)),
        format!(
            "image:     {}",
            for_terminal(d.image_sha256.as_deref().unwrap_or("-"))
        ),
        format!("entropy:   {}", for_terminal(&d.entropy)),
        format!("self-test: {}", d.self_test),
        format!(
            "station:   {}",
            for_terminal(d.station_id.as_deref().unwrap_or("-"))
        ),
        format!("last seen: {}", time_of(d.last_seen_ms)),
    ];
    for k in &d.keys {
        lines.push(format!(
            "key slot {}: SPKI SHA-256 {}",
            k.slot,
            for_terminal(&k.spki_sha256)
        ));
    }
    lines.push("steps:".into());
    for s in &history.steps {
        lines.push(format!(
            "  {} {:<12} {:<7} attempts {}  recipe {}",
            s.step_index + 1,
            for_terminal(&s.kind),
            for_terminal(&s.state),
            s.attempts,
            for_terminal(&s.recipe_sha256.chars().take(12).collect::<String>())
        ));
    }
    lines.push("events:".into());
    for e in &history.events {
        lines.push(format!(
            "  {:>6} {} {:<14} {} {}",
            e.event_id,
            time_of(e.at_ms),
            for_terminal(&e.kind),
            for_terminal(&e.station_id),
            for_terminal(&e.detail)
        ));
    }
    print_line(&lines.join("\n"))
}

/// A record's time stamp (milliseconds since the epoch) as RFC 3339 UTC.
fn time_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

fn export(args: &RecordsExportArgs) -> Result<()> {
    let records = open_existing(&args.store.records)?;
    let devices = records.devices()?;
    let mut bytes = Vec::new();
    match args.format {
        ExportFormat::Csv => write_csv(&devices, &mut bytes).map_err(|e| Error::Output {
            path: "csv".into(),
            reason: e.to_string(),
        })?,
        ExportFormat::Json => {
            serde_json::to_writer(&mut bytes, &devices).expect("devices serialize");
            bytes.push(b'\n');
        }
        ExportFormat::Pem => {
            for (device, chain) in records.certificate_chains()? {
                bytes.extend_from_slice(format!("# device {device}\n{chain}").as_bytes());
            }
        }
    }
    let mut output = Output::create(args.output.as_deref(), Format::Raw)?;
    output.write(&bytes)?;
    output.commit()
}
