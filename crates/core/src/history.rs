//! The version log: for every version, what it did and what the writer said about it.
//!
//! palimpsest's writes record their operation, parameters, row counts, message and properties
//! in the commit (see `commit_note`). Versions written by other Lance writers are described
//! from what lance records: the transaction's operation and the manifest's row totals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::{stream, StreamExt, TryStreamExt};
use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::Version;
use lance::Dataset;
use lance_io::object_store::ObjectStore;
use lance_io::utils::read_message;
use lance_table::format::pb;
use lance_table::io::commit::{CommitHandler, ManifestLocation};
use lance_table::io::manifest::read_manifest;
use prost::Message;

use crate::commit_hook::commit_handler;
use crate::commit_note::{
    MESSAGE, OPERATION, PARAM_PREFIX, RESERVED_PREFIX, ROWS_ADDED, ROWS_DELETED, ROWS_UPDATED,
};
use crate::error::Result;
use crate::manifest_summary::{length_prefixed, read_facts};
use crate::table::TableHandle;

/// One entry of a table's history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionInfo {
    pub version: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// lance's summary of the version (row and file totals).
    pub metadata: BTreeMap<String, String>,
    /// What the version did: create, append, overwrite, update, delete, merge_insert,
    /// add_columns, alter_columns, drop_columns, restore, create_index, compaction,
    /// merge_branch, or lance's own name for operations of other writers.
    pub operation: String,
    /// The operation's parameters where known (predicate, columns, restored_from, on, …).
    pub parameters: BTreeMap<String, String>,
    pub rows_added: Option<u64>,
    pub rows_updated: Option<u64>,
    pub rows_deleted: Option<u64>,
    /// The message the writer passed with the write.
    pub message: Option<String>,
    /// The writer's own properties (palimpsest's reserved keys removed).
    pub properties: BTreeMap<String, String>,
}

/// Manifests and transactions are read this many at a time.
const READ_CONCURRENCY: usize = 16;

impl TableHandle {
    /// Every version of the current branch, oldest first, with what each one did. A branch's
    /// log starts with its parent's history up to the fork point.
    pub async fn list_versions(&self) -> Result<Vec<VersionInfo>> {
        let dataset = self.view().await?;
        let lineage = self.lineage_of(&dataset).await?;
        // Oldest ancestor first: each branch contributes the versions after the previous
        // segment, up to the point the next branch forked from it.
        let mut segments: Vec<(Arc<Dataset>, u64, u64)> = Vec::new();
        let mut after = 0;
        for (i, (branch, until)) in lineage.iter().enumerate().rev() {
            let (source, until) = if i == 0 {
                (dataset.clone(), u64::MAX)
            } else {
                (Arc::new(dataset.checkout_branch(branch).await?), *until)
            };
            segments.push((source, after, until));
            after = until;
        }
        let handler = commit_handler(
            &self.uri(),
            &self.connection().store_params(),
            self.connection().durable(),
        )
        .await?;
        let mut infos = Vec::new();
        let mut previous_live: Option<u64> = None;
        for (source, after, until) in segments {
            for (version, recorded) in read_versions(&source, handler.as_ref()).await? {
                if version.version <= after || version.version > until {
                    continue;
                }
                let live = live_rows(&version.metadata);
                let mut info = VersionInfo {
                    version: version.version,
                    timestamp_ms: version.timestamp_ms,
                    metadata: version.metadata,
                    ..Default::default()
                };
                describe(&mut info, recorded, previous_live);
                previous_live = live;
                infos.push(info);
            }
        }
        Ok(infos)
    }
}

/// Every version of `dataset`'s branch with what was recorded about it, oldest first. The
/// manifest files are listed once and read several at a time, summary and transaction from
/// the same file (lance's `versions()` reads them one by one, and reading the transactions
/// after it resolves and reads every manifest again); versions read before are remembered.
async fn read_versions(
    dataset: &Arc<Dataset>,
    handler: &dyn CommitHandler,
) -> Result<Vec<(Summary, Recorded)>> {
    let store = dataset.object_store(None).await?;
    let base = dataset.branch_location().path;
    let locations: Vec<ManifestLocation> = handler
        .list_manifest_locations(&base, &store, false)
        .try_collect()
        .await?;
    // Each manifest is parsed on its own task, so the parsing spreads over the runtime's
    // threads.
    let mut versions: Vec<(Summary, Recorded)> = stream::iter(locations)
        .map(|location| {
            let store = store.clone();
            let dataset = dataset.clone();
            tokio::spawn(async move { read_version(&dataset, &store, location).await })
        })
        .buffer_unordered(READ_CONCURRENCY)
        .map(|joined| {
            joined.map_err(|e| {
                crate::error::Error::new(crate::error::ErrorCode::Internal, e.to_string())
            })?
        })
        .try_collect()
        .await?;
    versions.sort_by_key(|(v, _)| v.version);
    Ok(versions)
}

/// Versions already read, by manifest file identity (path, size, e-tag): a manifest never
/// changes, so reading it again would only repeat the work.
fn read_before() -> std::sync::MutexGuard<'static, HashMap<String, (Summary, Recorded)>> {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<HashMap<String, (Summary, Recorded)>>> =
        std::sync::OnceLock::new();
    SEEN.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Most versions remembered; past it the memory starts over.
const MAX_REMEMBERED: usize = 100_000;

/// One version's summary and what was recorded about it, from its manifest file.
async fn read_version(
    dataset: &Dataset,
    store: &ObjectStore,
    location: ManifestLocation,
) -> Result<(Summary, Recorded)> {
    let identity = location.e_tag.as_ref().map(|tag| {
        format!(
            "{}|{}|{tag}",
            location.path,
            location.size.unwrap_or_default()
        )
    });
    if let Some(hit) = identity
        .as_ref()
        .and_then(|id| read_before().get(id).cloned())
    {
        return Ok(hit);
    }
    let entry = read_version_file(dataset, store, &location).await?;
    if let Some(id) = identity {
        let mut seen = read_before();
        if seen.len() >= MAX_REMEMBERED {
            seen.clear();
        }
        seen.insert(id, entry.clone());
    }
    Ok(entry)
}

async fn read_version_file(
    dataset: &Dataset,
    store: &ObjectStore,
    location: &ManifestLocation,
) -> Result<(Summary, Recorded)> {
    // The file is read once: summary and transaction are both in it.
    let file = store.read_one_all(&location.path).await?;
    if let Some(facts) = read_facts(&file) {
        let transaction = match facts.transaction_section {
            Some(at) => length_prefixed(&file, at)
                .and_then(|message| pb::Transaction::decode(message).ok())
                .and_then(|t| Transaction::try_from(t).ok()),
            None => read_transaction(dataset, facts.version).await,
        };
        let summary = Summary {
            version: facts.version,
            timestamp_ms: facts.timestamp_ms,
            metadata: facts.metadata,
        };
        return Ok((summary, recorded(transaction)));
    }
    let manifest = read_manifest(store, &location.path, location.size).await?;
    // A version whose transaction cannot be read (older format, another branch's manifest)
    // is still listed, described from its manifest alone.
    let transaction = match manifest.transaction_section {
        Some(at) => match store.open(&location.path).await {
            Ok(reader) => read_message::<pb::Transaction>(reader.as_ref(), at)
                .await
                .ok()
                .and_then(|t| Transaction::try_from(t).ok()),
            Err(_) => None,
        },
        None => read_transaction(dataset, manifest.version).await,
    };
    let version = Version::from(&manifest);
    let summary = Summary {
        version: version.version,
        timestamp_ms: version.timestamp.timestamp_millis(),
        metadata: version.metadata,
    };
    Ok((summary, recorded(transaction)))
}

/// A version's transaction from its own file (older tables keep it beside the manifest).
async fn read_transaction(dataset: &Dataset, version: u64) -> Option<Transaction> {
    dataset
        .read_version_transaction(version)
        .await
        .ok()
        .and_then(|vt| vt.transaction)
}

/// A version's number, time and lance's row and file totals.
#[derive(Clone)]
struct Summary {
    version: u64,
    timestamp_ms: i64,
    metadata: BTreeMap<String, String>,
}

/// What was recorded about a version: its transaction's operation and properties.
#[derive(Clone)]
struct Recorded {
    lance_operation: Option<Operation>,
    properties: HashMap<String, String>,
}

fn recorded(transaction: Option<Transaction>) -> Recorded {
    let (lance_operation, properties) = match transaction {
        Some(tx) => (
            Some(tx.operation),
            tx.transaction_properties
                .map(|p| p.as_ref().clone())
                .unwrap_or_default(),
        ),
        None => (None, HashMap::new()),
    };
    Recorded {
        lance_operation,
        properties,
    }
}

fn describe(info: &mut VersionInfo, recorded: Recorded, previous_live: Option<u64>) {
    let Recorded {
        lance_operation,
        mut properties,
    } = recorded;
    let count = |key: &str, props: &HashMap<String, String>| {
        props.get(key).and_then(|v| v.parse::<u64>().ok())
    };
    if let Some(operation) = properties.get(OPERATION) {
        info.operation = operation.clone();
        info.rows_added = count(ROWS_ADDED, &properties);
        info.rows_updated = count(ROWS_UPDATED, &properties)
            .or_else(|| lance_operation.as_ref().and_then(rewritten_rows));
        info.rows_deleted = count(ROWS_DELETED, &properties);
        info.message = properties.get(MESSAGE).cloned();
        for (key, value) in &properties {
            if let Some(name) = key.strip_prefix(PARAM_PREFIX) {
                info.parameters.insert(name.to_string(), value.clone());
            }
        }
    } else {
        describe_foreign(info, lance_operation.as_ref(), previous_live);
    }
    properties.retain(|key, _| !key.starts_with(RESERVED_PREFIX));
    info.properties = properties.into_iter().collect();
}

/// Describes a version another writer made, from lance's operation and the row totals.
fn describe_foreign(info: &mut VersionInfo, operation: Option<&Operation>, before: Option<u64>) {
    let after = live_rows(&info.metadata);
    let net = match (before, after) {
        (Some(b), Some(a)) => Some(a as i128 - b as i128),
        (None, Some(a)) => Some(a as i128),
        _ => None,
    };
    let grown = net.filter(|n| *n >= 0).map(|n| n as u64);
    let shrunk = net.filter(|n| *n <= 0).map(|n| (-n) as u64);
    info.operation = match operation {
        None if info.version == 1 => {
            info.rows_added = grown;
            "create".into()
        }
        None => "unknown".into(),
        Some(op) => match op {
            Operation::Append { .. } => {
                info.rows_added = grown;
                "append".into()
            }
            Operation::Overwrite { .. } => {
                info.rows_added = after;
                if info.version == 1 {
                    "create"
                } else {
                    "overwrite"
                }
                .into()
            }
            Operation::Delete { .. } => {
                info.rows_deleted = shrunk;
                "delete".into()
            }
            Operation::Update { .. } => "update".into(),
            Operation::Merge { .. } => "add_columns".into(),
            Operation::Project { .. } => "drop_columns".into(),
            Operation::Restore { version } => {
                info.parameters
                    .insert("restored_from".into(), version.to_string());
                "restore".into()
            }
            Operation::CreateIndex { .. } => "create_index".into(),
            Operation::Rewrite { .. } => "compaction".into(),
            Operation::Clone { .. } => "clone".into(),
            other => to_snake_case(other.name()),
        },
    };
}

/// Rows an update rewrote: the rows of the fragments it wrote.
fn rewritten_rows(operation: &Operation) -> Option<u64> {
    match operation {
        Operation::Update { new_fragments, .. } => Some(
            new_fragments
                .iter()
                .map(|f| f.physical_rows.unwrap_or(0) as u64)
                .sum(),
        ),
        _ => None,
    }
}

fn live_rows(metadata: &BTreeMap<String, String>) -> Option<u64> {
    metadata.get("total_rows").and_then(|v| v.parse().ok())
}

fn to_snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lance_operation_names_become_snake_case() {
        assert_eq!(to_snake_case("UpdateConfig"), "update_config");
        assert_eq!(to_snake_case("DataReplacement"), "data_replacement");
    }

    #[test]
    fn recorded_properties_win_and_reserved_keys_are_hidden() {
        let mut info = VersionInfo {
            version: 3,
            ..Default::default()
        };
        let properties: HashMap<String, String> = [
            (OPERATION, "update"),
            (MESSAGE, "fix labels"),
            (ROWS_UPDATED, "7"),
            ("palimpsest.param.predicate", "id < 3"),
            ("owner", "ana"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        describe(
            &mut info,
            Recorded {
                lance_operation: None,
                properties,
            },
            Some(10),
        );
        assert_eq!(info.operation, "update");
        assert_eq!(info.message.as_deref(), Some("fix labels"));
        assert_eq!(info.rows_updated, Some(7));
        assert_eq!(info.parameters["predicate"], "id < 3");
        assert_eq!(
            info.properties.keys().collect::<Vec<_>>(),
            vec![&"owner".to_string()]
        );
    }
}
