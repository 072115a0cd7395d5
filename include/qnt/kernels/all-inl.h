// Every per-target kernel of qnt. An engine that compiles per target itself
// (its own foreach_target.h unit) includes this inside that unit and calls
// qnt::HWY_NAMESPACE::MatMul<F>, Dequantize<F>, Quantize<F> directly, with no
// second dispatch.
#include "codec-inl.h"
#include "codecs-inl.h"
#include "dequantize-inl.h"
#include "matmul-inl.h"
#include "matmul_int8-inl.h"
#include "quantize-inl.h"
#include "target-inl.h"
