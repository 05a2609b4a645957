// The rendezvous argmax: the hot loop of the sticky and weighted strategies (a cold start of
// 10 000 partitions on 1 000 workers scores up to 10 million pairs). Three implementations of
// the same integer computation, so they agree bit for bit: portable C++, AVX2 (4 lanes, 64-bit
// multiply built from 32-bit ones) and AVX-512 (8 lanes), chosen at run time by CPU support.
#include <atomic>

#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/hashing.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PARTI_STRATEGY_X86_KERNELS 1
#include <immintrin.h>
#endif

namespace parti::strategy_detail {

namespace {

std::size_t portable(std::uint64_t ph, const std::uint64_t* wh, std::size_t n) {
  std::uint64_t best = strategy_hash::rendezvous_score(ph, wh[0]);
  std::size_t best_j = 0;
  for (std::size_t j = 1; j < n; ++j) {
    const std::uint64_t s = strategy_hash::rendezvous_score(ph, wh[j]);
    if (s > best) {  // strict: the first of equal scores wins
      best = s;
      best_j = j;
    }
  }
  return best_j;
}

#if PARTI_STRATEGY_X86_KERNELS

// The SplitMix64 finaliser constants (hashing.hpp).
constexpr std::uint64_t c1 = 0xbf58476d1ce4e5b9ULL;
constexpr std::uint64_t c2 = 0x94d049bb133111ebULL;

// Lanes hold (score, index) candidates, each the first highest of its lane; this picks the
// highest score, the smallest index among equals, then scans the tail (larger indices).
std::size_t finish(const std::uint64_t* lane_score, const std::uint64_t* lane_index, int lanes,
                   std::uint64_t ph, const std::uint64_t* wh, std::size_t j, std::size_t n) {
  std::uint64_t top = lane_score[0];
  std::size_t top_j = lane_index[0];
  for (int k = 1; k < lanes; ++k)
    if (lane_score[k] > top || (lane_score[k] == top && lane_index[k] < top_j)) {
      top = lane_score[k];
      top_j = lane_index[k];
    }
  for (; j < n; ++j) {
    const std::uint64_t s = strategy_hash::rendezvous_score(ph, wh[j]);
    if (s > top) {
      top = s;
      top_j = j;
    }
  }
  return top_j;
}

// -- AVX-512F + AVX-512DQ (vpmullq) ----------------------------------------------------------

__attribute__((target("avx512f,avx512dq"))) inline __m512i scores8(const std::uint64_t* wh,
                                                                   __m512i vph, __m512i k1,
                                                                   __m512i k2) {
  // maskz shifts: the unmasked forms trip a false -Wmaybe-uninitialized in GCC 12's headers.
  __m512i x = _mm512_xor_si512(_mm512_loadu_si512(wh), vph);
  x = _mm512_xor_si512(x, _mm512_maskz_srli_epi64(0xff, x, 30));
  x = _mm512_mullo_epi64(x, k1);
  x = _mm512_xor_si512(x, _mm512_maskz_srli_epi64(0xff, x, 27));
  x = _mm512_mullo_epi64(x, k2);
  return _mm512_xor_si512(x, _mm512_maskz_srli_epi64(0xff, x, 31));
}

__attribute__((target("avx512f,avx512dq"))) std::size_t avx512(std::uint64_t ph,
                                                               const std::uint64_t* wh,
                                                               std::size_t n) {
  if (n < 16) return portable(ph, wh, n);
  const __m512i vph = _mm512_set1_epi64(static_cast<long long>(ph));
  const __m512i k1 = _mm512_set1_epi64(static_cast<long long>(c1));
  const __m512i k2 = _mm512_set1_epi64(static_cast<long long>(c2));
  const __m512i step = _mm512_set1_epi64(8);
  __m512i best = scores8(wh, vph, k1, k2);
  __m512i best_index = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  __m512i index = _mm512_add_epi64(best_index, step);
  std::size_t j = 8;
  for (; j + 8 <= n; j += 8) {
    const __m512i s = scores8(wh + j, vph, k1, k2);
    const __mmask8 better = _mm512_cmpgt_epu64_mask(s, best);
    best = _mm512_mask_mov_epi64(best, better, s);
    best_index = _mm512_mask_mov_epi64(best_index, better, index);
    index = _mm512_add_epi64(index, step);
  }
  alignas(64) std::uint64_t lane_score[8];
  alignas(64) std::uint64_t lane_index[8];
  _mm512_store_si512(lane_score, best);
  _mm512_store_si512(lane_index, best_index);
  return finish(lane_score, lane_index, 8, ph, wh, j, n);
}

// -- AVX2 --------------------------------------------------------------------------------------

// a * b modulo 2^64 from 32x32->64 multiplies; b_hi = b >> 32.
__attribute__((target("avx2"))) inline __m256i mul64(__m256i a, __m256i b, __m256i b_hi) {
  const __m256i lo = _mm256_mul_epu32(a, b);
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b), _mm256_mul_epu32(a, b_hi));
  return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2"))) inline __m256i scores4(const std::uint64_t* wh, __m256i vph,
                                                       __m256i k1, __m256i k1_hi, __m256i k2,
                                                       __m256i k2_hi) {
  __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wh)), vph);
  x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 30));
  x = mul64(x, k1, k1_hi);
  x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 27));
  x = mul64(x, k2, k2_hi);
  return _mm256_xor_si256(x, _mm256_srli_epi64(x, 31));
}

__attribute__((target("avx2"))) std::size_t avx2(std::uint64_t ph, const std::uint64_t* wh,
                                                 std::size_t n) {
  if (n < 8) return portable(ph, wh, n);
  const __m256i vph = _mm256_set1_epi64x(static_cast<long long>(ph));
  const __m256i k1 = _mm256_set1_epi64x(static_cast<long long>(c1));
  const __m256i k1_hi = _mm256_set1_epi64x(static_cast<long long>(c1 >> 32));
  const __m256i k2 = _mm256_set1_epi64x(static_cast<long long>(c2));
  const __m256i k2_hi = _mm256_set1_epi64x(static_cast<long long>(c2 >> 32));
  // AVX2 compares signed 64-bit lanes only: compare with the sign bit flipped.
  const __m256i sign = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ULL));
  const __m256i step = _mm256_set1_epi64x(4);
  __m256i best = _mm256_xor_si256(scores4(wh, vph, k1, k1_hi, k2, k2_hi), sign);
  __m256i best_index = _mm256_setr_epi64x(0, 1, 2, 3);
  __m256i index = _mm256_add_epi64(best_index, step);
  std::size_t j = 4;
  for (; j + 4 <= n; j += 4) {
    const __m256i s = _mm256_xor_si256(scores4(wh + j, vph, k1, k1_hi, k2, k2_hi), sign);
    const __m256i better = _mm256_cmpgt_epi64(s, best);
    best = _mm256_blendv_epi8(best, s, better);
    best_index = _mm256_blendv_epi8(best_index, index, better);
    index = _mm256_add_epi64(index, step);
  }
  alignas(32) std::uint64_t lane_score[4];
  alignas(32) std::uint64_t lane_index[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lane_score), _mm256_xor_si256(best, sign));
  _mm256_store_si256(reinterpret_cast<__m256i*>(lane_index), best_index);
  return finish(lane_score, lane_index, 4, ph, wh, j, n);
}

#endif

std::atomic<int> forced{-1};  // set_score_kernel; -1: the best supported

}  // namespace

bool score_kernel_supported(score_kernel k) {
  switch (k) {
    case score_kernel::portable:
      return true;
#if PARTI_STRATEGY_X86_KERNELS
    case score_kernel::avx2: {
      static const bool yes = __builtin_cpu_supports("avx2");
      return yes;
    }
    case score_kernel::avx512: {
      static const bool yes =
          __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
      return yes;
    }
#endif
    default:
      return false;
  }
}

score_kernel active_score_kernel() {
  const int f = forced.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<score_kernel>(f);
  if (score_kernel_supported(score_kernel::avx512)) return score_kernel::avx512;
  if (score_kernel_supported(score_kernel::avx2)) return score_kernel::avx2;
  return score_kernel::portable;
}

bool set_score_kernel(score_kernel k) {
  if (!score_kernel_supported(k)) return false;
  forced.store(static_cast<int>(k), std::memory_order_relaxed);
  return true;
}

const char* score_kernel_name(score_kernel k) {
  switch (k) {
    case score_kernel::avx2:
      return "avx2";
    case score_kernel::avx512:
      return "avx512";
    default:
      return "portable";
  }
}

std::size_t best_score_index_with(score_kernel k, std::uint64_t ph, const std::uint64_t* wh,
                                  std::size_t n) {
#if PARTI_STRATEGY_X86_KERNELS
  if (k == score_kernel::avx512 && score_kernel_supported(k)) return avx512(ph, wh, n);
  if (k == score_kernel::avx2 && score_kernel_supported(k)) return avx2(ph, wh, n);
#endif
  (void)k;
  return portable(ph, wh, n);
}

std::size_t best_score_index(std::uint64_t ph, const std::uint64_t* wh, std::size_t n) {
  return best_score_index_with(active_score_kernel(), ph, wh, n);
}

}  // namespace parti::strategy_detail
