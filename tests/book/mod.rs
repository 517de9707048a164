//! The book under docs/: its pages, links and examples.

pub(crate) mod examples;
pub(crate) mod pages;
