// q8_1: GGUF's activation type for the q4_1 / q5_1 dot products. Like q8_0 plus
// s = d * sum(q), which carries the activation sum those dots need for their offset.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"

namespace qnt {

struct q8_1 {
  struct block {
    f16 d;          // scale
    f16 s;          // d * sum of the codes, from the unrounded d
    int8_t qs[32];  // codes
  };  // 36 bytes / 32 weights = 9 bits per weight
  static_assert(sizeof(block) == 36);
  static constexpr size_t block_size = 32;
  static constexpr std::string_view name = "q8_1";
  static constexpr int gguf_type = 9;
  static constexpr float max_magnitude = 65504.f * 127;

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (size_t i = 0; i < 32; ++i) y[i] = float(b.qs[i]) * d;
  }

  // An activation type is quantized once per matrix product, so it keeps GGUF's
  // single-pass max-based rounding (and reproduces GGUF's bytes); the weights are ignored.
  static constexpr status encode(const float* x, const float*, block& b, effort) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = max(amax, abs(x[i]));
    bool clamped = false;
    const float d = amax / 127.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b.d.set(fit::store_scale<f16>(d, clamped));
    int sum = 0;
    for (size_t i = 0; i < 32; ++i) {
      const int q = clamp(round_away(x[i] * id), -127, 127);
      b.qs[i] = int8_t(q);
      sum += q;
    }
    b.s.set(fit::store_scale<f16>(float(sum) * d, clamped));
    return clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt
