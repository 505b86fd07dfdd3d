#pragma once
// Weights prepared once for one kernel path, for callers that multiply the same
// weights many times (the quantized forward pass, the sweep). The dispatched
// linear_* overloads in kernels/gemm.h that take these skip the per-call
// packing; their outputs are the same bits as the unpacked calls.
//
// A packing is made for the accumulator group size of the weights themselves
// (their group_size). When activations come with finer groups, the accumulator
// group changes and the call falls back to packing on the fly from `source`,
// so every combination the unpacked API accepts still works.
#include <memory>

#include "kernels/x86/amx_path.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"

namespace sqsim::kernels {

namespace avx2 {
struct PackedB;
}

struct PackedS8Weights {
  KernelPath path = KernelPath::kReference;  // resolved: never kAuto
  std::shared_ptr<const Int8Matrix> source;  // codes and scales (scales feed the epilogue)
  Int8PackedWeights vnni;                    // path == kAvx512Vnni
  std::shared_ptr<const avx2::PackedB> avx2; // path == kAvx2
  Int8AmxWeights amx;                        // path == kAmx or kAmxEmulated
  long rows() const { return source->rows; }
  long cols() const { return source->cols; }
};

struct PackedS4Weights {
  KernelPath path = KernelPath::kReference;
  std::shared_ptr<const Int4Matrix> source;
  // W4A8: the weights widened to int8 q - zp and packed like int8 weights.
  Int8PackedWeights vnni;
  std::shared_ptr<const avx2::PackedB> avx2;
  Int8AmxWeights amx;
  // W4A16 on the AVX-512 and AMX paths: the codes in the float GEMM's panel order.
  std::shared_ptr<const W4A16Panels> f32;
  long rows() const { return source->rows; }
  long cols() const { return source->cols; }
};

// `path` is resolved like the linear_* calls' (kAuto: the process default);
// the packed weights then always run on that path.
PackedS8Weights pack_s8_weights(const Int8Matrix& b, KernelPath path = KernelPath::kAuto);
// `use` says which calls will take the int4 weights, so only their layouts are
// made: linear_f32s4 / linear_bf16s4 (W4A16), linear_s8s4 (W4A8), or both. A
// call the packing was not made for still works (it packs on the fly).
enum class S4Use { kW4A16 = 1, kW4A8 = 2, kBoth = 3 };
PackedS4Weights pack_s4_weights(const Int4Matrix& b, KernelPath path = KernelPath::kAuto, S4Use use = S4Use::kBoth);

}  // namespace sqsim::kernels
