//! The integration tests, one binary: every file under `tests/` is a
//! module of it (one link instead of one per file keeps a fresh build's
//! disk and time small; `tests/layout/sizes.rs` checks that no file is left
//! out). The tests are grouped in folders by subject, each folder's
//! `mod.rs` declaring its files. Run one subject's tests with
//! `cargo test --test integration relay::`, one file's with
//! `cargo test --test integration relay::once::`.

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

mod actions;
mod adopt;
mod bench;
mod book;
mod cli;
mod cloud;
mod comment;
mod customers;
mod dispatch;
mod doctor;
mod drift;
mod fake_github_selftest;
mod fleet;
mod form;
mod fuzz;
mod gates;
mod github;
mod github_loop;
mod hostile;
mod impact;
mod layout;
mod local;
mod network;
mod newcomer;
mod notify;
mod products;
mod records;
mod rehearsal;
mod relay;
mod rollout;
mod schema;
mod secrets;
mod sync;
mod templates;
mod views;
