// GFLOPS of deepnode::sgemm (and OpenBLAS cblas_sgemm when built with -DWITH_OPENBLAS) on the
// shapes deepnode runs most: square products and the batch-32 MLP forward/backward products.
// Each cell is the median of repeated timed runs (each run long enough to time reliably), warm cache;
// ours and OpenBLAS alternate run by run, and each ratio is the median of the paired ratios (see
// paired_gflops).
#include "../native/gemm.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#ifdef WITH_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);
#endif

namespace {

struct Shape {
  const char* what;
  bool ta, tb;
  int64_t m, n, k;
};

const Shape kShapes[] = {
    {"square", false, false, 1024, 1024, 1024},
    {"fwd 784->300", false, false, 32, 300, 784},
    {"fwd 300->100", false, false, 32, 100, 300},
    {"fwd 100->10", false, false, 32, 10, 100},
    {"dW 784x300 (tA)", true, false, 784, 300, 32},
    {"dW 300x100 (tA)", true, false, 300, 100, 32},
    {"dX 300->784 (tB)", false, true, 32, 784, 300},
    {"dX 100->300 (tB)", false, true, 32, 300, 100},
    {"batch 256, 784", false, false, 256, 1024, 784},
    {"batch 256, 1024", false, false, 256, 1024, 1024},
};

using Clock = std::chrono::steady_clock;

template <class F>
double median_gflops(const Shape& s, F&& run, int trials) {
  const double flops = 2.0 * s.m * s.n * s.k;
  // Calibrate: iterations per trial so that a trial lasts about 4 ms.
  run();
  auto t0 = Clock::now();
  run();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int iters = std::max(1, static_cast<int>(4e-3 / std::max(once, 1e-9)));
  std::vector<double> rates;
  for (int t = 0; t < trials; ++t) {
    t0 = Clock::now();
    for (int i = 0; i < iters; ++i) run();
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    rates.push_back(flops * iters / sec * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Two libraries, trial by trial: trials alternate between them (in alternating order), so that a
// noisy shared machine slows both alike; the ratio is the median of the per-trial ratios, not the
// ratio of the medians. Returns {GFLOPS of a, GFLOPS of b, median a/b}.
// rest_ms: a pause before each trial. At two threads each library's idle workers spin for a while
// after a call (OpenBLAS's pthread server ~0.1 s, ours kSpinMicros) and would take a core from the
// other library's trial that follows: the pause lets them fall asleep, and an untimed call before
// the timed ones wakes the trial's own workers.
template <class A, class B>
std::array<double, 3> paired_gflops(const Shape& s, A&& run_a, B&& run_b, int pairs, int rest_ms) {
  const double flops = 2.0 * s.m * s.n * s.k;
  const double trial_sec = rest_ms > 0 ? 20e-3 : 2e-3;
  auto iters_for = [&](auto& run) {
    run();
    const auto t0 = Clock::now();
    run();
    const double once = std::chrono::duration<double>(Clock::now() - t0).count();
    return std::max(1, static_cast<int>(trial_sec / std::max(once, 1e-9)));
  };
  const int ia = iters_for(run_a), ib = iters_for(run_b);
  std::vector<double> ra, rb, ratio;
  auto rate = [&](auto& run, int iters) {
    if (rest_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rest_ms));
      run();
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) run();
    return flops * iters / std::chrono::duration<double>(Clock::now() - t0).count() * 1e-9;
  };
  for (int t = 0; t < pairs; ++t) {
    double a, b;
    if (t % 2) {
      a = rate(run_a, ia);
      b = rate(run_b, ib);
    } else {
      b = rate(run_b, ib);
      a = rate(run_a, ia);
    }
    ra.push_back(a);
    rb.push_back(b);
    ratio.push_back(a / b);
  }
  return {median(ra), median(rb), median(ratio)};
}

}  // namespace

int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 21;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("deepnode sgemm (kernel: %s), median of %d+ runs, GFLOPS\n", deepnode::gemm_isa(), trials);
#ifdef WITH_OPENBLAS
  // Which kernels OpenBLAS chose: an unknown CPU model gets its oldest ones (bench/lib/openblas.mjs,
  // which sets OPENBLAS_CORETYPE for a fair comparison when run through npm run bench).
  std::printf("OpenBLAS kernels: %s%s%s\n", openblas_get_corename(), std::getenv("OPENBLAS_CORETYPE") ? ", OPENBLAS_CORETYPE=" : "",
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "");
  std::printf("%-18s %16s %9s %9s %7s %9s %9s %7s\n", "shape", "m x n x k", "ours 1T", "oblas 1T", "ratio",
              "ours 2T", "oblas 2T", "ratio");
#else
  std::printf("%-18s %16s %9s %9s\n", "shape", "m x n x k", "ours 1T", "ours 2T");
#endif
  // Ours and OpenBLAS alternate trial by trial at both thread counts (paired_gflops): 3 * trials
  // pairs at 1 thread, 2 * trials + 1 at 2 threads, whose pairs also pause 150 ms each.
  const size_t count = sizeof kShapes / sizeof kShapes[0];
  std::vector<std::array<double, 2>> ours(count), oblas(count, {0.0, 0.0}), ratio(count, {0.0, 0.0});
  for (size_t i = 0; i < count; ++i) {
    const Shape& s = kShapes[i];
    const int64_t a_cols = s.ta ? s.m : s.k, b_cols = s.tb ? s.k : s.n;
    std::vector<float> A(s.m * s.k), B(s.k * s.n), C(s.m * s.n);
    for (float& x : A) x = dist(rng);
    for (float& x : B) x = dist(rng);
    auto run_ours = [&] {
      deepnode::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, A.data(), a_cols, B.data(), b_cols, 0.0f, C.data(), s.n);
    };
    for (int t = 1; t <= 2; ++t) {
      deepnode::set_num_threads(t);
#ifdef WITH_OPENBLAS
      openblas_set_num_threads(t);
      const auto r = paired_gflops(s, run_ours, [&] {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n,
                    s.k, 1.0f, A.data(), a_cols, B.data(), b_cols, 0.0f, C.data(), s.n);
      }, t == 1 ? 3 * trials : 2 * trials + 1, t == 1 ? 0 : 150);
      ours[i][t - 1] = r[0];
      oblas[i][t - 1] = r[1];
      ratio[i][t - 1] = r[2];
#else
      ours[i][t - 1] = median_gflops(s, run_ours, trials);
#endif
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const Shape& s = kShapes[i];
    char dims[32];
    std::snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s.m, (long long)s.n, (long long)s.k);
#ifdef WITH_OPENBLAS
    std::printf("%-18s %16s %9.1f %9.1f %7.2f %9.1f %9.1f %7.2f\n", s.what, dims, ours[i][0], oblas[i][0],
                ratio[i][0], ours[i][1], oblas[i][1], ratio[i][1]);
#else
    std::printf("%-18s %16s %9.1f %9.1f\n", s.what, dims, ours[i][0], ours[i][1]);
#endif
  }
  return 0;
}
