// What the 256-weight super-block formats (q2_K ... q6_K) share: the packing of
// q4_K / q5_K's 6-bit scales and mins, the sub-block fits, and the two-level fit of
// the affine k-quants.
//
// The fits follow GGUF's reference quantizers step for step (sub-block search, then
// quantization of the sub-block scales against an f16 super-scale, then re-rounding
// of every weight with the decoded scales) and add a final least-squares refit of
// the super-scales, kept only when it lowers the block's error. Everything runs on
// the block scaled by a power of two (fit::normalizer), exactly, so the result does
// not depend on the weights' magnitude and cannot overflow.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../core/fit.hpp"
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
// Sub-block fits.

// Affine sub-block: x ~ scale * L + min with min <= 0 and L in [0, nmax]. Starts
// from the full range, then tries nstep + 1 inverse scales and solves the weighted
// least squares for (scale, min) on each one's codes. `use_mad` measures absolute
// instead of squared error. Returns the scale; `neg_min` = -min >= 0.
constexpr float fit_affine_sub(const float* x, const float* w, int n, int nmax, float rmin, float rdelta,
                               int nstep, bool use_mad, uint8_t* L, float& neg_min) {
  float lo = x[0], hi = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    lo = min(lo, x[i]), hi = max(hi, x[i]);
    sum_w += w[i], sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    neg_min = -lo;
    return 0.f;
  }
  auto error = [&](float scale, float m, const uint8_t* codes) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * float(codes[i]) + m - x[i];
      e += w[i] * (use_mad ? abs(diff) : diff * diff);
    }
    return e;
  };
  float iscale = float(nmax) / (hi - lo), scale = 1.f / iscale;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(clamp(rne(iscale * (x[i] - lo)), 0, nmax));
  float best = error(scale, lo, L);
  uint8_t aux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (hi - lo);
    float sl = 0, sl2 = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp(rne(iscale * (x[i] - lo)), 0, nmax);
      aux[i] = uint8_t(l);
      sl += w[i] * float(l), sl2 += w[i] * float(l * l), sxl += w[i] * float(l) * x[i];
    }
    const float det = sum_w * sl2 - sl * sl;
    if (!(det > 0)) continue;
    float this_scale = (sum_w * sxl - sum_x * sl) / det;
    float this_min = (sl2 * sum_x - sl * sxl) / det;
    if (this_min > 0) this_min = 0, this_scale = sxl / sl2;
    const float e = error(this_scale, this_min, aux);
    if (e < best) {
      for (int i = 0; i < n; ++i) L[i] = aux[i];
      best = e, scale = this_scale, lo = this_min;
    }
  }
  neg_min = -lo;
  return scale;
}

// Symmetric sub-block with codes in [-nmax, nmax - 1] (q6_K: nmax 32): tries 19
// inverse scales around -nmax / max and keeps the one with the best weighted
// least-squares fit. L receives codes + nmax.
constexpr float fit_symmetric_sub(const float* x, const float* w, int n, int nmax, uint8_t* L) {
  const float m = fit::signed_max(x, n);
  if (abs(m) < group_max_eps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float best = 0, scale = 0;
  bool have = false;
  for (int is = 0; is <= 18; ++is) {
    const int step = is == 0 ? 0 : (is <= 9 ? is - 10 : is - 9);  // 0 first, then -9..-1, 1..9
    const float iscale = -(float(nmax) + 0.1f * float(step)) / m;
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp(rne(iscale * x[i]), -nmax, nmax - 1);
      slx += w[i] * x[i] * float(l), sl2 += w[i] * float(l * l);
    }
    if (!have ? true : (sl2 > 0 && slx * slx > best * sl2)) {
      for (int i = 0; i < n; ++i) L[i] = uint8_t(clamp(rne(iscale * x[i]), -nmax, nmax - 1) + nmax);
      scale = sl2 > 0 ? slx / sl2 : 0.f;
      best = scale * slx;
      have = true;
    }
  }
  return scale;
}

// q3_K's sub-block: codes in [-nmax, nmax - 1] from -nmax / max, then rounds of
// coordinate descent that move single codes while that improves the weighted
// least-squares fit. L receives codes + nmax.
constexpr float fit_q3_sub(const float* x, const float* w, int n, int nmax, uint8_t* L) {
  const float m = fit::signed_max(x, n);
  if (abs(m) < group_max_eps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = -float(nmax) / m;
  int l[32];
  float slx = 0, sl2 = 0;
  for (int i = 0; i < n; ++i) {
    l[i] = clamp(rne(iscale * x[i]), -nmax, nmax - 1);
    slx += w[i] * x[i] * float(l[i]), sl2 += w[i] * float(l[i] * l[i]);
  }
  for (int round = 0; round < 5; ++round) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float tx = slx - w[i] * x[i] * float(l[i]), t2 = sl2 - w[i] * float(l[i] * l[i]);
      if (!(tx > 0 && t2 > 0)) continue;
      const int nl = clamp(rne(x[i] * t2 / tx), -nmax, nmax - 1);
      if (nl == l[i]) continue;
      tx += w[i] * x[i] * float(nl), t2 += w[i] * float(nl * nl);
      if (tx * tx * sl2 > slx * slx * t2) l[i] = nl, slx = tx, sl2 = t2, ++changed;
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = uint8_t(l[i] + nmax);
  return sl2 > 0 ? slx / sl2 : 0.f;
}

// ---------------------------------------------------------------------------
// Two-level fit of the affine k-quants (q2_K, q4_K, q5_K).

struct affine_params {
  int sub;           // weights per sub-block (16 or 32)
  int nmax;          // largest code
  int levels;        // largest integer sub-block scale / min (15 or 63)
  float rmin, rdelta;
  int nstep;
  bool use_mad;      // q2_K fits sub-blocks on absolute error, weighted by |x|
};

struct affine_superblock {
  float d = 0, dmin = 0;  // stored super-scales (real units, f16-representable)
  uint8_t sc[16] = {}, mn[16] = {};
  uint8_t L[256] = {};
  bool clamped = false;
};

// Weighted squared error of a super-block on the normalized axis (scales `dn`, `mn_`).
constexpr float affine_sb_error(const float* xn, const float* imp, const affine_params& P, float dn, float mdn,
                                const affine_superblock& r) {
  float err = 0;
  for (int i = 0; i < 256; ++i) {
    const int j = i / P.sub;
    const float y = (dn * float(r.sc[j])) * float(r.L[i]) - mdn * float(r.mn[j]);
    err += imp[i] * (xn[i] - y) * (xn[i] - y);
  }
  return err;
}

// Re-rounds every weight with the decoded sub-block scales; sub-blocks whose scale
// decodes to zero keep the codes they have.
constexpr void affine_sb_recode(const float* xn, const affine_params& P, float dn, float mdn, affine_superblock& r) {
  for (int j = 0; j < 256 / P.sub; ++j) {
    const float dl = dn * float(r.sc[j]);
    if (dl == 0) continue;
    const float ml = mdn * float(r.mn[j]);
    for (int i = j * P.sub; i < (j + 1) * P.sub; ++i) r.L[i] = uint8_t(clamp(rne((xn[i] + ml) / dl), 0, P.nmax));
  }
}

constexpr affine_superblock fit_affine_superblock(const float* x, const float* imp, const affine_params& P) {
  const fit::normalized<256> nb(x);
  const float p = nb.p;
  const float* xn = nb.x;
  float w[32];
  affine_superblock r;
  const int nsub = 256 / P.sub;
  float scales[16], mins[16], max_scale = 0, max_min = 0;
  for (int j = 0; j < nsub; ++j) {
    const float* xs = xn + j * P.sub;
    float sum2 = 0;
    for (int i = 0; i < P.sub; ++i) sum2 += xs[i] * xs[i];
    const float av = sqrt(sum2 / float(P.sub));
    for (int i = 0; i < P.sub; ++i) w[i] = imp[j * P.sub + i] * (P.use_mad ? abs(xs[i]) : av + abs(xs[i]));
    scales[j] = fit_affine_sub(xs, w, P.sub, P.nmax, P.rmin, P.rdelta, P.nstep, P.use_mad, r.L + j * P.sub, mins[j]);
    max_scale = max(max_scale, scales[j]);
    max_min = max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? float(P.levels) / max_scale : 0.f;
  const float inv_min = max_min > 0 ? float(P.levels) / max_min : 0.f;
  for (int j = 0; j < nsub; ++j) {
    r.sc[j] = uint8_t(clamp(rne(inv_scale * scales[j]), 0, P.levels));
    r.mn[j] = uint8_t(clamp(rne(inv_min * mins[j]), 0, P.levels));
  }
  const fit::stored_scale<f16> d(max_scale / float(P.levels), p), dmin(max_min / float(P.levels), p);
  r.d = d.stored, r.dmin = dmin.stored, r.clamped = d.clamped || dmin.clamped;
  affine_sb_recode(xn, P, d.dn, dmin.dn, r);

  // Refit the two super-scales by least squares on the integer scales and codes:
  // x ~ D * (sc * L) - M * mn. Kept only when the re-rounded block is better.
  float best = affine_sb_error(xn, imp, P, d.dn, dmin.dn, r);
  for (int iter = 0; iter < 2; ++iter) {
    float A = 0, B = 0, C = 0, X = 0, Y = 0;
    for (int i = 0; i < 256; ++i) {
      const float a = float(r.sc[i / P.sub]) * float(r.L[i]), b = float(r.mn[i / P.sub]);
      A += imp[i] * a * a, B += imp[i] * a * b, C += imp[i] * b * b, X += imp[i] * xn[i] * a, Y += imp[i] * xn[i] * b;
    }
    const float det = A * C - B * B;
    if (!(det > 0)) break;
    const float D = (X * C - B * Y) / det, M = (B * X - A * Y) / det;
    if (!(D > 0) || !is_finite(M)) break;
    const fit::stored_scale<f16> d2(D, p), m2(M, p);
    affine_superblock t = r;
    t.d = d2.stored, t.dmin = m2.stored, t.clamped = d2.clamped || m2.clamped;
    affine_sb_recode(xn, P, d2.dn, m2.dn, t);
    const float e = affine_sb_error(xn, imp, P, d2.dn, m2.dn, t);
    if (!(e < best)) break;
    best = e, r = t;
  }
  return r;
}

// ---------------------------------------------------------------------------
// Two-level fit of the symmetric k-quants (q3_K, q6_K): 16 sub-blocks of 16 with
// signed integer sub-block scales against one f16 super-scale.

struct symmetric_superblock {
  float d = 0;           // stored super-scale (real units)
  int8_t sc[16] = {};    // integer sub-block scales
  uint8_t L[256] = {};   // codes + offset
  bool clamped = false;
};

constexpr void symmetric_sb_recode(const float* xn, int qmin, int qmax, float dn, symmetric_superblock& r) {
  for (int j = 0; j < 16; ++j) {
    const float dl = dn * float(r.sc[j]);
    if (dl == 0) continue;
    for (int i = 16 * j; i < 16 * (j + 1); ++i) r.L[i] = uint8_t(clamp(rne(xn[i] / dl), qmin, qmax) - qmin);
  }
}

constexpr float symmetric_sb_error(const float* xn, const float* imp, int qmin, float dn,
                                   const symmetric_superblock& r) {
  float err = 0;
  for (int i = 0; i < 256; ++i) {
    const float y = (dn * float(r.sc[i / 16])) * float(int(r.L[i]) + qmin);
    err += imp[i] * (xn[i] - y) * (xn[i] - y);
  }
  return err;
}

// `q3`: q3_K's sub-block fit and 6-bit scales (-32..31); otherwise q6_K's fit and
// int8 scales (..127).
constexpr symmetric_superblock fit_symmetric_superblock(const float* x, const float* imp, bool q3) {
  const int nmax = q3 ? 4 : 32, qmin = -nmax, qmax = nmax - 1;
  const fit::normalized<256> nb(x);
  const float p = nb.p;
  const float* xn = nb.x;
  float w[16], scales[16];
  symmetric_superblock r;
  float amax = 0, max_scale = 0;
  for (int j = 0; j < 16; ++j) {
    const float* xs = xn + 16 * j;
    for (int i = 0; i < 16; ++i) w[i] = imp[16 * j + i] * xs[i] * xs[i];
    scales[j] = q3 ? fit_q3_sub(xs, w, 16, nmax, r.L + 16 * j) : fit_symmetric_sub(xs, w, 16, nmax, r.L + 16 * j);
    if (abs(scales[j]) > amax) amax = abs(scales[j]), max_scale = scales[j];
  }
  if (amax < group_max_eps) {
    // Nothing to encode: q6_K writes an all-zero block; q3_K zero scales.
    for (int i = 0; i < 256; ++i) r.L[i] = q3 ? r.L[i] : 0;
    for (int j = 0; j < 16; ++j) r.sc[j] = q3 ? -32 : 0;
    return r;
  }
  const float iscale = (q3 ? -32.f : -128.f) / max_scale;
  for (int j = 0; j < 16; ++j) r.sc[j] = int8_t(clamp(rne(iscale * scales[j]), q3 ? -32 : -128, q3 ? 31 : 127));
  const fit::stored_scale<f16> d(1.f / iscale, p);
  r.d = d.stored, r.clamped = d.clamped;
  symmetric_sb_recode(xn, qmin, qmax, d.dn, r);

  float best = symmetric_sb_error(xn, imp, qmin, d.dn, r);
  for (int iter = 0; iter < 2; ++iter) {
    float sxa = 0, saa = 0;
    for (int i = 0; i < 256; ++i) {
      const float a = float(r.sc[i / 16]) * float(int(r.L[i]) + qmin);
      sxa += imp[i] * xn[i] * a, saa += imp[i] * a * a;
    }
    if (!(saa > 0)) break;
    const fit::stored_scale<f16> d2(sxa / saa, p);
    symmetric_superblock t = r;
    t.d = d2.stored, t.clamped = d2.clamped;
    symmetric_sb_recode(xn, qmin, qmax, d2.dn, t);
    const float e = symmetric_sb_error(xn, imp, qmin, d2.dn, t);
    if (!(e < best)) break;
    best = e, r = t;
  }
  return r;
}

}  // namespace qnt::kq
