// SIMD fast paths of the codecs (specializations of Codec<F>).

#if defined(QNT_KERNELS_CODECS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_CODECS_INL_H_
#undef QNT_KERNELS_CODECS_INL_H_
#else
#define QNT_KERNELS_CODECS_INL_H_
#endif

#include "hwy/highway.h"
#include "codec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
