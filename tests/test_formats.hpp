// The formats the generic tests run over: every named format plus a spread of
// generic instances (bits, group sizes and scale types).
#pragma once

#include <qnt/qnt.hpp>

namespace qnt_test {

using generic_formats =
    qnt::format_list<qnt::symmetric<8, 128, qnt::bf16>, qnt::symmetric<4, 64, qnt::f32>, qnt::symmetric<5, 8, qnt::f16>,
                     qnt::symmetric<4, 256, qnt::bf16>, qnt::affine<4, 128, qnt::bf16>, qnt::affine<8, 16, qnt::f16>,
                     qnt::affine<5, 64, qnt::f32>, qnt::affine<8, 256, qnt::f32>, qnt::basic_nf4<128, qnt::f16>,
                     qnt::basic_nf4<32, qnt::bf16>, qnt::basic_nf4<16, qnt::f32>>;

// Calls fn.template operator()<F>() for every named and generic format.
template <class Fn>
void for_each_format(Fn&& fn) {
  qnt::all_formats::for_each(fn);
  generic_formats::for_each(fn);
}

template <class F>
inline constexpr bool is_activation_type = F::name == "q8_1" || F::name == "q8_K";

}  // namespace qnt_test
