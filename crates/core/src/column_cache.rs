//! Decoded columns kept in memory, per fragment.
//!
//! A fragment's data files never change, so its decoded columns stay correct for as long as
//! the fragment's files exist. The cache keeps every physical row (deleted ones included) and
//! applies the fragment's deletion vector when it reads, so a delete, an update or a merge
//! that only adds deletions to a fragment leaves its columns in memory. Reads that need whole
//! columns anyway (full-table reads, filters, exact kNN) decode them once and reuse them in
//! every later version that still has the fragment's files; an append decodes only its new
//! fragment.
//!
//! The cache is bounded (`PALIMPSEST_CACHE_MB`, default 2048; 0 turns it off) and drops the
//! least recently used entries first. A column is kept on its second read, so one-off reads
//! take no memory. Arrays handed out share the cache's buffers: callers that return them to
//! users copy them first (`array_copy::detach`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{
    Array, ArrayRef, RecordBatch, RecordBatchOptions, StringArray, UInt16Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use futures::TryStreamExt;
use lance::Dataset;
use lance_table::format::Fragment;

use crate::array_copy;
use crate::error::Result;
use crate::vector_codes::LazyCodes;

/// The row id pseudo-column, cached like a column when a read asks for it.
pub(crate) use lance::dataset::ROW_ID;
/// The row address pseudo-column (fragment id and offset), cached like `_rowid`.
pub(crate) const ROW_ADDR: &str = "_rowaddr";
/// Cache keys of `_rowid` and `_rowaddr`: lance field ids are 0 or more, system columns small
/// negatives.
const ROW_ID_KEY: i32 = i32::MIN;
const ROW_ADDR_KEY: i32 = i32::MIN + 1;
const DEFAULT_BUDGET_MB: usize = 2048;
/// Rows per decoded chunk.
const CHUNK_ROWS: usize = 65_536;
/// A string column keeps a dictionary beside its values when it has at most this many
/// distinct values in a fragment (filters then compare keys, not strings). Keys are 16-bit
/// (half the bytes a filter or a gather reads of 32-bit ones), with `u16::MAX` left free for
/// "not in the dictionary".
const MAX_DICTIONARY: usize = 4096;
const _: () = assert!(MAX_DICTIONARY < u16::MAX as usize);

/// A run of rows of one column: its values and, for low-cardinality strings, a key per row
/// into the distinct values (null where the value is).
#[derive(Clone)]
pub(crate) struct Chunk {
    pub values: ArrayRef,
    pub keys: Option<(UInt16Array, StringArray)>,
    /// Smallest and largest value of a numeric column (of the whole chunk, so also bounds
    /// any slice of it), for skipping chunks a range filter cannot match.
    pub bounds: Option<(ScalarValue, ScalarValue)>,
    /// Integers without nulls in ascending order (so is any slice): a range filter then
    /// finds its rows by binary search (`sorted_ranges`).
    pub sorted: bool,
    /// For float32 vectors, their one-byte codes (exact search reads those first).
    pub codes: Option<Arc<LazyCodes>>,
}

impl Chunk {
    pub(crate) fn new(values: &ArrayRef) -> Chunk {
        // Results that cover whole buffers then map them instead of copying.
        let values = array_copy::into_shared(values);
        let keys = values
            .as_any()
            .downcast_ref::<StringArray>()
            .and_then(dictionary_of);
        let bounds = bounds_of(values.as_ref());
        let sorted = crate::sorted_ranges::ascending(values.as_ref());
        let codes = LazyCodes::of(&values);
        Chunk {
            values,
            keys,
            bounds,
            sorted,
            codes,
        }
    }

    fn slice(&self, offset: usize, len: usize) -> Chunk {
        Chunk {
            values: self.values.slice(offset, len),
            keys: self
                .keys
                .as_ref()
                .map(|(k, d)| (k.slice(offset, len), d.clone())),
            bounds: self.bounds.clone(),
            sorted: self.sorted,
            codes: self.codes.clone(),
        }
    }
}

/// Min and max of a numeric array (`None` for other types or when every value is null).
fn bounds_of(values: &dyn Array) -> Option<(ScalarValue, ScalarValue)> {
    use arrow_array::types::*;
    macro_rules! bounds {
        ($($t:ty),*) => {
            $(
                if let Some(a) = values.as_any().downcast_ref::<arrow_array::PrimitiveArray<$t>>() {
                    let t = values.data_type();
                    let min = ScalarValue::new_primitive::<$t>(arrow_arith::aggregate::min(a), t).ok()?;
                    let max = ScalarValue::new_primitive::<$t>(arrow_arith::aggregate::max(a), t).ok()?;
                    return (!min.is_null()).then_some((min, max));
                }
            )*
        };
    }
    bounds!(
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type,
        Float32Type,
        Float64Type,
        Date32Type,
        Date64Type
    );
    None
}

/// The decoded live rows of one column of one fragment, in the chunks the scan produced
/// (concatenating them would cost a copy of the column).
pub(crate) struct CachedColumn {
    chunks: Vec<Chunk>,
    bytes: usize,
}

impl CachedColumn {
    /// Bytes held: the decoded values, and the vector codes made so far.
    fn bytes(&self) -> usize {
        let codes: usize = self
            .chunks
            .iter()
            .filter_map(|c| c.codes.as_ref())
            .map(|c| c.bytes())
            .sum();
        self.bytes + codes
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    uri: String,
    /// The fragment's files and row ids as the manifest describes them (`Identity::files`).
    fragment: Arc<str>,
    field: i32,
}

/// A table version as the memos of this crate key it: the table's uri, the version and its
/// commit time (which tells a table dropped and made again at the same uri apart).
pub(crate) type VersionKey = (String, u64, u128);

pub(crate) fn version_key(dataset: &Dataset) -> VersionKey {
    let manifest = dataset.manifest();
    (
        dataset.uri().to_string(),
        manifest.version,
        manifest.timestamp_nanos,
    )
}

/// The identities of `dataset`'s fragments, remembered per version: fingerprinting a
/// fragment serialises its metadata (row-id sequences included), which a query from memory
/// would otherwise repeat on every call.
fn identities(dataset: &Dataset) -> Arc<Vec<Identity>> {
    type Versions = HashMap<VersionKey, Arc<Vec<Identity>>>;
    static KNOWN: OnceLock<Mutex<Versions>> = OnceLock::new();
    let key = version_key(dataset);
    let known = KNOWN.get_or_init(Default::default);
    if let Some(hit) = known.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let made: Arc<Vec<Identity>> = Arc::new(dataset.fragments().iter().map(Identity::of).collect());
    let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
    if known.len() >= MAX_VERSIONS_KNOWN {
        known.clear();
    }
    known.insert(key, made.clone());
    made
}

/// A fragment as cache keys see it.
struct Identity {
    /// Everything but the deletion file: the data the columns are decoded from.
    files: Arc<str>,
    /// The whole fragment: which of its rows are live, too.
    whole: Arc<str>,
}

impl Identity {
    fn of(fragment: &Fragment) -> Identity {
        let whole = fingerprint(fragment);
        let files = if fragment.deletion_file.is_some() {
            let mut files = fragment.clone();
            files.deletion_file = None;
            fingerprint(&files)
        } else {
            whole.clone()
        };
        Identity { files, whole }
    }

    fn key(&self, uri: &str, field: i32) -> Key {
        Key {
            uri: uri.to_string(),
            fragment: self.files.clone(),
            field,
        }
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, (Arc<CachedColumn>, u64)>,
    /// Live rows of fragments with deletions, by table and whole fragment.
    live: HashMap<(String, Arc<str>), Arc<BooleanBuffer>>,
    /// Columns read once: a second read keeps them (only hot columns take memory).
    seen: std::collections::HashSet<Key>,
    clock: u64,
    bytes: usize,
    /// Reads that started decoding columns from the data files.
    fills: u64,
    /// Column sets already cut into segments, by version and columns, with the cache keys
    /// they are made of: a read from memory otherwise redoes that work (keys, deletion
    /// masks, slices) on every call. They share the entries' buffers and are all dropped
    /// whenever an entry is, so beyond the entries they hold only slices and deletion masks
    /// (a bit a row), for at most one version per table and columns.
    assembled: HashMap<AssemblyKey, AssembledSet>,
    /// Per assembled set and column index: the set's copy grouped by that string column
    /// (`clustered_copy`), or how many reads pinning the column it has had. They go when
    /// their set goes, and first when the budget needs room.
    clusters: HashMap<(AssemblyKey, usize), Cluster>,
    /// Bytes the grouped copies hold or reserve, counted against the budget beside `bytes`.
    clustered_bytes: usize,
    /// Per table, columns and column index: the reads pinning that column a version's set
    /// takes before its copy is made, where they are not `READS_TO_CLUSTER`.
    reads_to_cluster: HashMap<(String, Vec<String>, usize), u32>,
}

enum Cluster {
    Reads(u32),
    /// A read is making the copy; the bytes it will take are reserved meanwhile.
    Making(usize),
    /// The copy, its bytes, and the reads it served.
    Held(Arc<CachedColumns>, usize, u32),
    /// The copy could not be made or kept: the set is read as it is.
    Declined,
}

impl Cluster {
    /// Bytes it holds or reserves.
    fn bytes(&self) -> usize {
        match self {
            Cluster::Making(bytes) | Cluster::Held(_, bytes, _) => *bytes,
            Cluster::Reads(_) | Cluster::Declined => 0,
        }
    }
}

/// What the cache has for a read of an assembled set that pins one of its string columns.
pub(crate) enum ClusterLookup {
    /// The set's copy grouped by that column.
    Held(Arc<CachedColumns>),
    /// Nothing yet, but a copy would fit beside the cache's columns: this is the set's
    /// second such read, and the caller is to make one (`settle_clustered`).
    Wanted,
    /// Nothing, and none to make now.
    No,
}

/// A table version and the columns read from it.
type AssemblyKey = (VersionKey, Vec<String>);

/// An assembled column set and the cache keys of the columns it is made of.
type AssembledSet = (Arc<CachedColumns>, Vec<Key>);

/// Whether a dropped grouped copy served enough reads to pay for its making sets how many
/// reads the next copy of its table, columns and column waits for: twice as many when it
/// did not (a table written between every few reads, or a cache short of room, would
/// otherwise copy its columns again and again), half as many when it did.
fn learn_from(
    reads_to_cluster: &mut HashMap<(String, Vec<String>, usize), u32>,
    set: &AssemblyKey,
    c: usize,
    cluster: &Cluster,
) {
    let Cluster::Held(_, _, served) = cluster else {
        return;
    };
    let reads = reads_to_cluster
        .entry((set.0 .0.clone(), set.1.clone(), c))
        .or_insert(READS_TO_CLUSTER);
    *reads = match *served >= PAYING_READS {
        true => (*reads / 2).max(READS_TO_CLUSTER),
        false => (*reads * 2).min(MAX_READS_TO_CLUSTER),
    };
}

fn assembly_key(dataset: &Dataset, columns: &[String]) -> AssemblyKey {
    (version_key(dataset), columns.to_vec())
}

/// What the column cache holds, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnCacheStats {
    /// Bytes of decoded columns (with vector codes and grouped copies) held.
    pub bytes: usize,
    /// Columns of fragments held.
    pub columns: usize,
    /// Reads so far that started decoding columns from data files into the cache.
    pub fills: u64,
}

/// The column cache's current size and how many fills it has made in this process.
pub fn stats() -> ColumnCacheStats {
    let mut cache = cache();
    cache.recount();
    ColumnCacheStats {
        bytes: cache.bytes + cache.clustered_bytes,
        columns: cache.entries.len(),
        fills: cache.fills,
    }
}

/// Most keys remembered as read once; past it the set starts over.
const MAX_SEEN: usize = 100_000;
/// Most live-row masks kept (an eighth of a byte per row each); past it they start over.
const MAX_LIVE_MASKS: usize = 256;
/// Most table versions whose fragment identities are remembered.
const MAX_VERSIONS_KNOWN: usize = 256;
/// Most assembled column sets remembered; past it they start over.
const MAX_ASSEMBLED: usize = 64;

pub(crate) fn budget_bytes() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("PALIMPSEST_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_BUDGET_MB)
            * 1024
            * 1024
    })
}

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// The columns assembled for `key` before, their entries marked as used.
    fn assembled(&mut self, key: &AssemblyKey) -> Option<Arc<CachedColumns>> {
        let (columns, keys) = self.assembled.get(key)?;
        self.clock += 1;
        for key in keys {
            if let Some((_, used)) = self.entries.get_mut(key) {
                *used = self.clock;
            }
        }
        Some(columns.clone())
    }

    /// Remembers `columns`, made of `used` (each entry's key and the column it held),
    /// unless one of those entries is gone or was replaced meanwhile (an eviction while the
    /// set was cut): the set would then hold columns the budget no longer counts. Sets of
    /// other versions of the same table and columns are dropped: reads follow the newest.
    fn remember(
        &mut self,
        key: AssemblyKey,
        columns: Arc<CachedColumns>,
        used: Vec<(Key, Arc<CachedColumn>)>,
    ) {
        let current = used.iter().all(|(k, column)| {
            self.entries
                .get(k)
                .is_some_and(|(held, _)| Arc::ptr_eq(held, column))
        });
        if !current {
            return;
        }
        let ((uri, _, _), names) = &key;
        self.assembled
            .retain(|((other, _, _), columns), _| !(other == uri && columns == names));
        if self.assembled.len() >= MAX_ASSEMBLED {
            self.assembled.clear();
        }
        let keys = used.into_iter().map(|(k, _)| k).collect();
        self.assembled.insert(key, (columns, keys));
        self.drop_orphan_clusters();
    }

    /// Reads of a set pinning column `c` before its copy is made.
    fn reads_to_cluster(&self, set: &AssemblyKey, c: usize) -> u32 {
        let key = (set.0 .0.clone(), set.1.clone(), c);
        self.reads_to_cluster
            .get(&key)
            .copied()
            .unwrap_or(READS_TO_CLUSTER)
    }

    /// Drops every assembled set and what was made of them.
    fn forget_assembled(&mut self) {
        self.assembled.clear();
        self.drop_orphan_clusters();
    }

    /// Drops the grouped copies (and read counts) of sets no longer assembled.
    fn drop_orphan_clusters(&mut self) {
        self.drop_clusters(|set, assembled| !assembled.contains_key(set));
    }

    /// Drops the grouped copies (and read counts) of the sets `gone` picks, learning from
    /// each copy whether it paid for its making (`learn_from`).
    fn drop_clusters(
        &mut self,
        gone: impl Fn(&AssemblyKey, &HashMap<AssemblyKey, AssembledSet>) -> bool,
    ) {
        let Cache {
            assembled,
            clusters,
            clustered_bytes,
            reads_to_cluster,
            ..
        } = self;
        if reads_to_cluster.len() >= MAX_LEARNED {
            reads_to_cluster.clear();
        }
        clusters.retain(|(set, c), cluster| {
            if !gone(set, assembled) {
                return true;
            }
            *clustered_bytes -= cluster.bytes();
            learn_from(reads_to_cluster, set, *c, cluster);
            false
        });
    }

    fn get(&mut self, key: &Key) -> Option<Arc<CachedColumn>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(column, used)| {
            *used = clock;
            column.clone()
        })
    }

    /// Counts the bytes held again: vector codes grow entries after they were counted. Once
    /// per fill, not per insert (a fill inserts a column per fragment).
    fn recount(&mut self) {
        self.bytes = self.entries.values().map(|(c, _)| c.bytes()).sum();
    }

    fn insert(&mut self, key: Key, column: Arc<CachedColumn>) {
        let size = column.bytes();
        let budget = budget_bytes();
        if self.bytes + self.clustered_bytes + size > budget {
            self.drop_clusters(|_, _| true);
        }
        while self.bytes + size > budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.bytes();
                self.forget_assembled();
            }
        }
        if self.bytes + size <= budget {
            self.clock += 1;
            self.bytes += size;
            if let Some((old, _)) = self.entries.insert(key, (column, self.clock)) {
                self.bytes -= old.bytes();
                self.forget_assembled();
            }
        }
    }
}

/// A run of a fragment's rows with every requested column (zero-copy slices of cached
/// chunks), and which of them are live when some are deleted.
pub(crate) struct Segment {
    pub columns: Vec<Chunk>,
    pub rows: usize,
    pub live: Option<BooleanBuffer>,
    /// The fragment the rows are of, and the physical offset of the first one in it.
    pub fragment: u64,
    pub start: usize,
}

/// Whole columns of a version, as segments in scan order (empty ones left out).
pub(crate) struct CachedColumns {
    /// Unique in the process, so what is worked out from these segments (which of them a
    /// filter reads) can be remembered by it.
    pub id: u64,
    pub schema: SchemaRef,
    pub segments: Vec<Segment>,
}

impl CachedColumns {
    /// (segment, row in it) of the physical row at `offset` of fragment `fragment`.
    pub fn locate(&self, fragment: u64, offset: usize) -> Option<(usize, usize)> {
        self.segments
            .iter()
            .position(|s| s.fragment == fragment && (s.start..s.start + s.rows).contains(&offset))
            .map(|s| (s, offset - self.segments[s].start))
    }

    /// Segment `s` as a batch of all the requested columns (sharing the cache's buffers).
    pub fn batch(&self, s: usize) -> Result<RecordBatch> {
        let segment = &self.segments[s];
        let arrays = segment.columns.iter().map(|c| c.values.clone()).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(segment.rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

/// One fragment's columns cut into segments at every chunk boundary of any of them, with the
/// fragment's live rows (`None`: all).
fn segments_of(
    fragment: u64,
    columns: &[Arc<CachedColumn>],
    live: Option<&BooleanBuffer>,
    out: &mut Vec<Segment>,
) {
    let mut ends: Vec<usize> = columns
        .iter()
        .flat_map(|c| {
            c.chunks.iter().scan(0, |end, chunk| {
                *end += chunk.values.len();
                Some(*end)
            })
        })
        .collect();
    ends.sort_unstable();
    ends.dedup();
    // Per column: index of the chunk holding the next row, and where that chunk starts.
    let mut at = vec![(0usize, 0usize); columns.len()];
    let mut start = 0;
    for end in ends {
        if end == start {
            continue;
        }
        let mut chunks = Vec::with_capacity(columns.len());
        for (c, column) in columns.iter().enumerate() {
            let (mut i, mut chunk_start) = at[c];
            while chunk_start + column.chunks[i].values.len() <= start {
                chunk_start += column.chunks[i].values.len();
                i += 1;
            }
            at[c] = (i, chunk_start);
            chunks.push(column.chunks[i].slice(start - chunk_start, end - start));
        }
        let live = live
            .map(|l| l.slice(start, end - start))
            .filter(|l| l.count_set_bits() < l.len());
        out.push(Segment {
            columns: chunks,
            rows: end - start,
            live,
            fragment,
            start,
        });
        start = end;
    }
}

/// The arrow field a cached read returns for `name` (`_rowid` and `_rowaddr` included).
fn field_of(dataset: &Dataset, name: &str) -> Option<(Field, i32)> {
    if name == ROW_ID {
        return Some((Field::new(ROW_ID, DataType::UInt64, true), ROW_ID_KEY));
    }
    if name == ROW_ADDR {
        return Some((Field::new(ROW_ADDR, DataType::UInt64, true), ROW_ADDR_KEY));
    }
    if !is_top_level(dataset, name) {
        return None;
    }
    let field = dataset.schema().field(name)?;
    Some((Field::from(field), field.id))
}

/// Whether `name` is a column of the table itself (a dotted path names a nested field).
pub(crate) fn is_top_level(dataset: &Dataset, name: &str) -> bool {
    dataset.schema().fields.iter().any(|f| f.name == name)
}

/// A rough size of a column's decoded rows, to refuse reads that could not fit.
fn row_width(data_type: &DataType) -> usize {
    match data_type {
        DataType::FixedSizeList(child, n) => row_width(child.data_type()) * (*n as usize),
        t => t.primitive_width().unwrap_or(32),
    }
}

/// The bytes of `columns` over every physical row of `dataset`, as the budget estimates
/// them (strings at 32 bytes a value); `usize::MAX` for a name that is not a column.
pub(crate) fn estimated_bytes(dataset: &Dataset, columns: &[String]) -> usize {
    let rows: usize = dataset
        .fragments()
        .iter()
        .map(|f| f.physical_rows.unwrap_or(0))
        .sum();
    columns
        .iter()
        .map(|c| field_of(dataset, c).map(|(field, _)| row_width(field.data_type())))
        .try_fold(0usize, |sum, width| Some(sum + width?))
        .map_or(usize::MAX, |width| width.saturating_mul(rows))
}

/// Whether every requested column of every fragment is already decoded.
pub(crate) fn all_cached(dataset: &Dataset, columns: &[String]) -> bool {
    let assembled = cache()
        .assembled
        .contains_key(&assembly_key(dataset, columns));
    assembled || cached_share(dataset, columns) >= 1.0
}

/// The share of the table's rows whose fragments have every requested column decoded (0 when
/// a name is not a cacheable column or the cache is off).
pub(crate) fn cached_share(dataset: &Dataset, columns: &[String]) -> f64 {
    if budget_bytes() == 0 {
        return 0.0;
    }
    let Some(fields) = columns
        .iter()
        .map(|c| field_of(dataset, c).map(|(_, id)| id))
        .collect::<Option<Vec<_>>>()
    else {
        return 0.0;
    };
    let uri = dataset.uri().to_string();
    let fragments = dataset.fragments();
    let identities = identities(dataset);
    // A look, not a use: leaves the entries' recency as it was.
    let cache = cache();
    let (mut cached, mut total) = (0usize, 0usize);
    for (fragment, identity) in fragments.iter().zip(identities.iter()) {
        let rows = fragment.physical_rows.unwrap_or(0);
        total += rows;
        if fields
            .iter()
            .all(|field| cache.entries.contains_key(&identity.key(&uri, *field)))
        {
            cached += rows;
        }
    }
    if total == 0 {
        // An empty table: nothing to decode.
        return if identities.is_empty() { 0.0 } else { 1.0 };
    }
    cached as f64 / total as f64
}

fn fingerprint(fragment: &Fragment) -> Arc<str> {
    serde_json::to_string(fragment)
        .unwrap_or_else(|_| format!("{fragment:?}"))
        .into()
}

/// When a read keeps the columns it decodes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// On the second read: one-off reads take no memory.
    WhenHot,
    /// On the first read (exact vector search: a search is rarely the only one).
    Now,
}

/// `columns` (top-level names, or `_rowid`) of every live row of `dataset`, decoded once and
/// then served from memory. `None` when the cache is off, a name is not a top-level column, the
/// columns would not fit in the cache, or they are read for the first time and `keep` is
/// `WhenHot`: the caller then reads through lance as usual.
pub(crate) async fn load(
    dataset: &Dataset,
    columns: &[String],
    keep: Keep,
) -> Result<Option<Arc<CachedColumns>>> {
    let budget = budget_bytes();
    if budget == 0 || columns.is_empty() {
        return Ok(None);
    }
    let assembly = assembly_key(dataset, columns);
    if let Some(assembled) = cache().assembled(&assembly) {
        return Ok(Some(assembled));
    }
    let Some(fields) = columns
        .iter()
        .map(|c| field_of(dataset, c))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    let uri = dataset.uri().to_string();
    let fragments = dataset.fragments().clone();
    let identities = identities(dataset);
    let keys: Vec<Vec<Key>> = identities
        .iter()
        .map(|identity| {
            fields
                .iter()
                .map(|(_, id)| identity.key(&uri, *id))
                .collect()
        })
        .collect();
    let lookup = || -> Vec<Vec<Option<Arc<CachedColumn>>>> {
        let mut cache = cache();
        keys.iter()
            .map(|row| row.iter().map(|key| cache.get(key)).collect())
            .collect()
    };
    let missing_in = |found: &[Vec<Option<Arc<CachedColumn>>>]| -> Vec<usize> {
        (0..fragments.len())
            .filter(|f| found[*f].iter().any(Option::is_none))
            .collect()
    };
    let mut found = lookup();
    let mut missing = missing_in(&found);
    if !missing.is_empty() && keep == Keep::WhenHot {
        // The first read of a column goes through lance as usual; the second keeps it.
        let mut cache = cache();
        let missing_keys = missing.iter().flat_map(|f| keys[*f].iter());
        let mut first_read = false;
        for key in missing_keys {
            if !cache.seen.contains(key) {
                if cache.seen.len() >= MAX_SEEN {
                    cache.seen.clear();
                }
                cache.seen.insert(key.clone());
                first_read = true;
            }
        }
        if first_read {
            return Ok(None);
        }
    }
    // One fill of a table at a time: concurrent first reads wait for it and then find its
    // columns, instead of each decoding (and holding) a copy of the whole table.
    let _filling = match missing.is_empty() {
        true => None,
        false => {
            let guard = fill_lock(&uri).lock_owned().await;
            found = lookup();
            missing = missing_in(&found);
            Some(guard)
        }
    };
    if !missing.is_empty() {
        // Only the columns some fragment lacks are decoded (adding `_rowid` to cached
        // columns decodes row ids, not the columns again).
        let lacking: Vec<usize> = (0..fields.len())
            .filter(|c| missing.iter().any(|f| found[*f][*c].is_none()))
            .collect();
        let width: usize = lacking
            .iter()
            .map(|c| row_width(fields[*c].0.data_type()))
            .sum();
        let rows: usize = missing
            .iter()
            .map(|f| fragments[*f].physical_rows.unwrap_or(0))
            .sum::<usize>();
        if rows.saturating_mul(width) > budget {
            return Ok(None);
        }
        // Row ids and addresses come from the manifest, not the data files.
        let (pseudo, data): (Vec<usize>, Vec<usize>) = lacking
            .iter()
            .partition(|c| matches!(fields[**c].1, ROW_ID_KEY | ROW_ADDR_KEY));
        let mut built = Vec::new();
        for f in &missing {
            for c in &pseudo {
                if found[*f][*c].is_none() {
                    let Some(column) = pseudo_column(dataset, &fragments[*f], fields[*c].1).await?
                    else {
                        return Ok(None);
                    };
                    built.push((*f, *c, column));
                }
            }
        }
        if !data.is_empty() {
            let data_fields: Vec<(Field, i32)> = data.iter().map(|c| fields[*c].clone()).collect();
            cache().fills += 1;
            let Some(decoded) = decode(dataset, &fragments, &missing, &data_fields).await? else {
                return Ok(None);
            };
            for (f, columns) in decoded {
                for (column, c) in columns.into_iter().zip(&data) {
                    built.push((f, *c, column));
                }
            }
        }
        let mut cache = cache();
        cache.recount();
        for (f, c, column) in built {
            cache.insert(keys[f][c].clone(), column.clone());
            found[f][c] = Some(column);
        }
    }
    let schema = Arc::new(Schema::new(
        fields.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
    ));
    let mut segments = Vec::new();
    let mut used = Vec::new();
    for (((columns, fragment), identity), keys) in found
        .into_iter()
        .zip(fragments.iter())
        .zip(identities.iter())
        .zip(keys)
    {
        let columns: Vec<Arc<CachedColumn>> = columns
            .into_iter()
            .map(|c| c.expect("every missing column was decoded"))
            .collect();
        used.extend(keys.into_iter().zip(columns.iter().cloned()));
        let live = live_rows(dataset, fragment, &identity.whole).await?;
        segments_of(fragment.id, &columns, live.as_deref(), &mut segments);
    }
    let assembled = Arc::new(CachedColumns {
        id: next_set_id(),
        schema,
        segments,
    });
    // An empty table is never "in memory" (`cached_share`): nothing to remember.
    if !used.is_empty() {
        cache().remember(assembly, assembled.clone(), used);
    }
    Ok(Some(assembled))
}

/// Reads of a set that pin a column before its grouped copy is made (the first one reads
/// the set as it is, like a column's first read), unless earlier versions' copies did not
/// pay: then twice as many each time, up to `MAX_READS_TO_CLUSTER`.
const READS_TO_CLUSTER: u32 = 2;
const MAX_READS_TO_CLUSTER: u32 = 64;
/// Most (table, columns, column) read counts remembered; past it they start over.
const MAX_LEARNED: usize = 1024;

/// Reads a copy serves to pay for its making: it takes about as long as 25 reads without
/// it (a tenth of 1M rows of id, text and category: 100 ms against 4 ms here).
const PAYING_READS: u32 = 32;

/// A grouped copy takes at most a quarter of the budget (making one briefly needs its size
/// again).
const MAX_CLUSTER_SHARE: usize = 4;

/// Whether the cache holds a copy of `columns` of `dataset` grouped by column `c` (for
/// `explainPlan()`; not counted as a read).
pub(crate) fn holds_clustered(dataset: &Dataset, columns: &[String], c: usize) -> bool {
    let key = (assembly_key(dataset, columns), c);
    matches!(cache().clusters.get(&key), Some(Cluster::Held(..)))
}

/// Whether the next read of `columns` of `dataset` pinning column `c` may make its grouped
/// copy (not counted as a read).
pub(crate) fn next_read_makes_cluster(dataset: &Dataset, columns: &[String], c: usize) -> bool {
    let set = assembly_key(dataset, columns);
    let cache = cache();
    let needed = cache.reads_to_cluster(&set, c);
    match cache.clusters.get(&(set, c)) {
        Some(Cluster::Reads(reads)) => reads.saturating_add(1) >= needed,
        Some(_) => false,
        None => needed <= 1,
    }
}

/// What the cache holds for a read of `columns` of `dataset` (an assembled set) that pins
/// column `c`, counting the read; a copy would take `bytes()`. A read that may not make
/// the copy (one answered at once on the caller's thread) leaves it to the next read.
pub(crate) fn clustered(
    dataset: &Dataset,
    columns: &[String],
    c: usize,
    may_make: bool,
    bytes: impl FnOnce() -> usize,
) -> ClusterLookup {
    let set = assembly_key(dataset, columns);
    let mut guard = cache();
    let cache = &mut *guard;
    if !cache.assembled.contains_key(&set) {
        return ClusterLookup::No;
    }
    let needed = cache.reads_to_cluster(&set, c);
    let cluster = cache.clusters.entry((set, c)).or_insert(Cluster::Reads(0));
    let Cluster::Reads(reads) = cluster else {
        return match cluster {
            Cluster::Held(copy, _, served) => {
                *served = served.saturating_add(1);
                ClusterLookup::Held(copy.clone())
            }
            _ => ClusterLookup::No,
        };
    };
    *reads = reads.saturating_add(1);
    if *reads < needed || !may_make {
        return ClusterLookup::No;
    }
    let bytes = bytes();
    let budget = budget_bytes();
    if bytes > budget / MAX_CLUSTER_SHARE || cache.bytes + cache.clustered_bytes + bytes > budget {
        // This version's set is read as it is; the next version's gets another chance.
        *cluster = Cluster::Declined;
        return ClusterLookup::No;
    }
    // One read makes it; the others meanwhile read the set as it is.
    *cluster = Cluster::Making(bytes);
    cache.clustered_bytes += bytes;
    ClusterLookup::Wanted
}

/// Ends the making of the copy of `columns` of `dataset` grouped by column `c`: keeps `made`
/// (the copy and its bytes) while its set stays assembled and the budget has room; when it
/// could not be made or kept, the set is read as it is from then on.
pub(crate) fn settle_clustered(
    dataset: &Dataset,
    columns: &[String],
    c: usize,
    made: Option<(Arc<CachedColumns>, usize)>,
) {
    let set = assembly_key(dataset, columns);
    let mut guard = cache();
    let cache = &mut *guard;
    // Gone with its set meanwhile, or dropped for room: nothing to settle.
    let Some(cluster) = cache.clusters.get_mut(&(set, c)) else {
        return;
    };
    let Cluster::Making(reserved) = *cluster else {
        return;
    };
    cache.clustered_bytes -= reserved;
    *cluster = match made {
        Some((copy, bytes)) if cache.bytes + cache.clustered_bytes + bytes <= budget_bytes() => {
            cache.clustered_bytes += bytes;
            // The read that made it is its first.
            Cluster::Held(copy, bytes, 1)
        }
        _ => Cluster::Declined,
    };
}

/// A fresh id for a column set (`CachedColumns::id`).
pub(crate) fn next_set_id() -> u64 {
    static ASSEMBLIES: AtomicU64 = AtomicU64::new(0);
    ASSEMBLIES.fetch_add(1, Ordering::Relaxed)
}

/// The lock a fill of the table at `uri` holds.
fn fill_lock(uri: &str) -> Arc<tokio::sync::Mutex<()>> {
    type Fills = HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>;
    static FILLS: OnceLock<Mutex<Fills>> = OnceLock::new();
    let mut fills = FILLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(lock) = fills.get(uri).and_then(std::sync::Weak::upgrade) {
        return lock;
    }
    // Tables no read is filling any more need no lock.
    fills.retain(|_, lock| lock.strong_count() > 0);
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    fills.insert(uri.to_string(), Arc::downgrade(&lock));
    lock
}

/// `_rowid` or `_rowaddr` of every physical row of `fragment`, from the manifest: stable row
/// ids from the fragment's row-id sequence, otherwise the address. `None` when the sequence
/// does not cover the fragment's rows.
async fn pseudo_column(
    dataset: &Dataset,
    fragment: &Fragment,
    field: i32,
) -> Result<Option<Arc<CachedColumn>>> {
    let rows = fragment.physical_rows.unwrap_or(0) as u64;
    let base = fragment.id << 32;
    let values: Vec<u64> = if field == ROW_ID_KEY && dataset.manifest().uses_stable_row_ids() {
        let sequence = lance::dataset::rowids::load_row_id_sequence(dataset, fragment).await?;
        let ids: Vec<u64> = sequence.iter().collect();
        if ids.len() as u64 != rows {
            return Ok(None);
        }
        ids
    } else {
        (0..rows).map(|offset| base | offset).collect()
    };
    let values = UInt64Array::from(values);
    let chunks: Vec<Chunk> = (0..values.len())
        .step_by(CHUNK_ROWS)
        .map(|start| {
            let piece: ArrayRef =
                Arc::new(values.slice(start, CHUNK_ROWS.min(values.len() - start)));
            Chunk::new(&piece)
        })
        .collect();
    let bytes = values.get_array_memory_size();
    Ok(Some(Arc::new(CachedColumn { chunks, bytes })))
}

/// Which rows of `fragment` are live, when it has deletions; remembered per deletion file.
async fn live_rows(
    dataset: &Dataset,
    fragment: &Fragment,
    whole: &Arc<str>,
) -> Result<Option<Arc<BooleanBuffer>>> {
    if fragment.deletion_file.is_none() {
        return Ok(None);
    }
    let key = (dataset.uri().to_string(), whole.clone());
    if let Some(live) = cache().live.get(&key) {
        return Ok(Some(live.clone()));
    }
    let rows = fragment.physical_rows.unwrap_or(0);
    let mut live = BooleanBufferBuilder::new(rows);
    live.append_n(rows, true);
    let file = dataset.get_fragment(fragment.id as usize).ok_or_else(|| {
        crate::error::Error::from(lance::Error::internal(format!(
            "fragment {} is not in the version it was listed in",
            fragment.id
        )))
    })?;
    if let Some(deleted) = file.get_deletion_vector().await? {
        for row in deleted.iter() {
            if (row as usize) < rows {
                live.set_bit(row as usize, false);
            }
        }
    }
    let live = Arc::new(live.finish());
    let mut cache = cache();
    if cache.live.len() >= MAX_LIVE_MASKS {
        cache.live.clear();
    }
    cache.live.insert(key, live.clone());
    Ok(Some(live))
}

/// Decodes `fields` of every physical row (deleted ones too) of the fragments at `which`, in
/// one scan, split by fragment. `None` when the scan does not hand out each fragment's rows
/// exactly once and in order (the caller then reads through lance).
async fn decode(
    dataset: &Dataset,
    fragments: &[Fragment],
    which: &[usize],
    fields: &[(Field, i32)],
) -> Result<Option<Vec<(usize, Vec<Arc<CachedColumn>>)>>> {
    let names: Vec<&str> = fields.iter().map(|(f, _)| f.name().as_str()).collect();
    let mut scan = dataset.scan();
    scan.with_fragments(which.iter().map(|f| fragments[*f].clone()).collect());
    scan.project(&names)?;
    scan.scan_in_order(true);
    // Few large chunks: every chunk costs a filter evaluation and an output batch later.
    scan.batch_size(CHUNK_ROWS);
    // lance hands out deleted rows only beside row ids.
    scan.with_row_id();
    scan.with_row_address();
    scan.include_deleted_rows();
    let mut stream = scan.try_into_stream().await?;
    // The next physical offset expected of each fragment.
    let mut next: HashMap<u64, u64> = HashMap::new();

    // Chunks of each fragment id, per field, in order: a batch may end or start mid-fragment.
    // Each batch is moved into the cache's memory as it arrives, so a fill holds one decoded
    // batch at a time beside what it keeps.
    let mut parts: HashMap<u64, Vec<Vec<Chunk>>> = HashMap::new();
    while let Some(batch) = stream.try_next().await? {
        let addresses = batch
            .column_by_name(ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .expect("row addresses were requested");
        let mut start = 0;
        while start < batch.num_rows() {
            let id = addresses.value(start) >> 32;
            let mut end = start;
            let expected = next.entry(id).or_insert(0);
            while end < batch.num_rows() && addresses.value(end) >> 32 == id {
                if addresses.value(end) & u64::from(u32::MAX) != *expected {
                    return Ok(None);
                }
                *expected += 1;
                end += 1;
            }
            let piece = batch.slice(start, end - start);
            let chunks = parts
                .entry(id)
                .or_insert_with(|| vec![Vec::new(); fields.len()]);
            for ((field, _), chunks) in fields.iter().zip(chunks.iter_mut()) {
                let values = piece
                    .column_by_name(field.name())
                    .expect("projected column");
                chunks.push(Chunk::new(values));
            }
            start = end;
        }
    }
    let mut out = Vec::with_capacity(which.len());
    for f in which {
        let fragment = &fragments[*f];
        let decoded = next.get(&fragment.id).copied().unwrap_or(0);
        if fragment
            .physical_rows
            .is_none_or(|rows| rows as u64 != decoded)
        {
            return Ok(None);
        }
        let columns = parts
            .remove(&fragments[*f].id)
            .unwrap_or_else(|| vec![Vec::new(); fields.len()])
            .into_iter()
            .map(|chunks| {
                let bytes = chunks
                    .iter()
                    .map(|c| {
                        c.values.get_array_memory_size()
                            + c.keys.as_ref().map_or(0, |(k, d)| {
                                k.get_array_memory_size() + d.get_array_memory_size()
                            })
                    })
                    .sum();
                Arc::new(CachedColumn { chunks, bytes })
            })
            .collect();
        out.push((*f, columns));
    }
    Ok(Some(out))
}

/// Keys into the distinct values of `strings`, when there are few of them.
fn dictionary_of(strings: &StringArray) -> Option<(UInt16Array, StringArray)> {
    let mut index: HashMap<&str, u16> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut keys = Vec::with_capacity(strings.len());
    for value in strings.iter() {
        keys.push(match value {
            None => None,
            Some(s) => Some(match index.get(s) {
                Some(k) => *k,
                None => {
                    if distinct.len() == MAX_DICTIONARY {
                        return None;
                    }
                    let k = distinct.len() as u16;
                    index.insert(s, k);
                    distinct.push(s);
                    k
                }
            }),
        });
    }
    Some((UInt16Array::from(keys), StringArray::from(distinct)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(bytes: usize) -> Arc<CachedColumn> {
        Arc::new(CachedColumn {
            chunks: Vec::new(),
            bytes,
        })
    }

    fn key(field: i32) -> Key {
        Key {
            uri: "memory://t".to_string(),
            fragment: "fragment 0".into(),
            field,
        }
    }

    fn assembly() -> Arc<CachedColumns> {
        Arc::new(CachedColumns {
            id: 0,
            schema: Arc::new(Schema::empty()),
            segments: Vec::new(),
        })
    }

    fn columns_of(name: &str) -> AssemblyKey {
        (("memory://t".to_string(), 1, 0), vec![name.to_string()])
    }

    /// `key`'s entry and the column it holds now.
    fn held(cache: &Cache, key: Key) -> (Key, Arc<CachedColumn>) {
        let column = cache.entries[&key].0.clone();
        (key, column)
    }

    #[test]
    fn assembled_columns_go_with_any_entry_and_hold_nothing_after() {
        let mut cache = Cache::default();
        let half = budget_bytes() / 2;
        cache.insert(key(1), column(half));
        let a = assembly();
        let used = vec![held(&cache, key(1))];
        cache.remember(columns_of("a"), a.clone(), used);
        let hit = cache.assembled(&columns_of("a")).expect("remembered");
        assert!(Arc::ptr_eq(&hit, &a));
        drop(hit);
        // A set made of an entry the cache no longer has is not remembered.
        cache.remember(columns_of("b"), assembly(), vec![(key(2), column(1))]);
        assert!(cache.assembled(&columns_of("b")).is_none());
        // Making room for another entry evicts key(1), and with it every assembled set.
        cache.insert(key(2), column(half + 1));
        assert!(!cache.entries.contains_key(&key(1)));
        assert!(cache.assembled(&columns_of("a")).is_none());
        let gone = Arc::downgrade(&a);
        drop(a);
        assert!(
            gone.upgrade().is_none(),
            "nothing else holds the evicted set"
        );
    }

    #[test]
    fn sets_cut_from_a_replaced_entry_are_not_remembered() {
        // A load looked up key(1), then it was evicted and decoded again by another read
        // before the load cut its set: the set holds the old column, which the budget no
        // longer counts.
        let mut cache = Cache::default();
        cache.insert(key(1), column(10));
        let old = held(&cache, key(1));
        cache.insert(key(1), column(10));
        cache.remember(columns_of("a"), assembly(), vec![old]);
        assert!(cache.assembled(&columns_of("a")).is_none());
        let now = held(&cache, key(1));
        cache.remember(columns_of("a"), assembly(), vec![now]);
        assert!(cache.assembled(&columns_of("a")).is_some());
    }

    #[test]
    fn a_newer_version_replaces_the_set_of_the_same_columns() {
        let mut cache = Cache::default();
        cache.insert(key(1), column(10));
        let v2 = (("memory://t".to_string(), 2, 5), vec!["a".to_string()]);
        cache.remember(columns_of("a"), assembly(), vec![held(&cache, key(1))]);
        cache.remember(columns_of("b"), assembly(), vec![held(&cache, key(1))]);
        cache.remember(v2.clone(), assembly(), vec![held(&cache, key(1))]);
        assert!(cache.assembled(&v2).is_some());
        assert!(
            cache.assembled(&columns_of("a")).is_none(),
            "version 1 of `a` dropped"
        );
        assert!(
            cache.assembled(&columns_of("b")).is_some(),
            "other columns kept"
        );
    }

    #[test]
    fn using_an_assembled_set_marks_its_entries_used() {
        let mut cache = Cache::default();
        let third = budget_bytes() / 3;
        cache.insert(key(1), column(third));
        cache.insert(key(2), column(third));
        let used = vec![held(&cache, key(1))];
        cache.remember(columns_of("a"), assembly(), used);
        // key(1) is the older entry, but the set made of it was used since.
        cache.assembled(&columns_of("a")).expect("remembered");
        // One byte more than the budget has left: one entry must go.
        cache.insert(key(3), column(budget_bytes() - 2 * third + 1));
        assert!(cache.entries.contains_key(&key(1)));
        assert!(!cache.entries.contains_key(&key(2)));
    }

    #[test]
    fn dictionaries_key_every_value_up_to_their_limit() {
        // Each distinct value repeated, with nulls: the last of MAX_DICTIONARY values must
        // keep its own key (a narrower key type would wrap it onto another value).
        let values: Vec<Option<String>> = (0..MAX_DICTIONARY * 2)
            .map(|i| (i % 13 != 5).then(|| format!("v{}", i % MAX_DICTIONARY)))
            .collect();
        let strings = StringArray::from(values.clone());
        let (keys, distinct) = dictionary_of(&strings).expect("a dictionary at the limit");
        assert_eq!(distinct.len(), MAX_DICTIONARY);
        for (row, value) in values.iter().enumerate() {
            match value {
                None => assert!(keys.is_null(row)),
                Some(v) => assert_eq!(distinct.value(keys.value(row) as usize), v),
            }
        }
        let one_more: StringArray = (0..=MAX_DICTIONARY)
            .map(|i| Some(format!("v{i}")))
            .collect();
        assert!(dictionary_of(&one_more).is_none());
    }
}
