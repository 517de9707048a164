//! File helpers: bounded reads that never follow links, writes that never
//! go through one, atomic replacement, locks and tree copies.
//!
//! Every error names the path and keeps the operating system's reason
//! ([`FsError`]): "writing .fleetform/out/acme/staging/comment.md: No space
//! left on device (os error 28)".
//!
//! Customer files are read with [`read_under`]: every component below the
//! customer's checkout must be a real directory, the file itself a regular
//! file (no symlink to another customer's folder, no FIFO that blocks the
//! fleet), and the read is bounded. Outputs are written with
//! [`ensure_dir`] and [`write_atomic`]: folders below the output root are
//! never symlinks, files are replaced by a rename (which replaces a planted
//! link instead of writing through it) and lock files are opened without
//! following links and without truncating.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// An I/O error: what was being done, to which path, and the OS's reason.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {reason}", .path.display())]
pub struct FsError {
    pub action: &'static str,
    pub path: PathBuf,
    pub reason: std::io::Error,
}

impl FsError {
    pub fn new(action: &'static str, path: &Path, reason: std::io::Error) -> Self {
        FsError {
            action,
            path: crate::util::path::display_path(path),
            reason,
        }
    }

    /// The OS error kind (e.g. `NotFound`).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.reason.kind()
    }
}

fn refused(what: &str) -> std::io::Error {
    std::io::Error::other(what.to_string())
}

const LINK: &str = "is a symbolic link; fleetform does not read or write through links";

/// Opens `path` for reading without following a final symlink and without
/// blocking on a FIFO, and checks it is a regular file.
fn open_regular(path: &Path) -> std::io::Result<(File, u64)> {
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(refused(LINK));
    }
    let f = open_nofollow(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return refused(LINK);
        }
        e
    })?;
    regular(f)
}

/// `path` opened to read, not through a symbolic link at its end and
/// without waiting (a FIFO), closed on exec. On Linux one system call
/// (rustix's `openat`; musl's `open` adds an `fcntl`).
#[cfg(target_os = "linux")]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use rustix::fs::{Mode, OFlags, CWD};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::openat(
        CWD,
        path,
        flags,
        Mode::empty(),
    )?))
}

#[cfg(not(target_os = "linux"))]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    opts.open(path)
}

/// `f` and its length when it is a regular file; a FIFO, device or folder
/// is refused, naming what it is.
fn regular(f: File) -> std::io::Result<(File, u64)> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(refused(&format!(
            "is not a regular file ({}); only regular files are read",
            kind_name(&meta.file_type())
        )));
    }
    Ok((f, meta.len()))
}

fn kind_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Reads at most `limit` bytes from the regular file a setting names
/// (`SSL_CERT_FILE`, a CA file, an entry of `SSL_CERT_DIR`): a symbolic
/// link is followed (certificate folders are made of them), but what it
/// leads to must be a regular file; a FIFO, device or directory is
/// refused without blocking (opened non-blocking, checked after opening).
pub fn read_setting_file(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let err = |e| FsError::new("reading", path, e);
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let (f, len) = opts.open(path).and_then(regular).map_err(err)?;
    read_limited(f, len, limit).map_err(err)
}

/// The most an input file fleetform reads whole may hold (an artifact's
/// report, a downloaded preview, a configuration file).
pub const INPUT_LIMIT: u64 = 256 * 1024 * 1024;

/// An input file's bytes, as `std::fs::read` gives them but never
/// waiting: a FIFO, a device or a folder is refused at once (opened
/// without blocking, then checked), and more than [`INPUT_LIMIT`] bytes
/// is an error. Links are followed, as the path's user expects. Every
/// whole-file read of fleetform's code goes through here or through a
/// reader below (`tests/layout.rs` checks).
pub fn read_input(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    let path = path.as_ref();
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let (f, len) = regular(opts.open(path)?)?;
    read_limited(f, len, INPUT_LIMIT)
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    String::from_utf8(read_input(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text"))
}

/// Reads at most `limit` bytes from a regular file; more is an error that
/// names the limit. A symlink, FIFO, device or directory is refused.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let err = |e| FsError::new("reading", path, e);
    let (f, len) = open_regular(path).map_err(err)?;
    read_limited(f, len, limit).map_err(err)
}

/// Reads `f` whole, refusing more than `limit` bytes. `len` is the length
/// its metadata gave when it was opened: the buffer is sized from it (a
/// hint only, the limit still holds), so a small file is one read, not a
/// series of growing ones.
///
/// The first read asks for one byte more than that length. A read of a
/// regular file returns less than it asks only at the file's end, so when
/// it returns exactly the length the file is read, in one system call
/// (`read_to_end` would ask again to see the end). Any other count (the
/// file grew or shrank since) reads on to the end, as any reader does.
fn read_limited(mut f: File, len: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let hint = usize::try_from(len.min(limit)).unwrap_or(0);
    let mut bytes = vec![0; hint.saturating_add(1)];
    let n = loop {
        match f.read(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r?,
        }
    };
    bytes.truncate(n);
    if n != hint {
        let left = limit.saturating_add(1).saturating_sub(n as u64);
        f.take(left).read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > limit {
        return Err(refused(&format!(
            "the file is more than the limit of {limit} bytes; split or shrink it"
        )));
    }
    Ok(bytes)
}

/// Reads `rel` below `root` when every folder between them is a real
/// folder (not a symlink) and the file is a regular file, at most `limit`
/// bytes. `rel` must be relative without `..`. Used for files inside a
/// customer's checkout, so that no link can make one customer's file read
/// another's, or anything outside the checkout.
pub fn read_under(root: &Path, rel: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    Under::new(root).read(rel, limit)
}

/// Files read below one root as [`read_under`] reads them, each folder on
/// the way looked at once: a customer's variables, override and secrets
/// files share theirs (one `lstat` per customer instead of one per file).
pub struct Under<'r> {
    root: &'r Path,
    /// Folders below the root found to be real folders so far.
    checked: Vec<PathBuf>,
}

impl<'r> Under<'r> {
    pub fn new(root: &'r Path) -> Under<'r> {
        Under {
            root,
            checked: Vec::new(),
        }
    }

    /// [`read_under`] of `rel`.
    pub fn read(&mut self, rel: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
        let full = self.root.join(rel);
        let err = |e| FsError::new("reading", &full, e);
        if !crate::util::path::is_relative_inside(rel) {
            return Err(err(refused(
                "the path must be relative and stay inside the repo",
            )));
        }
        let mut at = self.root.to_path_buf();
        let parts: Vec<_> = rel
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            at.push(part);
            if self.checked.contains(&at) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&at).map_err(err)?;
            if meta.file_type().is_symlink() {
                return Err(FsError::new("reading", &at, refused(LINK)));
            }
            if !meta.is_dir() {
                return Err(FsError::new("reading", &at, refused("is not a directory")));
            }
            self.checked.push(at.clone());
        }
        read_bounded(&full, limit)
    }
}

/// Creates `base/rel` folder by folder: `base` is the caller's (trusted)
/// root and is created as needed; below it no component may be a symlink
/// or anything but a folder. Returns the full path.
pub fn ensure_dir(base: &Path, rel: &Path) -> Result<PathBuf, FsError> {
    std::fs::create_dir_all(base).map_err(|e| FsError::new("creating", base, e))?;
    let mut at = base.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(part) => at.push(part),
            Component::CurDir => continue,
            _ => {
                return Err(FsError::new(
                    "creating",
                    &base.join(rel),
                    refused("the path must be relative and stay inside the output folder"),
                ))
            }
        }
        match std::fs::symlink_metadata(&at) {
            Ok(meta) => check_real_dir(&at, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&at) {
                    Ok(()) => {}
                    // Created at the same time by a parallel run: check it.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let meta = std::fs::symlink_metadata(&at)
                            .map_err(|e| FsError::new("creating", &at, e))?;
                        check_real_dir(&at, &meta)?;
                    }
                    Err(e) => return Err(FsError::new("creating", &at, e)),
                }
            }
            Err(e) => return Err(FsError::new("creating", &at, e)),
        }
    }
    Ok(at)
}

fn check_real_dir(at: &Path, meta: &std::fs::Metadata) -> Result<(), FsError> {
    if meta.file_type().is_symlink() {
        return Err(FsError::new("creating", at, refused(LINK)));
    }
    if !meta.is_dir() {
        return Err(FsError::new(
            "creating",
            at,
            refused("exists and is not a directory"),
        ));
    }
    Ok(())
}

/// Writes `data` to `path` atomically: a temporary file in the same folder,
/// flushed, then renamed over the target. Readers never see half a file;
/// a symlink at `path` is replaced, never written through, and the parent
/// folder itself may not be a symlink. An existing file keeps its
/// permissions (the temporary file is created private).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), FsError> {
    let err = |e| FsError::new("writing", path, e);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => check_real_dir(dir, &meta)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| FsError::new("creating", dir, e))?;
        }
        Err(e) => return Err(FsError::new("writing", dir, e)),
    }
    let existing = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file());
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| FsError::new("creating a temporary file in", dir, e))?;
    tmp.write_all(data).map_err(err)?;
    if let Some(meta) = existing {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Makes `path` readable and writable by its owner alone (0600 on Unix;
/// elsewhere nothing changes).
pub fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `data` to a new file at `path` the way [`write_atomic`] does (a
/// temporary file, then a rename), but never replaces anything: when
/// `path` exists (a file, a folder or a symlink) it fails with
/// `AlreadyExists` and leaves it alone. The file is readable by everyone
/// (0644 on Unix): for files that hold no secrets, e.g. a new repo's.
pub fn write_new(path: &Path, data: &[u8]) -> Result<(), FsError> {
    write_new_mode(path, data, 0o644)
}

/// [`write_new`] for a file holding secrets: readable and writable by its
/// owner alone (0600 on Unix) from the moment it exists.
pub fn write_new_private(path: &Path, data: &[u8]) -> Result<(), FsError> {
    write_new_mode(path, data, 0o600)
}

fn write_new_mode(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
    let err = |e| FsError::new("writing", path, e);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| FsError::new("writing", dir, e))?;
    check_real_dir(dir, &meta)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| FsError::new("creating a temporary file in", dir, e))?;
    tmp.write_all(data).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist_noclobber(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Opens (creating if needed) a lock file without following a symlink and
/// without truncating it; the caller locks it.
pub fn open_lock_file(path: &Path) -> Result<File, FsError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(FsError::new("opening", path, refused(LINK)));
    }
    let f = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return FsError::new("opening", path, refused(LINK));
        }
        FsError::new("opening", path, e)
    })?;
    let meta = f.metadata().map_err(|e| FsError::new("opening", path, e))?;
    if !meta.is_file() {
        return Err(FsError::new(
            "opening",
            path,
            refused("is not a regular file"),
        ));
    }
    Ok(f)
}

/// SHA-256 of a regular file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, FsError> {
    let err = |e| FsError::new("hashing", path, e);
    let (mut f, _) = open_regular(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, as lowercase hex.
/// `value` is a SHA-256 in hex (64 hex characters); else the usage
/// message naming `flag`.
pub fn check_sha256_hex(flag: &str, value: &str) -> Result<(), String> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{flag} must be 64 hex characters"));
    }
    Ok(())
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Copies a Terraform module tree, leaving out local state, data dirs and
/// anything fleetform wrote.
pub fn copy_module(from: &Path, to: &Path) -> Result<(), FsError> {
    std::fs::create_dir_all(to).map_err(|e| FsError::new("creating", to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| FsError::new("reading", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FsError::new("reading", from, e))?;
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n == ".terraform" || n.starts_with("terraform.tfstate") || n.starts_with(".fleetform") {
            continue;
        }
        let src = entry.path();
        let ty = entry
            .file_type()
            .map_err(|e| FsError::new("reading", &src, e))?;
        let dest = to.join(&name);
        if ty.is_dir() {
            copy_module(&src, &dest)?;
        } else if ty.is_file() {
            std::fs::copy(&src, &dest).map_err(|e| FsError::new("copying", &src, e))?;
        }
        // Symlinks are skipped: a module must not reach outside itself.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_takes_the_whole_file_whatever_length_it_was_said_to_have() {
        let d = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 2, 100, 8191, 8192, 8193, 70_000] {
            let text: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let path = d.path().join(format!("f{size}"));
            std::fs::write(&path, &text).unwrap();
            // The length when opened, and lengths a file that grew or
            // shrank since would have had.
            for said in [size, 0, size / 2, size + 1, size * 2 + 10] {
                let f = File::open(&path).unwrap();
                let got = read_limited(f, said as u64, 1 << 20).unwrap();
                assert_eq!(got, text, "{size} bytes said to be {said}");
            }
            if size > 0 {
                let f = File::open(&path).unwrap();
                let e = read_limited(f, size as u64, size as u64 - 1).unwrap_err();
                assert!(e.to_string().contains("more than the limit"), "{e}");
            }
        }
    }

    #[test]
    fn reads_refuse_links_fifos_and_big_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join("infra")).unwrap();
        std::fs::write(root.join("infra/v.yml"), "a: 1\n").unwrap();
        assert_eq!(
            read_under(root, Path::new("infra/v.yml"), 100).unwrap(),
            b"a: 1\n"
        );
        let big = read_under(root, Path::new("infra/v.yml"), 3).unwrap_err();
        assert!(
            big.to_string().contains("more than the limit of 3 bytes"),
            "{big}"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("infra/v.yml"), root.join("infra/l.yml")).unwrap();
            let e = read_under(root, Path::new("infra/l.yml"), 100).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
            std::os::unix::fs::symlink(root.join("infra"), root.join("linked")).unwrap();
            let e = read_under(root, Path::new("linked/v.yml"), 100).unwrap_err();
            assert!(e.to_string().contains("linked: is a symbolic link"), "{e}");
            let fifo = root.join("infra/fifo.yml");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            let e = read_under(root, Path::new("infra/fifo.yml"), 100).unwrap_err();
            assert!(e.to_string().contains("a FIFO"), "{e}");
        }
        let e = read_under(root, Path::new("../x"), 100).unwrap_err();
        assert!(e.to_string().contains("inside the repo"), "{e}");
    }

    /// One reader for several files checks each folder on their paths
    /// once, and still refuses a path through a linked folder after it has
    /// checked real ones: a link is checked under its own path, never taken
    /// for the folder it points to. A path through a file is refused too.
    #[cfg(unix)]
    #[test]
    fn one_reader_checks_every_folder_of_every_file() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("infra/deep")).unwrap();
        std::fs::write(root.join("infra/v.yml"), "a: 1\n").unwrap();
        std::fs::write(root.join("infra/deep/w.yml"), "b: 2\n").unwrap();
        std::os::unix::fs::symlink(root.join("infra"), root.join("linked")).unwrap();
        std::os::unix::fs::symlink(root.join("infra/deep"), root.join("infra/hop")).unwrap();
        let mut under = Under::new(root);
        assert_eq!(
            under.read(Path::new("infra/v.yml"), 100).unwrap(),
            b"a: 1\n"
        );
        assert_eq!(
            under.read(Path::new("infra/deep/w.yml"), 100).unwrap(),
            b"b: 2\n"
        );
        for linked in ["linked/v.yml", "infra/hop/w.yml"] {
            let e = under.read(Path::new(linked), 100).unwrap_err();
            assert!(
                e.to_string().contains("is a symbolic link"),
                "{linked}: {e}"
            );
        }
        let e = under.read(Path::new("infra/v.yml/x"), 100).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn writes_never_go_through_links_and_keep_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let victim = root.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("out/f")).unwrap();
        write_atomic(&root.join("out/f"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(root.join("out/f")).unwrap(), "new");

        std::os::unix::fs::symlink(root, root.join("out/dir")).unwrap();
        let e = ensure_dir(&root.join("out"), Path::new("dir/x")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = write_atomic(&root.join("out/dir/victim"), b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

        std::os::unix::fs::symlink(&victim, root.join("out/lock")).unwrap();
        let e = open_lock_file(&root.join("out/lock")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

        let f = root.join("out/mode");
        std::fs::write(&f, "a").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&f, b"b").unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_never_replace_anything() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("victim"), "keep").unwrap();
        std::os::unix::fs::symlink(root.join("victim"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        for name in ["victim", "link", "dangling"] {
            let e = write_new(&root.join(name), b"new").unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{name}: {e}");
        }
        assert_eq!(
            std::fs::read_to_string(root.join("victim")).unwrap(),
            "keep"
        );
        assert!(!root.join("nowhere").exists());
        write_new(&root.join("fresh"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("fresh")).unwrap(), "new");
        let mode = std::fs::metadata(root.join("fresh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 4);
    }

    #[test]
    fn errors_name_the_path_and_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let e = read_bounded(&d.path().join("missing.yml"), 10).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("reading "), "{s}");
        assert!(s.contains("missing.yml: "), "{s}");
        assert!(s.contains("No such file"), "{s}");
    }
}
