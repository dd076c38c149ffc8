//! The schema fingerprint recomputed from the recipe as docs/protocol.md section 4 writes it,
//! independently of postcard-schema's own hash: the walk below turns the schema of
//! `(Request, Response)` into the byte string the document describes (tag bytes, field and
//! variant names), and FNV-1a 64 of `ucrypto` followed by that string must be
//! `SCHEMA_FINGERPRINT`. The document's worked example (the first bytes of the string) is
//! checked too.
use postcard_schema::schema::{DataModelType, DataModelVariant, NamedType};
use postcard_schema::Schema;
use ucrypto_protocol::{Request, Response, SCHEMA_FINGERPRINT};

/// The byte string of section 4 for `ty`, appended to `out`.
fn walk(ty: &NamedType, out: &mut Vec<u8>) {
    match ty.ty {
        DataModelType::Bool => out.push(0x11),
        DataModelType::U8 => out.push(0x3D),
        DataModelType::U16 => out.push(0x83),
        DataModelType::U32 => out.push(0xD3),
        DataModelType::U64 => out.push(0x13),
        DataModelType::String => out.push(0x25),
        DataModelType::Seq(item) => {
            out.push(0x03);
            walk(item, out);
        }
        DataModelType::Option(inner) => {
            out.push(0x6D);
            walk(inner, out);
        }
        DataModelType::Tuple(items) => {
            out.push(0xA7);
            items.iter().for_each(|t| walk(t, out));
        }
        DataModelType::Struct(fields) => {
            out.push(0x7F);
            for field in *fields {
                out.extend_from_slice(field.name.as_bytes());
                walk(field.ty, out);
            }
        }
        DataModelType::Enum(variants) => {
            out.push(0xE9);
            for variant in *variants {
                out.extend_from_slice(variant.name.as_bytes());
                match variant.ty {
                    DataModelVariant::UnitVariant => out.push(0xB5),
                    DataModelVariant::NewtypeVariant(inner) => {
                        out.push(0xDF);
                        walk(inner, out);
                    }
                    DataModelVariant::StructVariant(fields) => {
                        out.push(0x67);
                        for field in *fields {
                            out.extend_from_slice(field.name.as_bytes());
                            walk(field.ty, out);
                        }
                    }
                    other => panic!("section 4 does not describe {other:?}: add it there"),
                }
            }
        }
        other => panic!("section 4 does not describe {other:?}: add it there"),
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn recipe_bytes() -> Vec<u8> {
    let mut bytes = b"ucrypto".to_vec();
    walk(<(Request<'_>, Response<'_>)>::SCHEMA, &mut bytes);
    bytes
}

#[test]
fn the_fingerprint_follows_from_the_documented_recipe() {
    let bytes = recipe_bytes();
    assert_eq!(fnv1a64(&bytes).to_le_bytes(), SCHEMA_FINGERPRINT);
}

/// docs/protocol.md section 4's worked example: the string starts with these bytes.
#[test]
fn the_worked_example_is_the_start_of_the_string() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .unwrap();
    let start = doc
        .find("<!-- schema-example -->")
        .expect("the worked example's marker");
    let block = &doc[start..];
    let hex: String = block
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("```"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let example: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert!(example.len() >= 32, "the example shows at least 32 bytes");
    assert_eq!(&recipe_bytes()[..example.len()], &example[..]);
}
