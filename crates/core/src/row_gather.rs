//! Rows picked from several batches (a filter's matches in the cache's segments) gathered
//! into one batch of buffers of its own.
//!
//! arrow's `interleave` does this one `(batch, row)` pair at a time into freshly allocated
//! buffers. Here each column is gathered part by part, the parts on rayon's threads, and large
//! outputs go to recycled blocks (`buffer_pool`): on this kind of machine the kernel's first
//! touch of fresh pages costs as much as the copy. Layouts other than fixed-width values,
//! fixed-size lists of them and 32-bit-offset strings and binaries go to `interleave`.

use arrow_array::{make_array, Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBufferBuilder, Buffer, MutableBuffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::{DataType, SchemaRef};
use rayon::prelude::*;

use crate::buffer_pool;
use crate::error::Result;
use crate::keyed_strings::{gather_by_key, StringKeys};

/// Below this many output rows a column is gathered on the calling thread.
const PARALLEL_ROWS: usize = 16_384;

/// Rows of batches that share one schema, in output order: each part is a batch and the
/// ascending rows picked from it.
#[derive(Default)]
pub(crate) struct Picks {
    parts: Vec<(RecordBatch, Vec<u32>)>,
    /// Per part, per column: the cache's dictionary keys of a low-cardinality string column.
    keys: Vec<Vec<Option<StringKeys>>>,
}

impl Picks {
    /// Picks `rows` of `batch`; `keys` holds, per column, dictionary keys where the cache
    /// has them (or is empty).
    pub fn push(&mut self, batch: RecordBatch, rows: Vec<u32>, keys: Vec<Option<StringKeys>>) {
        if !rows.is_empty() {
            self.parts.push((batch, rows));
            self.keys.push(keys);
        }
    }

    /// The picked rows as one batch; the picks are emptied. `None` when nothing was picked.
    pub fn gather(&mut self) -> Result<Option<RecordBatch>> {
        let parts = std::mem::take(&mut self.parts);
        let keys = std::mem::take(&mut self.keys);
        let Some((first, _)) = parts.first() else {
            return Ok(None);
        };
        let schema: SchemaRef = first.schema();
        let rows: usize = parts.iter().map(|(_, r)| r.len()).sum();
        // Column `c`'s keys, when every part has them.
        let keys_of = |c: usize| -> Option<Vec<&StringKeys>> {
            keys.iter().map(|k| k.get(c)?.as_ref()).collect()
        };
        let gather = |c| gather_column(&column_of(&parts, c), keys_of(c), rows);
        // Columns side by side as well: a string column's offsets pass is serial.
        let columns = if rows >= PARALLEL_ROWS {
            (0..schema.fields().len())
                .into_par_iter()
                .map(gather)
                .collect::<Result<Vec<_>>>()?
        } else {
            (0..schema.fields().len())
                .map(gather)
                .collect::<Result<Vec<_>>>()?
        };
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            schema, columns, &options,
        )?))
    }
}

/// Column `c` of every part, with the rows picked from it.
fn column_of(parts: &[(RecordBatch, Vec<u32>)], c: usize) -> Vec<(&ArrayRef, &[u32])> {
    parts
        .iter()
        .map(|(batch, rows)| (batch.column(c), rows.as_slice()))
        .collect()
}

/// Runs `copy` on every part, on rayon's threads when there are enough rows to share.
pub(crate) fn for_each_part<T: Send>(parts: Vec<T>, rows: usize, copy: impl Fn(T) + Send + Sync) {
    if rows >= PARALLEL_ROWS {
        parts.into_par_iter().for_each(copy);
    } else {
        parts.into_iter().for_each(copy);
    }
}

/// One column's picked rows from each source, in order (by dictionary key where `keys`
/// has every source's).
fn gather_column(
    sources: &[(&ArrayRef, &[u32])],
    keys: Option<Vec<&StringKeys>>,
    rows: usize,
) -> Result<ArrayRef> {
    let data_type = sources[0].0.data_type();
    let datas: Vec<ArrayData> = sources.iter().map(|(a, _)| a.to_data()).collect();
    let picks: Vec<&[u32]> = sources.iter().map(|(_, r)| *r).collect();
    let nulls = gather_nulls(&datas, &picks, rows);
    let builder = ArrayData::builder(data_type.clone()).len(rows).nulls(nulls);
    let data = match data_type {
        t if t.primitive_width().is_some() => {
            let width = t.primitive_width().expect("checked");
            let values = gather_fixed(&fixed_sources(&datas, width), &picks, width);
            builder.add_buffer(values)
        }
        DataType::FixedSizeList(_, size)
            if datas.iter().all(|d| is_plain_fixed(&d.child_data()[0])) =>
        {
            let child_type = datas[0].child_data()[0].data_type();
            let width = child_type.primitive_width().expect("checked") * *size as usize;
            let values = gather_fixed(&fixed_sources(&datas, width), &picks, width);
            let child = ArrayData::builder(child_type.clone())
                .len(rows * *size as usize)
                .add_buffer(values);
            // Safety: the child's values are whole elements copied from children of the same
            // type without nulls.
            builder.add_child_data(unsafe { child.build_unchecked() })
        }
        DataType::Utf8 if keys.is_some() => {
            let keyed = keys.and_then(|keys| gather_by_key(&keys, &picks, rows));
            match keyed.or_else(|| gather_bytes(&datas, &picks, rows)) {
                Some((offsets, values)) => builder.add_buffer(offsets).add_buffer(values),
                None => return interleave(sources),
            }
        }
        DataType::Utf8 | DataType::Binary => match gather_bytes(&datas, &picks, rows) {
            Some((offsets, values)) => builder.add_buffer(offsets).add_buffer(values),
            // More than 32-bit offsets can address: arrow reports it.
            None => return interleave(sources),
        },
        _ => return interleave(sources),
    };
    // Safety: every buffer was built above for `rows` rows of `data_type` from arrays of that
    // type: whole values copied, offsets recomputed from their lengths (so string values stay
    // whole UTF-8), validity gathered with them.
    Ok(make_array(unsafe { data.build_unchecked() }))
}

/// Whether `child` is fixed-width values without nulls (a vector column's floats).
fn is_plain_fixed(child: &ArrayData) -> bool {
    child.data_type().primitive_width().is_some() && child.null_count() == 0
}

/// arrow's gather, for layouts this module does not handle.
fn interleave(sources: &[(&ArrayRef, &[u32])]) -> Result<ArrayRef> {
    let arrays: Vec<&dyn Array> = sources.iter().map(|(a, _)| a.as_ref()).collect();
    let indices: Vec<(usize, usize)> = sources
        .iter()
        .enumerate()
        .flat_map(|(s, (_, rows))| rows.iter().map(move |r| (s, *r as usize)))
        .collect();
    Ok(arrow_select::interleave::interleave(&arrays, &indices)?)
}

/// The validity of the picked rows; `None` when none of them is null.
fn gather_nulls(datas: &[ArrayData], picks: &[&[u32]], rows: usize) -> Option<NullBuffer> {
    if datas.iter().all(|d| d.null_count() == 0) {
        return None;
    }
    let mut bits = BooleanBufferBuilder::new(rows);
    for (data, rows) in datas.iter().zip(picks) {
        match data.nulls() {
            Some(nulls) => rows
                .iter()
                .for_each(|r| bits.append(nulls.is_valid(*r as usize))),
            None => bits.append_n(rows.len(), true),
        }
    }
    let nulls = NullBuffer::new(bits.finish());
    (nulls.null_count() > 0).then_some(nulls)
}

/// Each source's fixed-width values from its first row on, `width` bytes a row: the values
/// of a primitive array, or of a fixed-size list's child (whose rows are `width` bytes of
/// child values from the list's offset on, plus the child's own offset).
fn fixed_sources(datas: &[ArrayData], width: usize) -> Vec<&[u8]> {
    datas
        .iter()
        .map(|d| {
            let start = match d.child_data().first() {
                Some(child) => {
                    let element = child.data_type().primitive_width().expect("checked");
                    d.offset() * width + child.offset() * element
                }
                None => d.offset() * width,
            };
            let values = d.child_data().first().unwrap_or(d);
            &values.buffers()[0].as_slice()[start..]
        })
        .collect()
}

/// A buffer of `len` bytes filled by `fill`: recycled memory when large.
pub(crate) fn output(len: usize, fill: impl FnOnce(&mut [u8])) -> Buffer {
    if len >= buffer_pool::MIN_POOLED {
        return buffer_pool::filled(len, fill);
    }
    // arrow's own allocation: aligned for any element type, as the pool's blocks are.
    let mut bytes = MutableBuffer::from_len_zeroed(len);
    fill(bytes.as_slice_mut());
    bytes.into()
}

/// `rows[i]`'s `width` bytes of every source, in order.
fn gather_fixed(sources: &[&[u8]], picks: &[&[u32]], width: usize) -> Buffer {
    let rows: usize = picks.iter().map(|p| p.len()).sum();
    output(rows * width, |out| {
        let parts = split_by(out, picks.iter().map(|p| p.len() * width));
        let copy = |(out, (src, rows)): (&mut [u8], (&&[u8], &&[u32]))| match width {
            1 => copy_rows::<1>(out, src, rows),
            2 => copy_rows::<2>(out, src, rows),
            4 => copy_rows::<4>(out, src, rows),
            8 => copy_rows::<8>(out, src, rows),
            16 => copy_rows::<16>(out, src, rows),
            _ if is_run(rows) => {
                let at = rows[0] as usize * width;
                out.copy_from_slice(&src[at..at + out.len()]);
            }
            _ => {
                for (to, r) in out.chunks_exact_mut(width).zip(rows.iter()) {
                    let at = *r as usize * width;
                    to.copy_from_slice(&src[at..at + width]);
                }
            }
        };
        let work = parts.into_iter().zip(sources.iter().zip(picks.iter()));
        for_each_part(work.collect(), rows, copy);
    })
}

/// Whether `rows` (ascending) are one run with no gaps: a range filter over a sorted column
/// picks such runs, which copy as one block.
fn is_run(rows: &[u32]) -> bool {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => (last - first) as usize + 1 == rows.len(),
        _ => false,
    }
}

/// Fixed-size copies the compiler turns into single moves.
fn copy_rows<const W: usize>(out: &mut [u8], src: &[u8], rows: &[u32]) {
    if is_run(rows) {
        let at = rows[0] as usize * W;
        out.copy_from_slice(&src[at..at + out.len()]);
        return;
    }
    for (to, r) in out.chunks_exact_mut(W).zip(rows.iter()) {
        let at = *r as usize * W;
        to.copy_from_slice(&src[at..at + W]);
    }
}

/// A string (or binary) array's offsets from its first row on, and its values.
type StringSource<'a> = (&'a [i32], &'a [u8]);

/// Offsets and values of the picked strings (or binaries) with 32-bit offsets; `None` when
/// their values together are too long for such offsets.
fn gather_bytes(datas: &[ArrayData], picks: &[&[u32]], rows: usize) -> Option<(Buffer, Buffer)> {
    let sources: Vec<StringSource> = datas
        .iter()
        .map(|d| {
            let offsets = &d.buffers()[0].typed_data::<i32>()[d.offset()..];
            (offsets, d.buffers()[1].as_slice())
        })
        .collect();
    let mut end = 0i32;
    let mut overflow = false;
    // Where each part's values start in the output.
    let mut starts = Vec::with_capacity(picks.len());
    // The offsets go to recycled memory too once they are large.
    let offsets = output((rows + 1) * 4, |out| {
        let mut slots = out.chunks_exact_mut(4);
        let mut put = |offset: i32| {
            if let Some(slot) = slots.next() {
                slot.copy_from_slice(&offset.to_ne_bytes());
            }
        };
        put(0);
        for ((source, _), rows) in sources.iter().zip(picks) {
            starts.push(end as usize);
            for r in rows.iter() {
                let r = *r as usize;
                match end.checked_add(source[r + 1] - source[r]) {
                    Some(next) => end = next,
                    None => overflow = true,
                }
                put(end);
            }
        }
    });
    if overflow {
        return None;
    }
    let total = end as usize;
    let values = output(total, |out| {
        let parts = split_at_starts(out, &starts);
        let copy = |(out, ((offsets, values), rows)): (&mut [u8], (&StringSource, &&[u32]))| {
            if is_run(rows) {
                let (first, last) = (rows[0] as usize, *rows.last().expect("a run") as usize);
                let (a, b) = (offsets[first] as usize, offsets[last + 1] as usize);
                out.copy_from_slice(&values[a..b]);
                return;
            }
            let mut at = 0;
            for r in rows.iter() {
                let r = *r as usize;
                let (a, b) = (offsets[r] as usize, offsets[r + 1] as usize);
                copy_short(out, at, values, a, b - a);
                at += b - a;
            }
        };
        let work = parts.into_iter().zip(sources.iter().zip(picks.iter()));
        for_each_part(work.collect(), rows, copy);
    });
    Some((offsets, values))
}

/// Copies `len` bytes of `values` from `from` into `out` at `at`. Most strings are short: they
/// are copied as one fixed 64-byte block where both sides have the room (a few vector moves
/// instead of a `memmove` call per row); the bytes past `len` are overwritten by the strings
/// after it, or were never part of the result.
#[inline(always)]
fn copy_short(out: &mut [u8], at: usize, values: &[u8], from: usize, len: usize) {
    const BLOCK: usize = 64;
    if len <= BLOCK && from + BLOCK <= values.len() && at + BLOCK <= out.len() {
        let block: &[u8; BLOCK] = values[from..from + BLOCK].try_into().expect("64 bytes");
        out[at..at + BLOCK].copy_from_slice(block);
    } else {
        out[at..at + len].copy_from_slice(&values[from..from + len]);
    }
}

/// `out` cut where each part starts (ascending, the first at 0), the last to its end.
pub(crate) fn split_at_starts<'a>(out: &'a mut [u8], starts: &[usize]) -> Vec<&'a mut [u8]> {
    let total = out.len();
    let ends = starts.iter().skip(1).chain(std::iter::once(&total));
    split_by(out, starts.iter().zip(ends).map(|(a, b)| b - a))
}

/// `out` cut into consecutive pieces of the given lengths.
fn split_by(out: &mut [u8], lens: impl Iterator<Item = usize>) -> Vec<&mut [u8]> {
    let mut rest = out;
    let mut parts = Vec::new();
    for len in lens {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(len);
        parts.push(part);
        rest = tail;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        cast::AsArray, types::Float32Type, FixedSizeListArray, Float32Array, Int64Array,
        StringArray,
    };
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    fn batch(ids: Vec<Option<i64>>, texts: Vec<Option<&str>>, dim: i32) -> RecordBatch {
        let n = ids.len();
        let floats: Vec<f32> = (0..n * dim as usize).map(|v| v as f32).collect();
        let vectors = FixedSizeListArray::new(
            Arc::new(Field::new("item", DataType::Float32, true)),
            dim,
            Arc::new(Float32Array::from(floats)),
            None,
        );
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("text", DataType::Utf8, true),
            Field::new("vector", vectors.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(texts)),
                Arc::new(vectors),
            ],
        )
        .unwrap()
    }

    /// The same picks through arrow's interleave, for comparison.
    fn reference(parts: &[(RecordBatch, Vec<u32>)]) -> RecordBatch {
        let schema = parts[0].0.schema();
        let columns = (0..schema.fields().len())
            .map(|c| interleave(&column_of(parts, c)).unwrap())
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn gathers_what_interleave_gathers_from_sliced_sources_with_nulls_and_runs() {
        let n = 40_000;
        let ids: Vec<Option<i64>> = (0..n).map(|i| (i % 7 != 0).then_some(i)).collect();
        // 0 to 100 bytes, each row's own: short ones are copied in 64-byte blocks, long ones
        // as they are, and a block must not clobber the strings before it.
        let words: Vec<String> = (0..n)
            .map(|i| {
                let len = (i * 7 % 101) as usize;
                format!("{i:07}|").repeat(len / 8 + 1)[..len].to_string()
            })
            .collect();
        let texts: Vec<Option<&str>> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (i % 5 != 0).then_some(w.as_str()))
            .collect();
        let whole = batch(ids, texts, 3);
        // Slices, as the cache's segments are, so offsets are not zero.
        let parts = vec![
            (whole.slice(3, 20_000), (0..20_000).step_by(3).collect()),
            (whole.slice(20_003, 19_000), vec![0, 1, 18_999]),
            (whole.slice(100, 30_000), (0..30_000).step_by(2).collect()),
            // A run (a range filter over a sorted column), copied as one block.
            (whole.slice(7, 30_000), (10..29_990).collect()),
        ];
        let want = reference(&parts);
        let mut picks = Picks::default();
        for (b, r) in parts {
            picks.push(b, r, vec![]);
        }
        let got = picks.gather().unwrap().unwrap();
        assert!(
            picks.gather().unwrap().is_none(),
            "gathering empties the picks"
        );
        assert_eq!(got.num_rows(), want.num_rows());
        for c in 0..got.num_columns() {
            assert_eq!(
                got.column(c).to_data(),
                want.column(c).to_data(),
                "column {c}"
            );
        }
        let vectors = got.column(2).as_fixed_size_list();
        assert_eq!(
            vectors
                .value(1)
                .as_primitive::<Float32Type>()
                .values()
                .to_vec(),
            vec![18.0f32, 19.0, 20.0],
            "the second pick is row 3 of the slice from row 3: row 6"
        );
    }

    #[test]
    fn nothing_picked_gives_no_batch() {
        let mut picks = Picks::default();
        picks.push(batch(vec![Some(1)], vec![Some("a")], 2), vec![], vec![]);
        assert!(picks.gather().unwrap().is_none());
    }
}
