//! Terraform's plan text as a PR comment shows it: without the refresh
//! chatter, as a `diff` block GitHub colours (markers moved to column 0, as
//! Atlantis does), and cut at resource boundaries when it does not fit.

/// Lines Terraform prints while reading state and data sources: they carry
/// no change and eat the comment's budget.
fn is_chatter(line: &str) -> bool {
    let t = line.trim();
    t.ends_with(": Refreshing state...")
        || t.contains(": Refreshing state... [")
        || t.ends_with(": Reading...")
        || t.contains(": Read complete after ")
        || t.contains(": Still reading... [")
}

/// The plan text without refresh and read chatter.
pub fn without_chatter(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !is_chatter(l)) {
        out.push_str(line);
        out.push('\n');
    }
    // Leading blank lines left by the chatter.
    out.trim_start_matches('\n').to_string()
}

/// One line with its change marker moved to column 0, so a `diff` block
/// colours it: `+` green, `-` (and `-/+`) red; `~` (which `diff` does not
/// colour) becomes `!`, as in Atlantis.
fn diff_line(line: &str) -> String {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    if indent == 0 {
        return line.to_string();
    }
    for marker in ["-/+ ", "+/- ", "+ ", "- ", "~ ", "<= "] {
        if let Some(rest) = body.strip_prefix(marker) {
            let m = marker.trim_end().replace('~', "!");
            return format!("{m}{}{rest}", " ".repeat(indent + marker.len() - m.len()));
        }
    }
    line.to_string()
}

/// The plan text as the lines of a `diff` block.
pub fn as_diff(text: &str) -> String {
    text.lines().map(diff_line).collect::<Vec<_>>().join("\n")
}

/// A part of the plan text: what comes before the first resource, one
/// resource's block (its `# address will be ...` line up to the next), or
/// what follows the last (the `Plan:` line, output changes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block<'a> {
    address: Option<String>,
    lines: Vec<&'a str>,
}

/// `  # aws_instance.web[0] will be destroyed` → `aws_instance.web[0]`.
fn resource_header(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("# ")?;
    let verbs = [
        " will be ",
        " must be ",
        " has moved to ",
        " is tainted",
        " has been ",
        " will no longer be managed",
        " will be read during apply",
    ];
    let end = verbs.iter().filter_map(|v| rest.find(v)).min()?;
    Some(rest[..end].to_string())
}

fn is_epilogue(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("Plan: ") || t.starts_with("Changes to Outputs:") || t.starts_with("No changes.")
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = vec![Block {
        address: None,
        lines: Vec::new(),
    }];
    let mut in_epilogue = false;
    for line in text.lines() {
        if !in_epilogue && is_epilogue(line) {
            in_epilogue = true;
            out.push(Block {
                address: None,
                lines: Vec::new(),
            });
        } else if !in_epilogue {
            if let Some(address) = resource_header(line) {
                out.push(Block {
                    address: Some(address),
                    lines: Vec::new(),
                });
            }
        }
        out.last_mut().expect("one block at least").lines.push(line);
    }
    out
}

/// The plan text cut to at most `budget` bytes at resource boundaries:
/// the preamble, as many whole resource blocks as fit, and the `Plan:`
/// summary at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub text: String,
    pub shown_lines: usize,
    pub total_lines: usize,
    /// Addresses whose blocks were left out, in plan order.
    pub omitted: Vec<String>,
}

pub fn cut(text: &str, budget: usize) -> Cut {
    let total_lines = text.lines().count();
    if text.len() <= budget {
        return Cut {
            text: text.to_string(),
            shown_lines: total_lines,
            total_lines,
            omitted: Vec::new(),
        };
    }
    let all = blocks(text);
    let size = |b: &Block| b.lines.iter().map(|l| l.len() + 1).sum::<usize>();
    let (first, last) = (&all[0], &all[all.len() - 1]);
    let epilogue = if all.len() > 1 && last.address.is_none() {
        Some(last)
    } else {
        None
    };
    let mut used = size(first) + epilogue.map_or(0, size);
    let mut kept: Vec<&Block> = vec![first];
    let mut omitted = Vec::new();
    let middle = &all[1..all.len() - usize::from(epilogue.is_some())];
    for b in middle {
        if omitted.is_empty() && used + size(b) <= budget {
            used += size(b);
            kept.push(b);
        } else if let Some(a) = &b.address {
            omitted.push(a.clone());
        }
    }
    kept.extend(epilogue);
    let mut lines: Vec<&str> = kept.iter().flat_map(|b| b.lines.iter().copied()).collect();
    // A single block larger than the budget (or no block structure at all):
    // keep whole lines from the start.
    let mut bytes = 0;
    let fit = lines
        .iter()
        .take_while(|l| {
            bytes += l.len() + 1;
            bytes <= budget
        })
        .count();
    lines.truncate(fit);
    Cut {
        shown_lines: lines.len(),
        text: lines.join("\n"),
        total_lines,
        omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "\
aws_s3_bucket.logs: Refreshing state... [id=logs]
data.aws_ami.x: Reading...
data.aws_ami.x: Read complete after 1s [id=ami-1]

Terraform will perform the following actions:

  # aws_instance.web[0] must be replaced
-/+ resource \"aws_instance\" \"web\" {
      ~ ami = \"ami-1\" -> \"ami-2\" # forces replacement
        id  = \"i-1\"
    }

  # aws_s3_bucket.logs will be destroyed
  - resource \"aws_s3_bucket\" \"logs\" {
      - bucket = \"logs\" -> null
    }

  # null_resource.new will be created
  + resource \"null_resource\" \"new\" {
      + id = (known after apply)
    }

Plan: 2 to add, 0 to change, 2 to destroy.
";

    #[test]
    fn chatter_goes_and_markers_move_to_column_zero() {
        let text = without_chatter(PLAN);
        assert!(
            !text.contains("Refreshing state") && !text.contains("Read complete"),
            "{text}"
        );
        assert!(text.starts_with("Terraform will perform"), "{text}");
        let diff = as_diff(&text);
        assert!(diff.contains("\n-/+ resource \"aws_instance\""), "{diff}");
        assert!(diff.contains("\n!       ami = \"ami-1\""), "{diff}");
        assert!(
            diff.contains("\n-   resource \"aws_s3_bucket\" \"logs\" {"),
            "{diff}"
        );
        assert!(
            diff.contains("\n+       id = (known after apply)"),
            "{diff}"
        );
        // Lines without a marker keep their place.
        assert!(diff.contains("\n        id  = \"i-1\""), "{diff}");
    }

    #[test]
    fn cuts_fall_between_resources_and_name_what_was_left_out() {
        let text = without_chatter(PLAN);
        assert_eq!(cut(&text, 100_000).omitted, Vec::<String>::new());
        let c = cut(&text, 260);
        assert!(
            c.text.contains("aws_instance.web[0] must be replaced"),
            "{}",
            c.text
        );
        assert!(
            !c.text.contains("aws_s3_bucket.logs will be destroyed"),
            "{}",
            c.text
        );
        assert!(
            c.text
                .ends_with("Plan: 2 to add, 0 to change, 2 to destroy."),
            "{}",
            c.text
        );
        assert_eq!(c.omitted, ["aws_s3_bucket.logs", "null_resource.new"]);
        assert!(c.shown_lines < c.total_lines);
        assert!(c.text.len() <= 260);
    }

    #[test]
    fn headers_with_every_verb() {
        assert_eq!(
            resource_header("  # a.b will be updated in-place").as_deref(),
            Some("a.b")
        );
        assert_eq!(
            resource_header("  # a.b[\"x y\"] must be replaced").as_deref(),
            Some("a.b[\"x y\"]")
        );
        assert_eq!(
            resource_header("  # a.b has moved to a.c").as_deref(),
            Some("a.b")
        );
        assert_eq!(resource_header("  # just a comment"), None);
    }
}
