//! Merging a branch: the branch's changes since it left the current branch, matched by key,
//! applied here as one new version.
//!
//! Both sides are compared by key with their common ancestor version. A key changed on only
//! one side takes that side's result; a key changed on both sides to different results is a
//! conflict, which fails the merge unless the caller picks "ours" or "theirs". When the branch
//! changed the schema (the A/B-test case: a new vector column), the merged table is written
//! whole with the branch's schema changes; otherwise one merge insert applies the changes, so
//! unchanged rows keep their row ids and files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use lance::Dataset;

use crate::branches::MAIN_BRANCH;
use crate::commit_note::{CommitNote, OperationRecord};
use crate::diff::{common_columns, encode_rows, read_all, KeyChanges};
use crate::error::{Error, ErrorCode, Result};
use crate::table::TableHandle;
use crate::version_ref::VersionRef;
use crate::writes::{MergeInsertSpec, WriteResult};

/// What to do with a key both sides changed differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictResolution {
    /// Reject the merge with `MERGE_CONFLICT`; nothing is written.
    #[default]
    Fail,
    /// Keep the current branch's row.
    Ours,
    /// Take the merged branch's row.
    Theirs,
}

/// Conflicting keys listed in an error message; the count covers the rest.
const LISTED_CONFLICTS: usize = 20;

/// One side's change to a key since the common ancestor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The key's row is at this position of the side's latest version.
    Upsert(u32),
    Delete,
}

impl TableHandle {
    /// Applies branch `source`'s changes since it forked from this branch, matched on `on`.
    pub async fn merge_branch(
        &self,
        source: &str,
        on: &[String],
        resolution: ConflictResolution,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        note.validate()?;
        if on.is_empty() {
            return Err(Error::invalid_argument(
                "merge() needs the key column(s) that identify a row: { on: \"id\" }",
            ));
        }
        let _guard = self.write_lock.lock().await;
        let ours_dataset = self.writable().await?;
        let here = ours_dataset
            .manifest()
            .branch
            .clone()
            .unwrap_or_else(|| MAIN_BRANCH.to_string());
        if here == source {
            return Err(Error::invalid_argument(format!(
                "cannot merge branch `{source}` into itself; check out the branch to merge into first"
            )));
        }
        let theirs_side = VersionRef::Branch {
            name: source.to_string(),
            version: None,
        };
        let theirs_dataset = self.locate_dataset(&theirs_side).await?;
        let base_dataset = self.common_ancestor(&ours_dataset, &theirs_dataset).await?;

        let base = read_all(&base_dataset).await?;
        let ours = read_all(&ours_dataset).await?;
        let theirs = read_all(&theirs_dataset).await?;
        let ours_changes = side_changes(&base, &ours, on)?;
        let theirs_changes = side_changes(&base, &theirs, on)?;

        // Keys both sides changed, to different results.
        let same_values = SameValues::new(&ours, &theirs)?;
        let mut conflicts: Vec<(Vec<u8>, KeyAt)> = Vec::new();
        for (key, theirs_change) in &theirs_changes.by_key {
            let Some(ours_change) = ours_changes.by_key.get(key) else {
                continue;
            };
            let agree = match (ours_change, theirs_change) {
                (Change::Delete, Change::Delete) => true,
                (Change::Upsert(o), Change::Upsert(t)) => same_values.equal(*o, *t),
                _ => false,
            };
            if !agree {
                let at = match (ours_change, theirs_change) {
                    (Change::Upsert(o), _) => KeyAt::Ours(*o as usize),
                    (_, Change::Upsert(t)) => KeyAt::Theirs(*t as usize),
                    _ => unreachable!("two deletes agree"),
                };
                conflicts.push((key.clone(), at));
            }
        }
        if !conflicts.is_empty() && resolution == ConflictResolution::Fail {
            return Err(conflict_error(source, on, &ours, &theirs, &conflicts));
        }
        let skip: HashSet<&[u8]> = if resolution == ConflictResolution::Ours {
            conflicts.iter().map(|(k, _)| k.as_slice()).collect()
        } else {
            HashSet::new()
        };
        let applied: Vec<(&Vec<u8>, Change)> = theirs_changes
            .by_key
            .iter()
            .filter(|(key, _)| !skip.contains(key.as_slice()))
            .map(|(key, change)| (key, *change))
            .collect();

        let record = OperationRecord::new("merge_branch")
            .param("branch", source)
            .param("on", on.join(","))
            .param("base_version", base_dataset.version_id().to_string())
            .param("conflicts", conflicts.len().to_string());
        let schema_changed =
            Schema::from(base_dataset.schema()) != Schema::from(theirs_dataset.schema());
        if schema_changed {
            let merged = merged_table(&base, &ours, &theirs, on, &applied)?;
            let counts = count_changes(&applied, &ours, on)?;
            return self
                .commit_overwrite(ours_dataset, merged, &record, note, counts)
                .await;
        }
        self.apply_changes(ours_dataset, &ours, &theirs, on, &applied, &record, note)
            .await
    }

    /// The version both branches last shared, as a dataset.
    async fn common_ancestor(&self, ours: &Dataset, theirs: &Dataset) -> Result<Dataset> {
        let ours_lineage = self.lineage_of(ours).await?;
        let theirs_lineage = self.lineage_of(theirs).await?;
        for (branch, ours_version) in &ours_lineage {
            if let Some((_, theirs_version)) = theirs_lineage.iter().find(|(b, _)| b == branch) {
                let version = (*ours_version).min(*theirs_version);
                let on_branch = ours.checkout_branch(branch).await?;
                return self.load_version(&on_branch, version).await;
            }
        }
        Err(Error::invalid_argument(
            "the two branches share no history, so there is nothing to merge against",
        ))
    }

    /// Applies `applied` without a schema change: one merge insert that upserts the branch's
    /// rows and deletes the keys it deleted.
    #[allow(clippy::too_many_arguments)]
    async fn apply_changes(
        &self,
        ours_dataset: Arc<Dataset>,
        ours: &RecordBatch,
        theirs: &RecordBatch,
        on: &[String],
        applied: &[(&Vec<u8>, Change)],
        record: &OperationRecord,
        note: &CommitNote,
    ) -> Result<WriteResult> {
        let upserts: Vec<u32> = applied
            .iter()
            .filter_map(|(_, c)| match c {
                Change::Upsert(i) => Some(*i),
                Change::Delete => None,
            })
            .collect();
        let deleted_keys: HashSet<&[u8]> = applied
            .iter()
            .filter(|(_, c)| *c == Change::Delete)
            .map(|(k, _)| k.as_slice())
            .collect();
        if upserts.is_empty() && deleted_keys.is_empty() {
            // Nothing to apply (no changes, or "ours" kept every conflicting row): no version.
            return Ok(WriteResult {
                version: ours_dataset.version_id(),
                ..Default::default()
            });
        }
        let delete_filter = if deleted_keys.is_empty() {
            None
        } else {
            // The rows to delete, as they are here: keys the branch deleted and we still have.
            let ours_keys = encode_rows(ours, on)?;
            let rows: Vec<u32> = (0..ours.num_rows() as u32)
                .filter(|i| deleted_keys.contains(ours_keys[*i as usize].as_slice()))
                .collect();
            (!rows.is_empty())
                .then(|| key_predicate(ours, on, &rows))
                .transpose()?
        };
        let target_schema: SchemaRef = Arc::new(Schema::from(ours_dataset.schema()));
        let source = project_to(theirs, &upserts, &target_schema)?;
        if source.num_rows() == 0 {
            let Some(filter) = delete_filter else {
                // The branch only deleted rows we no longer have.
                return Ok(WriteResult {
                    version: ours_dataset.version_id(),
                    ..Default::default()
                });
            };
            return self
                .commit_delete(ours_dataset, &filter, record, note)
                .await;
        }
        let spec = MergeInsertSpec {
            on: on.to_vec(),
            when_matched_update_all: true,
            when_not_matched_insert_all: true,
            when_not_matched_by_source_delete: delete_filter.is_some(),
            when_not_matched_by_source_delete_where: delete_filter,
            ..Default::default()
        };
        self.commit_merge_insert(ours_dataset, &spec, vec![source], record, note)
            .await
    }
}

/// Each key's change on one side since the base.
struct SideChanges {
    by_key: HashMap<Vec<u8>, Change>,
}

fn side_changes(base: &RecordBatch, side: &RecordBatch, on: &[String]) -> Result<SideChanges> {
    let changes = KeyChanges::between(base, side, on)?;
    let mut by_key = HashMap::new();
    for i in changes.inserted.iter().chain(&changes.updated) {
        by_key.insert(changes.new_keys[*i as usize].clone(), Change::Upsert(*i));
    }
    for j in &changes.deleted {
        by_key.insert(changes.old_keys[*j as usize].clone(), Change::Delete);
    }
    Ok(SideChanges { by_key })
}

/// Compares a row of ours with a row of theirs on the columns both have.
struct SameValues {
    ours: Vec<Vec<u8>>,
    theirs: Vec<Vec<u8>>,
}

impl SameValues {
    fn new(ours: &RecordBatch, theirs: &RecordBatch) -> Result<Self> {
        let columns = common_columns(ours, theirs);
        Ok(Self {
            ours: encode_rows(ours, &columns)?,
            theirs: encode_rows(theirs, &columns)?,
        })
    }

    fn equal(&self, ours: u32, theirs: u32) -> bool {
        self.ours[ours as usize] == self.theirs[theirs as usize]
    }
}

/// Where a conflicting key's row can be read, to name it in the error.
enum KeyAt {
    Ours(usize),
    Theirs(usize),
}

fn conflict_error(
    source: &str,
    on: &[String],
    ours: &RecordBatch,
    theirs: &RecordBatch,
    conflicts: &[(Vec<u8>, KeyAt)],
) -> Error {
    let mut listed: Vec<String> = conflicts
        .iter()
        .take(LISTED_CONFLICTS)
        .map(|(_, at)| match at {
            KeyAt::Ours(row) => describe_key(ours, on, *row),
            KeyAt::Theirs(row) => describe_key(theirs, on, *row),
        })
        .collect();
    listed.sort();
    let more = conflicts.len().saturating_sub(LISTED_CONFLICTS);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Error::new(
        ErrorCode::MergeConflict,
        format!(
            "merging branch `{source}` conflicts on {} key(s) changed differently on both sides: {}{tail}; nothing was written. Resolve with {{ resolve: \"ours\" }} or {{ resolve: \"theirs\" }}",
            conflicts.len(),
            listed.join(", ")
        ),
    )
}

fn describe_key(batch: &RecordBatch, on: &[String], row: usize) -> String {
    let parts: Vec<String> = on
        .iter()
        .map(|name| {
            let column = batch.column_by_name(name).expect("key column checked");
            let value = arrow_cast::display::array_value_to_string(column, row)
                .unwrap_or_else(|_| "?".into());
            format!("{name}={value}")
        })
        .collect();
    parts.join("/")
}

/// A SQL predicate matching the keys of `rows` of `batch`.
fn key_predicate(batch: &RecordBatch, on: &[String], rows: &[u32]) -> Result<String> {
    let literal = |name: &str, row: usize| -> Result<String> {
        let column = batch.column_by_name(name).expect("key column checked");
        if column.is_null(row) {
            return Ok("NULL".into());
        }
        let text = arrow_cast::display::array_value_to_string(column, row)?;
        match column.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Ok(format!("'{}'", text.replace('\'', "''")))
            }
            t if t.is_integer() || t.is_floating() || *t == DataType::Boolean => Ok(text),
            other => Err(Error::invalid_argument(format!(
                "merge() can match deletions on integer, float, boolean or string keys; `{name}` is {other}"
            ))),
        }
    };
    let quoted = |name: &str| format!("`{}`", name.replace('`', "``"));
    if let [key] = on {
        let values: Vec<String> = rows
            .iter()
            .map(|r| literal(key, *r as usize))
            .collect::<Result<_>>()?;
        return Ok(format!("{} IN ({})", quoted(key), values.join(", ")));
    }
    let terms: Vec<String> = rows
        .iter()
        .map(|r| {
            let parts: Vec<String> = on
                .iter()
                .map(|k| Ok(format!("{} = {}", quoted(k), literal(k, *r as usize)?)))
                .collect::<Result<_>>()?;
            Ok(format!("({})", parts.join(" AND ")))
        })
        .collect::<Result<_>>()?;
    Ok(terms.join(" OR "))
}

/// Rows `rows` of `batch`, shaped as `schema` (columns by name; missing ones null).
fn project_to(batch: &RecordBatch, rows: &[u32], schema: &SchemaRef) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows.to_vec());
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Ok(arrow_select::take::take(column, &indices, None)?),
            None => Ok(new_null_array(field.data_type(), rows.len())),
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The merged table when the branch changed the schema: our rows with the branch's new
/// columns filled in by key, the branch's upserts and deletes applied, in the branch's schema
/// plus columns only we added.
fn merged_table(
    base: &RecordBatch,
    ours: &RecordBatch,
    theirs: &RecordBatch,
    on: &[String],
    applied: &[(&Vec<u8>, Change)],
) -> Result<RecordBatch> {
    let base_schema = base.schema();
    let theirs_schema = theirs.schema();
    // Columns the branch owns: added or retyped there. Their values come from the branch.
    let branch_owned: HashSet<&str> = theirs_schema
        .fields()
        .iter()
        .filter(|f| {
            base_schema
                .field_with_name(f.name())
                .map_or(true, |b| b.data_type() != f.data_type())
        })
        .map(|f| f.name().as_str())
        .collect();
    let mut fields: Vec<Field> = Vec::new();
    for field in ours.schema().fields() {
        let dropped_there = base_schema.field_with_name(field.name()).is_ok()
            && theirs_schema.field_with_name(field.name()).is_err();
        if dropped_there {
            continue;
        }
        match theirs_schema.field_with_name(field.name()) {
            Ok(t) if branch_owned.contains(t.name().as_str()) => fields.push(t.clone()),
            _ => fields.push(field.as_ref().clone()),
        }
    }
    for field in theirs_schema.fields() {
        if !fields.iter().any(|f| f.name() == field.name()) {
            fields.push(field.as_ref().clone());
        }
    }
    let schema = Arc::new(Schema::new(fields));

    let ours_keys = encode_rows(ours, on)?;
    let theirs_keys = encode_rows(theirs, on)?;
    let theirs_at: HashMap<&[u8], u32> = theirs_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_slice(), i as u32))
        .collect();
    let change_of: HashMap<&[u8], Change> =
        applied.iter().map(|(k, c)| (k.as_slice(), *c)).collect();

    // Each output row: (our row, their row, whether their row wins every column).
    let mut plan: Vec<(Option<u32>, Option<u32>, bool)> = Vec::new();
    for (i, key) in ours_keys.iter().enumerate() {
        match change_of.get(key.as_slice()) {
            Some(Change::Delete) => {}
            Some(Change::Upsert(t)) => plan.push((Some(i as u32), Some(*t), true)),
            None => plan.push((
                Some(i as u32),
                theirs_at.get(key.as_slice()).copied(),
                false,
            )),
        }
    }
    let ours_key_set: HashSet<&[u8]> = ours_keys.iter().map(Vec::as_slice).collect();
    for (key, change) in applied {
        if let Change::Upsert(t) = change {
            if !ours_key_set.contains(key.as_slice()) {
                plan.push((None, Some(*t), true));
            }
        }
    }

    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let name = field.name().as_str();
            let from_ours = ours
                .column_by_name(name)
                .filter(|c| c.data_type() == field.data_type());
            let from_theirs = theirs
                .column_by_name(name)
                .filter(|c| c.data_type() == field.data_type());
            let null = new_null_array(field.data_type(), 1);
            let sources: Vec<&dyn Array> = vec![
                from_ours.map_or(null.as_ref(), |c| c.as_ref()),
                from_theirs.map_or(null.as_ref(), |c| c.as_ref()),
                null.as_ref(),
            ];
            let picks: Vec<(usize, usize)> = plan
                .iter()
                .map(|(o, t, theirs_wins)| {
                    let prefer_theirs = *theirs_wins || branch_owned.contains(name);
                    match (prefer_theirs, o, t) {
                        (true, _, Some(t)) if from_theirs.is_some() => (1, *t as usize),
                        (_, Some(o), _) if from_ours.is_some() => (0, *o as usize),
                        (_, _, Some(t)) if from_theirs.is_some() => (1, *t as usize),
                        _ => (2, 0),
                    }
                })
                .collect();
            Ok(arrow_select::interleave::interleave(&sources, &picks)?)
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Rows the merge inserts, updates and deletes here.
fn count_changes(
    applied: &[(&Vec<u8>, Change)],
    ours: &RecordBatch,
    on: &[String],
) -> Result<WriteResult> {
    let ours_keys: HashSet<Vec<u8>> = encode_rows(ours, on)?.into_iter().collect();
    let mut counts = WriteResult::default();
    for (key, change) in applied {
        let here = ours_keys.contains(*key);
        match change {
            Change::Upsert(_) if here => counts.rows_updated += 1,
            Change::Upsert(_) => counts.rows_added += 1,
            Change::Delete if here => counts.rows_deleted += 1,
            Change::Delete => {}
        }
    }
    Ok(counts)
}
