#pragma once
// Float32 matrix product for the float forward pass (linear layers and the two
// attention products): C = A·B (+ bias), with B given either as [N, K] rows
// (nn.Linear weight layout, so C = A·Bᵀ) or as [K, N] rows.
//
// Two paths, chosen once at run time: a packed, cache-blocked AVX-512 FMA
// kernel (kernels/x86/sgemm_avx512.cpp) when the CPU has AVX-512F, and Eigen
// otherwise. On the AVX-512 path every C element is one FMA chain over k =
// 0..K-1 in order, so its bits do not depend on tiling, on where the element
// sits in a tile, or on how many threads ran; the Eigen path splits rows into
// fixed chunks, which gives the same guarantee for the thread count.
// SQSIM_SGEMM=eigen|avx512|auto (default auto) forces a path.
#include <memory>
#include <vector>

namespace sqsim::kernels {

enum class BLayout {
  kNK,  // B is [N, K] row-major (C = A·Bᵀ)
  kKN,  // B is [K, N] row-major (C = A·B)
};

struct SgemmArgs {
  long m = 0, n = 0, k = 0;
  const float* a = nullptr;  // [M, K], row stride lda
  long lda = 0;
  const float* b = nullptr;  // see layout, row stride ldb
  long ldb = 0;
  BLayout layout = BLayout::kNK;
  float* c = nullptr;  // [M, N], row stride ldc; overwritten
  long ldc = 0;
  const float* bias = nullptr;  // [N] added after the product, or null
};

// B packed once for many products (a linear layer's weight) in the AVX-512
// kernel's panel layout; empty when this CPU takes the portable path.
struct PackedB {
  long n = 0, k = 0;
  std::vector<float> data;
  bool empty() const { return data.empty(); }
};
PackedB pack_b(const float* b, long ldb, BLayout layout, long n, long k);
// The inverse for a kNK pack: writes B [n, k] row-major (row stride k) into
// b, so a layer need not keep its plain weight beside the packed one.
void unpack_b(const PackedB& p, float* b);

// A packed once for several products that read it (q, k and v read one
// norm's output) in the AVX-512 kernel's panel layout; empty when this CPU
// takes the portable path. Holds a copy: A may change after packing. Not
// zero-filled first: the packing writes every element, padding included.
struct PackedA {
  long m = 0, k = 0;
  std::unique_ptr<float[]> data;
  bool finite = true;  // no Inf or NaN among the values packed (seen while packing)
  bool empty() const { return !data; }
};
PackedA pack_a(const float* a, long lda, long m, long k);

// Single-threaded (for callers that already run in parallel, like attention).
void sgemm(const SgemmArgs& g);
// Split into fixed tiles run with TBB; bits independent of the thread count.
// With a non-empty `packed` (from pack_b of the same B), g.b is not read.
// With a non-empty `packed_a` (from pack_a of the same A), g.a is checked but
// not read; the bits are the same as without it.
void sgemm_parallel(const SgemmArgs& g, const PackedB* packed = nullptr, const PackedA* packed_a = nullptr);

// Single-threaded C = A · B' where B' is the first g.n columns and the first
// g.k rows of depth of a packed B (g.n <= packed.n, g.k <= packed.k; g.b not
// read): many products against prefixes of one B, packed once (causal
// attention: a query block against the keys up to its last row). Bits as
// sgemm's AVX-512 path on that sub-matrix. Needs a non-empty `packed` (the
// AVX-512 path); throws otherwise. With ARead::kInPlace A is read where it
// lies instead of being packed first (same bits): for an A made just before
// and read once, like attention's probabilities, whose packing was a copy of
// them (give it a row stride that is not a multiple of 4 KiB, so that the 12
// rows a micro-kernel reads do not share cache sets).
enum class ARead { kPacked, kInPlace };
void sgemm_prefix(const SgemmArgs& g, const PackedB& packed, ARead a_read = ARead::kPacked);

// The individual paths, for tests and benchmarks. sgemm_avx512 must only be
// called when sgemm_avx512_available().
void sgemm_portable(const SgemmArgs& g);
void sgemm_avx512(const SgemmArgs& g);
bool sgemm_avx512_available();  // CPU has AVX-512F and SQSIM_SGEMM does not say eigen
// "avx512" or "eigen": the path sgemm() takes on this CPU.
const char* sgemm_path();

}  // namespace sqsim::kernels
