//! `verify`: checks every file a version needs (data files, deletion files, index files) and
//! reads every fragment, reporting what is missing or damaged instead of failing.

use futures::TryStreamExt;
use lance::index::DatasetIndexExt;
use lance::Dataset;
use lance_table::io::deletion::relative_deletion_file_path;

use crate::error::{first_line, Result};
use crate::table::TableHandle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    Missing,
    /// Smaller than the manifest says it is.
    Truncated,
    /// Present but could not be read.
    Unreadable,
}

impl ProblemKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Truncated => "truncated",
            Self::Unreadable => "unreadable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to the table directory.
    pub path: String,
    pub kind: ProblemKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    pub version: u64,
    pub files_checked: u64,
    pub fragments_read: u64,
    pub problems: Vec<Problem>,
}

impl TableHandle {
    /// Checks `version` (default: the version this handle shows): every file it needs, then
    /// a read of every fragment whose files look whole.
    pub async fn verify(&self, version: Option<u64>) -> Result<VerifyReport> {
        self.inspect(version, true).await
    }

    /// The file checks of `verify`, without reading the data.
    pub(crate) async fn check_files(&self, version: Option<u64>) -> Result<VerifyReport> {
        self.inspect(version, false).await
    }

    async fn inspect(&self, version: Option<u64>, read: bool) -> Result<VerifyReport> {
        let current = self.view().await?;
        let dataset = match version {
            Some(v) => self.load_version(&current, v).await?,
            None => current.as_ref().clone(),
        };
        let mut report = VerifyReport {
            version: dataset.version_id(),
            ..Default::default()
        };
        let store = dataset.object_store(None).await?;
        let base = dataset.branch_location().path;
        for fragment in dataset.get_fragments() {
            let meta = fragment.metadata();
            let mut expected: Vec<(String, Option<u64>)> = meta
                .files
                .iter()
                .filter(|f| f.base_id.is_none())
                .map(|f| {
                    let size = f.file_size_bytes.get().map(|s| s.get());
                    (format!("data/{}", f.path), size)
                })
                .collect();
            if let Some(deletion) = meta.deletion_file.as_ref().filter(|d| d.base_id.is_none()) {
                expected.push((relative_deletion_file_path(meta.id, deletion), None));
            }
            let mut intact = true;
            for (path, size) in expected {
                report.files_checked += 1;
                let full = relative(&base, &path);
                match store.size(&full).await {
                    Ok(actual) => {
                        if let Some(size) = size.filter(|s| actual < *s) {
                            intact = false;
                            report.problems.push(Problem {
                                path,
                                kind: ProblemKind::Truncated,
                                detail: format!("{actual} bytes, the manifest records {size}"),
                            });
                        }
                    }
                    Err(err) => {
                        intact = false;
                        report.problems.push(Problem {
                            path,
                            kind: ProblemKind::Missing,
                            detail: first_line(&err.to_string()),
                        });
                    }
                }
            }
            if intact && read {
                if let Err(err) = read_fragment(&dataset, meta.clone()).await {
                    report.problems.push(Problem {
                        path: meta.files.first().map_or_else(
                            || format!("fragment {}", meta.id),
                            |f| format!("data/{}", f.path),
                        ),
                        kind: ProblemKind::Unreadable,
                        detail: first_line(&err.to_string()),
                    });
                }
                report.fragments_read += 1;
            }
        }
        for index in dataset.load_indices().await?.iter() {
            let dir = base
                .clone()
                .join("_indices")
                .join(index.uuid.to_string().as_str());
            report.files_checked += 1;
            match store.read_dir(dir).await {
                Ok(files) if !files.is_empty() => {}
                Ok(_) | Err(_) => report.problems.push(Problem {
                    path: format!("_indices/{}", index.uuid),
                    kind: ProblemKind::Missing,
                    detail: format!("the files of index `{}` are gone", index.name),
                }),
            }
        }
        Ok(report)
    }
}

fn relative(base: &object_store::path::Path, path: &str) -> object_store::path::Path {
    path.split('/').fold(base.clone(), |p, part| p.join(part))
}

impl TableHandle {
    /// When a read failed with an I/O error, whether a file of the version is missing or
    /// truncated: then the error becomes `CORRUPT_TABLE` naming the file.
    pub(crate) async fn explain_damage(&self, err: crate::error::Error) -> crate::error::Error {
        use crate::error::{Error, ErrorCode};
        if !matches!(
            err.code,
            ErrorCode::Io | ErrorCode::TableNotFound | ErrorCode::Internal
        ) {
            return err;
        }
        let Ok(report) = self.check_files(None).await else {
            return err;
        };
        match report.problems.first() {
            Some(problem) => Error::new(
                ErrorCode::CorruptTable,
                format!(
                    "the table file {} is {} ({}); versions that do not use it stay readable, and table.verify() lists every damaged file",
                    problem.path,
                    problem.kind.name(),
                    problem.detail
                ),
            )
            .with_source(err),
            None => err,
        }
    }
}

/// Reads a whole fragment, so damage anywhere in its files shows.
async fn read_fragment(
    dataset: &Dataset,
    fragment: lance_table::format::Fragment,
) -> lance::Result<()> {
    let mut scan = dataset.scan();
    scan.with_fragments(vec![fragment]);
    let mut stream = scan.try_into_stream().await?;
    while stream.try_next().await?.is_some() {}
    Ok(())
}
