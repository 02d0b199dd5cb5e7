//! JSON text as JavaScript's `JSON.stringify` writes it, where serde_json
//! writes the same values differently: the notation of numbers that are not
//! integers, and the order of object keys that are array indexes.
//!
//! - A number: `Number.prototype.toString` (ECMA-262 `Number::toString`)
//!   writes the shortest digits that read back as the same double, as
//!   serde_json does, but in plain notation from 1e-7 up to 1e21
//!   (`0.000001`, `100000000000000000000`) and with a signed exponent
//!   beyond (`1e+21`, `1.5e-7`); serde_json uses an exponent from 1e-5 and
//!   from 1e16 on, and writes `1e21`.
//! - Keys: an object's own keys are enumerated array indexes first (the
//!   canonical decimal integers below 2^32 − 1: `"0"`, `"2"`, `"10"`), in
//!   ascending numeric order, then the other keys in insertion order. So
//!   `{"b":1,"10":2,"2":3}` is written `{"2":3,"10":2,"b":1}`, and a
//!   session's array-index keys come before its `cookie`.
//!
//! Integers are written digit for digit, as serde_json reads them: every
//! integer Node writes (below 1e21) reads back as the same integer. A
//! double that holds an integer serde_json would read back as one (a Rust
//! `5.0`) keeps serde_json's notation (`5.0`), so that it reads back as the
//! same `serde_json::Value`: Node never writes one (it writes `5`), and
//! reads both the same.

use std::io;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::{Map, Value};

/// serde_json's compact output with JavaScript's number notation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JsFormatter;

impl Formatter for JsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        // serde_json writes NaN and the infinities as `null` without asking
        // the formatter, as JSON.stringify does.
        if reads_as_integer(value) {
            CompactFormatter.write_f64(writer, value)
        } else {
            writer.write_all(js_number(value).as_bytes())
        }
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        CompactFormatter.write_byte_array(writer, value)
    }
}

/// Whether serde_json would read `value` written without a fraction or an
/// exponent as an integer (`u64` or `i64`) rather than as this double.
fn reads_as_integer(value: f64) -> bool {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    value.fract() == 0.0 && value >= i64::MIN as f64 && value < TWO_POW_64
}

/// `String(value)` for a finite double: ECMA-262 `Number::toString(x, 10)`.
pub(crate) fn js_number(value: f64) -> String {
    if value == 0.0 {
        // Both zeros: `String(-0)` is "0".
        return String::from("0");
    }
    // Rust's `{:e}` gives the shortest digits that read back as the same
    // double, as JavaScript requires: `d[.ddd]e<exponent>`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    // The value is 0.<digits> × 10^n.
    let n = exponent.parse::<i64>().unwrap_or(0) + 1;
    let mut text = String::with_capacity(digits.len() + 8);
    if value < 0.0 {
        text.push('-');
    }
    if k <= n && n <= 21 {
        text.push_str(&digits);
        text.push_str(&"0".repeat((n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (whole, fraction) = digits.split_at(n as usize);
        text.push_str(whole);
        text.push('.');
        text.push_str(fraction);
    } else if -6 < n && n <= 0 {
        text.push_str("0.");
        text.push_str(&"0".repeat((-n) as usize));
        text.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        text.push_str(first);
        if !rest.is_empty() {
            text.push('.');
            text.push_str(rest);
        }
        text.push('e');
        text.push(if n > 0 { '+' } else { '-' });
        text.push_str(&(n - 1).abs().to_string());
    }
    text
}

/// Whether JavaScript enumerates `key` as an array index: a canonical
/// decimal integer from 0 to 2^32 − 2.
pub(crate) fn is_array_index(key: &str) -> bool {
    let bytes = key.as_bytes();
    match bytes {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => {
            bytes.len() <= 10
                && bytes.iter().all(u8::is_ascii_digit)
                && key.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX))
        }
    }
}

/// `map`'s entries in JavaScript's enumeration order: array indexes first,
/// ascending, then the rest in insertion order. Borrowed as they are when
/// there is no array index (nearly always).
pub(crate) fn js_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if entries.iter().any(|(key, _)| is_array_index(key)) {
        // A stable sort keeps the other keys in insertion order.
        entries.sort_by_key(|(key, _)| {
            if is_array_index(key) {
                (0, key.parse::<u64>().unwrap_or(0))
            } else {
                (1, 0)
            }
        });
    }
    entries
}

/// Whether any key in `value`, at any depth, is an array index: only then
/// does writing it in JavaScript's order need [`JsValue`].
pub(crate) fn has_array_index(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| is_array_index(key) || has_array_index(value)),
        Value::Array(items) => items.iter().any(has_array_index),
        _ => false,
    }
}

/// A JSON value written with its objects' keys in JavaScript's order.
/// Worth its cost only where [`has_array_index`] is true.
pub(crate) struct JsValue<'a>(pub(crate) &'a Value);

impl Serialize for JsValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in js_order(map) {
                    out.serialize_entry(key, &JsValue(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&JsValue(item))?;
                }
                out.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        // Node 20: `JSON.stringify(x)` for each.
        let cases = [
            (1e21, "1e+21"),
            (-1e21, "-1e+21"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (0.0000015, "0.0000015"),
            (0.00001, "0.00001"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e20, "100000000000000000000"),
            (-1e20, "-100000000000000000000"),
            (18446744073709552000.0, "18446744073709552000"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-0.0, "0"),
            (0.0, "0"),
            (100.0, "100"),
            (1.5, "1.5"),
            (-42.0, "-42"),
            (0.9613552810955555, "0.9613552810955555"),
            (1.5e300, "1.5e+300"),
            (-1.5e-10, "-1.5e-10"),
            (123e-20, "1.23e-18"),
            (123.456, "123.456"),
            (12345.67, "12345.67"),
            (9007199254740993.0, "9007199254740992"),
        ];
        for (value, text) in cases {
            assert_eq!(js_number(value), text, "{value:e}");
            // It reads back as the same double.
            let back: f64 = serde_json::from_str(text).expect("a number");
            assert_eq!(back.to_bits(), (value + 0.0).to_bits(), "{text}");
        }
    }

    fn written(value: &Value) -> String {
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, JsFormatter);
        value.serialize(&mut serializer).expect("a number");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_number_reads_back_as_the_same_json_value() {
        // What serde_json reads from Node's text is written back as Node
        // wrote it; a Rust double that holds an integer keeps serde_json's
        // notation, so it does not come back as an integer.
        let cases = [
            ("1e-7", "1e-7"),
            ("0.000001", "0.000001"),
            ("100000000000000000000", "100000000000000000000"),
            ("18446744073709552000", "18446744073709552000"),
            ("9223372036854776000", "9223372036854776000"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1e+21", "1e+21"),
            ("1.5", "1.5"),
            ("5e3", "5000.0"),
            ("5.0", "5.0"),
            ("-0.0", "-0.0"),
            ("1.8e19", "1.8e+19"),
            ("-1e19", "-10000000000000000000"),
        ];
        for (stored, text) in cases {
            let value: Value = serde_json::from_str(stored).expect("a number");
            assert_eq!(written(&value), text, "{stored}");
            let back: Value = serde_json::from_str(text).expect("a number");
            assert_eq!(back, value, "{stored} reads back the same");
        }
    }

    #[test]
    fn array_indexes_are_the_canonical_integers_below_2_pow_32_minus_1() {
        for index in ["0", "1", "2", "10", "4294967294"] {
            assert!(is_array_index(index), "{index}");
        }
        for other in [
            "",
            "01",
            "00",
            "-1",
            "+1",
            "1.0",
            "1e3",
            " 1",
            "4294967295",
            "99999999999",
            "a",
            "٣",
        ] {
            assert!(!is_array_index(other), "{other}");
        }
    }

    #[test]
    fn objects_are_written_in_javascript_key_order() {
        let value = json!({
            "b": 1, "4294967295": 2, "4294967294": 3, "01": 4, "1": 5, "-1": 6, "0": 7,
            "nested": [{"z": 1, "10": 2, "2": 3}],
        });
        let written = serde_json::to_string(&JsValue(&value)).expect("json");
        // Node 20, JSON.stringify of the same object literal.
        assert_eq!(
            written,
            r#"{"0":7,"1":5,"4294967294":3,"b":1,"4294967295":2,"01":4,"-1":6,"nested":[{"2":3,"10":2,"z":1}]}"#
        );
        let plain = json!({"b": 1, "a": {"c": [1, 2]}});
        assert_eq!(
            serde_json::to_string(&JsValue(&plain)).expect("json"),
            plain.to_string()
        );
    }
}
