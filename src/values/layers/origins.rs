//! Result pointer → the index of the source that set the node.
//!
//! Every pointer's bytes live in one buffer and the table holds where
//! each starts: recording a node allocates nothing of its own, and
//! copying or dropping a layering (each customer's starts from the
//! manager's) copies two buffers instead of one string per node. A
//! forgotten pointer's bytes stay in the buffer until the whole is dropped
//! or [`Origins::filtered`] copies what is kept.

use std::hash::BuildHasher;

use hashbrown::HashTable;

#[derive(Debug, Clone, Default)]
pub(super) struct Origins {
    bytes: String,
    table: HashTable<Slot>,
    /// Records nothing (see [`Origins::off`]).
    off: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    len: usize,
    source: usize,
}

fn hash(pointer: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(pointer)
}

fn key<'b>(bytes: &'b str, slot: &Slot) -> &'b str {
    &bytes[slot.start..slot.start + slot.len]
}

impl Origins {
    /// Origins that record nothing: for a layering whose value alone is
    /// wanted.
    pub fn off() -> Origins {
        Origins {
            off: true,
            ..Origins::default()
        }
    }

    pub fn is_off(&self) -> bool {
        self.off
    }

    /// The source that set the node at `pointer`, when it is recorded.
    pub fn get(&self, pointer: &str) -> Option<usize> {
        let bytes = &self.bytes;
        self.table
            .find(hash(pointer), |s| key(bytes, s) == pointer)
            .map(|s| s.source)
    }

    pub fn contains_key(&self, pointer: &str) -> bool {
        self.get(pointer).is_some()
    }

    /// Records (or records again) that `source` set the node at `pointer`.
    pub fn insert(&mut self, pointer: &str, source: usize) {
        if self.off {
            return;
        }
        let h = hash(pointer);
        let bytes = &self.bytes;
        if let Some(slot) = self.table.find_mut(h, |s| key(bytes, s) == pointer) {
            slot.source = source;
            return;
        }
        let start = self.bytes.len();
        self.bytes.push_str(pointer);
        let bytes = &self.bytes;
        let slot = Slot {
            start,
            len: pointer.len(),
            source,
        };
        self.table.insert_unique(h, slot, |s| hash(key(bytes, s)));
    }

    /// Room for `additional` more records, made at once: a table that
    /// grows record by record rehashes every time it doubles.
    pub fn reserve(&mut self, additional: usize) {
        if self.off {
            return;
        }
        let bytes = &self.bytes;
        self.table.reserve(additional, |s| hash(key(bytes, s)));
    }

    pub fn remove(&mut self, pointer: &str) {
        let bytes = &self.bytes;
        if let Ok(entry) = self
            .table
            .find_entry(hash(pointer), |s| key(bytes, s) == pointer)
        {
            entry.remove();
        }
    }

    /// Every recorded pointer with its source, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, usize)> {
        self.table.iter().map(|s| (key(&self.bytes, s), s.source))
    }

    /// The records whose pointer `keep` accepts, in a buffer of their own.
    pub fn filtered(&self, keep: impl Fn(&str) -> bool) -> Origins {
        let mut out = Origins {
            off: self.off,
            ..Origins::default()
        };
        out.reserve(self.table.len());
        for (pointer, source) in self.iter().filter(|(p, _)| keep(p)) {
            out.insert(pointer, source);
        }
        out
    }
}

impl PartialEq for Origins {
    /// The same pointers with the same sources (where the bytes lie does
    /// not matter).
    fn eq(&self, other: &Origins) -> bool {
        self.table.len() == other.table.len() && self.iter().all(|(p, s)| other.get(p) == Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, overwrites, removals and filters give what a hash
    /// map of owned pointers gives.
    #[test]
    fn origins_behave_as_a_map_of_pointers() {
        let mut rng = fastrand::Rng::with_seed(0x5eed_0004_u64);
        let names = ["", "/a", "/a/b", "/a/b/0", "/b", "/ab", "/a~1b", "/é"];
        let mut origins = Origins::default();
        let mut model: HashMap<String, usize> = HashMap::new();
        for step in 0..5000 {
            let p = names[rng.usize(..names.len())];
            match rng.u8(..4) {
                0 | 1 => {
                    let s = rng.usize(..4);
                    origins.insert(p, s);
                    model.insert(p.to_string(), s);
                }
                2 => {
                    origins.remove(p);
                    model.remove(p);
                }
                _ => {
                    let keep = |q: &str| q.len() % 2 == step % 2;
                    origins = origins.filtered(keep);
                    model.retain(|q, _| keep(q));
                }
            }
            for n in names {
                assert_eq!(origins.get(n), model.get(n).copied(), "{n:?} at {step}");
            }
            let mut have: Vec<(String, usize)> =
                origins.iter().map(|(p, s)| (p.to_string(), s)).collect();
            let mut want: Vec<(String, usize)> = model.clone().into_iter().collect();
            have.sort();
            want.sort();
            assert_eq!(have, want, "at {step}");
        }
    }

    #[test]
    fn equal_records_are_equal_wherever_their_bytes_lie() {
        let (mut a, mut b) = (Origins::default(), Origins::default());
        a.insert("/x", 1);
        a.insert("/y", 2);
        a.remove("/x");
        a.insert("/x", 1);
        b.insert("/y", 2);
        b.insert("/x", 1);
        assert_eq!(a, b);
        b.insert("/x", 0);
        assert_ne!(a, b);
        b.insert("/x", 1);
        b.insert("/z", 1);
        assert_ne!(a, b);
    }
}
