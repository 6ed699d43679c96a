//! Low-cardinality string columns (a `category`) gathered from the cache's dictionary keys:
//! per picked row one 2-byte key is read instead of the row's two offsets and its bytes,
//! and the bytes come from the dictionary, which stays in the CPU's cache.

use arrow_array::{Array, StringArray, UInt16Array};
use arrow_buffer::Buffer;

use crate::row_gather::{for_each_part, output, split_at_starts};

/// A cached chunk's key per row (null where the value is) and its distinct values.
pub(crate) type StringKeys = (UInt16Array, StringArray);

/// Dictionaries of at most this many values are gathered by key (their slots stay small).
const MAX_VALUES: usize = 256;
/// Each distinct value sits in a slot this long, so every copy is one fixed-size move.
const SLOT: usize = 64;

/// A dictionary's values, each at the start of its own zero-padded slot.
struct Slots {
    lens: Vec<i32>,
    bytes: Vec<u8>,
}

fn slots_of(dictionary: &StringArray) -> Option<Slots> {
    if dictionary.len() > MAX_VALUES {
        return None;
    }
    let mut lens = Vec::with_capacity(dictionary.len());
    let mut bytes = vec![0u8; dictionary.len() * SLOT];
    for (k, value) in dictionary.iter().enumerate() {
        let value = value.unwrap_or_default().as_bytes();
        if value.len() > SLOT {
            return None;
        }
        bytes[k * SLOT..k * SLOT + value.len()].copy_from_slice(value);
        lens.push(value.len() as i32);
    }
    Some(Slots { lens, bytes })
}

/// Offsets and values of the picked rows of string columns given by their keys; `None`
/// when a dictionary is too large or a value too long for slots, or the values together
/// too long for 32-bit offsets (the caller then gathers the strings themselves).
pub(crate) fn gather_by_key(
    keys: &[&StringKeys],
    picks: &[&[u32]],
    rows: usize,
) -> Option<(Buffer, Buffer)> {
    // Parts cut from one chunk share its dictionary: its slots are made once.
    let mut made: Vec<((*const i32, usize), Slots)> = Vec::new();
    let mut slot_of_part = Vec::with_capacity(keys.len());
    for (_, dictionary) in keys {
        let id = (dictionary.offsets().as_ptr(), dictionary.len());
        let at = match made.iter().rposition(|(made, _)| *made == id) {
            Some(at) => at,
            None => {
                made.push((id, slots_of(dictionary)?));
                made.len() - 1
            }
        };
        slot_of_part.push(at);
    }
    let slots: Vec<&Slots> = slot_of_part.iter().map(|at| &made[*at].1).collect();
    // The picked rows' keys, `None` for a null row (an empty value).
    let key_at = |keys: &UInt16Array, r: usize| (!keys.is_null(r)).then(|| keys.value(r) as usize);
    let mut end = 0i64;
    let mut starts = Vec::with_capacity(picks.len());
    let offsets = output((rows + 1) * 4, |out| {
        let mut slot_of = out.chunks_exact_mut(4);
        let mut put = |offset: i64| {
            if let Some(to) = slot_of.next() {
                to.copy_from_slice(&(offset as i32).to_ne_bytes());
            }
        };
        put(0);
        for (((keys, _), slots), rows) in keys.iter().zip(&slots).zip(picks) {
            starts.push(end as usize);
            for r in rows.iter() {
                end += key_at(keys, *r as usize).map_or(0, |k| slots.lens[k] as i64);
                put(end);
            }
        }
    });
    if end > i32::MAX as i64 {
        return None;
    }
    let total = end as usize;
    let values = output(total, |out| {
        let work: Vec<(&mut [u8], &UInt16Array, &Slots, &[u32])> = split_at_starts(out, &starts)
            .into_iter()
            .zip(keys.iter().zip(&slots).zip(picks))
            .map(|(out, ((keys, slots), rows))| (out, &keys.0, *slots, *rows))
            .collect();
        for_each_part(work, rows, |(out, keys, slots, rows)| {
            let mut at = 0;
            for r in rows.iter() {
                let Some(k) = key_at(keys, *r as usize) else {
                    continue;
                };
                let len = slots.lens[k] as usize;
                let slot = &slots.bytes[k * SLOT..(k + 1) * SLOT];
                // The slot's padding past `len` is overwritten by the next value.
                if at + SLOT <= out.len() {
                    out[at..at + SLOT].copy_from_slice(slot);
                } else {
                    out[at..at + len].copy_from_slice(&slot[..len]);
                }
                at += len;
            }
        });
    });
    Some((offsets, values))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch};

    use super::*;
    use crate::row_gather::Picks;

    /// A string column and its keys into `words`, row `i` holding `words[i % words.len()]`
    /// (null every seventh row), both sliced from row `skip` as the cache's segments are.
    fn keyed(n: usize, skip: usize, words: &[&str]) -> (ArrayRef, StringKeys) {
        let pick = |i: usize| (i % 7 != 3).then_some(i % words.len());
        let values: StringArray = (0..n).map(|i| pick(i).map(|k| words[k])).collect();
        let keys: UInt16Array = (0..n).map(|i| pick(i).map(|k| k as u16)).collect();
        let dictionary = StringArray::from(words.to_vec());
        let len = n - skip;
        (
            Arc::new(values.slice(skip, len)),
            (keys.slice(skip, len), dictionary),
        )
    }

    fn gather(parts: &[(ArrayRef, StringKeys, Vec<u32>)], with_keys: bool) -> RecordBatch {
        let mut picks = Picks::default();
        for (values, keys, rows) in parts {
            let batch = RecordBatch::try_from_iter([("c", values.clone())]).unwrap();
            let keys = if with_keys {
                vec![Some(keys.clone())]
            } else {
                vec![]
            };
            picks.push(batch, rows.clone(), keys);
        }
        picks.gather().unwrap().unwrap()
    }

    #[test]
    fn gathering_by_key_gives_the_strings_themselves() {
        // Values of 0 to 64 bytes, so copies end at, near and past a slot's padding; two
        // dictionaries; enough rows for the parallel path.
        let long = "x".repeat(64);
        let (a, ka) = keyed(30_000, 5, &["", "cat3", "a longer value", &long]);
        let (b, kb) = keyed(20_000, 0, &["b", "cat7"]);
        let parts = vec![
            (a, ka, (0..29_995).step_by(2).collect()),
            (b, kb, vec![0, 1, 2, 19_999]),
        ];
        let keys: Vec<&StringKeys> = parts.iter().map(|(_, k, _)| k).collect();
        let picks: Vec<&[u32]> = parts.iter().map(|(_, _, r)| r.as_slice()).collect();
        assert!(
            gather_by_key(&keys, &picks, 15_002).is_some(),
            "gathered by key"
        );
        let by_key = gather(&parts, true);
        let by_value = gather(&parts, false);
        assert_eq!(by_key.num_rows(), 15_002);
        assert_eq!(by_key.column(0).to_data(), by_value.column(0).to_data());
        let strings = by_key
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        // The first pick is row 5 of the first source, words[5 % 4]; the seventh, row 17,
        // is null.
        assert_eq!(strings.value(0), "cat3");
        assert!(strings.is_null(6) && !strings.is_null(5));
        assert_eq!(strings.value(15_001), "cat7");
    }

    #[test]
    fn large_dictionaries_and_long_values_are_left_to_the_string_gather() {
        let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(slots_of(&StringArray::from(refs)).is_none());
        let long = "y".repeat(65);
        assert!(slots_of(&StringArray::from(vec![long.as_str()])).is_none());
        assert!(slots_of(&StringArray::from(vec!["ok"])).is_some());
    }
}
