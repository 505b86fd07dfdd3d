#include "experiments/calibration_ranks.h"

#include "base/error.h"
#include "experiments/work_split.h"
#include "sim/eval/calibration_file.h"

namespace sqsim::cli {

CalibrationStats calibrate_on_ranks(const Ranks& ranks, CausalLm& model,
                                    const std::vector<std::vector<int32_t>>& windows,
                                    const CalibrationOptions& options, size_t* sent_bytes) {
  if (!ranks.distributed()) return calibrate(model, windows, options);
  if (windows.empty()) throw Error("calibration: no windows");
  const std::vector<int> owner = assign_contiguous(std::vector<double>(windows.size(), 1.0), ranks.size());
  std::vector<std::vector<int32_t>> mine;
  for (size_t w = 0; w < windows.size(); ++w)
    if (owner[w] == ranks.rank()) mine.push_back(windows[w]);
  // Rows per window of the whole run, so the concatenated samples are those
  // one process keeps.
  const long per_window = calibration_rows_per_window(options.sample_rows, windows.size());
  std::string part;
  ranks.all_or_none([&] {
    const auto progress = ranks.root() ? options.progress : std::function<void(size_t, size_t)>();
    part = calibration_file_bytes("", calibrate_part(model, mine, per_window, progress));
  });
  const std::vector<std::string> parts = ranks.gather(part);
  part.clear();
  std::string merged;
  if (ranks.root()) {
    CalibrationStats all;
    size_t bytes = 0;
    for (size_t r = 0; r < parts.size(); ++r) {
      CalibrationStats s;
      parse_calibration_bytes(parts[r], "calibration part of rank " + std::to_string(r), "", &s);
      merge_calibration(all, std::move(s));
      if (r > 0) bytes += parts[r].size();
    }
    keep_sample_rows(all, options.sample_rows);
    merged = calibration_file_bytes("", all);
    if (sent_bytes) *sent_bytes = bytes;
  }
  merged = ranks.broadcast(merged);
  CalibrationStats out;
  parse_calibration_bytes(merged, "merged calibration from rank 0", "", &out);
  return out;
}

}  // namespace sqsim::cli
