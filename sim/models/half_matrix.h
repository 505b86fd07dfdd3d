#pragma once
// Float weights kept in their checkpoint's 2-byte type (bf16 or IEEE fp16)
// and widened to float32 only where they are used (docs/memory.md, "Weights
// in their checkpoint type"). Widening is exact and goes through the same
// functions as the loaders' float32 copy (sim/formats/gguf_dequant.h), so a
// product of the widened values has the bits of the fp32-loaded model's.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

struct HalfMatrix {
  enum class Type { kBf16, kFp16 };
  long rows = 0, cols = 0;
  Type type = Type::kBf16;
  std::vector<uint16_t> words;  // row-major [rows, cols]

  // Rows [row0, row0 + n) as float32 into out (row stride cols).
  void widen_rows(long row0, long n, float* out) const;
  MatrixF widen() const;
  Eigen::RowVectorXf row(long r) const;
};

// require_finite (base/tensor.h) of the widened matrix, row by row: the same
// message naming the row and column.
void require_finite(const HalfMatrix& m, const std::string& what);

// The token embeddings [vocab, hidden]: a float32 matrix, or 2-byte words
// (shared with a tied LM head) widened one looked-up row at a time.
class TokenEmbeddings {
 public:
  TokenEmbeddings() = default;
  TokenEmbeddings(MatrixF plain) : plain_(std::move(plain)) {}  // NOLINT: a matrix is a table
  explicit TokenEmbeddings(std::shared_ptr<const HalfMatrix> half) : half_(std::move(half)) {}

  Eigen::RowVectorXf row(long token) const { return half_ ? half_->row(token) : Eigen::RowVectorXf(plain_.row(token)); }
  long rows() const { return half_ ? half_->rows : plain_.rows(); }
  long cols() const { return half_ ? half_->cols : plain_.cols(); }
  // Exactly one of the two is set (the plain matrix is empty when half() is not null).
  const MatrixF& plain() const { return plain_; }
  const std::shared_ptr<const HalfMatrix>& half() const { return half_; }

 private:
  MatrixF plain_;
  std::shared_ptr<const HalfMatrix> half_;
};

}  // namespace sqsim
