// Whole-tensor quantization: rows in parallel, one importance weight per column
// (what an importance matrix of a Linear layer holds: the mean squared activation
// of each input channel).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "api.hpp"
#include "exec.hpp"

namespace qnt {

// Quantizes a rows x cols tensor (row-major floats) into rows * cols / F::block_size
// blocks, each row cols / F::block_size consecutive blocks (GGUF's tensor layout).
// `column_importance` (optional, cols entries) weighs the squared error of every
// weight in that column. Row r is quantize<F> of its weights with that importance,
// so the bytes written do not depend on the threads used.
template <block_format F>
status quantize_rows(const float* x, typename F::block* y, size_t rows, size_t cols,
                     const float* column_importance = nullptr, const exec& e = {}, effort how = effort::fast) {
  constexpr size_t B = F::block_size;
  if (cols % B != 0 || (cols != 0 && rows > SIZE_MAX / cols)) return status::invalid_size;
  if (rows == 0 || cols == 0) return status::ok;
  if (!x || !y) return status::null_pointer;
  if (column_importance && !valid_importance(column_importance, cols)) return status::invalid_importance;
  // A few tasks per thread even out rows of unequal cost.
  const size_t tasks = rows < 4 * size_t(detail::thread_count(e)) ? rows : 4 * size_t(detail::thread_count(e));
  std::atomic<int> st{int(status::ok)};
  detail::parallel_for(e, tasks, [&](size_t t) {
    const size_t r0 = rows * t / tasks, r1 = rows * (t + 1) / tasks;
    status s = status::ok;
    for (size_t r = r0; r < r1; ++r)
      s = worst(s, detail::encode_blocks<F>(x + r * cols, column_importance, y + r * (cols / B), cols, how));
    for (int seen = st.load(); int(s) > seen && !st.compare_exchange_weak(seen, int(s));) {
    }
  });
  return status(st.load());
}

}  // namespace qnt
