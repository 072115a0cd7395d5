// Per-target matrix products straight from the blocks. The weights are decoded
// through Codec<F>, a few rows and about a thousand columns at a time, into a
// small buffer that stays in the L1 cache, and multiplied from there by every
// activation row, so the cost of decoding is shared by all n of them. Nothing is
// allocated: the buffer is on the stack.

#if defined(QNT_KERNELS_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_MATMUL_INL_H_
#undef QNT_KERNELS_MATMUL_INL_H_
#else
#define QNT_KERNELS_MATMUL_INL_H_
#endif

#include <cstddef>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "codec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

template <class DF, class V>
HWY_INLINE float SumLanes(DF df, V v) {
#if HWY_MAJOR > 1 || HWY_MINOR >= 1
  return hn::ReduceSum(df, v);
#else
  return hn::GetLane(hn::SumOfLanes(df, v));
#endif
}

// Four weight rows (w0..w3, each `len` floats) times one activation row `xa`;
// adds the four dot products to y[0..3] (stride ys).
template <class DF>
HWY_INLINE void Tile4x1(DF df, const float* HWY_RESTRICT w0, const float* HWY_RESTRICT w1,
                        const float* HWY_RESTRICT w2, const float* HWY_RESTRICT w3, const float* HWY_RESTRICT xa,
                        size_t len, float* y, size_t ys) {
  const size_t N = hn::Lanes(df);
  auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
  size_t k = 0;
  for (; k + N <= len; k += N) {
    const auto x = hn::LoadU(df, xa + k);
    a0 = hn::MulAdd(hn::Load(df, w0 + k), x, a0);
    a1 = hn::MulAdd(hn::Load(df, w1 + k), x, a1);
    a2 = hn::MulAdd(hn::Load(df, w2 + k), x, a2);
    a3 = hn::MulAdd(hn::Load(df, w3 + k), x, a3);
  }
  float s0 = SumLanes(df, a0), s1 = SumLanes(df, a1), s2 = SumLanes(df, a2), s3 = SumLanes(df, a3);
  for (; k < len; ++k) s0 += w0[k] * xa[k], s1 += w1[k] * xa[k], s2 += w2[k] * xa[k], s3 += w3[k] * xa[k];
  y[0] += s0, y[ys] += s1, y[2 * ys] += s2, y[3 * ys] += s3;
}

// Four weight rows times four activation rows (x0..x3): sixteen dot products,
// added to y[a * yrow + j] for activation a and weight row j.
template <class DF>
HWY_INLINE void Tile4x4(DF df, const float* HWY_RESTRICT w0, const float* HWY_RESTRICT w1,
                        const float* HWY_RESTRICT w2, const float* HWY_RESTRICT w3, const float* HWY_RESTRICT x0,
                        const float* HWY_RESTRICT x1, const float* HWY_RESTRICT x2, const float* HWY_RESTRICT x3,
                        size_t len, float* y, size_t yrow) {
  const size_t N = hn::Lanes(df);
  // Sixteen named accumulators: scalable vectors cannot live in arrays.
  auto a00 = hn::Zero(df), a01 = hn::Zero(df), a02 = hn::Zero(df), a03 = hn::Zero(df);
  auto a10 = hn::Zero(df), a11 = hn::Zero(df), a12 = hn::Zero(df), a13 = hn::Zero(df);
  auto a20 = hn::Zero(df), a21 = hn::Zero(df), a22 = hn::Zero(df), a23 = hn::Zero(df);
  auto a30 = hn::Zero(df), a31 = hn::Zero(df), a32 = hn::Zero(df), a33 = hn::Zero(df);
  size_t k = 0;
  for (; k + N <= len; k += N) {
    const auto v0 = hn::Load(df, w0 + k), v1 = hn::Load(df, w1 + k);
    const auto v2 = hn::Load(df, w2 + k), v3 = hn::Load(df, w3 + k);
    auto x = hn::LoadU(df, x0 + k);
    a00 = hn::MulAdd(v0, x, a00), a01 = hn::MulAdd(v1, x, a01), a02 = hn::MulAdd(v2, x, a02), a03 = hn::MulAdd(v3, x, a03);
    x = hn::LoadU(df, x1 + k);
    a10 = hn::MulAdd(v0, x, a10), a11 = hn::MulAdd(v1, x, a11), a12 = hn::MulAdd(v2, x, a12), a13 = hn::MulAdd(v3, x, a13);
    x = hn::LoadU(df, x2 + k);
    a20 = hn::MulAdd(v0, x, a20), a21 = hn::MulAdd(v1, x, a21), a22 = hn::MulAdd(v2, x, a22), a23 = hn::MulAdd(v3, x, a23);
    x = hn::LoadU(df, x3 + k);
    a30 = hn::MulAdd(v0, x, a30), a31 = hn::MulAdd(v1, x, a31), a32 = hn::MulAdd(v2, x, a32), a33 = hn::MulAdd(v3, x, a33);
  }
  float s[16] = {SumLanes(df, a00), SumLanes(df, a01), SumLanes(df, a02), SumLanes(df, a03),
                 SumLanes(df, a10), SumLanes(df, a11), SumLanes(df, a12), SumLanes(df, a13),
                 SumLanes(df, a20), SumLanes(df, a21), SumLanes(df, a22), SumLanes(df, a23),
                 SumLanes(df, a30), SumLanes(df, a31), SumLanes(df, a32), SumLanes(df, a33)};
  const float* w[4] = {w0, w1, w2, w3};
  const float* xs[4] = {x0, x1, x2, x3};
  for (; k < len; ++k)
    for (int a = 0; a < 4; ++a)
      for (int j = 0; j < 4; ++j) s[4 * a + j] += w[j][k] * xs[a][k];
  for (int a = 0; a < 4; ++a)
    for (int j = 0; j < 4; ++j) y[a * yrow + j] += s[4 * a + j];
}

// Columns decoded per weight row at a time: the four rows' buffer and the matching
// slices of four activation rows fill about 32 KiB.
template <class F>
inline constexpr size_t kChunk = F::block_size >= 1024 ? F::block_size : 1024 / F::block_size * F::block_size;
// Buffer row stride: a multiple of 64 bytes keeps every row aligned for Load.
template <class F>
inline constexpr size_t kStride = (kChunk<F> + 15) / 16 * 16;

// y[i * rows + r] = sum_c W[r][c] * x[i * cols + c] for the weight rows [r0, r1)
// and all n activation rows.
template <class F>
void MatMul(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x, size_t n,
            float* HWY_RESTRICT y, size_t r0, size_t r1) {
  constexpr size_t B = F::block_size, C = kChunk<F>, S = kStride<F>;
  const hn::ScalableTag<float> df;
  const size_t nb = cols / B;
  HWY_ALIGN float buf[4 * S];
  for (size_t i = 0; i < n; ++i)
    for (size_t r = r0; r < r1; ++r) y[i * rows + r] = 0.f;

  for (size_t r = r0; r < r1; r += 4) {
    const size_t nr = r1 - r < 4 ? r1 - r : 4;
    float* wr[4];
    for (size_t j = 0; j < 4; ++j) wr[j] = buf + j * S;
    // Fewer than four rows left: the missing ones repeat the last, into a scratch y.
    float spare[16];
    for (size_t c0 = 0; c0 < nb; c0 += C / B) {
      const size_t cb = nb - c0 < C / B ? nb - c0 : C / B;
      const size_t len = cb * B, k0 = c0 * B;
      for (size_t j = 0; j < nr; ++j) {
        const size_t row = r + j;
        for (size_t b = 0; b < cb; ++b) {
          // Fetch the block this row needs one chunk later (or, at the row's end, the
          // same place in the next tile): weights stream from memory once, and the
          // hardware prefetcher alone does not keep four row streams ahead.
          size_t ahead = row * nb + c0 + b + cb;
          if (c0 + b + cb >= nb) ahead += 3 * nb;
          if (ahead < rows * nb) hwy::Prefetch(w + ahead);
          Codec<F>::Decode(df, w[row * nb + c0 + b], wr[j] + b * B);
        }
      }
      const float* w0 = wr[0];
      const float* w1 = wr[nr > 1 ? 1 : 0];
      const float* w2 = wr[nr > 2 ? 2 : 0];
      const float* w3 = wr[nr > 3 ? 3 : 0];
      size_t i = 0;
      for (; i + 4 <= n; i += 4) {
        const float* xa = x + i * cols + k0;
        if (nr == 4) {
          Tile4x4(df, w0, w1, w2, w3, xa, xa + cols, xa + 2 * cols, xa + 3 * cols, len, y + i * rows + r, rows);
        } else {
          for (auto& v : spare) v = 0.f;
          Tile4x4(df, w0, w1, w2, w3, xa, xa + cols, xa + 2 * cols, xa + 3 * cols, len, spare, 4);
          for (size_t a = 0; a < 4; ++a)
            for (size_t j = 0; j < nr; ++j) y[(i + a) * rows + r + j] += spare[4 * a + j];
        }
      }
      for (; i < n; ++i) {
        const float* xa = x + i * cols + k0;
        if (nr == 4) {
          Tile4x1(df, w0, w1, w2, w3, xa, len, y + i * rows + r, 1);
        } else {
          for (auto& v : spare) v = 0.f;
          Tile4x1(df, w0, w1, w2, w3, xa, len, spare, 1);
          for (size_t j = 0; j < nr; ++j) y[i * rows + r + j] += spare[j];
        }
      }
    }
  }
}

// Columns of x quantized per pass of the integer matvec (8 KiB of int16 on the stack).
template <class F>
inline constexpr size_t kIntChunk = F::block_size >= 4096 ? F::block_size : 4096 / F::block_size * F::block_size;

// y[r] = sum_c W[r][c] * x[c] for rows [r0, r1), for formats with an integer codec.
// x is quantized once per pass to int16 with one scale per codec unit (at most 32
// weights), which keeps its error near 2^-16 of each unit's largest magnitude; each
// unit's dot product is then exact in int32 (widening multiply-add of int16 pairs)
// and is scaled once by weight scale * activation scale. Offsets (affine formats,
// the k-quants' mins) need only the sum of each unit's activation codes.
template <class F>
void MatVecInt(const typename F::block* HWY_RESTRICT w, size_t cols, const float* HWY_RESTRICT x,
               float* HWY_RESTRICT y, size_t r0, size_t r1) {
  using C = Codec<F>;
  constexpr size_t B = F::block_size, U = C::kUnit, K = kIntChunk<F>;
  // At most 16 codes per load: codecs store codes 16 or 32 bytes at a time, and a
  // load spanning two stores would stall on store forwarding.
  const hn::CappedTag<int16_t, (U < 16 ? U : 16)> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Repartition<float, decltype(d16)> df;
  const hn::Rebind<typename C::code_t, decltype(d16)> dc;
  HWY_ALIGN int16_t xq[K];
  float xs[K / U];
  float xsum[C::kOffset ? K / U : 1];
  const size_t nb = cols / B;
  for (size_t r = r0; r < r1; ++r) y[r] = 0.f;

  for (size_t c0 = 0; c0 < nb; c0 += K / B) {
    const size_t cb = nb - c0 < K / B ? nb - c0 : K / B;
    const float* xc = x + c0 * B;
    for (size_t u = 0; u < cb * B / U; ++u) {
      float amax = 0;
      for (size_t i = 0; i < U; ++i) amax = max(amax, abs(xc[u * U + i]));
      const float inv = amax > 0 ? 32767.f / amax : 0.f;
      int32_t sum = 0;
      for (size_t i = 0; i < U; ++i) {
        const int q = clamp(rne(xc[u * U + i] * inv), -32767, 32767);
        xq[u * U + i] = int16_t(q);
        sum += q;
      }
      xs[u] = amax / 32767.f;
      if constexpr (C::kOffset) xsum[u] = float(sum);
    }
    for (size_t r = r0; r < r1; ++r) {
      auto acc = hn::Zero(df);
      float off = 0.f;
      const typename F::block* row = w + r * nb + c0;
      for (size_t b = 0; b < cb; ++b) {
        if (b + 8 < cb) hwy::Prefetch(row + b + 8);
        CodesBuffer<C> buf;
        C::Codes(row[b], buf);
        for (size_t k = 0; k < B / U; ++k) {
          const size_t u = b * (B / U) + k;
          auto sum0 = hn::Zero(d32), sum1 = hn::Zero(d32);
          for (size_t i = 0; i < U; i += hn::Lanes(d16)) {
            auto a = hn::PromoteTo(d16, hn::LoadU(dc, buf.codes + k * U + i));
            if constexpr (C::kBias != 0) a = hn::Sub(a, hn::Set(d16, int16_t(C::kBias)));
            sum0 = hn::ReorderWidenMulAccumulate(d32, a, hn::Load(d16, xq + u * U + i), sum0, sum1);
          }
          acc = hn::MulAdd(hn::ConvertTo(df, hn::Add(sum0, sum1)), hn::Set(df, buf.scale[k] * xs[u]), acc);
          if constexpr (C::kOffset) off += buf.offset[k] * xs[u] * xsum[u];
        }
      }
      y[r] += SumLanes(df, acc) + off;
    }
  }
}

// The matmul signature over MatVecInt (n == 1), for the dispatch tables; formats
// without an integer codec take the float path.
template <class F>
void MatVec(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x, size_t n,
            float* HWY_RESTRICT y, size_t r0, size_t r1) {
  if constexpr (Codec<F>::kInteger) MatVecInt<F>(w, cols, x, y, r0, r1);
  else MatMul<F>(w, rows, cols, x, n, y, r0, r1);
}

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
