//! Plain scalars resolved with the YAML 1.2 core schema.

use serde_json::{Number, Value};

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub(crate) fn resolve_plain(s: &str) -> Result<Value, String> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "`{s}` is not a finite number and cannot be passed to Terraform; quote it to use it as a string"
            ))
        }
        _ => {}
    }
    let bytes = s.as_bytes();
    let digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let (sign, body) = match bytes.first() {
        Some(b'-') | Some(b'+') => (&s[..1], &s[1..]),
        _ => ("", s),
    };
    if digits(body.as_bytes()) {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(format!(
            "integer `{}` is too large; quote it to use it as a string",
            truncate(s, 40)
        ));
    }
    if sign.is_empty() {
        if let Some(hex) = s.strip_prefix("0x") {
            if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return u64::from_str_radix(hex, 16)
                    .map(|v| Value::Number(v.into()))
                    .map_err(|_| format!("integer `{}` is too large", truncate(s, 40)));
            }
        }
        if let Some(oct) = s.strip_prefix("0o") {
            if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return u64::from_str_radix(oct, 8)
                    .map(|v| Value::Number(v.into()))
                    .map_err(|_| format!("integer `{}` is too large", truncate(s, 40)));
            }
        }
    }
    if is_float(body) {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f).filter(|_| f.is_finite()) {
                return Ok(Value::Number(n));
            }
            return Err(format!(
                "number `{}` is out of range; quote it to use it as a string",
                truncate(s, 40)
            ));
        }
    }
    Ok(Value::String(s.to_string()))
}

/// At most `n` bytes of `s` (on a char boundary), with `…` when cut.
pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}
