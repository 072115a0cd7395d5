// Per-target codecs: how a block becomes lanes. The generic kernels
// (dequantize-inl.h, matmul-inl.h, matmul_int8-inl.h) see formats only through
// Codec<F>:
//   Decode(df, block, out)        the block's floats (every codec);
//   Codes(block, buf)             integer codecs (kInteger): codes and unit scales
//                                 (and offsets) into a CodesBuffer;
// and, on x86 with 256- or 512-bit vectors, optional register forms that the
// matvec prefers when a codec has them:
//   RunCodes / RunScales (kRuns)  one-unit blocks of 32: codes of a group of
//   / RunBits                     kRunGroup blocks (whole blocks, or halves of two
//                                 or four, kRunStride apart) per vector, scales of
//                                 a run per vector, what else the codes need once
//                                 per run;
//   CodeVector / Scales           a vector of a block's codes, its unit scales into
//                 (kVectorCodes)  the buffer (the k-quants, iq4_xs); CodeRun: the
//                                 weights in the codes' order, per run of 16;
//   TablePair / BlockScale        float codecs: vectors of table values (the even and
//                 (kTablePairs)   the odd elements), and the one scale to multiply
//                                 their dot product by (nf4's matvec);
//   TableVector   (kTableVectors) table values in element order (nf4's dequantize);
// and on AVX2 and AVX-512:
//   WordPair      (kWordPairs)    float codecs: int16 table values times 1 / kWordScale,
//                                 the even and the odd elements (AVX-512), or four
//                                 vectors in vpunpck's order (AVX2) (nf4's matvec);
// and on AVX3_DL, for blocks whose products add up in int32 with one activation
// step per block (the matvec of q2_K to q6_K and iq4_xs):
//   ScaledCodes   (kScaledCodes)  code vectors already times their unit's integer
//                                 scale (q2_K, q3_K; kScaledBias: a bias per code);
//   UnitScaleBytes                the units' integer scales (and mins) in bytes, for
//                 (kUnitScaleBytes) CodeVector's lanes to be multiplied by (q4_K, q5_K;
//                                 q6_K's signed: kSignedUnitScales; iq4_xs's in
//                                 int32: kWideUnitLanes);
//   RunSuperScales / MinProducts  the float super-scales of up to sixteen blocks, and
//                                 a block's mins (q6_K, iq4_xs: scales, for the
//                                 codes' bias) times the units' activation sums.
//
// Every format gets the scalar reference as its codec, so every format works on
// every target; a format with a SIMD fast path specializes Codec<> in
// codecs-inl.h. Both must give the same bits: dequantization products are exact
// (FORMATS: every product needs at most 23 bits), so lane order and FMA
// contraction cannot change a value.

// Per-target include guard (Highway's toggle convention).
#if defined(QNT_KERNELS_CODEC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_CODEC_INL_H_
#undef QNT_KERNELS_CODEC_INL_H_
#else
#define QNT_KERNELS_CODEC_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"
#include "../core/api.hpp"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class F>
struct Codec {
  static constexpr bool kInteger = false;  // no integer codes: matvec takes the float path
  static constexpr bool kTablePairs = false, kTableVectors = false, kWordPairs = false;  // see nf4's codec
  // Writes the F::block_size floats of block `b` to `out`.
  template <class DF>
  static HWY_INLINE void Decode(DF /*df*/, const typename F::block& b, float* HWY_RESTRICT out) {
    F::decode(b, out);
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
