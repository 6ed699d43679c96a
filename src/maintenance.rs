//! Branch merges and `optimize`: options in, reports out.

use napi_derive::napi;
use palimpsest_core::{ConflictResolution, OptimizeOptions, OptimizeReport};

use crate::error::{guarded, invalid_argument};
use crate::history::{commit_note, WriteNote};
use crate::table::{NativeTable, WriteSummary};

#[napi(object)]
pub struct OptimizeArg {
    pub skip_compaction: Option<bool>,
    /// Remove versions older than this many milliseconds.
    pub cleanup_older_than_ms: Option<f64>,
    pub keep_versions: Option<i64>,
}

#[napi(object)]
pub struct OptimizeOut {
    pub version: i64,
    pub fragments_removed: i64,
    pub fragments_added: i64,
    pub versions_removed: Vec<i64>,
    pub versions_protected: Vec<i64>,
    pub bytes_removed: f64,
    pub indices_optimized: bool,
}

impl From<OptimizeReport> for OptimizeOut {
    fn from(r: OptimizeReport) -> Self {
        let ints = |v: Vec<u64>| v.into_iter().map(|n| n as i64).collect();
        Self {
            version: r.version as i64,
            fragments_removed: r.fragments_removed as i64,
            fragments_added: r.fragments_added as i64,
            versions_removed: ints(r.versions_removed),
            versions_protected: ints(r.versions_protected),
            bytes_removed: r.bytes_removed as f64,
            indices_optimized: r.indices_optimized,
        }
    }
}

fn optimize_options(arg: OptimizeArg) -> napi::Result<OptimizeOptions> {
    let cleanup_older_than_ms = match arg.cleanup_older_than_ms {
        Some(ms) if !ms.is_finite() || ms < 0.0 => {
            return Err(invalid_argument(format!(
                "cleanupOlderThan must be a duration of 0 or more milliseconds, got {ms}"
            )))
        }
        Some(ms) => Some(ms as u64),
        None => None,
    };
    let keep_versions = match arg.keep_versions {
        Some(n) if n < 1 => {
            return Err(invalid_argument(format!(
                "keepVersions must be 1 or more, got {n}"
            )))
        }
        Some(n) => Some(n as u64),
        None => None,
    };
    Ok(OptimizeOptions {
        skip_compaction: arg.skip_compaction.unwrap_or(false),
        cleanup_older_than_ms,
        keep_versions,
    })
}

fn resolution(name: Option<String>) -> napi::Result<ConflictResolution> {
    match name.as_deref() {
        None | Some("fail") => Ok(ConflictResolution::Fail),
        Some("ours") => Ok(ConflictResolution::Ours),
        Some("theirs") => Ok(ConflictResolution::Theirs),
        Some(other) => Err(invalid_argument(format!(
            "resolve must be \"fail\", \"ours\" or \"theirs\", got {other:?}"
        ))),
    }
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn merge_branch(
        &self,
        name: String,
        on: Vec<String>,
        resolve: Option<String>,
        note: Option<WriteNote>,
    ) -> napi::Result<WriteSummary> {
        let resolution = resolution(resolve)?;
        let note = commit_note(note);
        guarded(self.handle().merge_branch(&name, &on, resolution, &note))
            .await
            .map(Into::into)
    }

    #[napi]
    pub async fn optimize(
        &self,
        options: OptimizeArg,
        note: Option<WriteNote>,
    ) -> napi::Result<OptimizeOut> {
        let options = optimize_options(options)?;
        let note = commit_note(note);
        guarded(self.handle().optimize(&options, &note))
            .await
            .map(Into::into)
    }
}

#[napi(object)]
pub struct ProblemOut {
    /// Path relative to the table directory.
    pub path: String,
    /// `"missing"`, `"truncated"` or `"unreadable"`.
    pub kind: String,
    pub detail: String,
}

#[napi(object)]
pub struct VerifyOut {
    pub version: i64,
    pub files_checked: i64,
    pub fragments_read: i64,
    pub problems: Vec<ProblemOut>,
}

#[napi]
impl NativeTable {
    #[napi]
    pub async fn verify(&self, version: Option<i64>) -> napi::Result<VerifyOut> {
        let version = version.map(crate::connection::version_arg).transpose()?;
        let report = guarded(self.handle().verify(version)).await?;
        Ok(VerifyOut {
            version: report.version as i64,
            files_checked: report.files_checked as i64,
            fragments_read: report.fragments_read as i64,
            problems: report
                .problems
                .into_iter()
                .map(|p| ProblemOut {
                    path: p.path,
                    kind: p.kind.name().to_string(),
                    detail: p.detail,
                })
                .collect(),
        })
    }
}
