// What the 256-weight super-block formats (q2_K ... q6_K) share: the packing of
// q4_K / q5_K's 6-bit scales and mins, the sub-block fits, and the two-level fit of
// the affine k-quants.
//
// The fits have GGUF's two levels, each searched for the least importance-weighted
// squared error: (1) every sub-block's own optimal float scale (and min) by the
// exhaustive walk of core/sweep.hpp; (2) the integer sub-block scales and the f16
// super-scales jointly: given the super-scales, each sub-block takes the best
// integer scale (and min) near its ideal one, with its codes re-rounded for each
// candidate; then the super-scales are refitted by least squares on those integers,
// and the two steps alternate while the error falls. Everything runs on the block
// scaled by a power of two (fit::normalizer), exactly, so the result does not depend
// on the weights' magnitude and cannot overflow.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "../core/sweep.hpp"
#include "../core/scalar.hpp"

namespace qnt::kq {

// The element-wise passes of the fits (codes, errors and sums of a sub-block) come
// from a policy type: scalar_ops, defined below, is the reference; the per-target
// SIMD form (kernels/quantize-inl.h) does the same arithmetic in vector lanes.
struct scalar_ops;

// Sub-blocks whose largest magnitude (on the normalized axis) is below this are zero.
inline constexpr float group_max_eps = 1e-15f;

// ---------------------------------------------------------------------------
// q4_K / q5_K scale packing: eight 6-bit scales and eight 6-bit mins in 12 bytes.

constexpr void unpack_scale_min(const uint8_t* b, int j, uint8_t& sc, uint8_t& mn) {
  if (j < 4) {
    sc = uint8_t(b[j] & 63), mn = uint8_t(b[j + 4] & 63);
  } else {
    sc = uint8_t((b[j + 4] & 15) | ((b[j - 4] >> 6) << 4));
    mn = uint8_t((b[j + 4] >> 4) | ((b[j] >> 6) << 4));
  }
}

constexpr void pack_scale_min(const uint8_t* sc, const uint8_t* mn, uint8_t* b) {
  for (int j = 0; j < 4; ++j) {
    b[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    b[j + 4] = uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    b[j + 8] = uint8_t((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

// q4_K / q5_K code layout: per 64 weights 32 bytes of qs, the first 32 weights in
// the low nibbles, the next 32 in the high nibbles.
constexpr int low4(const uint8_t* qs, int e) {
  const uint8_t byte = qs[32 * (e / 64) + e % 32];
  return e % 64 < 32 ? (byte & 15) : (byte >> 4);
}
constexpr void set_low4(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = uint8_t((L[64 * c + l] & 15) | (L[64 * c + 32 + l] & 15) << 4);
}

// q4_K / q5_K dequantization: y = (d * sc) * q - (dmin * mn) per 32-weight sub-block.
template <class Block, class Code>
constexpr void decode_scale_min(const Block& b, Code code, float* y) {
  const float d = b.d.get(), dmin = b.dmin.get();
  for (int s = 0; s < 8; ++s) {
    uint8_t sc = 0, mn = 0;
    unpack_scale_min(b.scales, s, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    for (int e = 32 * s; e < 32 * (s + 1); ++e) y[e] = d1 * float(code(b, e)) - m1;
  }
}

// ---------------------------------------------------------------------------
// Affine k-quants (q2_K, q4_K, q5_K): y = (d * sc) * q - dmin * mn per sub-block.

struct affine_params {
  int sub;     // weights per sub-block (16 or 32)
  int nmax;    // largest code
  int levels;  // largest integer sub-block scale / min (15 or 63)
};

struct affine_superblock {
  float d = 0, dmin = 0;  // stored super-scales (real units, f16-representable)
  uint8_t sc[16] = {}, mn[16] = {};
  uint8_t L[256] = {};
  bool clamped = false;
};

inline constexpr float kAffineSpan = 1.5f;
// Rounds of alternating sub-block choice and super-scale refit (most blocks settle
// in two or three).
inline constexpr int kRefits = 6;
// Rounds of the fast search's sub-block choice and super-scale refit.
inline constexpr int kFastRefits = 2;
// Scales the fast affine sub-block fit rounds at: range / (nmax + kFastStart0 +
// k kFastStartStep), k < kFastStarts.
inline constexpr int kFastStarts = 5;
inline constexpr float kFastStart0 = -0.6f, kFastStartStep = 0.3f;

// The integers a sub-block scale or min may take, given its ideal value t in units
// of the super-scale: the two that bracket t (fast), or the nearest and two either
// side of it (thorough); within [lo, hi].
struct int_range {
  int first, last;
};
constexpr int_range choices(float t, int lo, int hi, effort e) {
  t = t > float(lo) ? t : float(lo);  // NaN: lo
  t = t < float(hi) ? t : float(hi);
  if (e == effort::thorough) return {clamp(rne(t) - 2, lo, hi), clamp(rne(t) + 2, lo, hi)};
  int below = int(t);
  if (float(below) > t) --below;
  return {below, clamp(below + 1, lo, hi)};
}
constexpr int refit_rounds(effort e) { return e == effort::fast ? kFastRefits : kRefits; }

// The batched passes (Ops::affine_codes_n and kin) evaluate this many candidates of
// one sub-block per call: their chains of dependent steps overlap. Codes come back
// as bytes, kMaxSub per candidate.
inline constexpr int kBatch = 4;
inline constexpr int kMaxSub = 32;

// Calls fn.template operator()<C>() with C = 1, 2 or kBatch, the least batch that
// holds `count` candidates (the rest of a batch is padding).
template <class Fn>
constexpr void by_count(int count, Fn&& fn) {
  if (count == 1) fn.template operator()<1>();
  else if (count == 2) fn.template operator()<2>();
  else fn.template operator()<kBatch>();
}

// Of candidates err[0..count), the first of least error if it beats `best` (or
// best < 0: none yet), which is then updated; -1 if none does. Selects, not branches.
constexpr int first_least(const float* err, int count, float& best) {
  int win = -1;
  for (int c = 0; c < count; ++c) {
    const bool take = best < 0 || err[c] < best;
    best = select(take, err[c], best), win = select(take, c, win);
  }
  return win;
}

// The batched passes as loops over the single ones: scalar_ops' definition, and the
// SIMD form where its vectors cannot hold a sub-block.
template <class Ops, int kSub, int C>
constexpr void affine_codes_each(const float* xn, const float* imp, float nmax, const float* dl, const float* ml,
                                 float* err, uint8_t* L) {
  for (int c = 0; c < C; ++c) {
    float q[kSub];
    err[c] = Ops::template affine_codes<kSub>(xn, imp, nmax, dl[c], ml[c], q);
    for (int i = 0; i < kSub; ++i) L[kMaxSub * c + i] = uint8_t(q[i]);
  }
}
template <class Ops, int kSub, int C>
constexpr void affine_pass_each(const float* x, const float* w, const float* dn, float mn, float nmax,
                                fit::affine_pass_sums* out) {
  float q[kSub];
  for (int c = 0; c < C; ++c) out[c] = Ops::template affine_pass<kSub>(x, w, dn[c], mn, nmax, q);
}
template <class Ops, int kSub, int C>
constexpr void symmetric_codes_each(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                    float* err, uint8_t* codes, fit::lsq_pass* lsq) {
  for (int c = 0; c < C; ++c) {
    float q[kSub];
    err[c] = Ops::template symmetric_codes<kSub>(xn, imp, L, dl[c], q, lsq ? lsq + c : nullptr);
    for (int i = 0; i < kSub; ++i) codes[kMaxSub * c + i] = uint8_t(q[i]);
  }
}
// The affine sub-block range: lo = min(0, min x) (the format's min is never above 0), hi = max x.
template <int kSub>
constexpr void range_of(const float* x, float& lo, float& hi) {
  lo = 0, hi = x[0];
  for (int i = 0; i < kSub; ++i) lo = min(lo, x[i]), hi = max(hi, x[i]);
}

// Largest number of level changes the walks of one sub-block may visit.
inline constexpr size_t kSubEvents = 32 * 40;

// A sub-block's optimal float scale and min (min <= 0, returned negated), from the
// walk over inverse scales around the one that spans its range with nmax steps.
struct affine_sub {
  float scale = 0, neg_min = 0;
};
constexpr affine_sub fit_affine_sub(const float* x, const float* w, int n, int nmax) {
  float lo = 0, hi = x[0];
  for (int i = 0; i < n; ++i) lo = min(lo, x[i]), hi = max(hi, x[i]);
  if (!(hi > lo)) return {0.f, -lo};
  const float span = min(0.5f * float(nmax), kAffineSpan) + 1, range = hi - lo;
  // The walk rounds from a fixed origin; the optimum rounds from its own min, so
  // the walk is repeated from the min it found while that improves the fit, and
  // from an origin half a step above the minimum (which then rounds up to code 1).
  fit::walk_result best;
  for (const float start : {0.f, 0.5f}) {
    float origin = lo + start * range / float(nmax);
    for (int pass = 0; pass < 3; ++pass) {
      const fit::walk_result r = fit::walk_affine<32, kSubEvents>(x, w, n, nmax, origin, max(float(nmax) - span, 0.5f) / range,
                                                                  (float(nmax) + span) / range, true);
      if (!r.found || (best.found && !(r.gain > best.gain))) break;
      best = r, origin = r.m;
    }
  }
  if (!best.found) return {range / float(nmax), -lo};
  return {best.d, -best.m};
}

// The fast sub-block fit (effort::fast): codes rounded from the minimum at a few
// scales around the one that spans the range in nmax steps, and for each the
// least-squares (scale, min) of those codes; the best of these, by an error that
// follows from the sums in closed form (codes re-rounded for that fit can only do
// better).
// The caller gives the sub-block's range [lo, hi] (range_of) and suu, the sum of
// w (x - lo)^2: sums relative to the minimum (fit::affine_pass_sums), so that the
// least-squares fits and their closed-form errors do not cancel.
template <class Ops, int kSub>
constexpr affine_sub fit_affine_sub_fast(const float* x, const float* w, int nmax, float lo, float hi, float suu) {
  if (!(hi > lo)) return {0.f, -lo};
  const float range = hi - lo;
  float d[kFastStarts];
  for (int k = 0; k < kFastStarts; ++k) d[k] = range / (float(nmax) + kFastStart0 + kFastStartStep * float(k));
  fit::affine_pass_sums ps[kFastStarts];
  Ops::template affine_pass_n<kSub, kFastStarts>(x, w, d, lo, float(nmax), ps);
  affine_sub best{range / float(nmax), -lo};
  float best_err = -1;
  for (int k = 0; k < kFastStarts; ++k) {
    const fit::affine_pass_sums& p = ps[k];
    const bool first = k == 0 || p.err < best_err;
    best.scale = select(first, d[k], best.scale), best.neg_min = select(first, -lo, best.neg_min);
    best_err = select(first, p.err, best_err);
    // With a single code value in use (a constant sub-block) only the scale is fitted.
    const float det = p.w * p.qq - p.q * p.q;
    // u ~ s q + t, the min m = lo + t.
    float s = det > 0 ? (p.w * p.uq - p.u * p.q) / det : 0.f, t = det > 0 ? (p.qq * p.u - p.q * p.uq) / det : 0.f;
    if (!(det > 0) || lo + t > 0) {  // the format's min is never above 0
      t = -lo;
      const float v = p.uq + lo * p.q;  // sum w x q
      s = p.qq > 0 ? v / p.qq : 0.f;
    }
    if (!(s > 0) || !is_finite(s) || !is_finite(t)) continue;
    // Rounding can take the closed form below zero; an exact fit is zero.
    const float err = max(suu - 2 * s * p.uq - 2 * t * p.u + s * s * p.qq + 2 * s * t * p.q + t * t * p.w, 0.f);
    const float m = lo + t;
    const bool better = err < best_err;
    best.scale = select(better, s, best.scale), best.neg_min = select(better, -m, best.neg_min);
    best_err = select(better, err, best_err);
  }
  return best;
}

// The nearest affine codes of a sub-block for the decoded scale dl and min ml, and
// their weighted squared error. Written as plain element-wise loops so that
// compilers vectorize them.
template <int kSub>
constexpr float affine_codes(const float* xn, const float* imp, float nmax, float dl, float ml, float* q) {
  const float idl = dl > 0 ? 1.f / dl : 0.f;
  float e[kSub];
  for (int i = 0; i < kSub; ++i) {
    q[i] = round_clamped((xn[i] + ml) * idl, 0.f, nmax);
    const float r = xn[i] - (dl * q[i] - ml);
    e[i] = imp[i] * r * r;
  }
  return pairwise_sum<kSub>(e);
}

// For one sub-block and given super-scales (normalized axis), the integer scale and
// min within `radius` of the ideal ones, and their codes, of least weighted error.
// Candidates are evaluated kBatch at a time (Ops::affine_codes_n), in the order
// scale-major, the first of equal errors winning.
template <class Ops>
constexpr float choose_affine_sub(const float* xn, const float* imp, const affine_params& P, float dn, float mdn,
                                  const affine_sub& ideal, effort e, uint8_t& sc, uint8_t& mn, uint8_t* L) {
  int_range ra = choices(dn > 0 ? ideal.scale / dn : 0.f, 0, P.levels, e);
  int_range rb = choices(mdn > 0 ? ideal.neg_min / mdn : 0.f, 0, P.levels, e);
  // A zero super-scale makes every integer scale (or min) the same: the first wins.
  if (dn == 0) ra.last = ra.first;
  if (mdn == 0) rb.last = rb.first;
  float best = -1;
  float dl[kBatch] = {}, ml[kBatch] = {}, err[kBatch] = {};
  int sa[kBatch] = {}, sb[kBatch] = {}, count = 0;
  uint8_t q[kBatch * kMaxSub] = {};
  auto evaluate = [&] {
    for (int c = count; c < kBatch; ++c) dl[c] = dl[0], ml[c] = ml[0];  // padding, not chosen
    by_count(count, [&]<int C>() {
      if (P.sub == 16) Ops::template affine_codes_n<16, C>(xn, imp, float(P.nmax), dl, ml, err, q);
      else Ops::template affine_codes_n<32, C>(xn, imp, float(P.nmax), dl, ml, err, q);
    });
    const int win = first_least(err, count, best);
    if (win >= 0) {
      sc = uint8_t(sa[win]), mn = uint8_t(sb[win]);
      for (int i = 0; i < P.sub; ++i) L[i] = q[kMaxSub * win + i];
    }
    count = 0;
  };
  for (int a = ra.first; a <= ra.last; ++a) {
    for (int b = rb.first; b <= rb.last; ++b) {
      dl[count] = dn * float(a), ml[count] = mdn * float(b), sa[count] = a, sb[count] = b;
      if (++count == kBatch) evaluate();
    }
  }
  if (count > 0) evaluate();
  return best;
}

// Every sub-block chosen for the super-scales (d, dmin); returns the block's error.
template <class Ops>
constexpr float choose_affine_all(const float* xn, const float* imp, const affine_params& P, const affine_sub* ideal,
                                  float dn, float mdn, effort e, affine_superblock& r) {
  float err = 0;
  for (int j = 0; j < 256 / P.sub; ++j) {
    const int o = j * P.sub;
    err += choose_affine_sub<Ops>(xn + o, imp + o, P, dn, mdn, ideal[j], e, r.sc[j], r.mn[j], r.L + o);
  }
  return err;
}

template <class Ops = scalar_ops>
constexpr affine_superblock fit_affine_superblock(const float* x, const float* imp, const affine_params& P, effort e) {
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  const int nsub = 256 / P.sub;
  affine_sub ideal[16];
  float max_scale = 0, max_min = 0;
  // The fast fits' ranges and sums of squares, the sums all at once.
  float lo[16] = {}, hi[16] = {}, suu[16] = {};
  if (e == effort::fast) {
    float uu[256];
    for (int j = 0; j < nsub; ++j) {
      if (P.sub == 16) Ops::template range<16>(xn + j * P.sub, lo[j], hi[j]);
      else Ops::template range<32>(xn + j * P.sub, lo[j], hi[j]);
      for (int i = j * P.sub; i < (j + 1) * P.sub; ++i) uu[i] = imp[i] * (xn[i] - lo[j]) * (xn[i] - lo[j]);
    }
    if (P.sub == 16) Ops::template sums<16, 16>(uu, suu);
    else Ops::template sums<32, 8>(uu, suu);
  }
  for (int j = 0; j < nsub; ++j) {
    const float *xs = xn + j * P.sub, *ws = imp + j * P.sub;
    ideal[j] = e == effort::thorough ? fit_affine_sub(xs, ws, P.sub, P.nmax)
               : P.sub == 16         ? fit_affine_sub_fast<Ops, 16>(xs, ws, P.nmax, lo[j], hi[j], suu[j])
                                     : fit_affine_sub_fast<Ops, 32>(xs, ws, P.nmax, lo[j], hi[j], suu[j]);
    max_scale = max(max_scale, ideal[j].scale);
    max_min = max(max_min, ideal[j].neg_min);
  }
  affine_superblock best;
  float best_err = -1;
  // Evaluates super-scales given on the normalized axis (rounded to f16 here).
  auto trial = [&](float D, float M) {
    const fit::stored_scale<f16> d(D, p), dmin(M, p);
    affine_superblock t;
    t.d = d.stored, t.dmin = dmin.stored, t.clamped = d.clamped || dmin.clamped;
    const float err = choose_affine_all<Ops>(xn, imp, P, ideal, d.dn, dmin.dn, e, t);
    const bool better = best_err < 0 || err < best_err;
    if (better) best = t, best_err = err;
    return better;
  };
  float D = max_scale / float(P.levels), M = max_min / float(P.levels);
  for (int round = 1; trial(D, M) && round < refit_rounds(e); ++round) {
    // Least-squares super-scales for the chosen integers: x ~ D * (sc * L) - M * mn,
    // the sums in pairwise order (element-wise products, then Ops::sum).
    float terms[5 * 256];  // the terms of A, B, C, X, Y, one run of 256 each
    for (int j = 0; j < nsub; ++j) {
      const float s = float(best.sc[j]), b = float(best.mn[j]);
      for (int i = j * P.sub; i < (j + 1) * P.sub; ++i) {
        const float a = s * float(best.L[i]), wa = imp[i] * a, wx = imp[i] * xn[i];
        terms[i] = wa * a, terms[256 + i] = wa * b, terms[512 + i] = imp[i] * b * b;
        terms[768 + i] = wx * a, terms[1024 + i] = wx * b;
      }
    }
    float sums[5];
    Ops::template sums<256, 5>(terms, sums);
    const float A = sums[0], B = sums[1], C = sums[2], X = sums[3], Y = sums[4];
    const float det = A * C - B * B;
    if (det > 0) {
      D = (X * C - B * Y) / det, M = (B * X - A * Y) / det;
    } else if (A > 0) {  // no mins in use
      D = X / A, M = 0;
    } else {
      break;
    }
    if (!(D >= 0) || !(M >= 0) || !is_finite(D) || !is_finite(M)) break;
  }
  // Each super-scale alone 2% either side (the integer scales re-round into
  // another local optimum) and its f16 neighbours; and, for both efforts, the
  // all-zero block, which wins where f16 cannot resolve the weights at all.
  if (e == effort::thorough) {
    for (const float f : {0.98f, 1.02f}) trial(best.d * p * f, best.dmin * p), trial(best.d * p, best.dmin * p * f);
    const float d0 = best.d, m0 = best.dmin;
    for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p, m0 * p);
    for (const int k : {-1, 1}) trial(best.d * p, f16::neighbour(m0, k) * p);
  }
  trial(0.f, 0.f);
  return best;
}

// ---------------------------------------------------------------------------
// Symmetric super-blocks (q3_K, q6_K, iq4_xs): y = (d * sc) * v[code] with signed
// integer sub-block scales sc against one f16 super-scale and sorted code values v
// (integers for q3_K / q6_K, iq4_nl's table for iq4_xs).

struct symmetric_params {
  int sub;               // weights per sub-block (16 or 32)
  fit::level_set codes;  // code values, ascending
  int sc_lo, sc_hi;      // integer sub-block scale range; sc_lo < 0 has the larger magnitude
  // The fast sub-block fit's scales: the extreme weight onto the most negative code
  // value times 1 - fast_step * (k - fast_first), k < fast_scales (each with its
  // least-squares scale): from fast_first steps beyond the end of the code range
  // (the extreme weight clipped, the others finer) to ones within it.
  int fast_scales;
  float fast_step;
  int fast_first;
};

// Code values of q3_K (-4..3) and q6_K (-32..31); code index = code + 4 / + 32.
inline constexpr fit::level_set q3_levels = fit::level_set::integers(-4, 3), q6_levels = fit::level_set::integers(-32, 31);

struct symmetric_superblock {
  float d = 0;           // stored super-scale (real units)
  int8_t sc[16] = {};    // integer sub-block scales
  uint8_t L[256] = {};   // code indices into the code values
  bool clamped = false;
};

// The nearest codes of a sub-block for the decoded scale dl, and their weighted
// squared error (element-wise loops, as affine_codes). A table level is found by
// counting the midpoints below the value, which vectorizes where a search would not.
template <int kSub>
constexpr float symmetric_codes(const float* xn, const float* imp, const fit::level_set& L, float dl, float* q,
                                fit::lsq_pass* lsq = nullptr) {
  if (!L.consecutive()) {  // a code table: the fast table search's pass
    const fit::lsq_pass p = fit::table_pass<size_t(kSub)>(xn, imp, L.v, L.count, dl, q);
    if (lsq) lsq->xq = p.xq, lsq->qq = p.qq;
    return p.err;
  }
  const float idl = dl != 0 ? 1.f / dl : 0.f;
  float e[kSub];
  for (int i = 0; i < kSub; ++i) {
    q[i] = round_clamped(xn[i] * idl - L.first, 0.f, float(L.count - 1));
    const float r = xn[i] - dl * (q[i] + L.first);
    e[i] = imp[i] * r * r;
  }
  if (lsq) {  // the sums of the least-squares scale for these codes
    float xa[kSub], aa[kSub];
    for (int i = 0; i < kSub; ++i) {
      const float a = L.first + q[i], wa = imp[i] * a;
      xa[i] = wa * xn[i], aa[i] = wa * a;
    }
    lsq->xq = pairwise_sum<kSub>(xa), lsq->qq = pairwise_sum<kSub>(aa);
  }
  return pairwise_sum<kSub>(e);
}

struct scalar_ops : fit::scalar_passes {
  template <int kSub>
  static constexpr float affine_codes(const float* xn, const float* imp, float nmax, float dl, float ml, float* q) {
    return kq::affine_codes<kSub>(xn, imp, nmax, dl, ml, q);
  }
  template <int kSub>
  static constexpr float symmetric_codes(const float* xn, const float* imp, const fit::level_set& L, float dl, float* q,
                                         fit::lsq_pass* lsq = nullptr) {
    return kq::symmetric_codes<kSub>(xn, imp, L, dl, q, lsq);
  }
  // sum of each of kSums consecutive runs of kCount values (v is overwritten).
  template <int kCount, int kSums>
  static constexpr void sums(float* v, float* out) {
    for (int j = 0; j < kSums; ++j) out[j] = pairwise_sum<size_t(kCount)>(v + j * kCount);
  }
  template <int kSub, int C>
  static constexpr void affine_codes_n(const float* xn, const float* imp, float nmax, const float* dl, const float* ml,
                                       float* err, uint8_t* L) {
    affine_codes_each<scalar_ops, kSub, C>(xn, imp, nmax, dl, ml, err, L);
  }
  template <int kSub, int C>
  static constexpr void affine_pass_n(const float* x, const float* w, const float* dn, float mn, float nmax,
                                      fit::affine_pass_sums* out) {
    affine_pass_each<scalar_ops, kSub, C>(x, w, dn, mn, nmax, out);
  }
  template <int kSub>
  static constexpr void range(const float* x, float& lo, float& hi) {
    range_of<kSub>(x, lo, hi);
  }
  // symmetric_codes of C candidate scales dl[c]: errors err[c], code indices as bytes
  // at codes + kMaxSub * c, and (lsq not null) the least-squares sums lsq[c].
  template <int kSub, int C>
  static constexpr void symmetric_codes_n(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                          float* err, uint8_t* codes, fit::lsq_pass* lsq) {
    symmetric_codes_each<scalar_ops, kSub, C>(xn, imp, L, dl, err, codes, lsq);
  }
  template <int kSub>
  static constexpr float signed_max(const float* x) {
    return fit::signed_max(x, size_t(kSub));
  }
  // fit::normalized: writes x * p to xn and returns p.
  template <size_t n>
  static constexpr float normalize(const float* x, float* xn) {
    const fit::normalized<n> b(x);
    for (size_t i = 0; i < n; ++i) xn[i] = b.x[i];
    return b.p;
  }
};

// For one sub-block and a given super-scale, the integer scale within `radius` of
// the ideal one, with its codes, of least weighted error (candidates kBatch at a
// time, the first of equal errors winning, as choose_affine_sub).
template <class Ops>
constexpr float choose_symmetric_sub(const float* xn, const float* imp, const symmetric_params& P, float dn,
                                     float ideal, effort e, int8_t& sc, uint8_t* L) {
  int_range ra = choices(dn != 0 ? ideal / dn : 0.f, P.sc_lo, P.sc_hi, e);
  if (dn == 0) ra.last = ra.first;  // every integer scale is the same
  float best = -1;
  float dl[kBatch] = {}, err[kBatch] = {};
  int sa[kBatch] = {}, count = 0;
  uint8_t q[kBatch * kMaxSub] = {};
  auto evaluate = [&] {
    for (int c = count; c < kBatch; ++c) dl[c] = dl[0];  // padding, not chosen
    by_count(count, [&]<int C>() {
      if (P.sub == 16) Ops::template symmetric_codes_n<16, C>(xn, imp, P.codes, dl, err, q, nullptr);
      else Ops::template symmetric_codes_n<32, C>(xn, imp, P.codes, dl, err, q, nullptr);
    });
    const int win = first_least(err, count, best);
    if (win >= 0) {
      sc = int8_t(sa[win]);
      for (int i = 0; i < P.sub; ++i) L[i] = q[kMaxSub * win + i];
    }
    count = 0;
  };
  for (int a = ra.first; a <= ra.last; ++a) {
    dl[count] = dn * float(a), sa[count] = a;
    if (++count == kBatch) evaluate();
  }
  if (count > 0) evaluate();
  return best;
}

// The fast sub-block scale: the one that maps the extreme weight onto the most
// negative code value (GGUF's choice), or the least-squares scale for its codes if
// that fits better.
// sxx: the sum of w x^2 over the sub-block.
template <class Ops, int kSub>
constexpr float fit_symmetric_sub_fast(const float* x, const float* w, const symmetric_params& P, float m, float sxx) {
  const fit::level_set& L = P.codes;
  float best = 0, best_err = 0;
  float d[kBatch] = {}, err[kBatch] = {};
  fit::lsq_pass p[kBatch];
  uint8_t q[kBatch * kMaxSub] = {};
  for (int k0 = 0; k0 < P.fast_scales; k0 += kBatch) {
    const int count = P.fast_scales - k0 < kBatch ? P.fast_scales - k0 : kBatch;
    for (int c = 0; c < kBatch; ++c)  // past count: padding, not chosen
      d[c] = m / (L.value(0) * (1.f - P.fast_step * float(k0 + (c < count ? c : 0) - P.fast_first)));
    Ops::template symmetric_codes_n<kSub, kBatch>(x, w, L, d, err, q, p);
    for (int c = 0; c < count; ++c) {
      const bool take = k0 + c == 0 || err[c] < best_err;
      best = select(take, d[c], best), best_err = select(take, err[c], best_err);
      // The least-squares scale of these codes; its error in closed form (which
      // rounding can take below zero, where an exact fit is zero).
      if (p[c].qq > 0) {
        const float lsq = p[c].xq / p[c].qq, lsq_err = max(sxx - p[c].xq * lsq, 0.f);
        const bool better = lsq_err < best_err;
        best = select(better, lsq, best), best_err = select(better, lsq_err, best_err);
      }
    }
  }
  return best;
}

template <class Ops = scalar_ops>
constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp, const symmetric_params& P, effort e) {
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  const int nsub = 256 / P.sub;
  const float end = max(abs(P.codes.value(0)), abs(P.codes.value(P.codes.count - 1)));
  float ideal[16] = {}, amax = 0, max_scale = 0;
  float sxx[16] = {};  // the fast fits' sums of w x^2, all at once
  if (e == effort::fast) {
    float xx[256];
    for (int i = 0; i < 256; ++i) xx[i] = imp[i] * xn[i] * xn[i];
    if (P.sub == 16) Ops::template sums<16, 16>(xx, sxx);
    else Ops::template sums<32, 8>(xx, sxx);
  }
  for (int j = 0; j < nsub; ++j) {
    const float* xs = xn + j * P.sub;
    const float sm = P.sub == 16 ? Ops::template signed_max<16>(xs) : Ops::template signed_max<32>(xs), m = abs(sm);
    if (m < group_max_eps) continue;
    if (e == effort::fast) {
      ideal[j] = P.sub == 16 ? fit_symmetric_sub_fast<Ops, 16>(xs, imp + j * P.sub, P, sm, sxx[j])
                             : fit_symmetric_sub_fast<Ops, 32>(xs, imp + j * P.sub, P, sm, sxx[j]);
      if (abs(ideal[j]) > amax) amax = abs(ideal[j]), max_scale = ideal[j];
      continue;
    }
    const float span = min(0.4f * end, 8.f) + 1;
    fit::walk_result best;
    for (const float sign : {1.f, -1.f}) {
      const fit::walk_result r = fit::walk_signed<32>(xs, imp + j * P.sub, P.sub, P.codes, sign, m, end, span);
      // Of two equal fits (a constant sub-block fits exactly either way) the
      // smaller scale leaves the super-scale finer.
      if (r.found && (!best.found || r.gain > best.gain || (r.gain == best.gain && abs(r.d) < abs(best.d)))) best = r;
    }
    ideal[j] = best.d;
    if (abs(ideal[j]) > amax) amax = abs(ideal[j]), max_scale = ideal[j];
  }
  symmetric_superblock best;
  if (amax < group_max_eps) {  // nothing to encode: zero scales
    const int zero = P.codes.nearest(0.f);
    for (int i = 0; i < 256; ++i) best.L[i] = uint8_t(zero);
    return best;
  }
  float best_err = -1;
  auto trial = [&](float D) {
    const fit::stored_scale<f16> d(D, p);
    symmetric_superblock t;
    t.d = d.stored, t.clamped = d.clamped;
    float err = 0;
    for (int j = 0; j < nsub; ++j) {
      const int o = j * P.sub;
      err += choose_symmetric_sub<Ops>(xn + o, imp + o, P, d.dn, ideal[j], e, t.sc[j], t.L + o);
    }
    const bool better = best_err < 0 || err < best_err;
    if (better) best = t, best_err = err;
    return better;
  };
  float D = max_scale / float(P.sc_lo);
  for (int round = 1; trial(D) && round < refit_rounds(e); ++round) {
    // The least-squares super-scale for the chosen integers, sums in pairwise order.
    float terms[2 * 256];  // the terms of sum w x a and of sum w a^2
    for (int j = 0; j < nsub; ++j) {
      const float s = float(best.sc[j]);
      for (int i = j * P.sub; i < (j + 1) * P.sub; ++i) {
        const float a = s * P.codes.value(best.L[i]), wa = imp[i] * a;
        terms[i] = wa * xn[i], terms[256 + i] = wa * a;
      }
    }
    float sums[2];
    Ops::template sums<256, 2>(terms, sums);
    const float sxa = sums[0], saa = sums[1];
    if (!(saa > 0)) break;
    D = sxa / saa;
  }
  if (e == effort::thorough) {
    for (const float f : {0.98f, 1.02f}) trial(best.d * p * f);
    const float d0 = best.d;
    for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p);
  }
  trial(0.f);
  return best;
}

}  // namespace qnt::kq
