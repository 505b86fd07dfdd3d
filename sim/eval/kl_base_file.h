#pragma once
// The float model's next-token distributions on disk (docs/statistics.md),
// written once (`sqsim ppl --kl-base-save FILE`) and read back for the KL of
// many presets (`--kl-base FILE`) without running the float model again.
//
// Layout: a text header, then one binary record per scored row.
//   sqsim-kl-base 1
//   vocab V
//   seq-len L
//   windows W
//   <key lines>           what the distributions depend on (model and token checksums)
//   end
// then for window 0..W-1, row 0..L-2 (the rows that predict a next token):
//   float32 lp_max, float32 step, uint16 q[V]   (little-endian)
// with log p_j = lp_max - q_j * step. step = min(lp_max - lp_min, 30) / 65535,
// q_j = round((lp_max - log p_j) / step) clamped to 65535: log-probabilities
// within 30 nats of the row's largest are kept to within step / 2 <= 2.3e-4
// nats, smaller ones are raised to lp_max - 30 (probability < 1e-13 x p_max).
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "base/tensor.h"

namespace sqsim {

struct KlBaseShape {
  long vocab = 0;
  int seq_len = 0;
  size_t windows = 0;
  std::string key;  // lines "name value\n", compared line by line on reading
};

// The record of one row: its log-softmax (double) quantized as above.
// Exposed for the tests, which bound its error.
std::string kl_base_row_bytes(const float* logits, long vocab);
// A record decoded into vocab log-probabilities (float).
void kl_base_row_decode(const char* bytes, long vocab, float* log_probs);

// Streams a base file: the header now, then add_window() for windows 0, 1, ...
// in order; finish() renames the temporary file (path + ".part") to `path`, so
// an interrupted run never leaves a truncated file under the final name.
class KlBaseWriter {
 public:
  KlBaseWriter(std::string path, KlBaseShape shape);
  // logits: [seq_len, vocab] of the float model on window `windows_written()`;
  // its first seq_len - 1 rows are stored.
  void add_window(const MatrixF& logits);
  size_t windows_written() const { return written_; }
  void finish();

 private:
  std::string path_, part_;
  KlBaseShape shape_;
  std::ofstream out_;
  size_t written_ = 0;
};

// Opens a base file and refuses, with a one-line sqsim::Error naming the file,
// one that is not a base file, one of another vocabulary, window length,
// window count or key (another model, tokenizer or text), and one whose size
// is not exactly what its header promises (truncated).
class KlBaseReader {
 public:
  KlBaseReader(std::string path, const KlBaseShape& expected);
  // [seq_len - 1, vocab] log-probabilities of window w (usable as logits:
  // their log-softmax is themselves up to rounding).
  MatrixF window(size_t w);

 private:
  std::string path_;
  KlBaseShape shape_;
  std::ifstream in_;
  uint64_t data_start_ = 0;
};

}  // namespace sqsim
