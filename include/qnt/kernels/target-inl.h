// Per-target identity, so that dispatch can report which target it chose.

#if defined(QNT_KERNELS_TARGET_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_TARGET_INL_H_
#undef QNT_KERNELS_TARGET_INL_H_
#else
#define QNT_KERNELS_TARGET_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

inline int64_t CurrentTarget() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
