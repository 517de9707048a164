//! The book's "Request budgets" table (docs/src/reference/request-budgets.md), read so the counting tests
//! (tests/github/budgets.rs) take each expected count from the row that states
//! it: a row whose number changes without the code, or code whose count
//! changes without the row, fails the test.
//!
//! A row is found by its first cell as written (e.g.
//! "`plan --dispatch`, per environment"); a number in its second cell by
//! the text written right after it (e.g. `n(row, " per override file")`
//! is the 1 of "+1 per override file").

use std::collections::BTreeMap;

/// The table: first cell → second cell.
pub struct Budgets {
    rows: BTreeMap<String, String>,
}

impl Budgets {
    /// The table under "**Request budgets**" in the book's reference.
    pub fn from_book() -> Budgets {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs/src/reference/request-budgets.md"),
        )
        .unwrap();
        Budgets::parse(&readme)
    }

    pub fn parse(readme: &str) -> Budgets {
        let start = readme
            .find("**Request budgets**")
            .expect("docs/src/reference/request-budgets.md has a \"Request budgets\" table");
        let rows = readme[start..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim().trim_matches('|').splitn(2, " | ").collect();
                match cells[..] {
                    [k, v] => Some((k.trim().to_string(), v.trim().to_string())),
                    _ => None,
                }
            })
            .collect();
        Budgets { rows }
    }

    /// Every row's first cell, as written.
    pub fn rows(&self) -> impl Iterator<Item = &str> {
        self.rows.keys().map(String::as_str)
    }

    fn row(&self, row: &str) -> &str {
        self.rows.get(row).unwrap_or_else(|| {
            panic!(
                "README \"Request budgets\" has no row `{row}`; rows: {:?}",
                self.rows.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The first number of the row (its base count).
    pub fn lead(&self, row: &str) -> usize {
        let text = self.row(row);
        let digits: String = text
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("row `{row}` starts with no number: {text}"))
    }

    /// The number written right before `after` in the row (its only
    /// occurrence: an ambiguous phrase is a test error).
    pub fn n(&self, row: &str, after: &str) -> usize {
        let text = self.row(row);
        let found: Vec<usize> = text.match_indices(after).map(|(i, _)| i).collect();
        assert_eq!(
            found.len(),
            1,
            "row `{row}` must say `N{after}` once: {text}"
        );
        let before = &text[..found[0]];
        let digits: String = before
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("row `{row}` has no number before `{after}`: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Budgets;

    const TABLE: &str = "x\n**Request budgets** (y):\n\n| command | requests |\n|--|--|\n\
        | `a` | 7 with one file; +1 per override file; +12 per page |\n| `b` | +2 per job |\n\nafter\n";

    #[test]
    fn reads_numbers_by_the_text_after_them() {
        let b = Budgets::parse(TABLE);
        assert_eq!(b.lead("`a`"), 7);
        assert_eq!(b.n("`a`", " per override file"), 1);
        assert_eq!(b.n("`a`", " per page"), 12);
        assert_eq!(b.n("`b`", " per job"), 2);
    }
}
