//! The runner's `actions/cache` stand-in, as the drift workflow uses it
//! (save under a key of the run, restore the newest by a prefix): a run
//! saves, the next restores by `restore-keys` (no exact hit), and a second
//! save under a key that exists only warns, as GitHub's caches are
//! immutable.

use serde_json::json;

use crate::support::actions_runner::{Event, Runner};
use crate::world::{World, MANAGER};

const WORKFLOW: &str = "name: cache\non: workflow_dispatch\npermissions: {}\njobs:
  keep:
    runs-on: ubuntu-latest
    steps:
      - id: restore
        uses: actions/cache/restore@0057852bfaa89a56745cba8c7296529d2fc39830 # v4.3.0
        with:
          path: .kept
          key: kept-${{ github.run_id }}
          restore-keys: kept-
      - name: show
        shell: bash
        env:
          HIT: ${{ steps.restore.outputs.cache-hit }}
          MATCHED: ${{ steps.restore.outputs.cache-matched-key }}
        run: |
          echo \"hit=$HIT matched=$MATCHED had=$(cat .kept/n 2>/dev/null || echo none)\"
          mkdir -p .kept && echo \"$GITHUB_RUN_ID\" > .kept/n
      - uses: actions/cache/save@0057852bfaa89a56745cba8c7296529d2fc39830 # v4.3.0
        with:
          path: .kept
          key: kept-first
";

#[test]
fn a_cache_saved_by_one_run_is_restored_by_the_next_by_its_prefix() {
    let w = World::new();
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("cache.yml");
    std::fs::write(&path, WORKFLOW).unwrap();
    let path = path.display().to_string();
    let mut runner = Runner::new(MANAGER);
    let event = Event {
        name: "workflow_dispatch".into(),
        payload: json!({}),
        git_ref: "refs/heads/main".into(),
        actor: "provider-lead".into(),
        inputs: json!({}),
    };
    let first = runner.run(&w.gh, &path, &event);
    first.assert_succeeded(&["keep"]);
    let log = &first.job("keep").log;
    assert!(log.contains("hit=false matched= had=none"), "{log}");
    assert!(log.contains("Cache saved with key: kept-first"), "{log}");
    let second = runner.run(&w.gh, &path, &event);
    second.assert_succeeded(&["keep"]);
    let log = &second.job("keep").log;
    assert!(log.contains("hit=false matched=kept-first had="), "{log}");
    assert!(!log.contains("had=none"), "{log}");
    assert!(
        log.contains("Unable to reserve cache with key kept-first"),
        "{log}"
    );
}
