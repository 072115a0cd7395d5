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

#include "../core/fit.hpp"
#include "../core/sweep.hpp"
#include "../core/scalar.hpp"

namespace qnt::kq {

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

// Largest number of level changes the walks of one sub-block may visit.
inline constexpr size_t kSubEvents = 32 * 40;

// The integer nearest to t (ties to even) within [0, top], as a float. Clamping
// first keeps t below 2^22, where adding and subtracting 1.5 * 2^23 rounds it;
// unlike rne() this form has no branches, so loops over it vectorize.
constexpr float nearest_level(float t, float top) {
  t = t < 0.f ? 0.f : t;
  t = t > top ? top : t;
  return (t + 12582912.f) - 12582912.f;
}

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

// Sum of kCount values (a power of two) in a fixed pairwise order, the same on every
// machine whether or not the compiler vectorizes it.
template <int kCount>
constexpr float pairwise_sum(float* v) {
  for (int half = kCount / 2; half >= 1; half /= 2)
    for (int i = 0; i < half; ++i) v[i] += v[i + half];
  return v[0];
}

// The nearest affine codes of a sub-block for the decoded scale dl and min ml, and
// their weighted squared error. Written as plain element-wise loops so that
// compilers vectorize them.
template <int kSub>
constexpr float affine_codes(const float* xn, const float* imp, int nmax, float dl, float ml, uint8_t* q) {
  const float idl = dl > 0 ? 1.f / dl : 0.f;
  float e[kSub], c[kSub];
  for (int i = 0; i < kSub; ++i) {
    c[i] = nearest_level((xn[i] + ml) * idl, float(nmax));
    const float r = xn[i] - (dl * c[i] - ml);
    e[i] = imp[i] * r * r;
  }
  for (int i = 0; i < kSub; ++i) q[i] = uint8_t(c[i]);
  return pairwise_sum<kSub>(e);
}

// For one sub-block and given super-scales (normalized axis), the integer scale and
// min within `radius` of the ideal ones, and their codes, of least weighted error.
constexpr float choose_affine_sub(const float* xn, const float* imp, const affine_params& P, float dn, float mdn,
                                  const affine_sub& ideal, int radius, uint8_t& sc, uint8_t& mn, uint8_t* L) {
  const int c_sc = dn > 0 ? clamp(rne(ideal.scale / dn), 0, P.levels) : 0;
  const int c_mn = mdn > 0 ? clamp(rne(ideal.neg_min / mdn), 0, P.levels) : 0;
  float best = -1;
  uint8_t q[32];
  for (int a = max(c_sc - radius, 0); a <= min(c_sc + radius, P.levels); ++a) {
    for (int b = max(c_mn - radius, 0); b <= min(c_mn + radius, P.levels); ++b) {
      const float dl = dn * float(a), ml = mdn * float(b);
      const float err = P.sub == 16 ? affine_codes<16>(xn, imp, P.nmax, dl, ml, q) : affine_codes<32>(xn, imp, P.nmax, dl, ml, q);
      if (best < 0 || err < best) {
        best = err, sc = uint8_t(a), mn = uint8_t(b);
        for (int i = 0; i < P.sub; ++i) L[i] = q[i];
      }
    }
  }
  return best;
}

// Every sub-block chosen for the super-scales (d, dmin); returns the block's error.
constexpr float choose_affine_all(const float* xn, const float* imp, const affine_params& P, const affine_sub* ideal,
                                  float dn, float mdn, affine_superblock& r) {
  float err = 0;
  for (int j = 0; j < 256 / P.sub; ++j) {
    const int o = j * P.sub;
    err += choose_affine_sub(xn + o, imp + o, P, dn, mdn, ideal[j], 2, r.sc[j], r.mn[j], r.L + o);
  }
  return err;
}

constexpr affine_superblock fit_affine_superblock(const float* x, const float* imp, const affine_params& P) {
  const fit::normalized<256> nb(x);
  const float p = nb.p;
  const float* xn = nb.x;
  const int nsub = 256 / P.sub;
  affine_sub ideal[16];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < nsub; ++j) {
    ideal[j] = fit_affine_sub(xn + j * P.sub, imp + j * P.sub, P.sub, P.nmax);
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
    const float err = choose_affine_all(xn, imp, P, ideal, d.dn, dmin.dn, t);
    const bool better = best_err < 0 || err < best_err;
    if (better) best = t, best_err = err;
    return better;
  };
  float D = max_scale / float(P.levels), M = max_min / float(P.levels);
  for (int iter = 0; iter < kRefits && trial(D, M); ++iter) {
    // Least-squares super-scales for the chosen integers: x ~ D * (sc * L) - M * mn.
    float A = 0, B = 0, C = 0, X = 0, Y = 0;
    for (int i = 0; i < 256; ++i) {
      const float a = float(best.sc[i / P.sub]) * float(best.L[i]), b = float(best.mn[i / P.sub]);
      A += imp[i] * a * a, B += imp[i] * a * b, C += imp[i] * b * b, X += imp[i] * xn[i] * a, Y += imp[i] * xn[i] * b;
    }
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
  // another local optimum), its f16 neighbours, and the all-zero block, which wins
  // where f16 cannot resolve the weights at all.
  for (const float f : {0.98f, 1.02f}) trial(best.d * p * f, best.dmin * p), trial(best.d * p, best.dmin * p * f);
  const float d0 = best.d, m0 = best.dmin;
  for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p, m0 * p);
  for (const int k : {-1, 1}) trial(best.d * p, f16::neighbour(m0, k) * p);
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
constexpr float symmetric_codes(const float* xn, const float* imp, const fit::level_set& L, float dl, uint8_t* q) {
  const float idl = dl != 0 ? 1.f / dl : 0.f;
  float e[kSub];
  int c[kSub];
  if (L.consecutive()) {
    for (int i = 0; i < kSub; ++i) {
      const float level = nearest_level(xn[i] * idl - L.first, float(L.count - 1));
      c[i] = int(level);
      const float r = xn[i] - dl * (level + L.first);
      e[i] = imp[i] * r * r;
    }
  } else {
    for (int i = 0; i < kSub; ++i) c[i] = 0;
    for (int k = 0; k + 1 < L.count; ++k) {
      const float mid = 0.5f * (L.value(k) + L.value(k + 1));
      for (int i = 0; i < kSub; ++i) c[i] += xn[i] * idl >= mid ? 1 : 0;
    }
    for (int i = 0; i < kSub; ++i) {
      const float r = xn[i] - dl * L.value(c[i]);
      e[i] = imp[i] * r * r;
    }
  }
  for (int i = 0; i < kSub; ++i) q[i] = uint8_t(c[i]);
  return pairwise_sum<kSub>(e);
}

// For one sub-block and a given super-scale, the integer scale within `radius` of
// the ideal one, with its codes, of least weighted error.
constexpr float choose_symmetric_sub(const float* xn, const float* imp, const symmetric_params& P, float dn,
                                     float ideal, int radius, int8_t& sc, uint8_t* L) {
  const int c = dn != 0 ? clamp(rne(ideal / dn), P.sc_lo, P.sc_hi) : 0;
  float best = -1;
  uint8_t q[32];
  for (int a = max(c - radius, P.sc_lo); a <= min(c + radius, P.sc_hi); ++a) {
    const float dl = dn * float(a);
    const float err = P.sub == 16 ? symmetric_codes<16>(xn, imp, P.codes, dl, q) : symmetric_codes<32>(xn, imp, P.codes, dl, q);
    if (best < 0 || err < best) {
      best = err, sc = int8_t(a);
      for (int i = 0; i < P.sub; ++i) L[i] = q[i];
    }
  }
  return best;
}

constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp, const symmetric_params& P) {
  const fit::normalized<256> nb(x);
  const float p = nb.p;
  const float* xn = nb.x;
  const int nsub = 256 / P.sub;
  const float end = max(abs(P.codes.value(0)), abs(P.codes.value(P.codes.count - 1)));
  float ideal[16] = {}, amax = 0, max_scale = 0;
  for (int j = 0; j < nsub; ++j) {
    const float* xs = xn + j * P.sub;
    const float m = abs(fit::signed_max(xs, P.sub));
    if (m < group_max_eps) continue;
    const float span = min(0.4f * end, 8.f) + 1;
    fit::walk_result best;
    for (const float sign : {1.f, -1.f}) {
      float xv[32];
      for (int i = 0; i < P.sub; ++i) xv[i] = sign * xs[i];
      fit::walk_result r = fit::walk_symmetric<32, kSubEvents>(xv, imp + j * P.sub, P.sub, P.codes,
                                                               max(end - span, 0.5f) / m, (end + span) / m);
      r.d *= sign;
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
      err += choose_symmetric_sub(xn + o, imp + o, P, d.dn, ideal[j], 2, t.sc[j], t.L + o);
    }
    const bool better = best_err < 0 || err < best_err;
    if (better) best = t, best_err = err;
    return better;
  };
  float D = max_scale / float(P.sc_lo);
  for (int iter = 0; iter < kRefits && trial(D); ++iter) {
    float sxa = 0, saa = 0;
    for (int i = 0; i < 256; ++i) {
      const float a = float(best.sc[i / P.sub]) * P.codes.value(best.L[i]);
      sxa += imp[i] * xn[i] * a, saa += imp[i] * a * a;
    }
    if (!(saa > 0)) break;
    D = sxa / saa;
  }
  for (const float f : {0.98f, 1.02f}) trial(best.d * p * f);
  const float d0 = best.d;
  for (const int k : {-1, 1}) trial(f16::neighbour(d0, k) * p);
  trial(0.f);
  return best;
}

}  // namespace qnt::kq
