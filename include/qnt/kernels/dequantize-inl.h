// Per-target dequantize driver: blocks to floats through the format's codec.

#if defined(QNT_KERNELS_DEQUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_DEQUANTIZE_INL_H_
#undef QNT_KERNELS_DEQUANTIZE_INL_H_
#else
#define QNT_KERNELS_DEQUANTIZE_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"
#include "codec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

// Decodes blocks [b0, b1) of `x` to y[b0 * B, b1 * B).
template <class F>
void Dequantize(const typename F::block* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t b0, size_t b1) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t b = b0; b < b1; ++b) F::decode(x[b], y + b * F::block_size);  // the reference itself
#else
  const hn::ScalableTag<float> df;
  for (size_t b = b0; b < b1; ++b) Codec<F>::Decode(df, x[b], y + b * F::block_size);
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
