// qnt-bench: what each format costs and gives on this machine. For every format:
// bits per weight, size of a 7B-parameter model, relative RMS error on Gaussian
// and heavy-tailed (Student-t, 3 degrees of freedom) synthetic weights, quantize
// and dequantize throughput (one thread; as tiles of 4096 weights, and the whole
// sample in one call), one-thread matvec in GB/s of weight bytes
// and as a fraction of a one-thread plain read of the same weights, matmul
// GFLOP/s at n = 1, 32 and 512, and the SIMD target in use. Then the quantizer
// quality table (tools/quality.hpp): error on four distributions against GGUF's
// reference quantizers (text and JSON output).
//
//   qnt-bench [--formats q4_0,q4_K,...] [--threads N] [--size ROWSxCOLS]
//             [--csv | --json] [--svg FILE] [--quiet] [--quick]
// --quick uses small buffers: a functional check, its figures mean little.
#include <qnt/qnt.hpp>
#include <hwy/aligned_allocator.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "quality.hpp"
#include "synthetic.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

struct options {
  std::vector<std::string> formats;  // empty: all
  unsigned threads = 0;
  size_t rows = 4096, cols = 4096;
  bool csv = false, json = false, quiet = false, quick = false;
  std::string svg;
};

struct result {
  std::string name;
  double bpw = 0, gb_7b = 0, err_gauss = 0, err_heavy = 0, quant_mws = 0, thorough_mws = 0, deq_tile_gws = 0, deq_bulk_gws = 0;
  double matvec_gbs = 0, matvec_frac = 0, mm1 = 0, mm32 = 0, mm512 = 0;
};

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  return qnt_quality::rel_rmse(x.data(), y.data(), x.size());
}

// One streaming read of the whole 32-byte pieces of `bytes` at p, one thread, GB/s.
double read_speed(const void* p, size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  const auto t0 = clock_type::now();
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 32 <= bytes; i += 32) {
    uint64_t w[4];
    std::memcpy(w, b + i, 32);
    s0 += w[0], s1 += w[1], s2 += w[2], s3 += w[3];
  }
  const double t = since(t0);
  if (s0 + s1 + s2 + s3 == 7) std::puts("");  // keeps the loop
  return double(bytes / 32 * 32) / t / 1e9;
}

// One-thread streaming read of `mib` MiB, best of three, GB/s.
double read_bandwidth(size_t mib) {
  std::vector<uint64_t> buf((mib << 20) / 8, 1);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) best = std::max(best, read_speed(buf.data(), buf.size() * 8));
  return best;
}

// Repeats fn until at least `min_seconds` have passed (at least twice); best time.
template <class Fn>
double best_time(double min_seconds, Fn&& fn) {
  double best = 1e30, total = 0;
  for (int reps = 0; reps < 2 || total < min_seconds; ++reps) {
    const auto t0 = clock_type::now();
    fn();
    const double t = since(t0);
    best = std::min(best, t), total += t;
  }
  return best;
}

// Fills `count` blocks by repeating `tile`: speed does not depend on the values, and
// quantizing hundreds of millions of weights would take longer than the benchmark.
template <class F>
std::vector<typename F::block> replicate(const std::vector<typename F::block>& tile, size_t count) {
  std::vector<typename F::block> out(count);
  for (size_t i = 0; i < count; i += tile.size())
    std::memcpy(out.data() + i, tile.data(), std::min(tile.size(), count - i) * sizeof(typename F::block));
  return out;
}

template <class F>
result measure(const options& o, const std::vector<float>& gauss, const std::vector<float>& heavy) {
  constexpr size_t B = F::block_size;
  result r;
  r.name = std::string(F::name);
  r.bpw = qnt::bits_per_weight<F>;
  r.gb_7b = 7e9 * r.bpw / 8 / 1e9;
  const size_t n = gauss.size();
  std::vector<typename F::block> tile(n / B);
  std::vector<float> y(n);

  const double tq = best_time(o.quick ? 0.0 : 0.2, [&] { qnt::quantize<F>(gauss.data(), tile.data(), n); });
  r.quant_mws = double(n) / tq / 1e6;
  {  // the thorough search, on a sixteenth of the sample (it is many times slower)
    const size_t m = std::max(B, n / 16 / B * B);
    std::vector<typename F::block> t(m / B);
    r.thorough_mws = double(m) / best_time(0.0, [&] {
      qnt::quantize<F>(gauss.data(), t.data(), m, nullptr, qnt::effort::thorough);
    }) / 1e6;
  }
  // Dequantize as an engine decodes weights for a float kernel: the sample in calls of
  // 4096 weights (as ggml's quantize-perf measures by default), each into the same 16
  // KiB of floats, which stay in the L1 cache: the decoder's own rate. The whole sample
  // in one call writes 2 MiB of floats, past the L2 cache, and is bound by the rate of
  // those stores (README: Measured).
  {
    const size_t chunk = std::max(B, size_t(4096) / B * B);
    const auto part = hwy::AllocateAligned<float>(chunk);  // whole cache lines, as a tile buffer would be
    const double tt = best_time(o.quick ? 0.0 : 0.2, [&] {
      for (size_t at = 0; at < n; at += chunk)
        qnt::dequantize<F>(tile.data() + at / B, part.get(), std::min(chunk, n - at));
    });
    r.deq_tile_gws = double(n) / tt / 1e9;
  }
  const double td = best_time(o.quick ? 0.0 : 0.2, [&] { qnt::dequantize<F>(tile.data(), y.data(), n); });
  r.deq_bulk_gws = double(n) / td / 1e9;
  r.err_gauss = rel_rmse(gauss, y);
  {
    std::vector<typename F::block> hb(n / B);
    std::vector<float> hy(n);
    qnt::quantize<F>(heavy.data(), hb.data(), n);
    qnt::dequantize<F>(hb.data(), hy.data(), n);
    r.err_heavy = rel_rmse(heavy, hy);
  }

  // matvec, one thread, on about 256 MiB of weights: far beyond any last-level cache.
  // Its fraction of memory read is against plain reads of the same weights, taken in
  // turn with the matvec (best of three each): on a shared or virtual machine the
  // bandwidth drifts by a third within minutes, so a figure taken once at the start
  // (the header's) would make the fraction as much a measure of the drift.
  {
    const size_t cols = std::max(B, o.cols / B * B);
    const size_t row_bytes = cols / B * sizeof(typename F::block);
    const size_t rows = std::max<size_t>(1, ((o.quick ? size_t(4) : size_t(256)) << 20) / row_bytes);
    const auto big = replicate<F>(tile, rows * (cols / B));
    std::vector<float> x(cols, 0.5f), yy(rows);
    double t = 1e30, read = 0;
    for (int turn = 0; turn < 3; ++turn) {
      read = std::max(read, read_speed(big.data(), rows * row_bytes));
      t = std::min(t, best_time(o.quick ? 0.0 : 0.1, [&] {
        qnt::matvec<F>(big.data(), rows, cols, x.data(), yy.data(), qnt::exec{.threads = 1});
      }));
    }
    r.matvec_gbs = double(rows * row_bytes) / t / 1e9;
    r.matvec_frac = r.matvec_gbs / read;
  }

  // matmul on the --size matrix with --threads threads.
  {
    const size_t cols = std::max(B, o.cols / B * B), rows = o.rows;
    const auto w = replicate<F>(tile, rows * (cols / B));
    for (const size_t batch : {size_t(1), size_t(32), size_t(512)}) {
      std::vector<float> x(batch * cols, 0.25f), yy(batch * rows);
      const double t = best_time(o.quick ? 0.0 : 0.2, [&] {
        qnt::matmul<F>(w.data(), rows, cols, x.data(), batch, yy.data(), qnt::exec{.threads = o.threads});
      });
      const double gflops = 2.0 * double(rows) * double(cols) * double(batch) / t / 1e9;
      (batch == 1 ? r.mm1 : batch == 32 ? r.mm32 : r.mm512) = gflops;
    }
  }
  return r;
}

// One row of the quantizer quality table: qnt's relative RMS error on each
// distribution of qnt_quality (all threads, through quantize_rows), for the fast
// (default) and the thorough search.
struct quality_row {
  std::string name;
  double fast[4] = {}, thorough[4] = {};
};

template <class F>
quality_row measure_quality(const options& o, const std::vector<std::vector<float>>& data) {
  constexpr size_t B = F::block_size;
  quality_row q{std::string(F::name)};
  const size_t rows = o.quick ? 4 : qnt_quality::kRows, cols = qnt_quality::kCols / B * B, n = rows * cols;
  std::vector<typename F::block> b(n / B);
  std::vector<float> y(n);
  for (const auto d : qnt_synthetic::all_dists) {
    const auto& x = data[size_t(d)];
    for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
      qnt::quantize_rows<F>(x.data(), b.data(), rows, cols, nullptr, qnt::exec{.threads = o.threads}, how);
      qnt::dequantize<F>(b.data(), y.data(), n);
      (how == qnt::effort::fast ? q.fast : q.thorough)[size_t(d)] = qnt_quality::rel_rmse(x.data(), y.data(), n);
    }
  }
  return q;
}

void print_quality(const std::vector<quality_row>& rows, size_t tensor_rows) {
  using qnt_synthetic::dist;
  std::printf("\nQuantizer error: relative RMSE on %zu x %zu weights (standard deviation 0.02) of the fast search\n"
              "(the default) and the thorough one; ref: GGUF's reference quantizer. The fast search is to be no worse\n"
              "than ref; the thorough one is to meet the goal: 3%% below ref (5%% for q4_0, q5_0, q8_0), for the\n"
              "k-quants also below GGUF's importance-weighted search run with uniform importance.\n\n",
              tensor_rows, qnt_quality::kCols);
  std::printf("%-8s %8s %8s %8s %8s %5s %8s %8s %8s %8s %5s %9s %9s %9s %9s\n", "", "Gaussian", "", "", "", "", "Laplace", "",
              "", "", "", "Student", "-t3", "outliers", "");
  std::printf("%-8s %8s %8s %8s %8s %5s %8s %8s %8s %8s %5s %9s %9s %9s %9s\n", "format", "fast", "thorough", "ref", "goal",
              "", "fast", "thorough", "ref", "goal", "", "fast", "thorough", "fast", "thorough");
  for (const auto& q : rows) {
    std::printf("%-8s", q.name.c_str());
    for (const dist d : {dist::gaussian, dist::laplace}) {
      const auto* ref = qnt_quality::find_reference(q.name, d);
      const double f = q.fast[size_t(d)], t = q.thorough[size_t(d)];
      if (ref)
        std::printf(" %8.5f %8.5f %8.5f %8.5f %5s", f, t, ref->plain, qnt_quality::goal(*ref),
                    f <= ref->plain && t < qnt_quality::goal(*ref) ? "met" : "MISS");
      else
        std::printf(" %8.5f %8.5f %8s %8s %5s", f, t, "", "", "");
    }
    for (const dist d : {dist::student_t3, dist::outliers}) std::printf(" %9.5f %9.5f", q.fast[size_t(d)], q.thorough[size_t(d)]);
    std::printf("\n");
  }
}

void write_svg(const std::string& path, const std::vector<result>& rs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "qnt-bench: cannot write %s\n", path.c_str());
    return;
  }
  const double W = 760, H = 480, L = 70, R = 20, T = 40, Bm = 60;
  double bmax = 0, smax = 0, emin = 1, emax = 0;
  for (const auto& r : rs) {
    bmax = std::max(bmax, r.bpw), smax = std::max(smax, r.matvec_gbs);
    if (r.err_gauss > 0) emin = std::min(emin, r.err_gauss), emax = std::max(emax, r.err_gauss);
  }
  bmax = std::ceil(bmax + 0.5);
  // Logarithmic error axis over whole decades around the data.
  const double lo = std::floor(std::log10(emin)), hi = std::ceil(std::log10(std::max(emax, emin * 1.01)));
  auto px = [&](double b) { return L + (W - L - R) * b / bmax; };
  auto py = [&](double e) { return H - Bm - (H - T - Bm) * (std::log10(std::max(e, 1e-12)) - lo) / (hi - lo); };
  std::fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' font-family='sans-serif' font-size='12'>\n", W, H);
  std::fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  std::fprintf(f, "<text x='%.0f' y='22' font-size='15'>qnt: error against size (target %s; circle area: matvec GB/s)</text>\n", L,
               qnt::active_target());
  std::fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", L, H - Bm, W - R, H - Bm);
  std::fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", L, T, L, H - Bm);
  for (int b = 0; b <= int(bmax); ++b)
    std::fprintf(f, "<text x='%.1f' y='%.0f' text-anchor='middle'>%d</text>\n", px(b), H - Bm + 16, b);
  for (double d = lo; d <= hi; d += 1)
    for (const double m : {1.0, 2.0, 5.0}) {
      const double e = m * std::pow(10.0, d);
      if (std::log10(e) > hi + 1e-9) break;
      std::fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#ddd'/>\n", L, py(e), W - R, py(e));
      std::fprintf(f, "<text x='%.0f' y='%.1f' text-anchor='end'>%g</text>\n", L - 6, py(e) + 4, e);
    }
  std::fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='middle'>bits per weight</text>\n", (L + W - R) / 2, H - 20);
  std::fprintf(f, "<text transform='translate(18 %.0f) rotate(-90)' text-anchor='middle'>relative RMS error (Gaussian)</text>\n",
               (T + H - Bm) / 2);
  for (const auto& r : rs) {
    const double rad = 3 + 12 * std::sqrt(r.matvec_gbs / (smax > 0 ? smax : 1));
    std::fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='steelblue' fill-opacity='0.5' stroke='steelblue'/>\n", px(r.bpw),
                 py(r.err_gauss), rad);
    std::fprintf(f, "<text x='%.1f' y='%.1f'>%s %.1f GB/s</text>\n", px(r.bpw) + rad + 2, py(r.err_gauss) + 4, r.name.c_str(),
                 r.matvec_gbs);
  }
  std::fprintf(f, "</svg>\n");
  std::fclose(f);
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--formats") {
      const char* v = value();
      if (!v) return false;
      std::string s = v;
      for (size_t p = 0; p <= s.size();) {
        const size_t q = std::min(s.find(',', p), s.size());
        if (q > p) o.formats.push_back(s.substr(p, q - p));
        p = q + 1;
      }
    } else if (a == "--threads") {
      const char* v = value();
      if (!v) return false;
      o.threads = unsigned(std::strtoul(v, nullptr, 10));
    } else if (a == "--size") {
      const char* v = value();
      if (!v || std::sscanf(v, "%zux%zu", &o.rows, &o.cols) != 2 || o.rows == 0 || o.cols == 0) return false;
    } else if (a == "--csv") {
      o.csv = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--svg") {
      const char* v = value();
      if (!v) return false;
      o.svg = v;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: qnt-bench [--formats q4_0,q4_K,...] [--threads N] [--size ROWSxCOLS] [--csv | --json] [--svg FILE] "
                 "[--quiet] [--quick]\n");
    return 2;
  }
  // Names are GGUF's (q4_K) or qnt's tags (q4_k); both are accepted.
  auto wanted = [&](std::string_view name) {
    if (o.formats.empty()) return true;
    for (const auto& f : o.formats) {
      if (f.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < f.size(); ++i) same &= std::tolower(f[i]) == std::tolower(name[i]);
      if (same) return true;
    }
    return false;
  };
  size_t known = 0;
  qnt::all_formats::for_each([&]<class F>() { known += wanted(F::name); });
  if (known == 0) {
    std::fprintf(stderr, "qnt-bench: no known format selected\n");
    return 2;
  }

  if (!o.quiet) std::fprintf(stderr, "measuring memory read bandwidth...\n");
  const double bandwidth = read_bandwidth(o.quick ? 8 : 512);
  const size_t sample = o.quick ? 4096 : size_t(1) << 19;
  const auto gauss = qnt_synthetic::weights(qnt_synthetic::dist::gaussian, sample, 2026);
  const auto heavy = qnt_synthetic::weights(qnt_synthetic::dist::student_t3, sample, 2027);

  std::vector<result> results;
  size_t done = 0;
  qnt::all_formats::for_each([&]<class F>() {
    if (!wanted(F::name)) return;
    if (!o.quiet) std::fprintf(stderr, "[%zu/%zu] %s\n", ++done, known, F::name.data());
    results.push_back(measure<F>(o, gauss, heavy));
  });

  if (!o.quiet) std::fprintf(stderr, "quantizer quality table...\n");
  std::vector<std::vector<float>> tensors;
  for (const auto d : qnt_synthetic::all_dists) tensors.push_back(qnt_quality::synthetic(d));
  std::vector<quality_row> quality;
  qnt::all_formats::for_each([&]<class F>() {
    if (wanted(F::name)) quality.push_back(measure_quality<F>(o, tensors));
  });

  const unsigned threads = qnt::detail::thread_count(qnt::exec{.threads = o.threads});
  if (o.json) {
    std::printf("{\n  \"target\": \"%s\",\n  \"memory_read_gbs\": %.2f,\n  \"threads\": %u,\n  \"rows\": %zu,\n  \"cols\": %zu,\n",
                qnt::active_target(), bandwidth, threads, o.rows, o.cols);
    std::printf("  \"formats\": [\n");
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      std::printf(
          "    {\"name\": \"%s\", \"bits_per_weight\": %.4f, \"size_7b_gb\": %.3f, \"rel_rmse_gaussian\": %.6f, "
          "\"rel_rmse_student_t3\": %.6f, \"quantize_mweights_s\": %.3f, \"quantize_thorough_mweights_s\": %.3f, "
          "\"dequantize_tile_gweights_s\": %.4f, \"dequantize_bulk_gweights_s\": %.4f, "
          "\"matvec_gbs\": %.3f, \"matvec_fraction_of_read\": %.4f, \"matmul_gflops_n1\": %.2f, \"matmul_gflops_n32\": %.2f, "
          "\"matmul_gflops_n512\": %.2f}%s\n",
          r.name.c_str(), r.bpw, r.gb_7b, r.err_gauss, r.err_heavy, r.quant_mws, r.thorough_mws, r.deq_tile_gws, r.deq_bulk_gws,
          r.matvec_gbs, r.matvec_frac, r.mm1,
          r.mm32, r.mm512, i + 1 < results.size() ? "," : "");
    }
    std::printf("  ],\n  \"quality\": [\n");
    for (size_t i = 0; i < quality.size(); ++i) {
      const auto& q = quality[i];
      std::printf("    {\"name\": \"%s\"", q.name.c_str());
      for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
        const double* e = how == qnt::effort::fast ? q.fast : q.thorough;
        std::printf(", \"rel_rmse_%s\": {\"gaussian\": %.6f, \"laplace\": %.6f, \"student_t3\": %.6f, \"outliers\": %.6f}",
                    how == qnt::effort::fast ? "fast" : "thorough", e[0], e[1], e[2], e[3]);
      }
      for (const auto d : {qnt_synthetic::dist::gaussian, qnt_synthetic::dist::laplace})
        if (const auto* ref = qnt_quality::find_reference(q.name, d))
          std::printf(", \"reference_%s\": %.5f, \"goal_%s\": %.6f", qnt_synthetic::dist_name(d).c_str(), ref->plain,
                      qnt_synthetic::dist_name(d).c_str(), qnt_quality::goal(*ref));
      std::printf("}%s\n", i + 1 < quality.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
  } else if (o.csv) {
    std::printf(
        "format,bits_per_weight,size_7b_gb,rel_rmse_gaussian,rel_rmse_student_t3,quantize_mweights_s,"
        "quantize_thorough_mweights_s,dequantize_tile_gweights_s,dequantize_bulk_gweights_s,"
        "matvec_gbs,matvec_fraction_of_read,matmul_gflops_n1,matmul_gflops_n32,matmul_gflops_n512,target\n");
    for (const auto& r : results)
      std::printf("%s,%.4f,%.3f,%.6f,%.6f,%.3f,%.3f,%.4f,%.4f,%.3f,%.4f,%.2f,%.2f,%.2f,%s\n", r.name.c_str(), r.bpw, r.gb_7b,
                  r.err_gauss, r.err_heavy, r.quant_mws, r.thorough_mws, r.deq_tile_gws, r.deq_bulk_gws, r.matvec_gbs, r.matvec_frac, r.mm1, r.mm32, r.mm512,
                  qnt::active_target());
  } else {
    std::printf("qnt-bench: SIMD target %s; memory read %.1f GB/s (one thread); matmul %zu x %zu on %u threads\n\n",
                qnt::active_target(), bandwidth, o.rows, o.cols, threads);
    std::printf("%-8s %6s %7s %9s %9s %8s %8s %8s %8s %8s %6s %8s %8s %8s\n", "format", "bits/w", "7B GB", "rmse N",
                "rmse t3", "quant", "quant", "dequant", "dequant", "matvec", "of", "matmul", "matmul", "matmul");
    std::printf("%-8s %6s %7s %9s %9s %8s %8s %8s %8s %8s %6s %8s %8s %8s\n", "", "", "", "", "", "Mw/s", "thorough",
                "tile", "bulk", "GB/s", "read", "n=1", "n=32", "n=512");
    for (const auto& r : results)
      std::printf("%-8s %6.3f %7.2f %9.5f %9.5f %8.1f %8.2f %8.3f %8.3f %8.2f %6.2f %8.1f %8.1f %8.1f\n", r.name.c_str(),
                  r.bpw, r.gb_7b, r.err_gauss, r.err_heavy, r.quant_mws, r.thorough_mws, r.deq_tile_gws, r.deq_bulk_gws,
                  r.matvec_gbs, r.matvec_frac, r.mm1, r.mm32, r.mm512);
    std::printf("\nrmse: relative RMS error of the default (fast) quantizer; quant: quantize Mweights/s, one thread, fast\n"
                "(default) and thorough search; dequant: Gweights/s, one thread, in calls of 4096 weights into one\n"
                "16 KiB buffer (tile) and the whole sample of %zu weights in one call (bulk: bound by the stores);\n"
                "matvec: one thread, weights beyond the caches, GB/s of weight bytes and its fraction of a plain read\n"
                "of the same weights, taken in turn with it; matmul: GFLOP/s (2 * rows * cols * n).\n", sample);
    print_quality(quality, o.quick ? 4 : qnt_quality::kRows);
  }
  if (!o.svg.empty()) write_svg(o.svg, results);
  return 0;
}
