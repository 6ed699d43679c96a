//! Versions a handle has checked out, so checking one out again is answered at once.
//!
//! A version's manifest never changes while its file exists: lance writes each manifest once
//! and never in place. So a version checked out before can be checked out again from memory
//! after a look at its file (a `stat`, no read), on the calling thread, instead of a trip
//! through lance's object store on the worker threads. The look compares the file's identity
//! (inode, modification time, size), so a version removed by `optimize()`, or a branch
//! deleted and made again with other contents under the same version numbers, is never served
//! from memory. Local tables only: elsewhere every checkout goes through lance.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use lance::Dataset;

use crate::durability::local_dir;

/// Most versions remembered per handle (each holds its manifest).
const MAX_SEEN: usize = 16;

/// A local file's identity.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    #[cfg(unix)]
    inode: u64,
    modified: SystemTime,
    len: u64,
}

fn stamp_of(dataset: &Dataset) -> Option<FileStamp> {
    let meta = std::fs::metadata(local_dir(&dataset.manifest_location().path)).ok()?;
    Some(FileStamp {
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
        modified: meta.modified().ok()?,
        len: meta.len(),
    })
}

#[derive(Default)]
pub(crate) struct SeenVersions {
    /// Least recently checked out first.
    seen: Mutex<Vec<(Arc<Dataset>, FileStamp)>>,
}

impl SeenVersions {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<Dataset>, FileStamp)>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `dataset`, a version just checked out of a local table.
    pub(crate) fn remember(&self, dataset: &Arc<Dataset>) {
        let Some(stamp) = stamp_of(dataset) else {
            return;
        };
        let mut seen = self.list();
        seen.retain(|(d, _)| !same_version(d, dataset));
        if seen.len() == MAX_SEEN {
            seen.remove(0);
        }
        seen.push((dataset.clone(), stamp));
    }

    /// Version `version` of `branch` (`None`: main), when it was checked out before and its
    /// manifest is still the same file.
    pub(crate) fn find(&self, branch: Option<&str>, version: u64) -> Option<Arc<Dataset>> {
        let (dataset, stamp) = {
            let seen = self.list();
            let (dataset, stamp) = seen.iter().find(|(d, _)| {
                d.version_id() == version && d.manifest().branch.as_deref() == branch
            })?;
            (dataset.clone(), *stamp)
        };
        if stamp_of(&dataset) == Some(stamp) {
            return Some(dataset);
        }
        self.list().retain(|(d, _)| !Arc::ptr_eq(d, &dataset));
        None
    }
}

fn same_version(a: &Dataset, b: &Dataset) -> bool {
    a.version_id() == b.version_id() && a.manifest().branch == b.manifest().branch
}
