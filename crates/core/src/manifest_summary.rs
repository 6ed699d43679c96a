//! A version's summary read straight from its manifest file, without decoding the manifest.
//!
//! The version log needs a version's number, time and row/file totals, which lance computes
//! from a fully decoded manifest: schema, fragments with their row-id sequences, indexes.
//! Every version's manifest lists every fragment, so listing N versions decodes O(N²)
//! fragments. These message types name only the fields the totals need; protobuf skips the
//! rest without building them. Anything this reader does not understand (a manifest whose
//! fragments live in a fragment tree, a damaged footer) returns `None` and the caller uses
//! lance's reader.

use std::collections::BTreeMap;

use prost::Message;

/// What the version log needs from one manifest file.
pub(crate) struct ManifestFacts {
    pub version: u64,
    pub timestamp_ms: i64,
    /// lance's summary metadata (`Version::metadata`), key for key.
    pub metadata: BTreeMap<String, String>,
    /// Where the version's transaction starts in the same file.
    pub transaction_section: Option<usize>,
}

const MAGIC: &[u8] = b"LANC";
/// Manifest position (i64), format version (2 x u16), magic.
const FOOTER: usize = 16;

/// Reads `file` (a whole manifest file) the way lance lays it out: a u32 length and the
/// manifest message at the position the footer names.
pub(crate) fn read_facts(file: &[u8]) -> Option<ManifestFacts> {
    if file.len() < FOOTER + 4 || !file.ends_with(MAGIC) {
        return None;
    }
    let footer = &file[file.len() - FOOTER..];
    let position = usize::try_from(i64::from_le_bytes(footer[..8].try_into().ok()?)).ok()?;
    let message = length_prefixed(file, position)?;
    // lance requires the manifest to end where the footer starts.
    if position + 4 + message.len() != file.len() - FOOTER {
        return None;
    }
    let manifest = SlimManifest::decode(message).ok()?;
    if manifest.fragment_tree.is_some() {
        return None;
    }
    let timestamp = manifest.timestamp.unwrap_or_default();
    let nanos = timestamp.seconds as i128 * 1_000_000_000 + timestamp.nanos as i128;
    Some(ManifestFacts {
        version: manifest.version,
        timestamp_ms: (nanos / 1_000_000) as i64,
        metadata: summarize(&manifest.fragments).into_metadata(),
        transaction_section: manifest
            .transaction_section
            .or(manifest.transaction_section_deprecated)
            .map(|at| at as usize),
    })
}

/// The message at `position`: a little-endian u32 length, then that many bytes.
pub(crate) fn length_prefixed(file: &[u8], position: usize) -> Option<&[u8]> {
    let length = file.get(position..position.checked_add(4)?)?;
    let length = u32::from_le_bytes(length.try_into().ok()?) as usize;
    file.get(position + 4..(position + 4).checked_add(length)?)
}

/// The totals lance's `Manifest::summary` computes (its type is private to lance-table).
#[derive(Default, Debug, PartialEq)]
struct Totals {
    fragments: u64,
    data_files: u64,
    files_size: u64,
    deletion_files: u64,
    data_file_rows: u64,
    deletion_file_rows: u64,
    rows: u64,
}

impl Totals {
    /// The summary as lance's `Version::metadata` spells it.
    fn into_metadata(self) -> BTreeMap<String, String> {
        [
            ("total_fragments", self.fragments),
            ("total_data_files", self.data_files),
            ("total_files_size", self.files_size),
            ("total_deletion_files", self.deletion_files),
            ("total_data_file_rows", self.data_file_rows),
            ("total_deletion_file_rows", self.deletion_file_rows),
            ("total_rows", self.rows),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// lance's totals, where a zero count in the file means "unknown" (a fragment of unknown
/// length, or a deletion file of unknown size, adds no rows).
fn summarize(fragments: &[SlimFragment]) -> Totals {
    let mut totals = Totals {
        fragments: fragments.len() as u64,
        ..Default::default()
    };
    for fragment in fragments {
        totals.data_files += fragment.files.len() as u64;
        totals.files_size += fragment
            .files
            .iter()
            .map(|f| f.file_size_bytes)
            .sum::<u64>();
        let deleted = fragment.deletion_file.as_ref().map(|d| d.num_deleted_rows);
        if fragment.physical_rows > 0 {
            match deleted {
                None => totals.rows += fragment.physical_rows,
                Some(0) => {}
                Some(n) => totals.rows += fragment.physical_rows.saturating_sub(n),
            }
        }
        if let Some(n) = deleted {
            totals.deletion_files += 1;
            totals.deletion_file_rows += n;
        }
    }
    totals.data_file_rows = totals.rows + totals.deletion_file_rows;
    totals
}

// Field numbers from lance-table's protos/table.proto and fragment_metadata.proto.

#[derive(Clone, PartialEq, Message)]
struct SlimManifest {
    #[prost(message, repeated, tag = "2")]
    fragments: Vec<SlimFragment>,
    #[prost(uint64, tag = "3")]
    version: u64,
    #[prost(message, optional, tag = "7")]
    timestamp: Option<SlimTimestamp>,
    #[prost(uint64, optional, tag = "21")]
    transaction_section_deprecated: Option<u64>,
    #[prost(message, optional, tag = "22")]
    fragment_tree: Option<Present>,
    #[prost(uint64, optional, tag = "23")]
    transaction_section: Option<u64>,
}

#[derive(Clone, PartialEq, Message)]
struct SlimFragment {
    #[prost(message, repeated, tag = "2")]
    files: Vec<SlimDataFile>,
    #[prost(message, optional, tag = "3")]
    deletion_file: Option<SlimDeletionFile>,
    #[prost(uint64, tag = "4")]
    physical_rows: u64,
}

#[derive(Clone, PartialEq, Message)]
struct SlimDataFile {
    #[prost(uint64, tag = "6")]
    file_size_bytes: u64,
}

#[derive(Clone, PartialEq, Message)]
struct SlimDeletionFile {
    #[prost(uint64, tag = "4")]
    num_deleted_rows: u64,
}

#[derive(Clone, Copy, PartialEq, Message)]
struct SlimTimestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// A message whose content is not needed, only whether it is there.
#[derive(Clone, Copy, PartialEq, Message)]
struct Present {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchIterator};
    use lance::dataset::{Version, WriteMode, WriteParams};
    use lance::Dataset;
    use lance_io::object_store::ObjectStore;
    use lance_table::io::manifest::read_manifest;

    use super::*;

    fn batch(range: std::ops::Range<i64>) -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(range));
        RecordBatch::try_from_iter(vec![("id", ids)]).unwrap()
    }

    async fn write(uri: &str, range: std::ops::Range<i64>, mode: WriteMode) -> Dataset {
        let b = batch(range);
        let schema = b.schema();
        let params = WriteParams {
            mode,
            enable_stable_row_ids: true,
            ..Default::default()
        };
        let reader = RecordBatchIterator::new(vec![Ok(b)], schema);
        Dataset::write(reader, uri, Some(params)).await.unwrap()
    }

    /// Every manifest of a table with appends, deletes (partial and whole fragments) and a
    /// second data file per fragment gives lance's own summary, time and transaction offset.
    #[tokio::test]
    async fn facts_match_lances_reader_on_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap().to_string();
        write(&uri, 0..1_000, WriteMode::Create).await;
        write(&uri, 1_000..1_500, WriteMode::Append).await;
        let mut dataset = write(&uri, 1_500..1_600, WriteMode::Append).await;
        dataset.delete("id % 7 = 0").await.unwrap();
        dataset.delete("id >= 1500").await.unwrap();
        dataset
            .add_columns(
                lance::dataset::NewColumnTransform::SqlExpressions(vec![(
                    "twice".into(),
                    "id * 2".into(),
                )]),
                None,
                None,
            )
            .await
            .unwrap();

        let (store, _) = ObjectStore::from_uri(&uri).await.unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(dir.path().join("_versions")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("manifest") {
                continue;
            }
            let file = std::fs::read(&path).unwrap();
            let facts = read_facts(&file).expect("a manifest lance wrote");
            let location = object_store::path::Path::from_absolute_path(&path).unwrap();
            let manifest = read_manifest(&store, &location, None).await.unwrap();
            let version = Version::from(&manifest);
            assert_eq!(facts.version, version.version);
            assert_eq!(facts.timestamp_ms, version.timestamp.timestamp_millis());
            assert_eq!(
                facts.metadata, version.metadata,
                "version {}",
                facts.version
            );
            assert_eq!(facts.transaction_section, manifest.transaction_section);
            checked += 1;
        }
        assert_eq!(checked, 6);
        // Damaged files are left to lance's reader.
        let any = std::fs::read_dir(dir.path().join("_versions"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut file = std::fs::read(any).unwrap();
        assert!(read_facts(&file[..file.len() - 1]).is_none());
        let at = file.len() - FOOTER;
        let past_the_end = (file.len() as i64).to_le_bytes();
        file[at..at + 8].copy_from_slice(&past_the_end);
        assert!(read_facts(&file).is_none());
        assert!(read_facts(b"LANC").is_none());
    }
}
