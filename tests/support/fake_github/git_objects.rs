//! Git's objects for the fake's commits, with the ids `git` computes
//! (SHA-1 of `<type> <length>\0<body>`; the Git book, "Git Internals - Git
//! Objects"): a commit made here has the id `git` gives the same files,
//! parents, author line and message, as on github.com, where a commit's
//! id is its Git object id. The runner's `actions/checkout` writes the
//! objects of the history it fetches as loose objects, so a workflow's
//! `git` finds the event's commits (`github.sha`, a push's `before`) by
//! the ids GitHub sends.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use sha1::{Digest, Sha1};

/// One object: its id, type and body.
#[derive(Debug, Clone)]
pub struct GitObject {
    pub id: String,
    pub kind: &'static str,
    pub body: Vec<u8>,
}

impl GitObject {
    fn new(kind: &'static str, body: Vec<u8>) -> GitObject {
        GitObject {
            id: id(kind, &body),
            kind,
            body,
        }
    }

    /// Writes it as a loose object of the repository whose `.git` is
    /// `git_dir` (zlib-deflated `<type> <length>\0<body>` at
    /// `objects/<2 hex>/<38 hex>`).
    pub fn write_loose(&self, git_dir: &Path) {
        let dir = git_dir.join("objects").join(&self.id[..2]);
        let file = dir.join(&self.id[2..]);
        if file.exists() {
            return;
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(format!("{} {}\0", self.kind, self.body.len()).as_bytes())
            .unwrap();
        z.write_all(&self.body).unwrap();
        std::fs::write(file, z.finish().unwrap()).unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn id(kind: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    hex(&h.finalize())
}

/// A file's blob id.
pub fn blob_id(content: &[u8]) -> String {
    id("blob", content)
}

enum Node<'a> {
    File(&'a [u8]),
    Dir(BTreeMap<&'a str, Node<'a>>),
}

/// The blobs and trees of `files` (paths with `/`, every file a regular
/// one, mode 100644); the root tree last.
pub fn tree_objects(files: &BTreeMap<String, Vec<u8>>) -> Vec<GitObject> {
    let mut root = BTreeMap::new();
    for (path, content) in files {
        let mut dir = &mut root;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                dir.insert(part, Node::File(content));
            } else {
                let next = dir
                    .entry(part)
                    .or_insert_with(|| Node::Dir(BTreeMap::new()));
                let Node::Dir(d) = next else {
                    panic!("fake GitHub: {path} is below a file")
                };
                dir = d;
            }
        }
    }
    let mut out = Vec::new();
    tree(&root, &mut out);
    out
}

/// Writes the objects of `dir` to `out`, its tree last; the tree's id.
/// Entries are sorted as Git sorts them: a folder as its name and `/`.
fn tree(dir: &BTreeMap<&str, Node>, out: &mut Vec<GitObject>) -> String {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, node) in dir {
        let (mode, key, id) = match node {
            Node::File(content) => {
                let blob = GitObject::new("blob", content.to_vec());
                let id = blob.id.clone();
                out.push(blob);
                ("100644", name.to_string(), id)
            }
            Node::Dir(d) => ("40000", format!("{name}/"), tree(d, out)),
        };
        let mut entry = format!("{mode} {name}\0").into_bytes();
        entry.extend((0..20).map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap()));
        entries.push((key, entry));
    }
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let t = GitObject::new("tree", entries.into_iter().flat_map(|(_, e)| e).collect());
    let id = t.id.clone();
    out.push(t);
    id
}

/// A commit object of `tree` with `parents`, by the fake's author at
/// `secs`, saying `message`.
pub fn commit_object(tree: &str, parents: &[String], secs: u64, message: &str) -> GitObject {
    let mut body = format!("tree {tree}\n");
    for p in parents {
        body.push_str(&format!("parent {p}\n"));
    }
    let who = format!("fleetform test <test@fleetform.invalid> {secs} +0000");
    body.push_str(&format!("author {who}\ncommitter {who}\n\n{message}\n"));
    GitObject::new("commit", body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids `git` itself gives (`git hash-object`, `git mktree`,
    /// `git commit-tree` with the same author and date).
    #[test]
    fn ids_are_the_ones_git_computes() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], stdin: &str| -> String {
            let mut c = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("GIT_AUTHOR_NAME", "fleetform test")
                .env("GIT_AUTHOR_EMAIL", "test@fleetform.invalid")
                .env("GIT_COMMITTER_NAME", "fleetform test")
                .env("GIT_COMMITTER_EMAIL", "test@fleetform.invalid")
                .env("GIT_AUTHOR_DATE", "1700000000 +0000")
                .env("GIT_COMMITTER_DATE", "1700000000 +0000")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "git {args:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        git(&["init", "-q"], "");
        let files = BTreeMap::from([
            ("a.txt".to_string(), b"one\n".to_vec()),
            ("a-b/c.yml".to_string(), b"two\n".to_vec()),
            ("a/d.tf".to_string(), b"three\n".to_vec()),
        ]);
        for (path, content) in &files {
            let f = dir.path().join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, content).unwrap();
        }
        git(&["add", "-A"], "");
        let tree = git(&["write-tree"], "");
        let objects = tree_objects(&files);
        assert_eq!(objects.last().unwrap().id, tree);
        assert_eq!(blob_id(b"one\n"), git(&["hash-object", "a.txt"], ""));
        let commit = git(&["commit-tree", &tree, "-m", "Update a.txt"], "");
        assert_eq!(
            commit_object(&tree, &[], 1_700_000_000, "Update a.txt").id,
            commit
        );
    }
}
