//! Numbers a person wrote as text: YAML 1.2 reads unquoted `01234` or
//! `0755` as the numbers 1234 and 755, so a schema asking for a string
//! reports a number the author never wrote. The hint shows how to quote it.

use fleetform_yaml::Pos;

/// The hint for the plain scalar at `pos` in `text`, when it reads as a
/// number but not as the one written (a leading zero, `1.10`, `+5`).
pub fn number_hint(text: &[u8], pos: Pos, key: Option<&str>) -> Option<String> {
    let line = text.split(|b| *b == b'\n').nth(pos.line.checked_sub(1)?)?;
    let line = std::str::from_utf8(line).ok()?;
    let from: String = line.chars().skip(pos.col.checked_sub(1)?).collect();
    let token: &str = from
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
        .next()?;
    let numeric = !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | '_' | 'e' | 'E'));
    let as_written = token.parse::<f64>().ok().map(|n| n.to_string());
    let digits = token.trim_start_matches(['+', '-']);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    let changed = as_written.as_deref() != Some(token);
    if !numeric || !(leading_zero || changed) {
        return None;
    }
    let quoted = match key {
        Some(k) => format!("{k}: \"{token}\""),
        None => format!("\"{token}\""),
    };
    let why = if leading_zero {
        "unquoted digits are a number in YAML 1.2 and the leading zero is dropped"
    } else {
        "unquoted, it is a number in YAML 1.2 and is not kept as written"
    };
    Some(format!(
        "`{token}` in the file is read as a number ({why}); to keep it as text, quote it: `{quoted}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(text: &str, line: usize, col: usize) -> Option<String> {
        number_hint(text.as_bytes(), Pos { line, col }, Some("zip"))
    }

    #[test]
    fn leading_zeros_and_lossy_numbers_are_explained() {
        let h = hint("a: 1\nzip: 01234 # postal\n", 2, 6).unwrap();
        assert!(
            h.starts_with("`01234` in the file is read as a number (unquoted digits"),
            "{h}"
        );
        assert!(h.ends_with("quote it: `zip: \"01234\"`"), "{h}");
        assert!(hint("mode: [0755]\n", 1, 8).unwrap().contains("`0755`"));
        assert!(hint("v: 1.10\n", 1, 4)
            .unwrap()
            .contains("is not kept as written"));
    }

    #[test]
    fn numbers_kept_as_written_get_no_hint() {
        for (text, col) in [
            ("n: 1234\n", 4),
            ("n: 0\n", 4),
            ("n: 0.5\n", 4),
            ("n: -3\n", 4),
            ("n: 1.5\n", 4),
        ] {
            assert_eq!(hint(text, 1, col), None, "{text}");
        }
        assert_eq!(hint("n: x\n", 9, 1), None);
    }
}
