//! A one-byte-per-dimension copy of cached float32 vectors, for exact search that reads a
//! quarter of the bytes: each dimension is scaled to 0..=255 over its range in the chunk,
//! and every vector keeps how far its codes are from it (`residual`). By the triangle
//! inequality `|x - q| >= |x' - q| - |x - x'|` (x' the decoded codes), so a vector whose lower
//! bound exceeds the k-th exact distance found so far cannot be among the k nearest, and
//! only the few others need their float32 values read.

use std::sync::{Arc, OnceLock};

use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array};
use arrow_schema::DataType;

/// Relative slack on every bound: covers float32 rounding of sums (16-lane partial sums,
/// relative error far below 1e-5) in the estimate and in lance's exact kernel.
const SLACK: f32 = 1e-4;
/// Largest magnitude coded: squares of larger values could overflow float32 sums.
const MAX_MAGNITUDE: f32 = 1e15;

/// Whether the bounds can take a value: finite and not too large to square.
fn boundable(v: f32) -> bool {
    v.is_finite() && v.abs() <= MAX_MAGNITUDE
}

pub(crate) struct VectorCodes {
    dim: usize,
    /// Address of the first value coded: slices of the source (which share its buffer) find
    /// their rows among the codes by their own address.
    origin: usize,
    rows: usize,
    low: Vec<f32>,
    step: Vec<f32>,
    codes: Vec<u8>,
    /// Per vector, an upper bound of |x - x'|.
    residual: Vec<f32>,
    /// Largest magnitude of any value coded.
    magnitude: f32,
}

/// The codes of a cached chunk of vectors, made on its first exact search (most cached
/// vector columns are only read, and reads should not pay for codes).
pub(crate) struct LazyCodes {
    source: FixedSizeListArray,
    made: OnceLock<Option<VectorCodes>>,
}

impl LazyCodes {
    /// For a float32 vector column's chunk; `None` for any other column.
    pub(crate) fn of(values: &ArrayRef) -> Option<Arc<LazyCodes>> {
        let list = values.as_any().downcast_ref::<FixedSizeListArray>()?;
        (list.value_type() == DataType::Float32).then(|| {
            Arc::new(LazyCodes {
                source: list.clone(),
                made: OnceLock::new(),
            })
        })
    }

    /// The codes, made now if they were not yet.
    pub(crate) fn get(&self) -> Option<&VectorCodes> {
        self.made
            .get_or_init(|| VectorCodes::build(&self.source))
            .as_ref()
    }

    /// Bytes the codes hold once made (0 before).
    pub(crate) fn bytes(&self) -> usize {
        self.made
            .get()
            .and_then(Option::as_ref)
            .map_or(0, VectorCodes::bytes)
    }
}

/// A query as the bounds take it: shifted by each dimension's low end, with the absolute
/// error float32 arithmetic can make at the magnitudes involved.
pub(crate) struct Probe {
    shifted: Vec<f32>,
    margin: f32,
}

impl Probe {
    /// Whether a vector at distance at least `bound` can still beat `worst`, the largest of
    /// the k exact squared distances kept (as lance's kernel computed it).
    pub(crate) fn may_beat(&self, bound: f32, worst: f32) -> bool {
        bound <= worst.sqrt() * (1.0 + SLACK) + self.margin
    }
}

impl VectorCodes {
    /// The codes of a float32 vector list, or `None` when a value is not finite or too large
    /// to square safely (such chunks are searched value by value).
    pub(crate) fn build(list: &FixedSizeListArray) -> Option<VectorCodes> {
        let dim = list.value_length() as usize;
        let flat = list.values().as_any().downcast_ref::<Float32Array>()?;
        let rows = list.len();
        let values = flat
            .values()
            .get(list.offset() * dim..(list.offset() + rows) * dim)?;
        if dim == 0 || !values.iter().all(|v| boundable(*v)) {
            return None;
        }
        let mut low = vec![f32::INFINITY; dim];
        let mut high = vec![f32::NEG_INFINITY; dim];
        for vector in values.chunks_exact(dim) {
            for ((l, h), v) in low.iter_mut().zip(high.iter_mut()).zip(vector) {
                *l = l.min(*v);
                *h = h.max(*v);
            }
        }
        let step: Vec<f32> = low
            .iter()
            .zip(&high)
            .map(|(l, h)| (h - l) / 255.0)
            .collect();
        let mut codes = vec![0u8; values.len()];
        let mut residual = Vec::with_capacity(rows);
        for (vector, out) in values.chunks_exact(dim).zip(codes.chunks_exact_mut(dim)) {
            let mut error = 0f64;
            for j in 0..dim {
                let code = if step[j] > 0.0 {
                    ((vector[j] - low[j]) / step[j]).round().clamp(0.0, 255.0)
                } else {
                    0.0
                };
                out[j] = code as u8;
                let decoded = low[j] as f64 + step[j] as f64 * code as f64;
                error += (vector[j] as f64 - decoded).powi(2);
            }
            residual.push((error.sqrt() * (1.0 + SLACK as f64)) as f32 + f32::MIN_POSITIVE);
        }
        let magnitude = low.iter().chain(&high).fold(0f32, |m, v| m.max(v.abs()));
        Some(VectorCodes {
            dim,
            origin: values.as_ptr() as usize,
            rows,
            low,
            step,
            codes,
            residual,
            magnitude,
        })
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.codes.len() + (self.residual.len() + 2 * self.dim) * 4
    }

    /// Where a list's rows start among the code rows, when the codes cover all of them (the
    /// list is the coded one or a slice of it; its buffer must still be alive).
    pub(crate) fn offset_of(&self, list: &FixedSizeListArray) -> Option<usize> {
        let flat = list.values().as_any().downcast_ref::<Float32Array>()?;
        let first = flat.values().get(list.offset() * self.dim..)?.as_ptr() as usize;
        let bytes = first.checked_sub(self.origin)?;
        let row_bytes = self.dim * std::mem::size_of::<f32>();
        let start = bytes / row_bytes;
        (list.value_length() as usize == self.dim
            && bytes % row_bytes == 0
            && start + list.len() <= self.rows)
            .then_some(start)
    }

    /// The query as [`Self::lower_bounds`] takes it; `None` when it has a value the bounds
    /// cannot take (not finite, or too large) or the wrong length.
    pub(crate) fn probe(&self, query: &[f32]) -> Option<Probe> {
        if query.len() != self.dim || !query.iter().all(|v| boundable(*v)) {
            return None;
        }
        let magnitude = query.iter().fold(self.magnitude, |m, v| m.max(v.abs()));
        // Each difference is rounded a few times at this magnitude, in the estimate and in
        // lance's kernel alike; over `dim` dimensions that moves a distance by at most this.
        let margin = 8.0 * f32::EPSILON * magnitude * (self.dim as f32).sqrt();
        Some(Probe {
            shifted: query.iter().zip(&self.low).map(|(q, l)| q - l).collect(),
            margin,
        })
    }

    /// For code rows `start..start + out.len()`, a lower bound of each vector's L2 distance
    /// (not squared) to the probed query.
    pub(crate) fn lower_bounds(&self, probe: &Probe, start: usize, out: &mut [f32]) {
        let codes = &self.codes[start * self.dim..(start + out.len()) * self.dim];
        estimate(codes, &self.step, &probe.shifted, self.dim, out);
        for (bound, residual) in out.iter_mut().zip(&self.residual[start..]) {
            let near = bound.max(0.0).sqrt() * (1.0 - SLACK) - residual - probe.margin;
            *bound = near.max(0.0);
        }
    }
}

/// Squared distances between decoded codes and the query, on the widest instructions here.
fn estimate(codes: &[u8], step: &[f32], shifted: &[f32], dim: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { estimate_avx2(codes, step, shifted, dim, out) };
        }
    }
    estimate_portable(codes, step, shifted, dim, out)
}

/// Four 8-lane sums per vector, each its own chain of fused multiply-adds, so no chain
/// waits on the latency of the one before it (the compiler does not split them itself: float
/// addition is not reassociated).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn estimate_avx2(codes: &[u8], step: &[f32], shifted: &[f32], dim: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let whole = dim / 32 * 32;
    for (vector, slot) in codes.chunks_exact(dim).zip(out.iter_mut()) {
        let (c, s, q) = (vector.as_ptr(), step.as_ptr(), shifted.as_ptr());
        let mut sums = [_mm256_setzero_ps(); 4];
        let mut j = 0;
        while j < whole {
            for (lane, sum) in sums.iter_mut().enumerate() {
                let at = j + lane * 8;
                // SAFETY: at + 8 <= whole <= dim, the length of `vector`, `step` and `shifted`.
                let codes8 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                    c.add(at) as *const __m128i
                )));
                let d = _mm256_fmsub_ps(
                    _mm256_loadu_ps(s.add(at)),
                    codes8,
                    _mm256_loadu_ps(q.add(at)),
                );
                *sum = _mm256_fmadd_ps(d, d, *sum);
            }
            j += 32;
        }
        let both = _mm256_add_ps(
            _mm256_add_ps(sums[0], sums[1]),
            _mm256_add_ps(sums[2], sums[3]),
        );
        let half = _mm_add_ps(_mm256_castps256_ps128(both), _mm256_extractf128_ps(both, 1));
        let mut lanes = [0f32; 4];
        _mm_storeu_ps(lanes.as_mut_ptr(), half);
        let mut total = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        for j in whole..dim {
            let d = step[j].mul_add(vector[j] as f32, -shifted[j]);
            total = d.mul_add(d, total);
        }
        *slot = total;
    }
}

/// Without FMA instructions `mul_add` is a slow library call: multiply, then add; sixteen
/// partial sums the compiler can keep in vector registers.
fn estimate_portable(codes: &[u8], step: &[f32], shifted: &[f32], dim: usize, out: &mut [f32]) {
    const LANES: usize = 16;
    let whole = dim / LANES * LANES;
    for (vector, slot) in codes.chunks_exact(dim).zip(out.iter_mut()) {
        let mut sums = [0f32; LANES];
        for ((c, s), q) in vector[..whole]
            .chunks_exact(LANES)
            .zip(step[..whole].chunks_exact(LANES))
            .zip(shifted[..whole].chunks_exact(LANES))
        {
            for l in 0..LANES {
                let d = s[l] * c[l] as f32 - q[l];
                sums[l] += d * d;
            }
        }
        let mut total: f32 = sums.iter().sum();
        for j in whole..dim {
            let d = step[j] * vector[j] as f32 - shifted[j];
            total += d * d;
        }
        *slot = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Float32Type;

    fn list(rows: &[Vec<f32>]) -> FixedSizeListArray {
        let dim = rows[0].len() as i32;
        FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            rows.iter()
                .map(|r| Some(r.iter().map(|v| Some(*v)).collect::<Vec<_>>())),
            dim,
        )
    }

    fn squared(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    /// A fixed pseudo-random sequence in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn bounds_never_exceed_the_exact_distance_and_stay_close_to_it() {
        // 101 dimensions: a 64-lane block, a 16-lane one and a tail; one dimension constant.
        let dim = 101;
        let rows: Vec<Vec<f32>> = (0..300)
            .map(|r| {
                let mut v = noise(r, dim);
                v[5] = 0.25;
                v.iter_mut().for_each(|x| *x *= 10.0);
                v
            })
            .collect();
        let codes = VectorCodes::build(&list(&rows)).expect("finite values are coded");
        for q in 0..20 {
            let query: Vec<f32> = noise(1000 + q, dim).iter().map(|x| x * 12.0).collect();
            let probe = codes.probe(&query).unwrap();
            let mut bounds = vec![0f32; rows.len()];
            codes.lower_bounds(&probe, 0, &mut bounds);
            for (row, bound) in rows.iter().zip(&bounds) {
                let exact = squared(row, &query);
                assert!(
                    *bound <= exact.sqrt(),
                    "bound {bound} above exact {}",
                    exact.sqrt()
                );
                // 8-bit codes over a range of 20 leave each dimension within 0.04.
                assert!(
                    exact.sqrt() - bound < 0.5,
                    "bound {bound} far below {exact}"
                );
                assert!(probe.may_beat(*bound, exact));
            }
        }
    }

    #[test]
    fn codes_of_a_slice_line_up_with_its_rows() {
        let rows: Vec<Vec<f32>> = (0..40).map(|r| noise(r, 16)).collect();
        let whole = list(&rows);
        let part = whole.slice(10, 20);
        let codes = VectorCodes::build(&part).unwrap();
        assert_eq!(codes.offset_of(&part.slice(5, 10)), Some(5));
        assert_eq!(codes.offset_of(&whole), None, "rows before the coded ones");
        assert_eq!(
            codes.offset_of(&whole.slice(20, 15)),
            None,
            "rows after them"
        );
        let query = noise(99, 16);
        let mut bounds = vec![0f32; 10];
        codes.lower_bounds(&codes.probe(&query).unwrap(), 5, &mut bounds);
        for (i, bound) in bounds.iter().enumerate() {
            assert!(*bound <= squared(&rows[15 + i], &query).sqrt());
        }
    }

    #[test]
    fn values_that_cannot_be_bounded_are_not_coded() {
        assert!(VectorCodes::build(&list(&[vec![1.0, f32::NAN]])).is_none());
        assert!(VectorCodes::build(&list(&[vec![1.0, f32::INFINITY]])).is_none());
        assert!(VectorCodes::build(&list(&[vec![1.0, 1e20]])).is_none());
        let codes = VectorCodes::build(&list(&[vec![1.0, 2.0]])).unwrap();
        assert!(codes.probe(&[f32::NAN, 0.0]).is_none());
        assert!(codes.probe(&[0.0]).is_none(), "wrong dimension");
    }

    #[test]
    fn the_portable_estimate_matches_the_fast_one() {
        let dim = 150;
        let rows: Vec<Vec<f32>> = (0..50).map(|r| noise(r, dim)).collect();
        let codes = VectorCodes::build(&list(&rows)).unwrap();
        let probe = codes.probe(&noise(7, dim)).unwrap();
        let (mut fast, mut portable) = (vec![0f32; 50], vec![0f32; 50]);
        estimate(&codes.codes, &codes.step, &probe.shifted, dim, &mut fast);
        estimate_portable(
            &codes.codes,
            &codes.step,
            &probe.shifted,
            dim,
            &mut portable,
        );
        for (a, b) in fast.iter().zip(&portable) {
            assert!((a - b).abs() <= 1e-4 * a.max(1.0), "{a} vs {b}");
        }
    }
}
