// What the 256-weight super-block formats (q2_K ... q6_K) share: the packing of
// q4_K / q5_K's 6-bit scales and mins, the sub-block fits, and the two-level fit of
// the affine k-quants.
//
// The fits have GGUF's two levels, each searched for the least importance-weighted
// squared error: (1) every sub-block's own float scale (and min): the optimum by
// the exhaustive walk of core/sweep.hpp, or for q4_K and q5_K the best
// least-squares fit over a grid of scales; (2) the integer sub-block scales and the
// f16 super-scales jointly: given the super-scales, each sub-block takes the best
// integer scale (and min) near its ideal one, with its codes re-rounded for each
// candidate; then the super-scales are refitted by least squares on those integers,
// and the two steps alternate while the error falls. The affine thorough search
// first runs that alternation, and scans of the super-scales, on a quadratic model
// of each sub-block's error, which needs no pass over the weights
// (model_superscales). Everything runs on the block scaled by a power of two
// (fit::normalizer), exactly, so the result does not depend on the weights'
// magnitude and cannot overflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

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
  // The thorough search fits each sub-block by the exhaustive walk (core/sweep.hpp)
  // rather than the grid: for four code values, where the grid misses the optimum
  // of heavy-tailed sub-blocks (q2_K on the outlier weights: 0.2544 against 0.2408).
  bool walk = false;
};

struct affine_superblock {
  float d = 0, dmin = 0;  // stored super-scales (real units, f16-representable)
  uint8_t sc[16] = {}, mn[16] = {};
  uint8_t L[256] = {};
  bool clamped = false;
};

// Rounds of alternating sub-block choice and super-scale refit (most blocks settle
// in two or three).
inline constexpr int kRefits = 6;
// Rounds of the fast search's sub-block choice and super-scale refit.
inline constexpr int kFastRefits = 2;
constexpr int refit_rounds(effort e) { return e == effort::fast ? kFastRefits : kRefits; }
// The affine thorough search's rounds on the weights, after its model search.
inline constexpr int kModelRefits = 1;

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
// The affine sub-block range: lo = min(0, min x) (the format's min is never above 0), hi = max x.
template <int kSub>
constexpr void range_of(const float* x, float& lo, float& hi) {
  lo = 0, hi = x[0];
  for (int i = 0; i < kSub; ++i) lo = min(lo, x[i]), hi = max(hi, x[i]);
}

// The error of a sub-block's codes q as a function of its scale dl and min ml:
// sum w (x - dl q + ml)^2 = sum w x^2 + model(dl, ml), from five sums. It is the
// thorough search's model of a sub-block: exact while the codes stay, an upper
// bound on the error of codes re-rounded for (dl, ml).
constexpr float model_error(float dl, float ml, float w, float x, float q, float qq, float xq) {
  return dl * (dl * qq - 2 * xq) + ml * (ml * w + 2 * x) - 2 * dl * ml * q;
}
struct code_sums {
  float w = 0, x = 0, q = 0, qq = 0, xq = 0;  // sums of w, w x, w q, w q^2, w x q
  constexpr float model(float dl, float ml) const { return model_error(dl, ml, w, x, q, qq, xq); }
};

// A block's sub-block models, one array per quantity (lanes for Ops::model_choice):
// each sub-block's ideal scale and its code_sums.
struct block_models {
  float scale[16] = {}, w[16] = {}, x[16] = {}, q[16] = {}, qq[16] = {}, xq[16] = {};
};

// For super-scales (dn, mdn) on the normalized axis (inv_dn: 1 / dn, or 0 for
// dn = 0), each sub-block's integers of least model error err[j]: the scale a[j]
// one of the two around its ideal one, the min b[j] the nearest to the model's
// best for that scale (the model is a quadratic in the min), within [0, top].
// Element-wise, so that the SIMD form does the same in lanes.
template <int kNsub>
constexpr void model_choice(const block_models& m, float top, float dn, float inv_dn, float mdn, float* err, float* a,
                            float* b) {
  for (int j = 0; j < kNsub; ++j) {
    const float per_min = m.w[j] > 0 && mdn > 0 ? 1.f / (m.w[j] * mdn) : 0.f;
    const float a0 = float(int(min(m.scale[j] * inv_dn, top))), a1 = min(a0 + 1, top);  // scale >= 0
    const float dl0 = dn * a0, dl1 = dn * a1;
    const float b0 = round_clamped((dl0 * m.q[j] - m.x[j]) * per_min, 0.f, top);
    const float b1 = round_clamped((dl1 * m.q[j] - m.x[j]) * per_min, 0.f, top);
    const float e0 = model_error(dl0, mdn * b0, m.w[j], m.x[j], m.q[j], m.qq[j], m.xq[j]);
    const float e1 = model_error(dl1, mdn * b1, m.w[j], m.x[j], m.q[j], m.qq[j], m.xq[j]);
    const bool second = e1 < e0;
    err[j] = select(second, e1, e0), a[j] = select(second, a1, a0), b[j] = select(second, b1, b0);
  }
}

// A sub-block's fitted float scale and min (min <= 0, kept negated), and the sums
// of the codes it was fitted to.
struct affine_sub {
  float scale = 0, neg_min = 0;
  code_sums sums;
};

// The sub-block fits' candidate scales: range / (nmax + start + step k), k <
// scales, each rounding from `origins` origins: the minimum and, with two, half a
// step of range / nmax above it (codes that round up from there: the optimum's own
// min is rarely the range's). Each candidate's codes are judged by the error of
// their least-squares (scale, min) in closed form. Types, so that the loops have
// constant bounds.
struct fast_grid {
  static constexpr int scales = 5, origins = 1, refinements = 0;
  static constexpr bool model = false;  // no code sums: the fast search has no model
  static constexpr float start = -0.6f, step = 0.3f;
};
struct thorough_grid {
  static constexpr int scales = 16, origins = 2, refinements = 2;
  static constexpr bool model = true;
  static constexpr float start = -1.875f, step = 0.25f;
};
// Codes whose variance is below this are taken for one code value (integer codes
// that differ have a variance of at least the smallest weight's share).
inline constexpr float kOneCode = 1e-4f;

// The sub-block fit over a grid of scales (fast_grid, thorough_grid): for each
// candidate the codes rounded from its origin, and the least-squares (scale, min)
// of those codes; the best of these by an error that follows from the sums in
// closed form (codes re-rounded for the fit can only do better).
// The caller gives the sub-block's range [lo, hi] (range_of) and suu, the sum of
// w (x - lo)^2: sums relative to an origin (fit::affine_pass_sums) keep the
// least-squares fits and their closed-form errors free of cancellation.
template <class Ops, int kSub, class G>
constexpr affine_sub fit_affine_sub_grid(const float* x, const float* w, int nmax, float lo, float hi, float suu) {
  constexpr int kScales = G::scales;
  affine_sub best{0.f, -lo, {}};
  if (!(hi > lo)) {  // one value: no scale; the sums of the codes (all 0) for the model
    for (int i = 0; i < kSub; ++i) best.sums.w += w[i], best.sums.x += w[i] * x[i];
    return best;
  }
  const float range = hi - lo, top = float(nmax);
  float d[kScales];
  for (int k = 0; k < kScales; ++k) d[k] = range / (top + G::start + G::step * float(k));
  best.scale = range / top;
  float best_err = -1;
  // Every pass's sums and origin; the winner's index and its one code value (nmax
  // where the codes vary).
  constexpr int kPasses = G::origins * kScales + G::refinements;
  fit::affine_pass_sums ps[kPasses];
  float origins[kPasses] = {};
  int win = 0;
  float win_c = top;
  // The least-squares fit of pass i's codes, if it beats the best.
  auto offer = [&](int i) {
    const fit::affine_pass_sums& p = ps[i];
    const float origin = origins[i], h = origin - lo;
    // sum w (x - origin)^2 from the one about lo; the sums are relative to origin.
    const float s_uu = G::origins == 1 || h == 0 ? suu : suu - 2 * h * p.u - h * h * p.w;
    // det = (sum w)^2 times the variance of the codes: with one code value in use
    // (up to rounding of the sums) only the scale is fitted.
    const float det = p.w * p.qq - p.q * p.q;
    const bool varied = det > kOneCode * p.w * p.w;
    // u ~ s q + t, the min m = origin + t.
    float s = varied ? (p.w * p.uq - p.u * p.q) / det : 0.f, t = varied ? (p.qq * p.u - p.q * p.uq) / det : 0.f;
    if (!varied || origin + t > 0) {  // the format's min is never above 0
      t = -origin;
      const float v = p.uq + origin * p.q;  // sum w x q
      s = p.qq > 0 ? v / p.qq : 0.f;
    }
    if (!(s > 0) || !is_finite(s) || !is_finite(t)) return;  // rare: a branch
    // Rounding can take the closed form below zero; an exact fit is zero.
    const float err = max(s_uu - 2 * s * p.uq - 2 * t * p.u + s * s * p.qq + 2 * s * t * p.q + t * t * p.w, 0.f);
    const float m = origin + t;
    // One code value c is a constant, the same as code nmax at scale s c / nmax:
    // the finest scale for it, which leaves the super-scale finer for the others.
    float c = top, s_top = s;
    if (!varied) c = round_clamped(p.q / p.w, 1.f, top), s_top = c == top ? s : s * c / top;  // rare: a branch
    const bool better = err < best_err;
    best.scale = select(better, s_top, best.scale), best.neg_min = select(better, -m, best.neg_min);
    best_err = select(better, err, best_err);
    if constexpr (G::model) win = select(better, i, win), win_c = select(better, c, win_c);
  };
  for (int o = 0; o < G::origins; ++o) {
    const float origin = lo + 0.5f * float(o) * range / top;
    Ops::template affine_pass_n<kSub, kScales>(x, w, d, origin, top, ps + o * kScales);
    for (int k = 0; k < kScales; ++k) {
      const int i = o * kScales + k;
      origins[i] = origin;
      // The grid's own scale and origin (from the minimum only: an origin above it
      // is no min the format can store).
      const bool first = o == 0 && (best_err < 0 || ps[i].err < best_err);
      best.scale = select(first, d[k], best.scale), best.neg_min = select(first, -origin, best.neg_min);
      best_err = select(first, ps[i].err, best_err);
      if constexpr (G::model) win = select(first, i, win), win_c = select(first, top, win_c);
      offer(i);
    }
  }
  // Codes re-rounded for the best fit, and their least-squares fit: the min can
  // move far from the range's (a clipped outlier), where no origin of the grid is.
  for (int r = 0; r < G::refinements; ++r) {
    const int i = G::origins * kScales + r;
    origins[i] = -best.neg_min;
    const float dn = best.scale * (top / win_c);  // the scale of the codes as they vary
    Ops::template affine_pass_n<kSub, 1>(x, w, &dn, origins[i], top, ps + i);
    offer(i);
  }
  if constexpr (G::model) {  // the winner's code sums (of code nmax for one code value)
    const fit::affine_pass_sums& p = ps[win];
    const float origin = origins[win], sx = p.u + origin * p.w;
    best.sums = win_c == top ? code_sums{p.w, sx, p.q, p.qq, p.uq + origin * p.q}
                             : code_sums{p.w, sx, top * p.w, top * top * p.w, top * sx};
  }
  return best;
}

// Largest number of level changes the walks of one sub-block may visit, and the
// span of their inverse scales: nmax +- (min(nmax / 2, kAffineSpan) + 1) steps.
inline constexpr size_t kSubEvents = 32 * 40;
inline constexpr float kAffineSpan = 1.5f;

// A sub-block's optimal float scale and min (min <= 0, returned negated), from the
// walk over inverse scales around the one that spans its range with nmax steps,
// with the sums of its codes (rounded at that scale and min) for the model.
constexpr affine_sub fit_affine_sub_walk(const float* x, const float* w, int n, int nmax) {
  float lo = 0, hi = x[0];
  for (int i = 0; i < n; ++i) lo = min(lo, x[i]), hi = max(hi, x[i]);
  affine_sub out{0.f, -lo, {}};
  if (!(hi > lo)) {  // one value: no scale; the sums of the codes (all 0) for the model
    for (int i = 0; i < n; ++i) out.sums.w += w[i], out.sums.x += w[i] * x[i];
    return out;
  }
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
  out = best.found ? affine_sub{best.d, -best.m, {}} : affine_sub{range / float(nmax), -lo, {}};
  code_sums& c = out.sums;
  for (int i = 0; i < n; ++i) {
    const float q = round_clamped((x[i] + out.neg_min) / out.scale, 0.f, float(nmax));
    c.w += w[i], c.x += w[i] * x[i], c.q += w[i] * q, c.qq += w[i] * q * q, c.xq += w[i] * x[i] * q;
  }
  return out;
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

// Evaluates `count` <= kBatch integer scale and min candidates (sa, sb: decoded
// dl, ml) of one sub-block on codes re-rounded for each (Ops::affine_codes_n);
// the first of least error, if it beats `best` (or best < 0), becomes the best,
// its integers and codes going to sc, mn and L.
template <class Ops>
constexpr void evaluate_affine(const float* xn, const float* imp, const affine_params& P, float* dl, float* ml,
                               const int* sa, const int* sb, int count, float& best, uint8_t& sc, uint8_t& mn,
                               uint8_t* L) {
  float err[kBatch] = {};
  uint8_t q[kBatch * kMaxSub] = {};
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
}

// The ranges of integers near a sub-block's ideal scale and min (choices) for
// super-scales (dn, mdn); a zero super-scale makes every integer the same: the
// first.
constexpr void affine_ranges(const affine_params& P, float dn, float mdn, const affine_sub& ideal, effort e,
                             int_range& ra, int_range& rb) {
  ra = choices(dn > 0 ? ideal.scale / dn : 0.f, 0, P.levels, e);
  rb = choices(mdn > 0 ? ideal.neg_min / mdn : 0.f, 0, P.levels, e);
  if (dn == 0) ra.last = ra.first;
  if (mdn == 0) rb.last = rb.first;
}

// For one sub-block and given super-scales (normalized axis), the fast search's
// integer scale and min: of the two integers that bracket each ideal value, the
// pair (in the order scale-major) and codes of least weighted error.
template <class Ops>
constexpr float choose_affine_sub(const float* xn, const float* imp, const affine_params& P, float dn, float mdn,
                                  const affine_sub& ideal, uint8_t& sc, uint8_t& mn, uint8_t* L) {
  int_range ra{}, rb{};
  affine_ranges(P, dn, mdn, ideal, effort::fast, ra, rb);
  float best = -1, dl[kBatch] = {}, ml[kBatch] = {};
  int sa[kBatch] = {}, sb[kBatch] = {}, count = 0;
  for (int a = ra.first; a <= ra.last; ++a) {
    for (int b = rb.first; b <= rb.last; ++b) {
      dl[count] = dn * float(a), ml[count] = mdn * float(b), sa[count] = a, sb[count] = b;
      if (++count == kBatch) evaluate_affine<Ops>(xn, imp, P, dl, ml, sa, sb, count, best, sc, mn, L), count = 0;
    }
  }
  if (count > 0) evaluate_affine<Ops>(xn, imp, P, dl, ml, sa, sb, count, best, sc, mn, L);
  return best;
}

// The same for the thorough search: of the five integer scales within two steps of
// the ideal one, the two of least model error (ideal.sums), each with its two best
// mins (the model is a quadratic in the min: the two integers nearest its optimum);
// these four, best first, on the weights.
template <class Ops>
constexpr float choose_affine_sub_modelled(const float* xn, const float* imp, const affine_params& P, float dn,
                                           float mdn, const affine_sub& ideal, uint8_t& sc, uint8_t& mn, uint8_t* L) {
  int_range ra{}, rb{};
  affine_ranges(P, dn, mdn, ideal, effort::thorough, ra, rb);
  const code_sums& cs = ideal.sums;
  const float per_min = cs.w > 0 && mdn > 0 ? 1.f / (cs.w * mdn) : 0.f;
  auto min_of = [&](int a) {  // the optimum min for scale a, within rb
    return min(max((dn * float(a) * cs.q - cs.x) * per_min, float(rb.first)), float(rb.last));
  };
  constexpr float inf = std::numeric_limits<float>::infinity();
  int a1 = ra.first, a2 = ra.first;
  float e1 = inf, e2 = inf;
  for (int a = ra.first; a <= ra.last; ++a) {
    const float err = cs.model(dn * float(a), mdn * float(rne(min_of(a))));
    const bool first = err < e1, second = !first && err < e2;
    a2 = select(first, a1, select(second, a, a2)), e2 = select(first, e1, select(second, err, e2));
    a1 = select(first, a, a1), e1 = select(first, err, e1);
  }
  float best = -1, dl[kBatch] = {}, ml[kBatch] = {};
  int sa[kBatch] = {}, sb[kBatch] = {}, count = 0;
  for (int k = 0; k < (e2 < inf ? 2 : 1); ++k) {  // 1: a single integer scale
    const int a = k == 0 ? a1 : a2;
    const float t = min_of(a);
    const int b1 = rne(t), b2 = clamp(float(b1) > t ? b1 - 1 : b1 + 1, rb.first, rb.last);
    for (int i = 0; i < (b2 == b1 ? 1 : 2); ++i, ++count) {
      const int b = i == 0 ? b1 : b2;
      dl[count] = dn * float(a), ml[count] = mdn * float(b), sa[count] = a, sb[count] = b;
    }
  }
  evaluate_affine<Ops>(xn, imp, P, dl, ml, sa, sb, count, best, sc, mn, L);
  return best;
}

// Every sub-block chosen for the super-scales (d, dmin); returns the block's error.
template <class Ops>
constexpr float choose_affine_all(const float* xn, const float* imp, const affine_params& P, const affine_sub* ideal,
                                  float dn, float mdn, effort e, affine_superblock& r) {
  float err = 0;
  for (int j = 0; j < 256 / P.sub; ++j) {
    const int o = j * P.sub;
    err += e == effort::thorough
               ? choose_affine_sub_modelled<Ops>(xn + o, imp + o, P, dn, mdn, ideal[j], r.sc[j], r.mn[j], r.L + o)
               : choose_affine_sub<Ops>(xn + o, imp + o, P, dn, mdn, ideal[j], r.sc[j], r.mn[j], r.L + o);
  }
  return err;
}

// The least-squares super-scales of x ~ D * a - M * mn (a = sc * q), from the sums
// A = sum w a^2, B = sum w a mn, C = sum w mn^2, X = sum w x a, Y = sum w x mn;
// false (D, M untouched) when no scale is in use.
constexpr bool superscales_lsq(float A, float B, float C, float X, float Y, float& D, float& M) {
  const float det = A * C - B * B;
  if (det > 0) {
    D = (X * C - B * Y) / det, M = (B * X - A * Y) / det;
    return true;
  }
  if (!(A > 0)) return false;
  D = X / A, M = 0;  // no mins in use
  return true;
}

// The thorough search's super-scales, found on the sub-blocks' models (code_sums)
// alone, without a pass over the weights. For super-scales (D, M) each sub-block
// takes the integers of least model error (model_choice); least-squares
// super-scales for those integers, and scans of each super-scale alone over
// +-kModelScan steps of kModelStep, alternate while the model's error falls. D and
// M (normalized axis) are the start and receive the best found, rounded to f16 as
// they will be stored.
inline constexpr int kModelScan = 16;
inline constexpr float kModelStep = 0.005f;

template <class Ops, int kNsub>
constexpr void model_superscales(const affine_sub* ideal, int levels, float p, float& D, float& M) {
  const float top = float(levels);
  block_models m;
  for (int j = 0; j < kNsub; ++j) {
    const code_sums& c = ideal[j].sums;
    m.scale[j] = ideal[j].scale, m.w[j] = c.w, m.x[j] = c.x, m.q[j] = c.q, m.qq[j] = c.qq, m.xq[j] = c.xq;
  }
  // The model's error for (dn, mdn), and each sub-block's integers.
  auto evaluate = [&](float dn, float mdn, float* a, float* b) {
    float err[kNsub];
    Ops::template model_choice<kNsub>(m, top, dn, dn > 0 ? 1.f / dn : 0.f, mdn, err, a, b);
    float total = 0;
    for (int j = 0; j < kNsub; ++j) total += err[j];
    return total;
  };
  float sa[kNsub] = {}, sb[kNsub] = {};
  D = fit::stored_scale<f16>(D, p).dn, M = fit::stored_scale<f16>(M, p).dn;
  float best = evaluate(D, M, sa, sb);
  auto consider = [&](float d, float mn) {
    if (!(d >= 0) || !(mn >= 0) || !is_finite(d) || !is_finite(mn)) return false;
    d = fit::stored_scale<f16>(d, p).dn, mn = fit::stored_scale<f16>(mn, p).dn;
    float ta[kNsub] = {}, tb[kNsub] = {};
    const float err = evaluate(d, mn, ta, tb);
    if (!(err < best)) return false;
    best = err, D = d, M = mn;
    for (int j = 0; j < kNsub; ++j) sa[j] = ta[j], sb[j] = tb[j];
    return true;
  };
  // The least-squares super-scales of the current integers (as in the refit on the
  // weights, with the models' sums).
  auto refit = [&] {
    float A = 0, B = 0, C = 0, X = 0, Y = 0;
    for (int j = 0; j < kNsub; ++j) {
      const float a = sa[j], b = sb[j];
      A += a * a * m.qq[j], B += a * b * m.q[j], C += b * b * m.w[j], X += a * m.xq[j], Y += b * m.x[j];
    }
    float d = 0, mn = 0;
    return superscales_lsq(A, B, C, X, Y, d, mn) && consider(d, mn);
  };
  for (int r = 0; r < 8 && refit(); ++r) {
  }
  for (int round = 0; round < 2; ++round) {
    bool moved = false;
    const float d0 = D, m0 = M;
    for (int k = -kModelScan; k <= kModelScan; ++k)
      if (k != 0) moved = consider(d0 * (1 + kModelStep * float(k)), M) || moved;
    for (int k = -kModelScan; k <= kModelScan; ++k)
      if (k != 0) moved = consider(D, m0 * (1 + kModelStep * float(k))) || moved;
    for (int r = 0; r < 4 && refit(); ++r) moved = true;
    if (!moved) break;
  }
}

// The sub-blocks' models made those of the codes L (the sums of w and w x do not
// depend on the codes and stay).
template <class Ops>
constexpr void refresh_models(const float* xn, const float* imp, const affine_params& P, const uint8_t* L,
                              affine_sub* ideal) {
  float terms[3 * 256];  // per code: w q, w q^2, w x q; runs of one sub-block each
  for (int i = 0; i < 256; ++i) {
    const float q = float(L[i]), wq = imp[i] * q;
    terms[i] = wq, terms[256 + i] = wq * q, terms[512 + i] = wq * xn[i];
  }
  float sums[3 * 16];
  const int nsub = 256 / P.sub;
  if (P.sub == 16) Ops::template sums<16, 48>(terms, sums);
  else Ops::template sums<32, 24>(terms, sums);
  for (int j = 0; j < nsub; ++j) {
    code_sums& c = ideal[j].sums;
    c.q = sums[j], c.qq = sums[nsub + j], c.xq = sums[2 * nsub + j];
  }
}

template <class Ops = scalar_ops>
constexpr affine_superblock fit_affine_superblock(const float* x, const float* imp, const affine_params& P, effort e) {
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  const int nsub = 256 / P.sub;
  affine_sub ideal[16];
  float max_scale = 0, max_min = 0;
  // The fits' ranges and sums of squares, the sums all at once.
  float lo[16] = {}, hi[16] = {}, suu[16] = {};
  {
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
    if (e == effort::thorough && P.walk)
      ideal[j] = fit_affine_sub_walk(xs, ws, P.sub, P.nmax);
    else if (e == effort::thorough)
      ideal[j] = P.sub == 16 ? fit_affine_sub_grid<Ops, 16, thorough_grid>(xs, ws, P.nmax, lo[j], hi[j], suu[j])
                             : fit_affine_sub_grid<Ops, 32, thorough_grid>(xs, ws, P.nmax, lo[j], hi[j], suu[j]);
    else
      ideal[j] = P.sub == 16 ? fit_affine_sub_grid<Ops, 16, fast_grid>(xs, ws, P.nmax, lo[j], hi[j], suu[j])
                             : fit_affine_sub_grid<Ops, 32, fast_grid>(xs, ws, P.nmax, lo[j], hi[j], suu[j]);
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
  auto model_search = [&] {
    if (P.sub == 16) model_superscales<Ops, 16>(ideal, P.levels, p, D, M);
    else model_superscales<Ops, 8>(ideal, P.levels, p, D, M);
  };
  if (e == effort::thorough) model_search();
  const int rounds = e == effort::fast ? kFastRefits : kModelRefits;
  for (int round = 1; trial(D, M) && round < rounds; ++round) {
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
    if (!superscales_lsq(A, B, C, X, Y, D, M)) break;
    if (!(D >= 0) || !(M >= 0) || !is_finite(D) || !is_finite(M)) break;
  }
  if (e == effort::thorough) {
    // The models again, now of the codes chosen on the weights (the first ones
    // were of each sub-block's own fit), and the model search from the best
    // super-scales so far.
    refresh_models<Ops>(xn, imp, P, best.L, ideal);
    D = best.d * p, M = best.dmin * p;
    model_search();
    trial(D, M);
  }
  // For both efforts the all-zero block, which wins where f16 cannot resolve the
  // weights at all.
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

// A block's sub-blocks and their candidate scales in one pass: C candidate scales
// of each of kNsub consecutive sub-blocks of kSub weights, candidate-major (row
// r = kNsub c + j is sub-block j's candidate c, scale dl[r]). Each row's error err[r]
// and the sums of the least-squares scale of its codes, xq[r] and qq[r].
template <class Ops, int kSub, int kNsub, int C>
constexpr void symmetric_rows(const float* xn, const float* imp, const fit::level_set& L, const float* dl, float* err,
                              float* xq, float* qq) {
  for (int r = 0; r < kNsub * C; ++r) {
    const int o = r % kNsub * kSub;
    float q[kSub];
    fit::lsq_pass p;
    err[r] = Ops::template symmetric_codes<kSub>(xn + o, imp + o, L, dl[r], q, &p);
    xq[r] = p.xq, qq[r] = p.qq;
  }
}

// The rows of symmetric_rows, and of each sub-block j its first candidate of least
// error: the error least[j], the candidate win[j] and the least-squares sums of its
// codes, xq[j] and qq[j].
template <class Ops, int kSub, int kNsub, int C>
constexpr void symmetric_choose(const float* xn, const float* imp, const fit::level_set& L, const float* dl, float* least,
                                int* win, float* xq, float* qq) {
  float err[kNsub * C], rxq[kNsub * C], rqq[kNsub * C];
  symmetric_rows<Ops, kSub, kNsub, C>(xn, imp, L, dl, err, rxq, rqq);
  for (int j = 0; j < kNsub; ++j)
    for (int c = 0; c < C; ++c) {
      const int r = kNsub * c + j;
      if (c == 0 || err[r] < least[j]) least[j] = err[r], win[j] = c, xq[j] = rxq[r], qq[j] = rqq[r];
    }
}

// The codes (code indices) of each sub-block j for its scale dl[j], at codes + kSub j.
template <class Ops, int kSub, int kNsub>
constexpr void symmetric_block_codes(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                     uint8_t* codes) {
  for (int j = 0; j < kNsub; ++j) {
    float q[kSub];
    Ops::template symmetric_codes<kSub>(xn + kSub * j, imp + kSub * j, L, dl[j], q);
    for (int i = 0; i < kSub; ++i) codes[kSub * j + i] = uint8_t(q[i]);
  }
}

// The fast sub-block fit's choice for one batch of candidates: of the candidate
// scales d[r], c < count (rows as symmetric_rows), and the least-squares scale of
// each one's codes (its error in closed form, which rounding can take below zero
// where an exact fit is zero), each sub-block's scale of least error so far,
// ideal[j] with its error best[j]; `first`: the batch that starts the search.
template <int kNsub>
constexpr void fast_scale_choice(const float* d, const float* err, const float* xq, const float* qq, const float* sxx,
                                 int count, bool first, float* ideal, float* best) {
  for (int j = 0; j < kNsub; ++j)
    for (int c = 0; c < count; ++c) {
      const int r = kNsub * c + j;
      if ((first && c == 0) || err[r] < best[j]) ideal[j] = d[r], best[j] = err[r];
      if (qq[r] > 0) {
        const float lsq = xq[r] / qq[r], lsq_err = max(sxx[j] - xq[r] * lsq, 0.f);
        if (lsq_err < best[j]) ideal[j] = lsq, best[j] = lsq_err;
      }
    }
}

// The integer sub-block scales tried for the decoded super-scale dn, candidate-major
// (rows as symmetric_rows): those of choices() around each sub-block's ideal scale,
// the last repeated where choices() gives fewer than C (a repeat never wins); as
// floats a[r], and decoded, dl[r] = dn a[r].
template <int kNsub, int C>
constexpr void sub_scale_choices(const float* ideal, float dn, int lo, int hi, effort e, float* a, float* dl) {
  for (int j = 0; j < kNsub; ++j) {
    int_range ra = choices(dn != 0 ? ideal[j] / dn : 0.f, lo, hi, e);
    if (dn == 0) ra.last = ra.first;  // every integer scale is the same
    for (int c = 0; c < C; ++c) {
      const int r = kNsub * c + j;
      a[r] = float(ra.first + c < ra.last ? ra.first + c : ra.last), dl[r] = dn * a[r];
    }
  }
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
  template <int kNsub>
  static constexpr void model_choice(const block_models& m, float top, float dn, float inv_dn, float mdn, float* err,
                                     float* a, float* b) {
    kq::model_choice<kNsub>(m, top, dn, inv_dn, mdn, err, a, b);
  }
  template <int kSub, int kNsub, int C>
  static constexpr void symmetric_rows(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                       float* err, float* xq, float* qq) {
    kq::symmetric_rows<scalar_ops, kSub, kNsub, C>(xn, imp, L, dl, err, xq, qq);
  }
  template <int kSub, int kNsub, int C>
  static constexpr void symmetric_choose(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                         float* least, int* win, float* xq, float* qq) {
    kq::symmetric_choose<scalar_ops, kSub, kNsub, C>(xn, imp, L, dl, least, win, xq, qq);
  }
  template <int kSub, int kNsub>
  static constexpr void symmetric_block_codes(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                              uint8_t* codes) {
    kq::symmetric_block_codes<scalar_ops, kSub, kNsub>(xn, imp, L, dl, codes);
  }
  template <int kNsub, int C>
  static constexpr void sub_scale_choices(const float* ideal, float dn, int lo, int hi, effort e, float* a, float* dl) {
    kq::sub_scale_choices<kNsub, C>(ideal, dn, lo, hi, e, a, dl);
  }
  template <int kNsub>
  static constexpr void fast_scale_choice(const float* d, const float* err, const float* xq, const float* qq,
                                          const float* sxx, int count, bool first, float* ideal, float* best) {
    kq::fast_scale_choice<kNsub>(d, err, xq, qq, sxx, count, first, ideal, best);
  }
  // fit::signed_max of each of kNsub consecutive sub-blocks.
  template <int kSub, int kNsub>
  static constexpr void signed_maxima(const float* x, float* out) {
    for (int j = 0; j < kNsub; ++j) out[j] = fit::signed_max(x + kSub * j, size_t(kSub));
  }
  // fit::normalized: writes x * p to xn and returns p.
  template <size_t n>
  static constexpr float normalize(const float* x, float* xn) {
    const fit::normalized<n> b(x);
    for (size_t i = 0; i < n; ++i) xn[i] = b.x[i];
    return b.p;
  }
};

// The fast sub-block scales of a block's kNsub sub-blocks (0 for a zero one): of
// the scales that map the extreme weight m onto the most negative code value times
// 1 / (1 - fast_step (k - fast_first)), k < fast_scales (k = fast_first: GGUF's
// choice), and the least-squares scale of each one's codes, the one of least error.
// sxx: each sub-block's sum of w x^2.
template <class Ops, int kSub>
constexpr void fit_symmetric_subs_fast(const float* xn, const float* imp, const symmetric_params& P, const float* sxx,
                                       float* ideal) {
  constexpr int kNsub = 256 / kSub, R = kNsub * kBatch;
  const fit::level_set& L = P.codes;
  float m[kNsub];  // extreme weights
  Ops::template signed_maxima<kSub, kNsub>(xn, m);
  float best[kNsub], d[R], err[R], xq[R], qq[R];
  for (int k0 = 0; k0 < P.fast_scales; k0 += kBatch) {
    const int count = P.fast_scales - k0 < kBatch ? P.fast_scales - k0 : kBatch;
    for (int c = 0; c < kBatch; ++c) {  // past count: padding, not chosen
      const float f = L.value(0) * (1.f - P.fast_step * float(k0 + (c < count ? c : 0) - P.fast_first));
      // A zero sub-block gets a harmless scale (its result is not used).
      for (int j = 0; j < kNsub; ++j) d[kNsub * c + j] = (abs(m[j]) < group_max_eps ? 1.f : m[j]) / f;
    }
    Ops::template symmetric_rows<kSub, kNsub, kBatch>(xn, imp, L, d, err, xq, qq);
    Ops::template fast_scale_choice<kNsub>(d, err, xq, qq, sxx, count, k0 == 0, ideal, best);
  }
  for (int j = 0; j < kNsub; ++j)
    if (abs(m[j]) < group_max_eps) ideal[j] = 0;
}

// The exact sub-block scales (thorough): each sub-block's optimum by the walk of
// every scale at which a code changes, for either sign of the scale.
template <int kSub>
constexpr void fit_symmetric_subs_walk(const float* xn, const float* imp, const symmetric_params& P, float* ideal) {
  const float end = max(abs(P.codes.value(0)), abs(P.codes.value(P.codes.count - 1)));
  const float span = min(0.4f * end, 8.f) + 1;
  for (int j = 0; j < 256 / kSub; ++j) {
    const float* xs = xn + j * kSub;
    const float m = abs(fit::signed_max(xs, size_t(kSub)));
    if (m < group_max_eps) continue;
    fit::walk_result best;
    for (const float sign : {1.f, -1.f}) {
      const fit::walk_result r = fit::walk_signed<32>(xs, imp + j * kSub, kSub, P.codes, sign, m, end, span);
      // Of two equal fits (a constant sub-block fits exactly either way) the
      // smaller scale leaves the super-scale finer.
      if (r.found && (!best.found || r.gain > best.gain || (r.gain == best.gain && abs(r.d) < abs(best.d)))) best = r;
    }
    ideal[j] = best.d;
  }
}

// The two levels of a symmetric k-quant block (q3_K, q6_K, iq4_xs): the sub-block
// scales (fast or exact), then the super-scale and the integer sub-block scales
// jointly: for a super-scale each sub-block takes the best of kChoices integer
// scales near its ideal one (a trial), and the least-squares super-scale for those
// integers is the next one tried, while the error falls.
template <class Ops, int kSub, int kChoices>
constexpr symmetric_superblock fit_symmetric_blocks(const float* x, const float* imp, const symmetric_params& P, effort e) {
  constexpr int kNsub = 256 / kSub, R = kNsub * kChoices;
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  float sxx[kNsub];  // per sub-block sum w x^2: the error of zero codes
  {
    float xx[256];
    for (int i = 0; i < 256; ++i) xx[i] = imp[i] * xn[i] * xn[i];
    Ops::template sums<kSub, kNsub>(xx, sxx);
  }
  float ideal[kNsub] = {}, amax = 0, max_scale = 0;
  if (e == effort::fast) fit_symmetric_subs_fast<Ops, kSub>(xn, imp, P, sxx, ideal);
  else fit_symmetric_subs_walk<kSub>(xn, imp, P, ideal);
  for (int j = 0; j < kNsub; ++j)
    if (abs(ideal[j]) > amax) amax = abs(ideal[j]), max_scale = ideal[j];
  const int zero = P.codes.nearest(0.f);
  if (amax < group_max_eps) {  // nothing to encode: zero scales
    symmetric_superblock none;
    for (int i = 0; i < 256; ++i) none.L[i] = uint8_t(zero);
    return none;
  }
  // Trials keep their integer scales; the codes are those of the best one's, found
  // once at the end.
  symmetric_superblock best;
  float best_dl[kNsub] = {}, best_err = -1, next = 0;  // next: the best trial's least-squares super-scale
  auto trial = [&](float D) {
    const fit::stored_scale<f16> d(D, p);
    float a[R], dl[R], least[kNsub], xq[kNsub], qq[kNsub];
    int win[kNsub];
    Ops::template sub_scale_choices<kNsub, kChoices>(ideal, d.dn, P.sc_lo, P.sc_hi, e, a, dl);
    Ops::template symmetric_choose<kSub, kNsub, kChoices>(xn, imp, P.codes, dl, least, win, xq, qq);
    float err = 0;
    for (int j = 0; j < kNsub; ++j) err += least[j];
    if (best_err >= 0 && !(err < best_err)) return false;
    float sxa[kNsub], saa[kNsub];
    for (int j = 0; j < kNsub; ++j) {
      const int r = kNsub * win[j] + j;
      const float s = a[r];
      best.sc[j] = int8_t(s), best_dl[j] = dl[r];
      sxa[j] = s * xq[j], saa[j] = s * s * qq[j];
    }
    best.d = d.stored, best.clamped = d.clamped, best_err = err;
    const float den = pairwise_sum<size_t(kNsub)>(saa);
    next = den > 0 ? pairwise_sum<size_t(kNsub)>(sxa) / den : 0.f;
    return true;
  };
  float D = max_scale / float(P.sc_lo);
  for (int round = 1; trial(D) && next != 0 && round < refit_rounds(e); ++round) D = next;
  if (e == effort::thorough) {
    for (const float f : {0.98f, 1.02f}) trial(best.d * p * f);
    const float d0 = best.d;
    for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p);
  }
  // The all-zero block (zero super-scale), which wins where f16 cannot resolve the
  // weights at all; its error is the sum of w x^2.
  float zero_err = 0;
  for (int j = 0; j < kNsub; ++j) zero_err += sxx[j];
  if (zero_err < best_err) {
    best = symmetric_superblock{};
    for (int j = 0; j < kNsub; ++j) best.sc[j] = int8_t(choices(0.f, P.sc_lo, P.sc_hi, e).first);
    for (int i = 0; i < 256; ++i) best.L[i] = uint8_t(zero);
    return best;
  }
  Ops::template symmetric_block_codes<kSub, kNsub>(xn, imp, P.codes, best_dl, best.L);
  return best;
}

template <class Ops = scalar_ops>
constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp, const symmetric_params& P, effort e) {
  // choices(): two integer scales (fast), up to five (thorough)
  if (P.sub == 16)
    return e == effort::fast ? fit_symmetric_blocks<Ops, 16, 2>(x, imp, P, e) : fit_symmetric_blocks<Ops, 16, 5>(x, imp, P, e);
  return e == effort::fast ? fit_symmetric_blocks<Ops, 32, 2>(x, imp, P, e) : fit_symmetric_blocks<Ops, 32, 5>(x, imp, P, e);
}

}  // namespace qnt::kq
