//! What an approver reads before a state operation runs: the operation
//! in Terraform's words, what it means (state only), the state it was
//! previewed against and how to let it through.

/// A sealed state operation, as the approver is shown it.
pub struct StatePreview<'a> {
    /// `customer/environment` (or `customer/product/environment`).
    pub unit: &'a str,
    pub operation: &'a str,
    pub operands: &'a [String],
    /// For `rm` and `mv`: each address, and whether the state has it.
    pub present: Vec<(&'a str, bool)>,
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub serial: Option<u64>,
    pub resources: usize,
    pub digest: &'a str,
    /// The GitHub environment the applying job runs in.
    pub apply_environment: &'a str,
    /// This run's id, which a confirming run names.
    pub run_id: Option<&'a str>,
    /// An adoption's release: the digest of the adoption plan it undoes.
    pub releases: Option<&'a str>,
}

/// The preview, Markdown.
pub fn state_preview(p: &StatePreview<'_>) -> Result<String, minijinja::Error> {
    let present: Vec<_> = p
        .present
        .iter()
        .map(|(a, there)| minijinja::context! { address => *a, there => *there })
        .collect();
    let env = super::markdown::environment();
    env.get_template("state_preview.md")?
        .render(minijinja::context! {
            unit => p.unit,
            operation => p.operation,
            step => step(p.operation),
            operands => p.operands.iter().map(|o| super::markdown::md_code(o)).collect::<Vec<_>>().join(" "),
            meaning => match p.releases {
                Some(adoption) => release_meaning(adoption),
                None => meaning(p.operation, p.operands),
            },
            releases => p.releases.is_some(),
            present => present,
            reason => p.reason,
            requested_by => p.requested_by,
            serial => p.serial,
            resources => p.resources,
            digest => p.digest,
            apply_environment => p.apply_environment,
            run_id => p.run_id.unwrap_or("(this run)"),
        })
}

fn step(operation: &str) -> &'static str {
    match operation {
        "import" => "import",
        "mv" => "state mv",
        "rm" => "state rm",
        _ => "force-unlock",
    }
}

/// What the operation does, in plain words.
pub fn meaning(operation: &str, operands: &[String]) -> String {
    let code = |i: usize| {
        operands
            .get(i)
            .map(|o| super::markdown::md_code(o))
            .unwrap_or_default()
    };
    match operation {
        "import" => format!(
            "Terraform starts managing the existing object {} as {}; the object itself is not touched.",
            code(1),
            code(0)
        ),
        "mv" => format!(
            "Terraform's record of {} is renamed to {}; the object itself is not touched.",
            code(0),
            code(1)
        ),
        "rm" => "Terraform forgets these objects; they keep running, no longer managed. If the module still declares them, the next plan creates them anew.".to_string(),
        _ => format!(
            "The state lock {} is released; whatever held it must have stopped.",
            code(0)
        ),
    }
}

/// What an adoption's release does, in plain words.
fn release_meaning(adoption: &str) -> String {
    format!(
        "It undoes the adoption applied from plan {}: Terraform forgets the objects that adoption imported; they keep running, no longer managed here. The module still declares them, so the pair's next plan would create them anew: adopt them again before the next apply.",
        super::markdown::md_code(&format!("sha256:{adoption}"))
    )
}

/// A sealed restore of a state's version, as the approver is shown it.
pub struct RestorePreview<'a> {
    pub unit: &'a str,
    /// The state object's key in the bucket.
    pub key: &'a str,
    /// The version restored: id, time, serial.
    pub version: (&'a str, &'a str, u64),
    /// The version it replaces: id, time, serial (none: not a state).
    pub current: (&'a str, &'a str, Option<u64>),
    pub lineage: &'a str,
    pub new_serial: u64,
    /// Addresses that appear, disappear and change, in that order.
    pub changes: [&'a [String]; 3],
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub digest: &'a str,
    pub apply_environment: &'a str,
    pub run_id: Option<&'a str>,
    /// The current version is no state (`N bytes, not JSON`): what it is,
    /// and the newest readable version compared instead (id, serial).
    pub unreadable: Option<(&'a str, &'a str, u64)>,
}

/// The restore's preview, Markdown.
pub fn restore_preview(p: &RestorePreview<'_>) -> Result<String, minijinja::Error> {
    let env = super::markdown::environment();
    let compared = p.unreadable.map(|u| u.2).or(p.current.2);
    let older = compared.is_some_and(|c| p.version.2 < c);
    env.get_template("restore_preview.md")?
        .render(minijinja::context! {
            unit => p.unit,
            key => p.key,
            version => p.version.0,
            version_time => p.version.1,
            version_serial => p.version.2,
            current => p.current.0,
            current_time => p.current.1,
            current_serial => p.current.2.map_or("not a state".to_string(), |s| format!("serial {s}")),
            current_serial_n => compared,
            unreadable => p.unreadable.map(|u| u.0),
            compared_with => p.unreadable.map(|u| u.1),
            older => older,
            lineage => p.lineage,
            new_serial => p.new_serial,
            nothing => p.changes.iter().all(|c| c.is_empty()),
            appear => p.changes[0].to_vec(),
            disappear => p.changes[1].to_vec(),
            change => p.changes[2].to_vec(),
            reason => p.reason,
            requested_by => p.requested_by,
            digest => p.digest,
            apply_environment => p.apply_environment,
            run_id => p.run_id.unwrap_or("(this run)"),
        })
}
