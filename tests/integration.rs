//! The integration tests, one binary: every `tests/*.rs` is a module of
//! it (one link instead of one per file keeps a fresh build's disk and
//! time small; `tests/layout.rs` checks that no file is left out). Run one
//! file's tests with `cargo test --test integration comment::`.

mod common;
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/fake_s3.rs"]
mod fake_s3;
#[path = "support/fakecloud.rs"]
mod fakecloud;
#[path = "support/moto.rs"]
mod moto;
mod support;
#[path = "support/world.rs"]
mod world;

mod action_scripts;
mod action_scripts_checks;
mod actions;
mod actions_workflows;
mod app_auth;
mod approvals;
mod audit_report;
mod authorise_tokens;
mod batch;
mod bench_github;
mod bench_github_fleet;
mod bench_github_rollout;
mod budgets;
mod cloud_identity;
mod comment;
mod comment_apply;
mod comment_commands;
mod completions;
mod conclude_plans;
mod concurrency;
mod customer_text;
mod dashboard;
mod day2_ops;
mod dispatch_auth;
mod doctor;
mod doctor_isolation;
mod doctor_setup;
mod drift_shards;
mod engine;
mod etag_cache;
mod fake_github_selftest;
mod fake_github_selftest_contents;
mod fake_github_selftest_issues;
mod fake_github_selftest_repos;
mod fake_github_selftest_transport;
mod fakecloud_provider;
mod faults;
mod fleet_ops;
mod gate_tools;
mod gates_sync;
mod github_answers;
mod github_loop;
mod github_loop_approvals;
mod github_loop_drift;
mod github_loop_requests;
mod github_loop_trigger;
mod hostile;
mod hostile_ii;
mod hostile_iii;
mod hostile_io;
mod hostile_out;
mod impact;
mod impact_preview;
mod init;
mod init_operators;
mod layout;
mod layout_sizes;
mod network;
mod newcomer;
mod newcomer_docs;
mod newcomer_ops;
mod notify;
mod offboard;
mod offboard_workflow;
mod oidc_trust;
mod ops_workflow;
mod pin_cli;
mod pins;
mod products;
mod products_github;
mod real_cloud;
mod records;
mod records_s3;
mod registry_lock;
mod relay;
mod relay_claims;
mod relay_comments;
mod relay_fleet;
mod relay_issuer;
mod relay_webhooks;
mod rollout;
mod rollout_github;
mod rollout_owed;
mod rollout_queue;
mod rollout_review;
mod rollout_workflow;
mod schedule;
mod schema_authoring;
mod setup_action;
mod setup_action_source;
mod status_truth;
mod sync_carry;
mod targeted_products;
mod templates;
mod templates_apply;
mod templates_credentials;
mod templates_reruns;
mod templates_trigger;
mod tenant_isolation;
mod views;
