// What the 256-weight super-block formats (q2_K ... q6_K) share: the packing of
// q4_K / q5_K's 6-bit scales and mins, the sub-block fits, and the two-level fit of
// the affine k-quants.
//
// The fits have GGUF's two levels, each searched for the least importance-weighted
// squared error: (1) every sub-block's own float scale (and min): the optimum by
// the exhaustive walk of core/sweep.hpp, or the best least-squares fit over a grid
// of scales (every fast search, and the thorough ones of q3_K, q4_K and q5_K); (2)
// the integer sub-block scales and the f16 super-scales jointly: given the
// super-scales, each sub-block takes the best integer scale (and min) near its ideal
// one, with its codes re-rounded for each candidate; then the super-scales are
// refitted by least squares on those integers, and the two steps alternate while
// the error falls, for as many rounds as the search allows (q3_K's fast search: one,
// GGUF's super-scale with each sub-block's nearest integer scale). The affine thorough search
// first runs that alternation, and scans of the super-scales, on a quadratic model
// of each sub-block's error, which needs no pass over the weights
// (model_superscales). Everything runs on the block scaled by a power of two
// (fit::normalizer), exactly, so the result does not depend on the weights'
// magnitude and cannot overflow.
//
// The work is laid out for lanes: each pass over the weights takes a whole block,
// every candidate of every sub-block ("rows", candidate-major: row r = kNsub c + j
// is sub-block j's candidate c), and the choices between candidates are written
// element-wise over sub-blocks, so that the SIMD policy (kernels/quantize-inl.h)
// runs them with one sub-block per lane.
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
// The affine thorough search's rounds on the weights, after its model search.
inline constexpr int kModelRefits = 1;

// The integers a sub-block scale or min may take, given its ideal value t in units
// of the super-scale, within [lo, hi]: `count` 1, the nearest; 2, the two that
// bracket t; an odd count, the nearest and count / 2 either side of it.
struct int_range {
  int first, last;
};
constexpr int_range choices(float t, int lo, int hi, int count) {
  t = t > float(lo) ? t : float(lo);  // NaN: lo
  t = t < float(hi) ? t : float(hi);
  if (count != 2) return {clamp(rne(t) - count / 2, lo, hi), clamp(rne(t) + count / 2, lo, hi)};
  int below = int(t);
  if (float(below) > t) --below;
  return {below, clamp(below + 1, lo, hi)};
}
// The affine k-quants': two (fast) or five (thorough).
constexpr int_range choices(float t, int lo, int hi, effort e) { return choices(t, lo, hi, e == effort::fast ? 2 : 5); }

// Candidates per sub-block in one pass of the symmetric sub-block grid and of the
// affine integer choice (the passes take a block's sub-blocks, candidate-major).
inline constexpr int kBatch = 4;

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

// The pass sums (fit::affine_pass) of a block's candidate rows: C candidates of
// each of kNsub consecutive sub-blocks, candidate-major (row r = kNsub c + j),
// each rounding sub-block j from origin[j] at scale dn[r]. sums holds six runs of
// kNsub C: err, w, u, q, qq, uq (fit::affine_pass_sums' fields; lanes for the choice).
template <class Ops, int kSub, int kNsub, int C>
constexpr void affine_pass_rows(const float* xn, const float* imp, const float* dn, const float* origin, float nmax,
                                float* sums) {
  constexpr int R = kNsub * C;
  for (int r = 0; r < R; ++r) {
    const int j = r % kNsub;
    float q[kSub];
    const fit::affine_pass_sums p = Ops::template affine_pass<kSub>(xn + kSub * j, imp + kSub * j, dn[r], origin[j], nmax, q);
    sums[r] = p.err, sums[R + r] = p.w, sums[2 * R + r] = p.u, sums[3 * R + r] = p.q, sums[4 * R + r] = p.qq;
    sums[5 * R + r] = p.uq;
  }
}

// The grid fits of a block's sub-blocks as they go, one array per quantity (lanes
// of sub-blocks): the best fit so far (scale, negated min, error: -1 none yet), its
// code value c (nmax where the codes vary), and the pass sums and origin it came from.
struct grid_state {
  float scale[16] = {}, neg_min[16] = {}, err[16] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  float c[16] = {}, w[16] = {}, u[16] = {}, q[16] = {}, qq[16] = {}, uq[16] = {}, origin[16] = {};
};

// Offers the C candidates of each sub-block (rows and sums as affine_pass_rows) to
// its fit, in order: the grid's own scale d[r] and origin (`own`: rounded from the
// minimum, a min the format can store), then the least-squares (scale, min) of the
// candidate's codes, by the error that follows from the sums in closed form (codes
// re-rounded for the fit can only do better). Sub-blocks of one value (hi <= lo)
// are left alone. suu: sum w (x - lo)^2; sums relative to an origin keep the
// least-squares fits and their closed-form errors free of cancellation.
template <int kNsub, int C>
constexpr void grid_choice(const float* sums, const float* d, const float* origin, const float* lo, const float* hi,
                           const float* suu, float top, bool own, grid_state& s) {
  constexpr int R = kNsub * C;
  for (int j = 0; j < kNsub; ++j) {
    if (!(hi[j] > lo[j])) continue;
    for (int c = 0; c < C; ++c) {
      const int r = kNsub * c + j;
      const float w = sums[R + r], u = sums[2 * R + r], q = sums[3 * R + r], qq = sums[4 * R + r], uq = sums[5 * R + r];
      auto take = [&](float scale, float neg_min, float err, float code) {
        s.scale[j] = scale, s.neg_min[j] = neg_min, s.err[j] = err, s.c[j] = code;
        s.w[j] = w, s.u[j] = u, s.q[j] = q, s.qq[j] = qq, s.uq[j] = uq, s.origin[j] = origin[j];
      };
      if (own && (s.err[j] < 0 || sums[r] < s.err[j])) take(d[r], -origin[j], sums[r], top);
      const float h = origin[j] - lo[j];
      // sum w (x - origin)^2 from the one about lo; the sums are relative to origin.
      const float s_uu = h == 0 ? suu[j] : suu[j] - 2 * h * u - h * h * w;
      // det = (sum w)^2 times the variance of the codes: with one code value in use
      // (up to rounding of the sums) only the scale is fitted.
      const float det = w * qq - q * q;
      const bool varied = det > kOneCode * w * w;
      float sc = 0, t = 0;  // u ~ sc q + t, the min m = origin + t
      if (varied) sc = (w * uq - u * q) / det, t = (qq * u - q * uq) / det;
      if (!varied || origin[j] + t > 0) {  // the format's min is never above 0
        t = -origin[j];
        const float v = uq + origin[j] * q;  // sum w x q
        sc = qq > 0 ? v / qq : 0.f;
      }
      if (!(sc > 0) || !is_finite(sc) || !is_finite(t)) continue;
      // Rounding can take the closed form below zero; an exact fit is zero.
      const float err = max(s_uu - 2 * sc * uq - 2 * t * u + sc * sc * qq + 2 * sc * t * q + t * t * w, 0.f);
      // One code value k is a constant, the same as code nmax at scale sc k / nmax:
      // the finest scale for it, which leaves the super-scale finer for the others.
      float code = top, s_top = sc;
      if (!varied) code = round_clamped(q / w, 1.f, top), s_top = code == top ? sc : sc * code / top;
      if (err < s.err[j]) take(s_top, -(origin[j] + t), err, code);
    }
  }
}

// The sub-block fits over a grid of scales (fast_grid, thorough_grid), all of a
// block's sub-blocks at once: for each candidate the codes rounded from its origin,
// and the least-squares (scale, min) of those codes (grid_choice). The caller gives
// the sub-blocks' ranges [lo, hi] (range_of) and suu, their sums of w (x - lo)^2.
template <class Ops, int kSub, class G>
constexpr void fit_affine_subs_grid(const float* xn, const float* imp, int nmax, const float* lo, const float* hi,
                                    const float* suu, affine_sub* out) {
  constexpr int kNsub = 256 / kSub, kScales = G::scales, R = kNsub * kScales;
  const float top = float(nmax);
  grid_state s;
  float d[R], origin[kNsub], sums[6 * R];
  for (int o = 0; o < G::origins; ++o) {
    for (int j = 0; j < kNsub; ++j) {
      const float range = hi[j] - lo[j];
      origin[j] = lo[j] + 0.5f * float(o) * range / top;
      for (int k = 0; k < kScales; ++k) d[kNsub * k + j] = range / (top + G::start + G::step * float(k));
    }
    Ops::template affine_pass_rows<kSub, kNsub, kScales>(xn, imp, d, origin, top, sums);
    Ops::template grid_choice<kNsub, kScales>(sums, d, origin, lo, hi, suu, top, o == 0, s);
  }
  // Codes re-rounded for the best fit, and their least-squares fit: the min can
  // move far from the range's (a clipped outlier), where no origin of the grid is.
  for (int r = 0; r < G::refinements; ++r) {
    for (int j = 0; j < kNsub; ++j) origin[j] = -s.neg_min[j], d[j] = s.scale[j] * (top / s.c[j]);
    Ops::template affine_pass_rows<kSub, kNsub, 1>(xn, imp, d, origin, top, sums);
    Ops::template grid_choice<kNsub, 1>(sums, d, origin, lo, hi, suu, top, false, s);
  }
  for (int j = 0; j < kNsub; ++j) {
    affine_sub& f = out[j];
    if (!(hi[j] > lo[j])) {  // one value: no scale; the sums of the codes (all 0) for the model
      f = affine_sub{0.f, -lo[j], {}};
      for (int i = kSub * j; i < kSub * (j + 1); ++i) f.sums.w += imp[i], f.sums.x += imp[i] * xn[i];
      continue;
    }
    f.scale = s.scale[j], f.neg_min = s.neg_min[j];
    if constexpr (G::model) {  // the winner's code sums (of code nmax for one code value)
      const float sx = s.u[j] + s.origin[j] * s.w[j];
      f.sums = s.c[j] == top ? code_sums{s.w[j], sx, s.q[j], s.qq[j], s.uq[j] + s.origin[j] * s.q[j]}
                             : code_sums{s.w[j], sx, top * s.w[j], top * top * s.w[j], top * sx};
    }
  }
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

// The thorough search's candidates for one sub-block: of the five integer scales
// within two steps of the ideal one, the two of least model error (ideal.sums),
// each with its two best mins (the model is a quadratic in the min: the two
// integers nearest its optimum); these, best first, in sa and sb; returns how many
// (1 to 4).
constexpr int modelled_candidates(const affine_params& P, float dn, float mdn, const affine_sub& ideal, int* sa, int* sb) {
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
  int count = 0;
  for (int k = 0; k < (e2 < inf ? 2 : 1); ++k) {  // 1: a single integer scale
    const int a = k == 0 ? a1 : a2;
    const float t = min_of(a);
    const int b1 = rne(t), b2 = clamp(float(b1) > t ? b1 - 1 : b1 + 1, rb.first, rb.last);
    for (int i = 0; i < (b2 == b1 ? 1 : 2); ++i, ++count) sa[count] = a, sb[count] = i == 0 ? b1 : b2;
  }
  return count;
}

// The rows of a block's candidate integer scales and mins (decoded: dl[r], ml[r];
// rows as affine_pass_rows), each on codes re-rounded for it (affine_codes); of
// each sub-block j its first candidate of least error: the error least[j] and the
// candidate win[j].
template <class Ops, int kSub, int kNsub, int C>
constexpr void affine_choose(const float* xn, const float* imp, float nmax, const float* dl, const float* ml, float* least,
                             int* win) {
  for (int j = 0; j < kNsub; ++j)
    for (int c = 0; c < C; ++c) {
      float q[kSub];
      const int r = kNsub * c + j;
      const float e = Ops::template affine_codes<kSub>(xn + kSub * j, imp + kSub * j, nmax, dl[r], ml[r], q);
      if (c == 0 || e < least[j]) least[j] = e, win[j] = c;
    }
}

// The codes of each sub-block j for its decoded scale dl[j] and min ml[j]
// (affine_codes), and the sums of w q, w q^2 and w x q of each sub-block's codes
// (runs of kNsub in `sums`).
template <class Ops, int kSub, int kNsub>
constexpr void affine_block_codes(const float* xn, const float* imp, float nmax, const float* dl, const float* ml,
                                  uint8_t* codes, float* sums) {
  float terms[3 * 256];  // per code: w q, w q^2, w x q; runs of one sub-block each
  for (int j = 0; j < kNsub; ++j) {
    float q[kSub];
    Ops::template affine_codes<kSub>(xn + kSub * j, imp + kSub * j, nmax, dl[j], ml[j], q);
    for (int i = 0; i < kSub; ++i) {
      const int e = kSub * j + i;
      const float wq = imp[e] * q[i];
      codes[e] = uint8_t(q[i]), terms[e] = wq, terms[256 + e] = wq * q[i], terms[512 + e] = wq * xn[e];
    }
  }
  Ops::template sums<kSub, 3 * kNsub>(terms, sums);
}

// Of each sub-block of kSub weights: its range [lo, hi] (range_of) and the sums of
// w (x - lo)^2, w, w x and w x^2, runs of kNsub in `stats` in that order.
template <class Ops, int kSub, int kNsub>
constexpr void affine_stats(const float* xn, const float* imp, float* stats) {
  float terms[4 * 256];
  for (int j = 0; j < kNsub; ++j) {
    float& lo = stats[j];
    Ops::template range<kSub>(xn + kSub * j, lo, stats[kNsub + j]);
    for (int e = kSub * j; e < kSub * (j + 1); ++e) {
      const float u = xn[e] - lo, wx = imp[e] * xn[e];
      terms[e] = imp[e] * u * u, terms[256 + e] = imp[e], terms[512 + e] = wx, terms[768 + e] = wx * xn[e];
    }
  }
  Ops::template sums<kSub, 4 * kNsub>(terms, stats + 2 * kNsub);
}

// Every sub-block's integer scale and min for the super-scales (dn, mdn) (normalized
// axis), from kBatch candidates each: for the fast search the two integers that
// bracket each ideal value (ideal_scale, ideal_min), scale-major; for the thorough
// one modelled_candidates. Where there are fewer the last repeats (a repeat never
// wins). The integers go to sc and mn, their decoded values to dl and ml;
// returns the block's error.
template <class Ops, int kSub>
constexpr float choose_affine_block(const float* xn, const float* imp, const affine_params& P, const affine_sub* ideal,
                                    const float* ideal_scale, const float* ideal_min, float dn, float mdn, effort e,
                                    uint8_t* sc, uint8_t* mn, float* dl, float* ml) {
  constexpr int kNsub = 256 / kSub, C = kBatch, R = kNsub * C;
  float a[R], b[R], cdl[R], cml[R];
  if (e == effort::fast) {
    float a2[2 * kNsub], b2[2 * kNsub], dl2[2 * kNsub], ml2[2 * kNsub];
    Ops::template sub_scale_choices<kNsub, 2>(ideal_scale, dn, 0, P.levels, a2, dl2);
    Ops::template sub_scale_choices<kNsub, 2>(ideal_min, mdn, 0, P.levels, b2, ml2);
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < kNsub; ++j) {
        const int i = kNsub * c + j, ia = kNsub * (c / 2) + j, ib = kNsub * (c % 2) + j;
        a[i] = a2[ia], cdl[i] = dl2[ia], b[i] = b2[ib], cml[i] = ml2[ib];
      }
  } else {
    for (int j = 0; j < kNsub; ++j) {
      int sa[kBatch] = {}, sb[kBatch] = {};
      const int count = modelled_candidates(P, dn, mdn, ideal[j], sa, sb);
      for (int c = 0; c < C; ++c) {
        const int i = kNsub * c + j, k = c < count ? c : count - 1;
        a[i] = float(sa[k]), b[i] = float(sb[k]), cdl[i] = dn * float(sa[k]), cml[i] = mdn * float(sb[k]);
      }
    }
  }
  float least[kNsub];
  int win[kNsub];
  Ops::template affine_choose<kSub, kNsub, C>(xn, imp, float(P.nmax), cdl, cml, least, win);
  float err = 0;
  for (int j = 0; j < kNsub; ++j) {
    const int i = kNsub * win[j] + j;
    sc[j] = uint8_t(a[i]), mn[j] = uint8_t(b[i]), dl[j] = cdl[i], ml[j] = cml[i], err += least[j];
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

template <class Ops = scalar_ops>
constexpr affine_superblock fit_affine_superblock(const float* x, const float* imp, const affine_params& P, effort e) {
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  const int nsub = 256 / P.sub;
  affine_sub ideal[16];
  float max_scale = 0, max_min = 0;
  // Per sub-block: range, sums of w (x - lo)^2, w, w x and w x^2.
  float stats[6 * 16];
  if (P.sub == 16) Ops::template affine_stats<16, 16>(xn, imp, stats);
  else Ops::template affine_stats<32, 8>(xn, imp, stats);
  const float *lo = stats, *hi = stats + nsub, *suu = stats + 2 * nsub;
  const float *sw = stats + 3 * nsub, *swx = stats + 4 * nsub, *swxx = stats + 5 * nsub;
  if (e == effort::thorough && P.walk) {
    for (int j = 0; j < nsub; ++j) ideal[j] = fit_affine_sub_walk(xn + j * P.sub, imp + j * P.sub, P.sub, P.nmax);
  } else if (e == effort::thorough) {
    if (P.sub == 16) fit_affine_subs_grid<Ops, 16, thorough_grid>(xn, imp, P.nmax, lo, hi, suu, ideal);
    else fit_affine_subs_grid<Ops, 32, thorough_grid>(xn, imp, P.nmax, lo, hi, suu, ideal);
  } else {
    if (P.sub == 16) fit_affine_subs_grid<Ops, 16, fast_grid>(xn, imp, P.nmax, lo, hi, suu, ideal);
    else fit_affine_subs_grid<Ops, 32, fast_grid>(xn, imp, P.nmax, lo, hi, suu, ideal);
  }
  for (int j = 0; j < nsub; ++j) max_scale = max(max_scale, ideal[j].scale), max_min = max(max_min, ideal[j].neg_min);
  float ideal_scale[16] = {}, ideal_min[16] = {};
  for (int j = 0; j < nsub; ++j) ideal_scale[j] = ideal[j].scale, ideal_min[j] = ideal[j].neg_min;
  affine_superblock best;
  float best_err = -1, best_sums[3 * 16] = {};  // sums of w q, w q^2, w x q of the best block's codes
  // Evaluates super-scales given on the normalized axis (rounded to f16 here); the
  // codes are found for a better block only, in place (the block they replace is
  // not needed again).
  auto trial = [&](float D, float M) {
    const fit::stored_scale<f16> d(D, p), dmin(M, p);
    uint8_t sc[16], mn[16];
    float dl[16], ml[16];
    const float err = P.sub == 16
                          ? choose_affine_block<Ops, 16>(xn, imp, P, ideal, ideal_scale, ideal_min, d.dn, dmin.dn, e, sc, mn, dl, ml)
                          : choose_affine_block<Ops, 32>(xn, imp, P, ideal, ideal_scale, ideal_min, d.dn, dmin.dn, e, sc, mn, dl, ml);
    const bool better = best_err < 0 || err < best_err;
    if (!better) return false;
    if (P.sub == 16) Ops::template affine_block_codes<16, 16>(xn, imp, float(P.nmax), dl, ml, best.L, best_sums);
    else Ops::template affine_block_codes<32, 8>(xn, imp, float(P.nmax), dl, ml, best.L, best_sums);
    for (int j = 0; j < nsub; ++j) best.sc[j] = sc[j], best.mn[j] = mn[j];
    best.d = d.stored, best.dmin = dmin.stored, best.clamped = d.clamped || dmin.clamped, best_err = err;
    return true;
  };
  float D = max_scale / float(P.levels), M = max_min / float(P.levels);
  auto model_search = [&] {
    if (P.sub == 16) model_superscales<Ops, 16>(ideal, P.levels, p, D, M);
    else model_superscales<Ops, 8>(ideal, P.levels, p, D, M);
  };
  if (e == effort::thorough) model_search();
  const int rounds = e == effort::fast ? kFastRefits : kModelRefits;
  for (int round = 1; trial(D, M) && round < rounds; ++round) {
    // Least-squares super-scales for the chosen integers: x ~ D * (sc * q) - M * mn,
    // from the sums of each sub-block (its codes', and its weights').
    float terms[5 * 16];  // runs of nsub: the terms of A, B, C, X, Y
    const float *q = best_sums, *qq = best_sums + nsub, *xq = best_sums + 2 * nsub;
    for (int j = 0; j < nsub; ++j) {
      const float a = float(best.sc[j]), b = float(best.mn[j]);
      terms[j] = a * a * qq[j], terms[nsub + j] = a * b * q[j], terms[2 * nsub + j] = b * b * sw[j];
      terms[3 * nsub + j] = a * xq[j], terms[4 * nsub + j] = b * swx[j];
    }
    float sums[5];
    if (nsub == 16) Ops::template sums<16, 5>(terms, sums);
    else Ops::template sums<8, 5>(terms, sums);
    if (!superscales_lsq(sums[0], sums[1], sums[2], sums[3], sums[4], D, M)) break;
    if (!(D >= 0) || !(M >= 0) || !is_finite(D) || !is_finite(M)) break;
  }
  if (e == effort::thorough) {
    // The models again, now of the codes chosen on the weights (the first ones
    // were of each sub-block's own fit), and the model search from the best
    // super-scales so far.
    for (int j = 0; j < nsub; ++j) {
      code_sums& c = ideal[j].sums;
      c.q = best_sums[j], c.qq = best_sums[nsub + j], c.xq = best_sums[2 * nsub + j];
    }
    D = best.d * p, M = best.dmin * p;
    model_search();
    trial(D, M);
  }
  // For both efforts the all-zero block (zero super-scales, integers and codes),
  // which wins where f16 cannot resolve the weights at all; its error is the sum
  // of w x^2.
  float zero_err = 0;
  for (int j = 0; j < nsub; ++j) zero_err += swxx[j];
  if (zero_err < best_err) best = affine_superblock{};
  return best;
}

// ---------------------------------------------------------------------------
// Symmetric super-blocks (q3_K, q6_K, iq4_xs): y = (d * sc) * v[code] with signed
// integer sub-block scales sc against one f16 super-scale and sorted code values v
// (integers for q3_K / q6_K, iq4_nl's table for iq4_xs).

// How one effort searches a symmetric k-quant block. Level (1), the sub-block
// scales: the walk (`scales` 0), or a grid: the extreme weight onto the most
// negative code value times 1 - step (k - first), k < scales, each with the
// least-squares scale of its codes (k = first is GGUF's choice; with step > 0, from
// `first` steps beyond the end of the code range, the extreme weight clipped and
// the others finer, to ones within it; with step < 0, from GGUF's choice outwards).
// Level (2): `choices` integer scales per sub-block (choices()) for each
// super-scale tried, `rounds` trials (GGUF's super-scale, then the least-squares
// super-scale of the best trial's integers), then with `extras` the super-scale 2%
// either side and its f16 neighbours.
struct symmetric_search {
  int scales = 0;
  float step = 0;
  int first = 0;
  int choices = 2;
  int rounds = kFastRefits;
  bool extras = false;
};

// A symmetric k-quant format's search, as the format's `fit` member.
struct symmetric_params {
  int sub;               // weights per sub-block (16 or 32)
  fit::level_set codes;  // code values, ascending
  int sc_lo, sc_hi;      // integer sub-block scale range; sc_lo < 0 has the larger magnitude
  symmetric_search fast, thorough;
};

// Code values of q3_K (-4..3) and q6_K (-32..31); code index = code + 4 / + 32.
inline constexpr fit::level_set q3_levels = fit::level_set::integers(-4, 3), q6_levels = fit::level_set::integers(-32, 31);

struct symmetric_superblock {
  float d = 0;           // stored super-scale (real units)
  int8_t sc[16] = {};    // integer sub-block scales
  uint8_t L[256];        // code indices into the code values (every search writes all)
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
  const float idl = dl != 0 ? 1.f / dl : 0.f, last = L.first + float(L.count - 1);
  float e[kSub];
  for (int i = 0; i < kSub; ++i) {
    const float a = round_clamped(xn[i] * idl, L.first, last);
    q[i] = a - L.first;
    const float r = xn[i] - dl * a;
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

// The outcome of one super-scale's trial (symmetric_choose): each sub-block's
// integer scale a[j] of least error and its decoded scale dl[j]; the block's error,
// and the sums of the least-squares super-scale for those integers, sxa = sum a x q
// and saa = sum a^2 q q (sums over sub-blocks pairwise, as lanes fold them).
template <int kNsub>
struct symmetric_choice {
  float a[kNsub], dl[kNsub];
  float err, sxa, saa;
};

// The rows of symmetric_rows for the integer scales a[r] (decoded: dl[r]), and of
// each sub-block its first candidate of least error (element-wise over sub-blocks).
template <class Ops, int kSub, int kNsub, int C>
constexpr void symmetric_choose(const float* xn, const float* imp, const fit::level_set& L, const float* a,
                                const float* dl, symmetric_choice<kNsub>& out) {
  float err[kNsub * C], rxq[kNsub * C], rqq[kNsub * C];
  symmetric_rows<Ops, kSub, kNsub, C>(xn, imp, L, dl, err, rxq, rqq);
  float least[kNsub], sxa[kNsub], saa[kNsub];
  for (int j = 0; j < kNsub; ++j) {
    int r = j;
    for (int c = 1; c < C; ++c)
      if (err[kNsub * c + j] < err[r]) r = kNsub * c + j;
    least[j] = err[r], out.a[j] = a[r], out.dl[j] = dl[r];
    sxa[j] = a[r] * rxq[r], saa[j] = a[r] * a[r] * rqq[r];
  }
  out.err = pairwise_sum<size_t(kNsub)>(least);
  out.sxa = pairwise_sum<size_t(kNsub)>(sxa), out.saa = pairwise_sum<size_t(kNsub)>(saa);
}

// The codes (code indices) of each sub-block j for its scale dl[j], at codes + kSub j;
// with err, the block's error there (sums over sub-blocks pairwise).
template <class Ops, int kSub, int kNsub>
constexpr void symmetric_block_codes(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                     uint8_t* codes, float* err = nullptr) {
  float sub[kNsub];
  for (int j = 0; j < kNsub; ++j) {
    float q[kSub];
    sub[j] = Ops::template symmetric_codes<kSub>(xn + kSub * j, imp + kSub * j, L, dl[j], q);
    for (int i = 0; i < kSub; ++i) codes[kSub * j + i] = uint8_t(q[i]);
  }
  if (err) *err = pairwise_sum<size_t(kNsub)>(sub);
}

// Of each sub-block of kSub weights: its extreme weight m[j] (fit::signed_max) and
// the sum of w x^2, sxx[j].
template <int kSub, int kNsub>
constexpr void symmetric_stats(const float* xn, const float* imp, float* m, float* sxx) {
  for (int j = 0; j < kNsub; ++j) {
    float xx[kSub];
    for (int i = 0; i < kSub; ++i) xx[i] = imp[kSub * j + i] * xn[kSub * j + i] * xn[kSub * j + i];
    m[j] = fit::signed_max(xn + kSub * j, size_t(kSub)), sxx[j] = pairwise_sum<size_t(kSub)>(xx);
  }
}

// The sub-block grid's candidate scales, candidate-major (rows as
// symmetric_rows): d[kNsub c + j] = m[j] / f[c], the extreme weight m[j] onto the
// code value f[c]. A zero sub-block gets 1 / f[c], harmless (its result is not used).
template <int kNsub, int C>
constexpr void grid_candidates(const float* m, const float* f, float* d) {
  for (int c = 0; c < C; ++c)
    for (int j = 0; j < kNsub; ++j) d[kNsub * c + j] = (abs(m[j]) < group_max_eps ? 1.f : m[j]) / f[c];
}

// The grid's choice for one batch of candidates (rows as symmetric_rows, c <
// count): of the least-squares scales of the candidates' codes, each sub-block's of
// least error so far, ideal[j] with its error best[j] (in closed form, which
// rounding can take below zero where an exact fit is zero). A least-squares scale
// is at least as good as its candidate's, so the candidates themselves are not
// judged; a sub-block where none beats zero codes (error sum w x^2) keeps its first
// candidate. `first`: the batch that starts the search.
template <int kNsub>
constexpr void grid_scale_choice(const float* d, const float* xq, const float* qq, const float* sxx, int count,
                                 bool first, float* ideal, float* best) {
  for (int j = 0; j < kNsub; ++j)
    for (int c = 0; c < count; ++c) {
      const int r = kNsub * c + j;
      if (first && c == 0) ideal[j] = d[r], best[j] = sxx[j];
      if (qq[r] > 0) {
        const float lsq = xq[r] / qq[r], lsq_err = max(sxx[j] - xq[r] * lsq, 0.f);
        if (lsq_err < best[j]) ideal[j] = lsq, best[j] = lsq_err;
      }
    }
}

// The integer sub-block scales tried for the decoded super-scale dn, candidate-major
// (rows as symmetric_rows): the C of choices() around each sub-block's ideal scale,
// the last repeated where choices() gives fewer (a repeat never wins); as floats
// a[r], and decoded, dl[r] = dn a[r].
template <int kNsub, int C>
constexpr void sub_scale_choices(const float* ideal, float dn, int lo, int hi, float* a, float* dl) {
  static_assert(C <= 2 || C % 2 == 1, "choices(): 1, 2 or an odd count");
  for (int j = 0; j < kNsub; ++j) {
    int_range ra = choices(dn != 0 ? ideal[j] / dn : 0.f, lo, hi, C);
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
  template <int kSub, int kNsub, int C>
  static constexpr void affine_choose(const float* xn, const float* imp, float nmax, const float* dl, const float* ml,
                                      float* least, int* win) {
    kq::affine_choose<scalar_ops, kSub, kNsub, C>(xn, imp, nmax, dl, ml, least, win);
  }
  template <int kSub, int kNsub>
  static constexpr void affine_block_codes(const float* xn, const float* imp, float nmax, const float* dl,
                                           const float* ml, uint8_t* codes, float* sums) {
    kq::affine_block_codes<scalar_ops, kSub, kNsub>(xn, imp, nmax, dl, ml, codes, sums);
  }
  template <int kSub, int kNsub>
  static constexpr void affine_stats(const float* xn, const float* imp, float* stats) {
    kq::affine_stats<scalar_ops, kSub, kNsub>(xn, imp, stats);
  }
  template <int kSub, int kNsub, int C>
  static constexpr void affine_pass_rows(const float* xn, const float* imp, const float* dn, const float* origin,
                                         float nmax, float* sums) {
    kq::affine_pass_rows<scalar_ops, kSub, kNsub, C>(xn, imp, dn, origin, nmax, sums);
  }
  template <int kNsub, int C>
  static constexpr void grid_choice(const float* sums, const float* d, const float* origin, const float* lo,
                                    const float* hi, const float* suu, float top, bool own, grid_state& s) {
    kq::grid_choice<kNsub, C>(sums, d, origin, lo, hi, suu, top, own, s);
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
  static constexpr void symmetric_lsq_rows(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                           float* xq, float* qq) {
    float err[kNsub * C];
    kq::symmetric_rows<scalar_ops, kSub, kNsub, C>(xn, imp, L, dl, err, xq, qq);
  }
  template <int kSub, int kNsub, int C>
  static constexpr void symmetric_choose(const float* xn, const float* imp, const fit::level_set& L, const float* a,
                                         const float* dl, symmetric_choice<kNsub>& out) {
    kq::symmetric_choose<scalar_ops, kSub, kNsub, C>(xn, imp, L, a, dl, out);
  }
  template <int n>
  static constexpr float signed_max(const float* x) {
    return fit::signed_max(x, size_t(n));
  }
  template <int kSub, int kNsub>
  static constexpr void symmetric_block_codes(const float* xn, const float* imp, const fit::level_set& L, const float* dl,
                                              uint8_t* codes, float* err = nullptr) {
    kq::symmetric_block_codes<scalar_ops, kSub, kNsub>(xn, imp, L, dl, codes, err);
  }
  template <int kNsub, int C>
  static constexpr void sub_scale_choices(const float* ideal, float dn, int lo, int hi, float* a, float* dl) {
    kq::sub_scale_choices<kNsub, C>(ideal, dn, lo, hi, a, dl);
  }
  template <int kNsub>
  static constexpr void grid_scale_choice(const float* d, const float* xq, const float* qq, const float* sxx, int count,
                                          bool first, float* ideal, float* best) {
    kq::grid_scale_choice<kNsub>(d, xq, qq, sxx, count, first, ideal, best);
  }
  template <int kSub, int kNsub>
  static constexpr void symmetric_stats(const float* xn, const float* imp, float* m, float* sxx) {
    kq::symmetric_stats<kSub, kNsub>(xn, imp, m, sxx);
  }
  template <int kNsub, int C>
  static constexpr void grid_candidates(const float* m, const float* f, float* d) {
    kq::grid_candidates<kNsub, C>(m, f, d);
  }
  // fit::normalized: writes x * p to xn and returns p.
  template <size_t n>
  static constexpr float normalize(const float* x, float* xn) {
    const fit::normalized<n> b(x);
    for (size_t i = 0; i < n; ++i) xn[i] = b.x[i];
    return b.p;
  }
};

// The sub-block scales of a block's kNsub sub-blocks from the grid of S (0 for a
// zero sub-block): of the least-squares scales of the codes of the grid's scales,
// the one of least error (grid_scale_choice), kB candidates per pass. m, sxx: each sub-block's
// extreme weight and sum of w x^2 (symmetric_stats).
template <class Ops, int kSub, int kB>
constexpr void fit_symmetric_subs_grid(const float* xn, const float* imp, const fit::level_set& L,
                                       const symmetric_search& S, const float* m, const float* sxx, float* ideal) {
  constexpr int kNsub = 256 / kSub, R = kNsub * kB;
  float best[kNsub], d[R], xq[R], qq[R];
  for (int k0 = 0; k0 < S.scales; k0 += kB) {
    const int count = S.scales - k0 < kB ? S.scales - k0 : kB;
    float f[kB];
    for (int c = 0; c < kB; ++c)  // past count: padding, not chosen
      f[c] = L.value(0) * (1.f - S.step * float(k0 + (c < count ? c : 0) - S.first));
    Ops::template grid_candidates<kNsub, kB>(m, f, d);
    Ops::template symmetric_lsq_rows<kSub, kNsub, kB>(xn, imp, L, d, xq, qq);
    Ops::template grid_scale_choice<kNsub>(d, xq, qq, sxx, count, k0 == 0, ideal, best);
  }
  for (int j = 0; j < kNsub; ++j)
    if (abs(m[j]) < group_max_eps) ideal[j] = 0;
}

// The exact sub-block scales (thorough): each sub-block's optimum by the walk of
// every scale at which a code changes, for either sign of the scale.
template <int kSub>
constexpr void fit_symmetric_subs_walk(const float* xn, const float* imp, const fit::level_set& L, float* ideal) {
  const float end = max(abs(L.value(0)), abs(L.value(L.count - 1)));
  const float span = min(0.4f * end, 8.f) + 1;
  for (int j = 0; j < 256 / kSub; ++j) {
    const float* xs = xn + j * kSub;
    const float m = abs(fit::signed_max(xs, size_t(kSub)));
    if (m < group_max_eps) continue;
    fit::walk_result best;
    for (const float sign : {1.f, -1.f}) {
      const fit::walk_result r = fit::walk_signed<32>(xs, imp + j * kSub, kSub, L, sign, m, end, span);
      // Of two equal fits (a constant sub-block fits exactly either way) the
      // smaller scale leaves the super-scale finer.
      if (r.found && (!best.found || r.gain > best.gain || (r.gain == best.gain && abs(r.d) < abs(best.d)))) best = r;
    }
    ideal[j] = best.d;
  }
}

// The two levels of a symmetric k-quant block (q3_K, q6_K, iq4_xs), searched as
// the format F's `fit` (symmetric_params) gives for effort E: the sub-block scales
// (grid or walk), then the super-scale and the integer sub-block scales jointly:
// for a super-scale each sub-block takes the best of its integer scales near its
// ideal one (a trial), and the least-squares super-scale for those integers is the
// next one tried, while the error falls.
template <class Ops, class F, effort E>
constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp) {
  constexpr const symmetric_params& P = F::fit;
  constexpr const symmetric_search& S = E == effort::fast ? P.fast : P.thorough;
  constexpr int kSub = P.sub, kNsub = 256 / kSub, C = S.choices, R = kNsub * C;
  float xn[256];
  const float p = Ops::template normalize<256>(x, xn);
  float m[kNsub], sxx[kNsub];  // per sub-block: the extreme weight; sum w x^2, the error of zero codes
  Ops::template symmetric_stats<kSub, kNsub>(xn, imp, m, sxx);
  float ideal[kNsub] = {};
  if constexpr (S.scales == 0) fit_symmetric_subs_walk<kSub>(xn, imp, P.codes, ideal);
  else fit_symmetric_subs_grid<Ops, kSub, (S.scales < kBatch ? S.scales : kBatch)>(xn, imp, P.codes, S, m, sxx, ideal);
  const float max_scale = Ops::template signed_max<kNsub>(ideal), amax = abs(max_scale);  // the first of the largest
  const int zero = P.codes.nearest(0.f);
  // The one result object of every return (so that it is built in place).
  symmetric_superblock best;
  if (amax < group_max_eps) {  // nothing to encode: zero scales
    for (int i = 0; i < 256; ++i) best.L[i] = uint8_t(zero);
    return best;
  }
  // Trials keep their integer scales; the codes are those of the best one's, found
  // once at the end, except where a search has a single trial of a single candidate
  // (q3_K's fast search): its codes are the block's, found with its error in one
  // pass (the same error and codes as a trial and the final pass).
  constexpr bool kOneTrial = C == 1 && S.rounds == 1 && !S.extras;
  float best_dl[kNsub] = {}, best_err = -1, next = 0;  // next: the best trial's least-squares super-scale
  auto trial = [&](float D) {
    const fit::stored_scale<f16> d(D, p);
    float a[R], dl[R];
    Ops::template sub_scale_choices<kNsub, C>(ideal, d.dn, P.sc_lo, P.sc_hi, a, dl);
    symmetric_choice<kNsub> t;
    const float *ta = t.a, *tdl = t.dl;  // the chosen integer scales, decoded
    if constexpr (kOneTrial) {
      Ops::template symmetric_block_codes<kSub, kNsub>(xn, imp, P.codes, dl, best.L, &t.err);
      ta = a, tdl = dl, t.sxa = t.saa = 0;  // the only candidates; no refit follows
    } else {
      Ops::template symmetric_choose<kSub, kNsub, C>(xn, imp, P.codes, a, dl, t);
    }
    if (best_err >= 0 && !(t.err < best_err)) return false;
    for (int j = 0; j < kNsub; ++j) best.sc[j] = int8_t(ta[j]), best_dl[j] = tdl[j];
    best.d = d.stored, best.clamped = d.clamped, best_err = t.err;
    next = t.saa > 0 ? t.sxa / t.saa : 0.f;
    return true;
  };
  float D = max_scale / float(P.sc_lo);
  for (int round = 1; trial(D) && next != 0 && round < S.rounds; ++round) D = next;
  if constexpr (S.extras) {
    for (const float f : {0.98f, 1.02f}) trial(best.d * p * f);
    const float d0 = best.d;
    for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p);
  }
  // The all-zero block (zero super-scale), which wins where f16 cannot resolve the
  // weights at all; its error is the sum of w x^2.
  if (pairwise_sum<size_t(kNsub)>(sxx) < best_err) {
    best = symmetric_superblock{};
    for (int j = 0; j < kNsub; ++j) best.sc[j] = int8_t(choices(0.f, P.sc_lo, P.sc_hi, C).first);
    for (int i = 0; i < 256; ++i) best.L[i] = uint8_t(zero);
    return best;
  }
  if constexpr (!kOneTrial) Ops::template symmetric_block_codes<kSub, kNsub>(xn, imp, P.codes, best_dl, best.L);
  return best;
}

template <class Ops, class F>
constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp, effort e) {
  return e == effort::fast ? fit_symmetric_superblock<Ops, F, effort::fast>(x, imp)
                           : fit_symmetric_superblock<Ops, F, effort::thorough>(x, imp);
}

}  // namespace qnt::kq
