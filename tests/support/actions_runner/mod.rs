//! The shipped workflows and composite actions run as GitHub runs them
//! (issue "A GitHub as strict as github.com"): the files parsed with
//! zizmor's `github-actions-models`, their expressions with its
//! `github-actions-expressions` and evaluated over the runner's contexts
//! (`expr`).
//!
//! Built so far: the expression language (`expr`: contexts, functions,
//! status checks, interpolation), with GitHub's documented examples as its
//! tests. The job graph, environments and their secrets, composite steps
//! in bash and the stand-ins for third-party actions come next; until then
//! `workflow_sim` serves the job-graph tests.

pub mod expr;
