// sqsim logits / sqsim tokenize: the raw outputs of a model and its tokenizer,
// so that they can be compared with other implementations (tests/python).
#include <cstdio>
#include <iostream>
#include <sstream>

#include "experiments/cli.h"
#include "experiments/quant_eval.h"
#include "experiments/commands.h"
#include "experiments/format.h"
#include "base/io.h"
#include "base/error.h"
#include "base/io.h"
#include "sim/models/load_model.h"

namespace sqsim::cli {

int run_logits(int argc, char** argv) {
  po::options_description o("logits");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF file or Hugging Face checkpoint folder")(
      "tokens", po::value<std::string>()->required(), "comma-separated token ids, e.g. 2,100,7")(
      "out", po::value<std::string>()->required(), "CSV file: one row of vocab_size logits per position");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim logits --model PATH --tokens 1,2,3 --out FILE.csv\n\n"
             "Float32 forward pass over the given ids (positions 0..T-1, no BOS added); writes\n"
             "the logits, one row per position, %.9g.",
             o, vm))
    return 0;
  std::vector<int32_t> ids;
  for (const std::string& s : split_list(vm["tokens"].as<std::string>(), "--tokens")) {
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || v < 0 || v > INT32_MAX) throw Error("--tokens: '" + s + "' is not a token id");
    ids.push_back(int32_t(v));
  }
  const LoadedModel m = load_model(vm["model"].as<std::string>());
  const MatrixF logits = m.model->forward(ids);
  std::string csv;
  for (long t = 0; t < logits.rows(); ++t) {
    for (long j = 0; j < logits.cols(); ++j) csv += (j ? "," : "") + significant(double(logits(t, j)), 9);
    csv += "\n";
  }
  write_file_atomic(vm["out"].as<std::string>(), csv);
  return 0;
}

int run_tokenize(int argc, char** argv) {
  po::options_description o("tokenize");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF file or Hugging Face checkpoint folder")(
      "text-file", po::value<std::string>()->required(), "UTF-8 text file")(
      "lines", po::bool_switch(), "encode every line on its own (newline excluded), one output line each")(
      "bos", po::bool_switch(), "prepend the BOS the model asks for (as sqsim ppl does)")(
      "calib-windows", po::bool_switch(),
      "print the calibration windows a quantized run draws from --text-file as its --calib-text, one per line "
      "(with --calib-samples, --calib-seq-len, --holdout-tokens)")(
      "calib-samples", po::value<int>()->default_value(512), "with --calib-windows: windows")(
      "calib-seq-len", po::value<int>()->default_value(512), "with --calib-windows: tokens per window")(
      "holdout-tokens", po::value<long>()->default_value(16384), "with --calib-windows: tail kept out");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim tokenize --model PATH --text-file FILE [--lines] [--bos]\n"
             "       sqsim tokenize --model PATH --text-file FILE --calib-windows [--calib-samples N ...]\n\n"
             "Prints token ids separated by spaces: for the whole file, or with --lines one line of\n"
             "ids per input line, or with --calib-windows the calibration windows of `sqsim ppl` (so a\n"
             "reference implementation can calibrate on the same tokens).",
             o, vm))
    return 0;
  auto print_ids = [](const std::vector<int32_t>& ids) {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
    std::cout << out << "\n";
  };
  if (vm["calib-windows"].as<bool>()) {
    EvalOptions e;
    e.model_path = vm["model"].as<std::string>();
    e.calib_text = vm["text-file"].as<std::string>();
    e.calib_samples = vm["calib-samples"].as<int>();
    e.calib_seq_len = vm["calib-seq-len"].as<int>();
    e.holdout_tokens = vm["holdout-tokens"].as<long>();
    if (e.calib_samples < 1) throw Error("--calib-samples must be at least 1");
    if (e.calib_seq_len < 2) throw Error("--calib-seq-len must be at least 2");
    if (e.holdout_tokens < 0) throw Error("--holdout-tokens must be >= 0");
    QuantEvaluator ev(e);
    for (const std::vector<int32_t>& w : ev.calibration_windows()) print_ids(w);
    return 0;
  }
  const LoadedTokenizer m = load_tokenizer(vm["model"].as<std::string>());
  const std::string text = read_text_file(vm["text-file"].as<std::string>());
  const bool bos = vm["bos"].as<bool>();
  auto print = [&](const std::string& s) {
    std::vector<int32_t> ids = m.tokenizer->encode(s);
    if (bos && m.bos) ids.insert(ids.begin(), *m.bos);
    print_ids(ids);
  };
  if (!vm["lines"].as<bool>()) {
    print(text);
    return 0;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) print(line);
  return 0;
}

}  // namespace sqsim::cli
