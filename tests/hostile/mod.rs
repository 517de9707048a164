//! Hostile input (SECURITY.md, "Attack classes"): the corpus, leaks and
//! paths, notices and links, I/O, output, and tenant isolation.

pub(crate) mod corpus;
pub(crate) mod io;
pub(crate) mod leaks_and_paths;
pub(crate) mod notices_and_links;
pub(crate) mod output;
pub(crate) mod tenant_isolation;
