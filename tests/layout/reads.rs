//! How fleetform's code reads whole files: never with `std::fs::read`,
//! which waits for ever on a FIFO and without end on a device.

use super::Tree;

#[test]
fn every_whole_file_read_refuses_what_would_make_it_wait() {
    // `std::fs::read` of a FIFO waits for a writer for ever, and of a
    // device without end: fleetform's code reads whole files through
    // `util::fs::read_input` (or the stricter readers beside it), which
    // refuse anything but a regular file and bound the size.
    let tree = Tree::load();
    let raw = regex::Regex::new(r"\b(?:std::)?fs::read(?:_to_string)?\(").unwrap();
    // The pattern finds what it is for.
    for read in ["std::fs::read(&p)", "fs::read_to_string(path)"] {
        assert!(raw.is_match(read), "{read}");
    }
    assert!(tree.files.len() >= 100, "only {} files", tree.files.len());
    let wrong: Vec<String> = tree
        .files
        .iter()
        .filter(|(file, _)| file.as_str() != "util/fs.rs")
        .flat_map(|(file, code)| {
            raw.find_iter(code)
                .map(move |m| format!("src/{file} uses {}", m.as_str()))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "read whole files with crate::util::fs::read_input(_text):\n{}",
        wrong.join("\n")
    );
}
