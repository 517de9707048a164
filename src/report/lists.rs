//! Lists of resources as people read them: about ten lines at most with
//! the rest counted, runs of `count` indexes collapsed (`web[0..99]`
//! (100)), each action named as Terraform names it and the most
//! destructive first, so what comes after a list (the verdict, the
//! counts, the digest) stays on the first screen.

use crate::data::summary::Action;

/// Lines a list shows at most; a longer one shows one line fewer and
/// counts the rest in its last line.
pub const LIST_LINES: usize = 10;

/// The order of actions in every list: what is lost first.
pub const ORDER: [Action; 5] = [
    Action::Delete,
    Action::Replace,
    Action::Update,
    Action::Create,
    Action::Read,
];

/// The rank of an action in [`ORDER`].
pub fn rank(a: Action) -> usize {
    ORDER.iter().position(|x| *x == a).unwrap_or(ORDER.len())
}

/// One line of a list: an action, an address (its last `count` index
/// maybe a range) and how many resources it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub action: Action,
    pub address: String,
    pub count: usize,
    /// The positions, in the input, of what this item stands for.
    pub sources: Vec<usize>,
}

/// The address split around its last numeric index: `(before, n, after)`
/// for `before[n]after`.
fn last_index(address: &str) -> Option<(&str, u64, &str)> {
    let mut end = address.len();
    while let Some(close) = address[..end].rfind(']') {
        let open = address[..close].rfind('[')?;
        let inside = &address[open + 1..close];
        if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) {
            let n = inside.parse().ok()?;
            return Some((&address[..open], n, &address[close + 1..]));
        }
        end = open;
    }
    None
}

/// `0, 1, 2, 5, 7, 8` → `0..2, 5, 7..8`.
fn ranges(mut ns: Vec<u64>) -> String {
    ns.sort_unstable();
    ns.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}..{}", ns[i], ns[j])
        } else {
            ns[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Addresses of one action that read `before[n]after`, for some `n`.
struct Run {
    action: Action,
    before: String,
    after: String,
    indexes: Vec<u64>,
    count: usize,
    sources: Vec<usize>,
}

/// The resources as items, most destructive first and in their order
/// within an action; addresses of one action that differ only in their
/// last `count` index are one item (`web[0..99]`, 100).
pub fn collapse<'a>(resources: impl IntoIterator<Item = (Action, &'a str, usize)>) -> Vec<Item> {
    let mut runs: Vec<Run> = Vec::new();
    let mut plain: Vec<Item> = Vec::new();
    // Each first-seen address: (a run, its index in `runs` or `plain`).
    let mut order: Vec<(bool, usize)> = Vec::new();
    for (at_input, (action, address, count)) in resources.into_iter().enumerate() {
        match last_index(address) {
            Some((before, n, after)) => {
                match runs
                    .iter_mut()
                    .find(|r| r.action == action && r.before == before && r.after == after)
                {
                    Some(r) => {
                        r.indexes.push(n);
                        r.count += count;
                        r.sources.push(at_input);
                    }
                    None => {
                        runs.push(Run {
                            action,
                            before: before.into(),
                            after: after.into(),
                            indexes: vec![n],
                            count,
                            sources: vec![at_input],
                        });
                        order.push((true, runs.len() - 1));
                    }
                }
            }
            None => {
                plain.push(Item {
                    action,
                    address: address.to_string(),
                    count,
                    sources: vec![at_input],
                });
                order.push((false, plain.len() - 1));
            }
        }
    }
    let mut items: Vec<Item> = order
        .into_iter()
        .map(|(is_run, at)| {
            if is_run {
                let r = &runs[at];
                Item {
                    action: r.action,
                    address: format!("{}[{}]{}", r.before, ranges(r.indexes.clone()), r.after),
                    count: r.count,
                    sources: r.sources.clone(),
                }
            } else {
                plain[at].clone()
            }
        })
        .collect();
    items.sort_by_key(|i| rank(i.action));
    items
}

/// The items to show and how many resources the rest stand for: all of
/// them when they fit in [`LIST_LINES`], else one line fewer, the last
/// line saying how many more.
pub fn capped(items: &[Item]) -> (&[Item], usize) {
    if items.len() <= LIST_LINES {
        return (items, 0);
    }
    let shown = &items[..LIST_LINES - 1];
    let rest = items[LIST_LINES - 1..].iter().map(|i| i.count).sum();
    (shown, rest)
}

/// Addresses as code spans, collapsed and capped: `` `a`, `web[0..99]` (100) and 12 more ``.
pub fn inline(addresses: &[String]) -> String {
    let items = collapse(addresses.iter().map(|a| (Action::Delete, a.as_str(), 1)));
    let (shown, rest) = capped(&items);
    let mut parts: Vec<String> = shown.iter().map(label).collect();
    if rest > 0 {
        parts.push(format!("and {rest} more"));
    }
    parts.join(", ")
}

/// An item as code with its count when it stands for more than one
/// resource: `` `web[0..99]` (100) ``.
pub fn label(i: &Item) -> String {
    let code = super::markdown::md_code(&i.address);
    if i.count > 1 {
        format!("{code} ({})", i.count)
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(addresses: &[(&'static str, Action)]) -> Vec<Item> {
        collapse(addresses.iter().map(|(a, x)| (*x, *a, 1)))
    }

    #[test]
    fn runs_of_indexes_collapse_and_the_most_destructive_come_first() {
        let mut v: Vec<(String, Action)> = (0..100)
            .map(|i| (format!("aws_instance.web[{i}]"), Action::Delete))
            .collect();
        v.insert(0, ("aws_s3_bucket.logs".into(), Action::Create));
        v.push(("module.m[3].aws_eip.ip[0]".into(), Action::Replace));
        v.push(("module.m[3].aws_eip.ip[2]".into(), Action::Replace));
        v.push(("aws_sqs_queue.q[\"a\"]".into(), Action::Update));
        let got = collapse(v.iter().map(|(a, x)| (*x, a.as_str(), 1)));
        let shown: Vec<(Action, &str, usize)> = got
            .iter()
            .map(|i| (i.action, i.address.as_str(), i.count))
            .collect();
        assert_eq!(
            shown,
            [
                (Action::Delete, "aws_instance.web[0..99]", 100),
                (Action::Replace, "module.m[3].aws_eip.ip[0, 2]", 2),
                (Action::Update, "aws_sqs_queue.q[\"a\"]", 1),
                (Action::Create, "aws_s3_bucket.logs", 1),
            ]
        );
        assert_eq!(label(&got[0]), "`aws_instance.web[0..99]` (100)");
    }

    #[test]
    fn a_long_list_shows_nine_lines_and_counts_the_rest() {
        let names: Vec<String> = (0..25).map(|i| format!("aws_s3_bucket.b{i}")).collect();
        let v = collapse(names.iter().map(|a| (Action::Delete, a.as_str(), 1)));
        let (shown, rest) = capped(&v);
        assert_eq!((shown.len(), rest), (9, 16));
        let few = items(&[("a.b", Action::Delete), ("c.d", Action::Create)]);
        assert_eq!(capped(&few), (&few[..], 0));
        assert_eq!(
            inline(&names),
            format!(
                "{}, and 16 more",
                (0..9)
                    .map(|i| format!("`aws_s3_bucket.b{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
    }

    #[test]
    fn index_ranges_read_as_runs() {
        assert_eq!(ranges(vec![8, 0, 1, 2, 5, 7]), "0..2, 5, 7..8");
        assert_eq!(last_index("a.b[\"k\"]"), None);
        assert_eq!(last_index("m[1].a.b"), Some(("m", 1, ".a.b")));
    }
}
