//! Flushes the directories that gained entries, and above them only the ones that must be.
//!
//! A new name survives a crash once the directory holding it is flushed; a new directory's
//! own name needs its parent flushed too, and so on up. Directories that already existed
//! gained nothing in their parents, so after a table's first commits a commit flushes only
//! the directories it wrote into: a restore flushes `_versions`, not the table and the
//! directory above it as well. The process remembers which directories' own names it has
//! flushed, by path, inode and birth time (a directory removed and made anew, even on a
//! reused inode, is born later and is flushed again).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::durability::sync_path;

/// What identifies one directory over time.
type Identity = (u64, SystemTime);

/// Bounds the memory: past this many, the list starts over (which only costs flushes).
const REMEMBERED: usize = 4096;

fn remembered() -> &'static Mutex<HashMap<PathBuf, Identity>> {
    static DURABLE_NAMES: OnceLock<Mutex<HashMap<PathBuf, Identity>>> = OnceLock::new();
    DURABLE_NAMES.get_or_init(Default::default)
}

/// The directory's identity; `None` when it is gone or the file system keeps no birth time
/// (then it is never taken as known).
fn identity(dir: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).ok()?;
    Some((meta.ino(), meta.created().ok()?))
}

/// Flushes every directory in `gained` (each gained an entry), then makes the names of those
/// and of the directories in `named` durable: a name that may be new gets its parent flushed,
/// and so on up to `top`, which is flushed when reached but never passed.
pub(crate) fn flush_new_entries(
    gained: &[PathBuf],
    named: &[PathBuf],
    top: &Path,
) -> std::io::Result<()> {
    let (dirs, learned) = dirs_to_flush(gained, named, top);
    dirs.iter().try_for_each(|d| sync_path(d))?;
    let mut known = remembered().lock().unwrap_or_else(|e| e.into_inner());
    if known.len() + learned.len() > REMEMBERED {
        known.clear();
    }
    known.extend(learned);
    Ok(())
}

/// The directories to flush, and the directories whose names those flushes make durable.
fn dirs_to_flush(
    gained: &[PathBuf],
    named: &[PathBuf],
    top: &Path,
) -> (BTreeSet<PathBuf>, Vec<(PathBuf, Identity)>) {
    let known = remembered().lock().unwrap_or_else(|e| e.into_inner());
    let mut dirs: BTreeSet<PathBuf> = gained
        .iter()
        .filter(|d| d.starts_with(top))
        .cloned()
        .collect();
    let mut names: Vec<PathBuf> = dirs.iter().chain(named).cloned().collect();
    let mut learned = Vec::new();
    while let Some(dir) = names.pop() {
        if dir == top || !dir.starts_with(top) {
            continue;
        }
        let id = identity(&dir);
        if id.is_some() && known.get(&dir) == id.as_ref() {
            continue;
        }
        let Some(parent) = dir.parent() else { continue };
        if let Some(id) = id {
            learned.push((dir.clone(), id));
        }
        if dirs.insert(parent.to_path_buf()) {
            names.push(parent.to_path_buf());
        }
    }
    (dirs, learned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directories a commit that wrote into `gained` flushes.
    fn walk(gained: &Path, top: &Path) -> BTreeSet<PathBuf> {
        dirs_to_flush(&[gained.to_path_buf()], &[], top).0
    }

    #[test]
    fn only_directories_whose_names_may_be_new_pull_in_their_parents() {
        let base = std::env::temp_dir().join(format!("palimpsest-dirs-{}", std::process::id()));
        let table = base.join("t.lance");
        let versions = table.join("_versions");
        std::fs::create_dir_all(&versions).unwrap();
        let set = |dirs: &[&PathBuf]| dirs.iter().map(|d| d.to_path_buf()).collect();
        // The first time, everything up to the top.
        let everything = set(&[&versions, &table, &base]);
        assert_eq!(walk(&versions, &base), everything);
        flush_new_entries(std::slice::from_ref(&versions), &[], &base).unwrap();
        if identity(&versions).is_none() {
            // No birth times on this file system: every flush walks all the way up.
            assert_eq!(walk(&versions, &base), everything);
            std::fs::remove_dir_all(&base).unwrap();
            return;
        }
        // Then the directory that gained an entry alone.
        assert_eq!(walk(&versions, &base), set(&[&versions]));
        // A directory new under a known one pulls in that one only.
        let deletions = table.join("_deletions");
        std::fs::create_dir(&deletions).unwrap();
        assert_eq!(walk(&deletions, &base), set(&[&deletions, &table]));
        // A directory made anew where a known one was (moved away, so even its inode is
        // new) is flushed up again.
        std::fs::rename(&versions, table.join("old")).unwrap();
        std::fs::create_dir(&versions).unwrap();
        assert_eq!(walk(&versions, &base), set(&[&versions, &table]));
        // A directory named (not written into) is not flushed itself; its parent is, while
        // its name may be new.
        let tree = table.join("tree");
        std::fs::create_dir(&tree).unwrap();
        assert_eq!(
            dirs_to_flush(&[], std::slice::from_ref(&tree), &base).0,
            set(&[&table])
        );
        // Nothing above the top is ever flushed.
        let dirs = walk(&versions, &table);
        assert!(dirs.iter().all(|d| d.starts_with(&table)), "{dirs:?}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
