// Runtime dispatch of the kernels: every per-target kernel is compiled for each
// target Highway enables (foreach_target.h) and a call picks, once, the best one the
// CPU supports. Header-only: every translation unit that includes this gets its own
// instantiations of the (inline, template) kernels and tables; the linker keeps one,
// so the program links without duplicate symbols.
//
// Embedded builds that want one target and the smallest binary define
// HWY_COMPILE_ONLY_STATIC before including any qnt header: only the target of the
// compiler flags is built, and calls go straight to it.
#pragma once

#include <algorithm>
#include <numeric>
#include <cstddef>

#include "../core/api.hpp"
#include "../core/exec.hpp"
#include "../core/rows.hpp"  // quantize_rows: threads, like the kernels

// Highway leaves out AVX3_DL (AVX-512 with VNNI) unless asked; its int8 dot
// products are what the integer matvec runs on. This takes effect only if
// Highway was not included before qnt (or defines it for the whole program).
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

// And qnt leaves out Highway's SSSE3 target: it serves only x86 CPUs without
// SSE4.2 or AES (2006-2010 designs, some Pentium and Celeron models until 2013),
// which then run the scalar target, and it cost every unit that includes qnt a
// sixth of its compile time. Define QNT_WANT_SSSE3 (or HWY_DISABLED_TARGETS
// yourself) to keep it. Like the line above, this holds if qnt comes first.
#if !defined(QNT_WANT_SSSE3) && !defined(HWY_DISABLED_TARGETS)
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif

// Include qnt's headers before defining HWY_TARGET_INCLUDE for your own code.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "qnt/kernels/all-inl.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "all-inl.h"
#undef HWY_TARGET_INCLUDE

namespace qnt {
namespace detail {

// One table per kernel and format, in Highway's target order; entry 0 stands for
// "not chosen yet".
template <class Fn>
using target_table = Fn* const[HWY_MAX_DYNAMIC_TARGETS + 2];

template <class Fn>
Fn* choose(const target_table<Fn>& table, Fn* static_target) {
#if defined(HWY_COMPILE_ONLY_STATIC)
  (void)table;
  return static_target;
#else
  hwy::ChosenTarget& chosen = hwy::GetChosenTarget();
  size_t index = chosen.GetIndex();
  if (index == 0) {
    chosen.Update(hwy::SupportedTargets());
    index = chosen.GetIndex();
  }
  // A target this translation unit did not compile (Highway included before qnt
  // without HWY_WANT_AVX3_DL): the next one in the table, a subset of its features.
  for (size_t i = index; i < sizeof(table) / sizeof(table[0]); ++i)
    if (table[i]) return table[i];
  return static_target;
#endif
}

#define QNT_TARGET_TABLE(FUNC) \
  { nullptr, HWY_CHOOSE_TARGET_LIST(FUNC), HWY_CHOOSE_FALLBACK(FUNC) }

template <class F>
using matmul_fn = void(const typename F::block*, size_t, size_t, const float*, size_t, float*, size_t, size_t);
template <class F>
using dequantize_fn = void(const typename F::block*, float*, size_t, size_t);
template <class F>
using quantize_fn = status(const float*, const float*, typename F::block*, size_t, effort);
using target_fn = int64_t();

template <class F>
inline constexpr target_table<matmul_fn<F>> matmul_table = QNT_TARGET_TABLE(MatMul<F>);
template <class F>
inline constexpr target_table<matmul_fn<F>> matvec_table = QNT_TARGET_TABLE(MatVec<F>);
// The quantizers' SIMD passes run on x86 as AVX2 code alone, on every CPU that has
// it: they write the same bytes on every target, AVX-512 CPUs then quantize at
// AVX2's width, and each further x86 target they were compiled for cost a unit that
// includes every format about ten seconds of compile time (g++ 12 -O2). CPUs
// without AVX2 run the scalar reference (SCALAR's Quantize). Define
// QNT_QUANTIZE_ALL_TARGETS to compile them for every enabled target instead.
#if !defined(QNT_QUANTIZE_ALL_TARGETS) && HWY_ARCH_X86 && (HWY_TARGETS & HWY_AVX2)
#define QNT_QUANTIZE_AVX2_ONLY 1
#else
#define QNT_QUANTIZE_AVX2_ONLY 0
#endif
// Dequantize (and quantize on every target) have no code of AVX3_DL's own (its
// extra instructions serve the int8 dot products): CPUs with it run AVX3's.
#pragma push_macro("HWY_CHOOSE_AVX3_DL")
#undef HWY_CHOOSE_AVX3_DL
#define HWY_CHOOSE_AVX3_DL(FUNC_NAME) HWY_CHOOSE_AVX3(FUNC_NAME)
template <class F>
inline constexpr target_table<dequantize_fn<F>> dequantize_table = QNT_TARGET_TABLE(Dequantize<F>);
#if !QNT_QUANTIZE_AVX2_ONLY
template <class F>
inline constexpr target_table<quantize_fn<F>> quantize_table = QNT_TARGET_TABLE(Quantize<F>);
#endif
#pragma pop_macro("HWY_CHOOSE_AVX3_DL")
#if QNT_QUANTIZE_AVX2_ONLY
#pragma push_macro("HWY_CHOOSE_AVX3_DL")
#pragma push_macro("HWY_CHOOSE_AVX3")
#pragma push_macro("HWY_CHOOSE_SSE4")
#undef HWY_CHOOSE_AVX3_DL
#undef HWY_CHOOSE_AVX3
#undef HWY_CHOOSE_SSE4
#define HWY_CHOOSE_AVX3_DL(FUNC_NAME) HWY_CHOOSE_AVX2(FUNC_NAME)
#define HWY_CHOOSE_AVX3(FUNC_NAME) HWY_CHOOSE_AVX2(FUNC_NAME)
#define HWY_CHOOSE_SSE4(FUNC_NAME) nullptr
template <class F>
inline constexpr target_table<quantize_fn<F>> quantize_table = QNT_TARGET_TABLE(Quantize<F>);
#pragma pop_macro("HWY_CHOOSE_SSE4")
#pragma pop_macro("HWY_CHOOSE_AVX3")
#pragma pop_macro("HWY_CHOOSE_AVX3_DL")
#endif
#undef QNT_QUANTIZE_AVX2_ONLY
inline constexpr target_table<target_fn> target_id_table = QNT_TARGET_TABLE(CurrentTarget);
#undef QNT_TARGET_TABLE

// Declared in core/api.hpp: the run-time path of qnt::dequantize.
template <block_format F>
void dequantize_blocks(const typename F::block* x, float* y, size_t blocks) {
  dequantize_fn<F>* fn = choose(dequantize_table<F>, &HWY_STATIC_DISPATCH(Dequantize<F>));
  fn(x, y, 0, blocks);
}

// Declared in core/api.hpp: the run-time path of qnt::quantize.
template <block_format F>
status quantize_blocks(const float* x, const float* w, typename F::block* y, size_t blocks, effort e) {
  return choose(quantize_table<F>, &HWY_STATIC_DISPATCH(Quantize<F>))(x, w, y, blocks, e);
}

}  // namespace detail

// The Highway target that dispatch chose for this CPU, e.g. "AVX3_DL".
inline const char* active_target() {
  return hwy::TargetName(detail::choose(detail::target_id_table, &HWY_STATIC_DISPATCH(CurrentTarget))());
}

// W: rows x cols weights, each row cols / F::block_size consecutive blocks (GGUF's
// tensor layout); x: n x cols, y: n x rows, row-major: y = x * W^T.
template <block_format F>
status matmul(const typename F::block* w, size_t rows, size_t cols, const float* x, size_t n, float* y,
              const exec& e = {}) {
  if (cols % F::block_size != 0) return status::invalid_size;
  if (rows == 0 || n == 0) return status::ok;
  if (cols == 0) {
    if (!y) return status::null_pointer;
    for (size_t i = 0; i < rows * n; ++i) y[i] = 0.f;
    return status::ok;
  }
  if (!w || !x || !y) return status::null_pointer;
  // One activation row: the matvec, one weight row after another (tasks of whole
  // groups of 4 rows); more: the tiles of up to 32 rows of the integer matmul (or,
  // below four activation rows and on HWY_SCALAR, the matvec's passes that take up
  // to three at once).
  detail::matmul_fn<F>* fn = n == 1 ? detail::choose(detail::matvec_table<F>, &HWY_STATIC_DISPATCH(MatVec<F>))
                                    : detail::choose(detail::matmul_table<F>, &HWY_STATIC_DISPATCH(MatMul<F>));
  // Tasks of whole tiles, a few per thread so that uneven progress evens out.
  const size_t tile = n == 1 ? 4 : 32;
  const size_t tiles = (rows + tile - 1) / tile;
  const size_t threads = detail::thread_count(e);
  // Every task of the matmul quantizes the activations it multiplies: more than
  // kActChunk activation rows (the integer tile's run) are split between tasks, into
  // up to n / kActChunk parts, before the weight rows are; and the weight rows only
  // into parts of kMinTaskTiles tiles or more once every thread has one, as each
  // part quantizes the same activations again (a multiple of `each` parts: then the
  // tasks are a multiple of the threads, and none is left with one more than others).
  constexpr size_t kActChunk = 128, kMinTaskTiles = 64;
  const size_t per_thread = threads <= 1 ? 1 : 4 * threads;
  const size_t act_chunks = n == 1 ? 1 : std::min((n + kActChunk - 1) / kActChunk, per_thread);
  size_t row_tasks = std::min(tiles, (per_thread + act_chunks - 1) / act_chunks);
  if (n > 1) {
    const size_t each = threads / std::gcd(threads, act_chunks);
    row_tasks = std::min(row_tasks, std::max(each, tiles / kMinTaskTiles / each * each));
  }
  const size_t tasks = act_chunks * row_tasks;
  detail::parallel_for(e, tasks, [&](size_t t) {
    const size_t a = t / row_tasks, rt = t % row_tasks;
    const size_t i0 = n * a / act_chunks, i1 = n * (a + 1) / act_chunks;
    const size_t r0 = tiles * rt / row_tasks * tile, r1 = tiles * (rt + 1) / row_tasks * tile;
    fn(w, rows, cols, x + i0 * cols, i1 - i0, y + i0 * rows, r0, r1 < rows ? r1 : rows);
  });
  return status::ok;
}

// y[r] = sum_c W[r][c] * x[c].
template <block_format F>
status matvec(const typename F::block* w, size_t rows, size_t cols, const float* x, float* y, const exec& e = {}) {
  return matmul<F>(w, rows, cols, x, 1, y, e);
}

}  // namespace qnt
