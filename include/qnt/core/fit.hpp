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
constexpr float normalizer(const float* x, size_t n) {
  float amax = 0;
  for (size_t i = 0; i < n; ++i) amax = max(amax, abs(x[i]));
  const int e = int((float_bits(amax) >> 23) & 255) - 127;
  if (amax == 0) return 1.f;
  return bits_float(uint32_t(127 + clamp(-e, -126, 126)) << 23);
}

// A candidate scale `dn` of the normalized block: the value stored for it (real
// units, `stored`) and what that stored value means on the normalized axis (`dn`).
template <scale_cell Scale>
struct stored_scale {
  float stored, dn;
  bool clamped = false;
  constexpr stored_scale(float candidate, float p) {
    stored = store_scale<Scale>(candidate / p, clamped);
    dn = stored * p;
  }
};

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
// scale is the walk of -x).
template <int n>
constexpr walk_result walk_signed(const float* x, const float* w, const level_set& L, float sign, float amax, float end,
                                  float span) {
  float xs[n];
  for (int i = 0; i < n; ++i) xs[i] = sign * x[i];
  walk_result r = walk_symmetric<n, size_t(n) * 40>(xs, w, n, L, max(end - span, 0.5f) / amax, (end + span) / amax);
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
    for (const float sign : {1.f, -1.f}) s.offer_around(walk_signed<n>(b.x, w, level_set::integers(qmin, qmax), sign, abs(m), end, span).d, 2, error);
  }
  clamped = s.clamped;
  return s.best;
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
      const float dn = walk_signed<n>(b.x, w, {values, count}, sign, abs(m), end, 0.4f * end).d;
      if (!(positive_only && dn < 0)) s.offer_around(dn, 2, error);
    }
  }
  clamped = s.clamped;
  return s.best;
}

}  // namespace qnt::fit
