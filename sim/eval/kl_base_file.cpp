#include "sim/eval/kl_base_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

namespace {

const char kMagic[] = "sqsim-kl-base 1";
constexpr double kRange = 30.0;  // nats kept below each row's largest log-probability
constexpr double kLevels = 65535.0;

std::string header_text(const KlBaseShape& s) {
  return str(kMagic, "\nvocab ", s.vocab, "\nseq-len ", s.seq_len, "\nwindows ", s.windows, "\n", s.key, "end\n");
}

uint64_t record_bytes(long vocab) { return 8 + 2 * uint64_t(vocab); }

void put_le32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint32_t get_le32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

std::string kl_base_row_bytes(const float* logits, long vocab) {
  // log-softmax in double, as token_kl computes it.
  double mx = -std::numeric_limits<double>::infinity();
  for (long j = 0; j < vocab; ++j) mx = std::max(mx, double(logits[j]));
  double sum = 0;
  for (long j = 0; j < vocab; ++j) sum += std::exp(double(logits[j]) - mx);
  const double lse = mx + std::log(sum);
  double lo = std::numeric_limits<double>::infinity();
  for (long j = 0; j < vocab; ++j) lo = std::min(lo, double(logits[j]));
  const float lp_max = float(mx - lse);
  const float step = float(std::min(mx - lo, kRange) / kLevels);
  std::string out(record_bytes(vocab), '\0');
  uint32_t bits;
  std::memcpy(&bits, &lp_max, 4);
  put_le32(out.data(), bits);
  std::memcpy(&bits, &step, 4);
  put_le32(out.data() + 4, bits);
  for (long j = 0; j < vocab; ++j) {
    // Measured from the float lp_max the decoder uses, so only the rounding to
    // a level (and float32 decoding) remains.
    const double below = double(lp_max) - (double(logits[j]) - lse);
    const double q = step > 0 ? std::min(kLevels, std::max(0.0, std::nearbyint(below / double(step)))) : 0.0;
    const uint16_t v = uint16_t(q);
    out[size_t(8 + 2 * j)] = static_cast<char>(v & 0xFF);
    out[size_t(9 + 2 * j)] = static_cast<char>(v >> 8);
  }
  return out;
}

void kl_base_row_decode(const char* bytes, long vocab, float* log_probs) {
  float lp_max, step;
  uint32_t bits = get_le32(bytes);
  std::memcpy(&lp_max, &bits, 4);
  bits = get_le32(bytes + 4);
  std::memcpy(&step, &bits, 4);
  for (long j = 0; j < vocab; ++j) {
    const uint16_t q = uint16_t(static_cast<unsigned char>(bytes[8 + 2 * j]) |
                                (static_cast<unsigned char>(bytes[9 + 2 * j]) << 8));
    log_probs[j] = float(double(lp_max) - double(q) * double(step));
  }
}

KlBaseWriter::KlBaseWriter(std::string path, KlBaseShape shape)
    : path_(std::move(path)), part_(path_ + ".part"), shape_(std::move(shape)) {
  out_.open(part_, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(part_ + ": cannot write the KL base file");
  out_ << header_text(shape_);
}

void KlBaseWriter::add_window(const MatrixF& logits) {
  if (written_ >= shape_.windows) throw Error(path_ + ": more windows than the header's " + std::to_string(shape_.windows));
  if (logits.cols() != shape_.vocab || logits.rows() < shape_.seq_len - 1)
    throw Error(str(path_, ": logits [", logits.rows(), " x ", logits.cols(), "] for a base of vocab ", shape_.vocab,
                    " and seq-len ", shape_.seq_len));
  for (long t = 0; t + 1 < shape_.seq_len; ++t) out_ << kl_base_row_bytes(logits.row(t).data(), shape_.vocab);
  if (!out_) throw Error(part_ + ": write failed (disk full?)");
  ++written_;
}

void KlBaseWriter::finish() {
  if (written_ != shape_.windows)
    throw Error(str(path_, ": ", written_, " of ", shape_.windows, " windows written; not finished"));
  out_.close();
  if (!out_ || std::rename(part_.c_str(), path_.c_str()) != 0) throw Error(path_ + ": cannot finish the KL base file");
}

KlBaseReader::KlBaseReader(std::string path, const KlBaseShape& expected) : path_(std::move(path)), shape_(expected) {
  in_.open(path_, std::ios::binary);
  if (!in_) throw Error(path_ + ": cannot read the KL base file");
  // The header's lines against the ones this run would write, in order.
  std::istringstream want(header_text(expected));
  std::string want_line, line;
  bool first = true;
  while (std::getline(want, want_line)) {
    if (!std::getline(in_, line) || in_.eof() || line.size() > 4096)
      throw Error(path_ + ": truncated KL base header (expected '" + want_line + "')");
    if (first && line != kMagic) throw Error(path_ + ": not a KL base file (expected the line '" + std::string(kMagic) + "')");
    first = false;
    if (line != want_line)
      throw Error(path_ + ": a KL base of another model, tokenizer, text or window: it has '" + line +
                  "' where this run has '" + want_line + "'");
  }
  data_start_ = uint64_t(in_.tellg());
  in_.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in_.tellg());
  const uint64_t need =
      data_start_ + uint64_t(shape_.windows) * uint64_t(shape_.seq_len - 1) * record_bytes(shape_.vocab);
  if (size != need)
    throw Error(str(path_, ": ", size < need ? "truncated" : "damaged", " KL base file: ", size,
                    " bytes where its header promises ", need));
}

MatrixF KlBaseReader::window(size_t w) {
  if (w >= shape_.windows) throw Error(str(path_, ": window ", w, " of a base of ", shape_.windows));
  const uint64_t rec = record_bytes(shape_.vocab);
  const long rows = shape_.seq_len - 1;
  std::vector<char> bytes(size_t(rec) * size_t(rows));
  in_.seekg(std::streamoff(data_start_ + uint64_t(w) * uint64_t(rows) * rec));
  if (!in_.read(bytes.data(), std::streamsize(bytes.size())))
    throw Error(str(path_, ": cannot read window ", w, " of the KL base file"));
  MatrixF m(rows, shape_.vocab);
  for (long t = 0; t < rows; ++t) kl_base_row_decode(bytes.data() + size_t(t) * rec, shape_.vocab, m.row(t).data());
  return m;
}

}  // namespace sqsim
