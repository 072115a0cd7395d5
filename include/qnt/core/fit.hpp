// Error-minimising scale searches shared by the quantizers of the formats with one
// scale (and offset) per block: symmetric, affine and code-table formats.
//
// Every search follows the same plan: build candidate scales around the value that
// maps the block's extreme element onto the end of the code range, round each
// candidate to the stored scale type, derive the nearest codes for the *stored*
// scale, refine the scale by weighted least squares on those codes, and keep the
// candidate whose dequantized block has the lowest weighted squared error. The
// plain max-based rounding of the GGUF reference quantizers is always among the
// candidates, so the result is never worse than it on any block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "scalar.hpp"
#include "sweep.hpp"

namespace qnt::fit {

// First element of largest magnitude, with its sign (ties keep the first).
constexpr float signed_max(const float* x, size_t n) {
  float amax = 0, m = 0;
  for (size_t i = 0; i < n; ++i)
    if (abs(x[i]) > amax) amax = abs(x[i]), m = x[i];
  return m;
}

// Rounds a scale to its storage type. A scale beyond the type's range is clamped to
// the largest finite value (its codes then saturate) and reported through `clamped`.
template <scale_cell Scale>
constexpr float store_scale(float d, bool& clamped) {
  const float r = Scale::round(d);
  if (is_finite(r)) return r;
  clamped = true;
  return copy_sign(Scale::max_finite, d);
}

// Searches run on the block scaled by a power of two that brings its largest
// magnitude into [1, 2): the scaling is exact, the search becomes independent of
// the weights' magnitude, and sums of squares can neither overflow nor underflow.
constexpr float normalizer_of(float amax) {
  const int e = int((float_bits(amax) >> 23) & 255) - 127;
  if (amax == 0) return 1.f;
  return bits_float(uint32_t(127 + clamp(-e, -126, 126)) << 23);
}
constexpr float normalizer(const float* x, size_t n) {
  float amax = 0;
  for (size_t i = 0; i < n; ++i) amax = max(amax, abs(x[i]));
  return normalizer_of(amax);
}

// A candidate scale `dn` of the normalized block: the value stored for it (real
// units, `stored`) and what that stored value means on the normalized axis (`dn`).
template <scale_cell Scale>
struct stored_scale {
  float stored = 0, dn = 0;
  bool clamped = false;
  constexpr stored_scale() = default;
  constexpr stored_scale(float candidate, float p) {
    stored = store_scale<Scale>(candidate / p, clamped);
    dn = stored * p;
  }
};

// The stored scale for a least-squares optimum `target` found from the codes of the
// stored scale `from` (both on the normalized axis). Where the scale type is too
// coarse to move (bf16 scales of large groups), the neighbour of `from` on the side
// of the optimum: the optimum lies between the two.
template <scale_cell Scale>
constexpr stored_scale<Scale> refit_scale(float target, const stored_scale<Scale>& from, float p) {
  const stored_scale<Scale> s(target, p);
  if (s.stored != from.stored || from.stored == 0 || target == from.dn) return s;
  return stored_scale<Scale>(Scale::neighbour(from.stored, (target > from.dn) == (from.stored > 0) ? 1 : -1) * p, p);
}

// The block on the normalized axis.
template <size_t n>
struct normalized {
  float p = 1;
  float x[n] = {};
  constexpr explicit normalized(const float* src) : p(normalizer(src, n)) {
    for (size_t i = 0; i < n; ++i) x[i] = src[i] * p;
  }
};

struct symmetric_fit {
  float d = 0;  // the scale to store (real units, representable in the scale type)
  float err = 0;
};

// Keeps the best of the candidate scales offered to it; the first offered wins ties.
// A candidate whose stored scale times the largest code value overflows is refused.
template <scale_cell Scale>
struct best_scale {
  float p;          // the block's normalizer
  float code_max;   // largest |code value|
  symmetric_fit best{};
  bool clamped = false, any = false;
  template <class Error>
  constexpr void offer(float dn, Error&& error) {
    if (!is_finite(dn)) return;
    const stored_scale<Scale> s(dn, p);
    if (!is_finite(s.stored * code_max)) return;
    const float err = error(s.dn);
    if (!any || err < best.err) best = {s.stored, err}, clamped = s.clamped, any = true;
  }
  // Offers the stored value of `dn` and the `k` representable scales on either side
  // of it: rounding the optimal scale to the scale type is not always the best
  // stored scale, most of all for blocks with one very large weight.
  template <class Error>
  constexpr void offer_around(float dn, int k, Error&& error) {
    if (!is_finite(dn)) return;
    bool unused = false;
    const float stored = store_scale<Scale>(dn / p, unused);
    for (int j = -k; j <= k; ++j) offer(Scale::neighbour(stored, j) * p, error);
  }
};

// Groups up to this size also get the exhaustive walk over scales (sweep.hpp).
inline constexpr size_t kWalkMax = 64;

// The walk over inverse scales that map the largest magnitude `amax` to within
// `span` of the level magnitude `end`, for scales of the sign `sign` (a negative
// scale is the walk of -x), over n <= kMax weights.
template <int kMax>
constexpr walk_result walk_signed(const float* x, const float* w, int n, const level_set& L, float sign, float amax,
                                  float end, float span) {
  float xs[kMax];
  for (int i = 0; i < n; ++i) xs[i] = sign * x[i];
  walk_result r =
      walk_symmetric<kMax, size_t(kMax) * 40>(xs, w, n, L, max(end - span, 0.5f) / amax, (end + span) / amax);
  r.d *= sign;
  return r;
}

// Candidate positions of the block's extreme element on the code axis: the end of
// the range itself (step 0, the reference quantizer's choice) and offsets around it.
inline constexpr int kFirstStep = -10, kLastStep = 5;
constexpr float step_offset(int k) { return 0.1f * float(k); }

// ---------------------------------------------------------------------------
// Symmetric: y = d * q, q in [qmin, qmax].

constexpr int symmetric_code(float x, float d, int qmin, int qmax) {
  return d == 0 ? 0 : clamp(rne(x / d), qmin, qmax);
}

constexpr float symmetric_error(const float* x, const float* w, size_t n, float d, int qmin, int qmax) {
  float err = 0;
  for (size_t i = 0; i < n; ++i) {
    const float e = x[i] - d * float(symmetric_code(x[i], d, qmin, qmax));
    err += w[i] * e * e;
  }
  return err;
}

// Weighted least-squares scale for fixed codes: argmin_d sum w (x - d q)^2.
constexpr float symmetric_refit(const float* x, const float* w, size_t n, float d, int qmin, int qmax) {
  float sxq = 0, sqq = 0;
  for (size_t i = 0; i < n; ++i) {
    const float q = float(symmetric_code(x[i], d, qmin, qmax));
    sxq += w[i] * x[i] * q;
    sqq += w[i] * q * q;
  }
  return sqq > 0 ? sxq / sqq : 0.f;
}

template <scale_cell Scale, size_t n>
constexpr symmetric_fit fit_symmetric(const float* x, const float* w, int qmin, int qmax, bool& clamped) {
  const normalized<n> b(x);
  const float m = signed_max(b.x, n);
  if (m == 0) return {};
  best_scale<Scale> s{b.p, float(max(-qmin, qmax))};
  auto error = [&](float dn) { return symmetric_error(b.x, w, n, dn, qmin, qmax); };
  // Groups small enough for the walk need only the reference's own candidate
  // (step 0) from the grid; the walk covers the rest exactly.
  constexpr bool walk = n <= kWalkMax;
  for (const int end : {qmin, qmax}) {
    for (int k = walk ? 0 : kFirstStep; k <= (walk ? 0 : kLastStep); ++k) {
      const float t = float(end) + (end < 0 ? -step_offset(k) : step_offset(k));
      if (t == 0) continue;
      const float dn = m / t;
      s.offer(dn, error);
      s.offer(symmetric_refit(b.x, w, n, stored_scale<Scale>(dn, b.p).dn, qmin, qmax), error);
    }
  }
  if constexpr (walk) {
    const float end = float(max(-qmin, qmax)), span = min(0.5f * end, 8.f) + 1;
    for (const float sign : {1.f, -1.f}) s.offer_around(walk_signed<n>(b.x, w, n, level_set::integers(qmin, qmax), sign, abs(m), end, span).d, 2, error);
  }
  clamped = s.clamped;
  return s.best;
}

// The fast search (effort::fast): the reference's scale, which maps the extreme
// weight onto the end of the code range, and the least-squares scale for the codes
// of the best of a few scales around it; the better of the two. Codes come from
// multiplying by the inverse scale, in branch-free element-wise loops with sums in
// pairwise_sum's fixed order, so compilers vectorize them and every build writes
// the same bytes. Writes the codes (q in [qmin, qmax]) and returns the scale to store.

// One candidate (normalized axis): the weighted squared error of its codes and the
// sums of the least-squares scale for those codes.
struct lsq_pass {
  float err = 0, xq = 0, qq = 0;
};

// Codes from the inverse scale id; their error is for the decoded scale dn.
template <size_t n>
constexpr lsq_pass symmetric_pass(const float* x, const float* w, float dn, float id, float qmin, float qmax, float* q) {
  float e[n], xq[n], qq[n];
  for (size_t i = 0; i < n; ++i) {
    q[i] = round_clamped(x[i] * id, qmin, qmax);
    const float r = x[i] - dn * q[i], wq = w[i] * q[i];
    e[i] = w[i] * r * r, xq[i] = wq * x[i], qq[i] = wq * q[i];
  }
  return {pairwise_sum<n>(e), pairwise_sum<n>(xq), pairwise_sum<n>(qq)};
}

// The codes of a table of signed magnitudes (mxfp4's E2M1 values): each weight takes
// the magnitude mags[k] * d (mags ascending from 0) nearest to |x|, the first of
// equally near ones, with the sign of x. level: k, as a float; returns the weighted
// squared error (pairwise_sum). A scan of the candidates, the definition; the SIMD
// form counts midpoints instead and then compares two neighbours (equal as long as
// |x| / d < 2^23, far beyond the exponents that mxfp4 tries).
template <size_t n>
constexpr float magnitude_pass(const float* x, const float* w, const float* mags, int count, float d, float* level) {
  float e[n];
  for (size_t i = 0; i < n; ++i) {
    const float a = abs(x[i]);
    int best = 0;
    float best_err = abs(mags[0] * d - a);
    for (int k = 1; k < count; ++k) {
      const float err = abs(mags[k] * d - a);
      if (err < best_err) best = k, best_err = err;
    }
    level[i] = float(best);
    const float r = x[i] - copy_sign(mags[best] * d, x[i]);
    e[i] = w[i] * r * r;
  }
  return pairwise_sum<n>(e);
}

// The element-wise passes of the fast searches come from a policy type (defined
// below): scalar_passes is the reference; kernels/quantize-inl.h does the same
// arithmetic in SIMD lanes.
struct scalar_passes;

// The scales the fast search tries besides the reference's: the extreme weight onto
// the end of the code range moved by these many steps of `fast_grid_step` (a negative
// step goes past the end: that weight is clipped, the others get a finer scale). Each
// is judged by the error of the least-squares scale for its codes, (sum w x q)^2 /
// (sum w q^2) being what that scale removes; the best one's least-squares scale is
// the second candidate. Two passes that only sum take qnt-bench's Gaussian weights
// from 2.8% to 5.7% below the reference's error for q4_0, 2.2% to 6.3% for q8_0
// (effort::thorough's exact walk: 6.4% and 12.8%); three points gained 0.2% more.
inline constexpr float kFastGrid[] = {-0.5f, 1.f};
inline constexpr int kFastGridSize = int(sizeof(kFastGrid) / sizeof(kFastGrid[0]));
// Steps of one code for ranges up to 64 codes, wider for longer ones (q8_0: two).
constexpr float fast_grid_step(float code_max) { return max(1.f, code_max * (1.f / 64)); }

// The choice of the fast search for a batch of B normalized blocks (scale factors
// p[b], signed maxima m[b]): `pass(dn, id, slot, sums)` derives the codes of the
// inverse scales id[b] into code slot 0 or 1 of each block and writes their
// lsq_pass, with the error for the decoded scales dn[b], to sums[b]; slot -1 (the
// grid) keeps no codes and needs only the sums xq and qq. c[b] names the slot whose
// codes block b stores (-1: every code 0) and the scale to store. The scalar search
// below (B = 1) and the SIMD encoders (kernels/quantize-inl.h, which pass several
// blocks so that their searches overlap) decide through this one function.
struct fast_choice {
  float d = 0;
  int slot = -1;
  bool clamped = false;
};

constexpr float inverse_or_zero(float d) { return d != 0 ? 1.f / d : 0.f; }

template <scale_cell Scale, size_t B, class Pass>
QNT_ALWAYS_INLINE constexpr void symmetric_fast_choice(const float* p, const float* m, int qmin, int qmax, Pass&& pass,
                                                       fast_choice* c) {
  // GGUF's choice: the extreme weight onto qmin (q4_0, q5_0), or onto +-qmax for a
  // symmetric code range (q8_0).
  const float code_max = float(max(-qmin, qmax)), step = fast_grid_step(code_max);
  float dn[B] = {}, id[B] = {}, end[B] = {}, inv_m[B] = {};
  lsq_pass p0[B], p1[B], pg[B];
  stored_scale<Scale> s0[B], s1[B];
  for (size_t b = 0; b < B; ++b) {
    c[b] = {};
    if (m[b] == 0) continue;  // all codes 0; the passes with id = 0 leave it so
    end[b] = qmin == -qmax ? copy_sign(float(qmax), m[b]) : float(qmin);
    s0[b] = stored_scale<Scale>(m[b] / end[b], p[b]);
    dn[b] = s0[b].dn, id[b] = inverse_or_zero(dn[b]), inv_m[b] = 1.f / m[b];
    c[b] = {s0[b].stored, 0, s0[b].clamped};
  }
  pass(dn, id, 0, p0);
  // The grid: the best least-squares fit among the codes of s0 and of the grid's
  // inverse scales (as they are: only their codes are used).
  float best_xq[B], best_qq[B];
  for (size_t b = 0; b < B; ++b) best_xq[b] = p0[b].xq, best_qq[b] = p0[b].qq;
  for (int g = 0; g < kFastGridSize; ++g) {
    // The end moved toward zero (a negative step reaches past it).
    for (size_t b = 0; b < B; ++b) id[b] = copy_sign(abs(end[b]) - kFastGrid[g] * step, end[b]) * inv_m[b];
    pass(dn, id, -1, pg);
    for (size_t b = 0; b < B; ++b) {
      // xq^2 / qq > best_xq^2 / best_qq, without the divisions; qq > 0 with any
      // nonzero code, and an all-zero candidate removes nothing.
      const bool better = pg[b].qq > 0 && pg[b].xq * pg[b].xq * best_qq[b] > best_xq[b] * best_xq[b] * pg[b].qq;
      best_xq[b] = select(better, pg[b].xq, best_xq[b]), best_qq[b] = select(better, pg[b].qq, best_qq[b]);
    }
  }
  bool refit[B] = {}, any = false;
  for (size_t b = 0; b < B; ++b) {
    if (c[b].slot < 0 || !(best_qq[b] > 0)) continue;
    s1[b] = refit_scale<Scale>(best_xq[b] / best_qq[b], s0[b], p[b]);
    refit[b] = is_finite(s1[b].stored * code_max);
    any = any || refit[b];
    dn[b] = s1[b].dn, id[b] = inverse_or_zero(dn[b]);
  }
  if (!any) return;
  pass(dn, id, 1, p1);
  for (size_t b = 0; b < B; ++b) {
    // Selected, not branched on: one block's search overlaps the next one's.
    const bool take = refit[b] && p1[b].err < p0[b].err;
    c[b].d = select(take, s1[b].stored, c[b].d);
    c[b].slot = select(take, 1, c[b].slot);
    c[b].clamped = bool(select(take, int(s1[b].clamped), int(c[b].clamped)));
  }
}

// The fast search on the normalized block xn with the passes of Ops.
template <scale_cell Scale, size_t n, class Ops>
constexpr float symmetric_fast_search(const float* xn, float p, float m, const float* w, int qmin, int qmax,
                                      bool& clamped, int* codes) {
  float q[3][n];  // slots 0 and 1, and the grid's scratch
  fast_choice c;
  symmetric_fast_choice<Scale, 1>(&p, &m, qmin, qmax, [&](const float* dn, const float* id, int slot, lsq_pass* sums) {
    sums[0] = Ops::template symmetric_pass<int(n)>(xn, w, dn[0], id[0], float(qmin), float(qmax), q[slot < 0 ? 2 : slot]);
  }, &c);
  for (size_t i = 0; i < n; ++i) codes[i] = c.slot < 0 ? 0 : int(q[c.slot][i]);
  clamped = c.clamped;
  return c.d;
}

template <scale_cell Scale, size_t n, class Ops = scalar_passes>
constexpr float fit_symmetric_fast(const float* x, const float* w, int qmin, int qmax, bool& clamped, int* codes) {
  const normalized<n> b(x);
  return symmetric_fast_search<Scale, n, Ops>(b.x, b.p, signed_max(b.x, n), w, qmin, qmax, clamped, codes);
}

// ---------------------------------------------------------------------------
// Affine: y = d * q + m, q in [0, nmax].

struct affine_fit {
  float d = 0, m = 0;
  float err = 0;
};

constexpr int affine_code(float x, float d, float m, int nmax) {
  return d == 0 ? 0 : clamp(rne((x - m) / d), 0, nmax);
}

constexpr float affine_error(const float* x, const float* w, size_t n, float d, float m, int nmax) {
  float err = 0;
  for (size_t i = 0; i < n; ++i) {
    const float e = x[i] - (d * float(affine_code(x[i], d, m, nmax)) + m);
    err += w[i] * e * e;
  }
  return err;
}

// `d` and `m` are the values to store (real units, representable in Scale).
template <scale_cell Scale, size_t n>
constexpr affine_fit fit_affine(const float* x, const float* w, int nmax, bool& clamped) {
  affine_fit best;
  const normalized<n> b(x);
  const float p = b.p;
  const float* xn = b.x;
  float lo = xn[0], hi = xn[0];
  for (size_t i = 1; i < n; ++i) lo = min(lo, xn[i]), hi = max(hi, xn[i]);
  bool first = true;
  auto consider = [&](float dn, float mn) {
    if (!is_finite(dn) || !is_finite(mn) || dn < 0) return;
    const stored_scale<Scale> d(dn, p), m(mn, p);
    if (!is_finite(d.stored * float(nmax) + m.stored)) return;  // would decode to Inf
    const float err = affine_error(xn, w, n, d.dn, m.dn, nmax);
    if (first || err < best.err) best = {d.stored, m.stored, err}, clamped = d.clamped || m.clamped, first = false;
  };
  if (!(hi > lo)) {  // a constant block
    consider(0.f, lo);
    return best;
  }
  const float range = hi - lo;
  for (int k = kFirstStep; k <= kLastStep; ++k) {
    const float dn = range / (float(nmax) + step_offset(k));
    consider(dn, lo);
    // Two-parameter weighted least squares for (d, m) on the codes of this candidate.
    const float ds = stored_scale<Scale>(dn, p).dn, ms = stored_scale<Scale>(lo, p).dn;
    float sw = 0, sx = 0, sq = 0, sqq = 0, sxq = 0;
    for (size_t i = 0; i < n; ++i) {
      const float q = float(affine_code(xn[i], ds, ms, nmax));
      sw += w[i], sx += w[i] * xn[i], sq += w[i] * q, sqq += w[i] * q * q, sxq += w[i] * xn[i] * q;
    }
    const float det = sw * sqq - sq * sq;
    if (det > 0) consider((sw * sxq - sx * sq) / det, (sqq * sx - sq * sxq) / det);
  }
  consider(0.f, lo);  // last, so that it wins no ties
  return best;
}

// The fast affine search: the reference's (range / nmax, min), and the two-parameter
// least-squares fit on its codes; the better of the two (as fit_symmetric_fast).
// The sums of x are taken relative to the origin mn (u = x - mn), which keeps
// them free of cancellation when the weights sit far from zero.
struct affine_pass_sums {
  float err = 0, w = 0, u = 0, q = 0, qq = 0, uq = 0;
};

template <size_t n>
constexpr affine_pass_sums affine_pass(const float* x, const float* w, float dn, float mn, float nmax, float* q) {
  const float id = dn > 0 ? 1.f / dn : 0.f;
  float e[n], sx[n], sq[n], sqq[n], sxq[n], sw[n];
  for (size_t i = 0; i < n; ++i) {
    const float u = x[i] - mn;
    q[i] = round_clamped(u * id, 0.f, nmax);
    const float r = x[i] - (dn * q[i] + mn), wq = w[i] * q[i];
    e[i] = w[i] * r * r, sw[i] = w[i], sx[i] = w[i] * u, sq[i] = wq, sqq[i] = wq * q[i], sxq[i] = wq * u;
  }
  return {pairwise_sum<n>(e), pairwise_sum<n>(sw), pairwise_sum<n>(sx), pairwise_sum<n>(sq), pairwise_sum<n>(sqq),
          pairwise_sum<n>(sxq)};
}

struct affine_result {
  float d = 0, m = 0;  // values to store
};

template <size_t n>
constexpr lsq_pass table_pass(const float* x, const float* w, const float* values, int count, float dn, float* c);

struct scalar_passes {
  template <int n>
  static constexpr lsq_pass symmetric_pass(const float* x, const float* w, float dn, float id, float qmin, float qmax,
                                           float* q) {
    return fit::symmetric_pass<size_t(n)>(x, w, dn, id, qmin, qmax, q);
  }
  template <int n>
  static constexpr affine_pass_sums affine_pass(const float* x, const float* w, float dn, float mn, float nmax, float* q) {
    return fit::affine_pass<size_t(n)>(x, w, dn, mn, nmax, q);
  }
  template <int n>
  static constexpr lsq_pass table_pass(const float* x, const float* w, const float* values, int count, float dn,
                                       float* c) {
    return fit::table_pass<size_t(n)>(x, w, values, count, dn, c);
  }
  template <int n>
  static constexpr float magnitude_pass(const float* x, const float* w, const float* mags, int count, float d,
                                        float* level) {
    return fit::magnitude_pass<size_t(n)>(x, w, mags, count, d, level);
  }
};

// The choice of the fast affine search for a batch of B normalized blocks (scale
// factors p[b], ranges [lo[b], hi[b]]), as symmetric_fast_choice: `pass(dn, mn,
// slot, sums)` derives the codes of the decoded scales dn[b] and offsets mn[b] into
// code slot 0 or 1 of each block and writes their affine_pass_sums to sums[b].
struct affine_choice {
  float d = 0, m = 0;  // values to store
  int slot = 0;
  bool clamped = false;
};

template <scale_cell Scale, size_t B, class Pass>
QNT_ALWAYS_INLINE constexpr void affine_fast_choice(const float* p, const float* lo, const float* hi, int nmax,
                                                    Pass&& pass, affine_choice* c) {
  const float top = float(nmax);
  float dn[B], mn[B];
  affine_pass_sums p0[B], p1[B];
  stored_scale<Scale> d1[B], m1[B];
  bool refit[B] = {}, any = false;
  for (size_t b = 0; b < B; ++b) {
    const stored_scale<Scale> d0(hi[b] > lo[b] ? (hi[b] - lo[b]) / top : 0.f, p[b]), m0(lo[b], p[b]);
    dn[b] = d0.dn, mn[b] = m0.dn;
    c[b] = {d0.stored, m0.stored, 0, d0.clamped || m0.clamped};
  }
  pass(dn, mn, 0, p0);
  for (size_t b = 0; b < B; ++b) {
    const affine_pass_sums& s0 = p0[b];
    const float det = s0.w * s0.qq - s0.q * s0.q;
    if (!(hi[b] > lo[b] && det > 0)) continue;
    d1[b] = stored_scale<Scale>((s0.w * s0.uq - s0.u * s0.q) / det, p[b]);
    m1[b] = stored_scale<Scale>(mn[b] + (s0.qq * s0.u - s0.q * s0.uq) / det, p[b]);
    refit[b] = d1[b].stored >= 0 && is_finite(d1[b].stored * top + m1[b].stored);
    any = any || refit[b];
    dn[b] = d1[b].dn, mn[b] = m1[b].dn;
  }
  if (!any) return;
  pass(dn, mn, 1, p1);
  for (size_t b = 0; b < B; ++b) {  // selected, not branched on (symmetric_fast_choice)
    const bool take = refit[b] && p1[b].err < p0[b].err;
    c[b].d = select(take, d1[b].stored, c[b].d), c[b].m = select(take, m1[b].stored, c[b].m);
    c[b].slot = select(take, 1, c[b].slot);
    c[b].clamped = bool(select(take, int(d1[b].clamped || m1[b].clamped), int(c[b].clamped)));
  }
}

template <scale_cell Scale, size_t n, class Ops = scalar_passes>
constexpr affine_result fit_affine_fast(const float* x, const float* w, int nmax, bool& clamped, int* codes) {
  const normalized<n> b(x);
  float lo = b.x[0], hi = b.x[0];
  for (size_t i = 1; i < n; ++i) lo = min(lo, b.x[i]), hi = max(hi, b.x[i]);
  float q[2][n];
  affine_choice c;
  affine_fast_choice<Scale, 1>(&b.p, &lo, &hi, nmax, [&](const float* dn, const float* mn, int slot, affine_pass_sums* sums) {
    sums[0] = Ops::template affine_pass<int(n)>(b.x, w, dn[0], mn[0], float(nmax), q[slot]);
  }, &c);
  for (size_t i = 0; i < n; ++i) codes[i] = int(q[c.slot][i]);
  clamped = c.clamped;
  return {c.d, c.m};
}

// ---------------------------------------------------------------------------
// Code table: y = d * values[q], values sorted ascending (iq4_nl's int8 table, NF4).

constexpr int table_code(const float* values, int count, float x, float d) {
  return nearest_index(values, count, d == 0 ? 0.f : x / d);
}

constexpr float table_error(const float* x, const float* w, size_t n, const float* values, int count, float d) {
  float err = 0;
  for (size_t i = 0; i < n; ++i) {
    const float e = x[i] - d * values[table_code(values, count, x[i], d)];
    err += w[i] * e * e;
  }
  return err;
}

// `positive_only`: the scale keeps the sign that maps the extreme element to the
// table end of the same sign (NF4's absmax convention); otherwise both ends are tried.
template <scale_cell Scale, size_t n>
constexpr symmetric_fit fit_table(const float* x, const float* w, const float* values, int count,
                                  bool positive_only, bool& clamped) {
  const normalized<n> b(x);
  const float m = signed_max(b.x, n);
  if (m == 0) return {};
  best_scale<Scale> s{b.p, max(abs(values[0]), abs(values[count - 1]))};
  auto error = [&](float dn) { return table_error(b.x, w, n, values, count, dn); };
  auto offer = [&](float dn) {
    if (!(positive_only && dn < 0)) s.offer(dn, error);
  };
  constexpr bool walk = n <= kWalkMax;  // as in fit_symmetric
  for (const float end : {values[0], values[count - 1]}) {
    if (positive_only && (end < 0) != (m < 0)) continue;
    for (int k = walk ? 0 : -8; k <= (walk ? 0 : 8); ++k) {
      const float dn = m / (end * (1.f + 0.008f * float(k)));
      offer(dn);
      const float ds = stored_scale<Scale>(dn, b.p).dn;
      float sxv = 0, svv = 0;
      for (size_t i = 0; i < n; ++i) {
        const float v = values[table_code(values, count, b.x[i], ds)];
        sxv += w[i] * b.x[i] * v, svv += w[i] * v * v;
      }
      if (svv > 0) offer(sxv / svv);
    }
  }
  if constexpr (walk) {
    const float end = max(abs(values[0]), abs(values[count - 1]));
    for (const float sign : {1.f, -1.f}) {
      const float dn = walk_signed<n>(b.x, w, n, {values, count}, sign, abs(m), end, 0.4f * end).d;
      if (!(positive_only && dn < 0)) s.offer_around(dn, 2, error);
    }
  }
  clamped = s.clamped;
  return s.best;
}

// The fast table search: the scales that map the extreme weight onto either end of
// the table (the one of its sign only, if `positive_only`), and the least-squares
// scale for the codes of the better one. A code is found by counting the midpoints
// between table values below x / d, which vectorizes where a search would not.
// c: the code (index into values) of each weight, as a float.
template <size_t n>
constexpr lsq_pass table_pass(const float* x, const float* w, const float* values, int count, float dn, float* c) {
  const float id = dn != 0 ? 1.f / dn : 0.f;
  float e[n], xv[n], vv[n];
  for (size_t i = 0; i < n; ++i) c[i] = 0;
  for (int k = 0; k + 1 < count; ++k) {
    const float mid = 0.5f * (values[k] + values[k + 1]);
    for (size_t i = 0; i < n; ++i) c[i] += x[i] * id >= mid ? 1.f : 0.f;
  }
  for (size_t i = 0; i < n; ++i) {
    const float v = values[int(c[i])], r = x[i] - dn * v, wv = w[i] * v;
    e[i] = w[i] * r * r, xv[i] = wv * x[i], vv[i] = wv * v;
  }
  return {pairwise_sum<n>(e), pairwise_sum<n>(xv), pairwise_sum<n>(vv)};
}

template <scale_cell Scale, size_t n, class Ops = scalar_passes>
constexpr float fit_table_fast(const float* x, const float* w, const float* values, int count, bool positive_only,
                               bool& clamped, int* codes) {
  const normalized<n> b(x);
  const float m = signed_max(b.x, n);
  const float code_max = max(abs(values[0]), abs(values[count - 1]));
  float qa[n], qb[n];
  float* best = qa;
  float* spare = qb;
  float d = 0, err = 0;
  lsq_pass bp;
  stored_scale<Scale> bs(0.f, b.p);
  bool any = false;
  auto offer = [&](const stored_scale<Scale>& s) {
    if (!is_finite(s.dn) || (positive_only && s.dn < 0)) return;
    if (!is_finite(s.stored * code_max)) return;
    const lsq_pass p = Ops::template table_pass<int(n)>(b.x, w, values, count, s.dn, spare);
    if (!any || p.err < err) {
      any = true, d = s.stored, clamped = s.clamped, err = p.err, bp = p, bs = s;
      float* t = best;
      best = spare, spare = t;
    }
  };
  if (m != 0) {
    offer(stored_scale<Scale>(m / values[0], b.p));
    offer(stored_scale<Scale>(m / values[count - 1], b.p));
    if (any && bp.qq > 0) offer(refit_scale<Scale>(bp.xq / bp.qq, bs, b.p));
  }
  if (!any) {  // an all-zero block: the code of the value nearest 0
    const int zero = nearest_index(values, count, 0.f);
    for (size_t i = 0; i < n; ++i) codes[i] = zero;
    return 0.f;
  }
  for (size_t i = 0; i < n; ++i) codes[i] = int(best[i]);
  return d;
}

}  // namespace qnt::fit
