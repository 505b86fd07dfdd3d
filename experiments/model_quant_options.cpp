#include "experiments/model_quant_options.h"

#include "experiments/quant_options.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"

namespace sqsim::cli {

void add_model_quant_options(po::options_description& d) {
  d.add_options()("quant", po::value<std::string>()->default_value("fp"),
                  "preset (see the list below), or a preset file (docs/quantization.md, \"Preset files\"); the "
                  "options after it override its fields")(
      "w-bits", po::value<std::string>(), "override: weight bits 2..8, or 16 for float weights")(
      "w-granularity", po::value<std::string>(), "override: per-tensor, per-channel or group<G>")(
      "a-bits", po::value<std::string>(), "override: activation bits 2..8, or 16 for float activations")(
      "a-granularity", po::value<std::string>(), "override: per-tensor, per-token, per-channel or group<G>")(
      "act-scale", po::value<std::string>(), "override: dynamic or static (calibrated) activation scales")(
      "smooth", po::value<bool>(), "override: SmoothQuant smoothing on (true) or off (false)")(
      "smooth-all", po::bool_switch(), "also smooth o_proj and down_proj / fc2 (run-time X/s)")(
      "moe-stats", po::value<std::string>()->default_value("all"),
      "mixture-of-experts models: the statistics the experts' w1/w3 are smoothed with: all (every token, one s "
      "folded into post_attention_layernorm and the router; no run-time cost) or routed (each expert's own "
      "tokens, its input divided at run time)")(
      "bmm", po::value<std::string>(),
      "attention BMM quantization scheme: off, int8-real or mit-fake (docs/quantization.md, \"Attention BMMs\"); "
      "the --bmm-* options after it override its fields")(
      "bmm-operands", po::value<std::string>(), "override: quantized BMM operands, a list of q, k, v, p, or none")(
      "bmm-point", po::value<std::string>(), "override: Q and K quantized at the projection (before RoPE) or rope (after)")(
      "bmm-granularity", po::value<std::string>(), "override: Q, K, V scales per tensor, head, token or token-head")(
      "bmm-bits", po::value<int>(), "override: bits of Q, K and V (2..8)")(
      "bmm-p", po::value<std::string>(), "override: probabilities as s8 (step 1/127) or u8 (step 1/255)")(
      "quantize-bmm", po::bool_switch(), "the same as --bmm int8-real (its name before the schemes)")(
      "kv-int8", po::bool_switch(), "int8 KV cache (per token and head)")(
      "layers", po::value<std::string>()->default_value("*"),
      "comma-separated globs over linear layer names to quantize (lm_head only when named)")(
      "w8-layers", po::value<std::string>(),
      "comma-separated globs over the quantized layers whose weights keep 8 bits (4-bit presets: mixed precision)")(
      "observer", po::value<std::string>()->default_value("absmax"),
      "clip of static per-tensor activation scales: absmax, percentile:P (0 < P <= 100), mse or entropy "
      "(docs/quantization.md, \"Calibration observers\")")(
      "observer-bins", po::value<int>()->default_value(2048), "histogram bins of --observer (a power of two)")(
      "llm-int8-threshold", po::value<float>()->default_value(6.0f),
      "LLM.int8(): input columns with some |x| >= this are multiplied in float")(
      "llm-int8-fp16", po::bool_switch(), "LLM.int8(): round the float part's factors to float16 first")(
      "token-clip-quantile", po::value<double>()->default_value(0.99),
      "Outlier Suppression: quantile of the per-token maxima that starts the clip search (0 < q <= 1)")(
      "gptq-damp", po::value<double>()->default_value(0.01),
      "GPTQ presets: damping, a share of the mean Hessian diagonal (> 0)")(
      "gptq-act-order", po::bool_switch(), "GPTQ presets: columns in order of decreasing Hessian diagonal")(
      "awq-grid", po::value<int>()->default_value(20), "AWQ presets: ratios r = j/N, j = 0..N-1 (llm-awq: 20)")(
      "gptq-inputs", po::value<std::string>()->default_value("sequential"),
      "GPTQ presets: each layer's Hessian from the inputs of the float model (float) or, block by block, from the "
      "outputs of the already quantized blocks (sequential: gptq.py's llama.py; Llama-like families)")(
      "awq-objective", po::value<std::string>()->default_value("module"),
      "AWQ presets: the q/k/v and gate/up scales judged on the attention / MLP module's output (module: "
      "llm-awq; Llama-like families) or on the group's own linear outputs (linear)");
  add_quantizer_variant_options(d);
}

namespace {

// Only what the user wrote changes the preset (defaults do not).
bool given(const po::variables_map& vm, const char* name) { return vm.count(name) && !vm[name].defaulted(); }

BmmScheme bmm_scheme_from_options(const po::variables_map& vm) {
  const bool alias = vm["quantize-bmm"].as<bool>();
  if (alias && given(vm, "bmm") && vm["bmm"].as<std::string>() != "int8-real")
    throw Error("--quantize-bmm means --bmm int8-real; it contradicts --bmm " + vm["bmm"].as<std::string>());
  BmmScheme b = bmm_scheme(alias ? "int8-real" : given(vm, "bmm") ? vm["bmm"].as<std::string>() : "off", "--bmm");
  const bool overridden = given(vm, "bmm-operands") || given(vm, "bmm-point") || given(vm, "bmm-granularity") ||
                          given(vm, "bmm-bits") || given(vm, "bmm-p");
  if (overridden && !b.enabled() && !given(vm, "bmm-operands"))
    throw Error("--bmm-*: no scheme to override; give --bmm int8-real or mit-fake (or --bmm-operands)");
  if (given(vm, "bmm-operands")) {
    if (!b.enabled()) b.name = "custom";  // built from nothing: not the 'off' scheme any more
    parse_bmm_operands(vm["bmm-operands"].as<std::string>(), "--bmm-operands", b);
  }
  if (given(vm, "bmm-point")) b.point = parse_bmm_point(vm["bmm-point"].as<std::string>(), "--bmm-point");
  if (given(vm, "bmm-granularity"))
    b.granularity = parse_bmm_granularity(vm["bmm-granularity"].as<std::string>(), "--bmm-granularity");
  if (given(vm, "bmm-bits")) b.bits = vm["bmm-bits"].as<int>();
  if (given(vm, "bmm-p")) b.p_format = parse_prob_format(vm["bmm-p"].as<std::string>(), "--bmm-p");
  b.validate();
  return b;
}

}  // namespace

namespace {

// The overrides `vm` holds (only what was written: defaults change nothing)
// applied to c, validated.
void apply_overrides(const po::variables_map& vm, ModelQuantConfig& c) {
  if (given(vm, "w-bits")) c.weight.bits = parse_bits(vm["w-bits"].as<std::string>(), "--w-bits");
  if (given(vm, "w-granularity"))
    parse_granularity(vm["w-granularity"].as<std::string>(), TensorRole::kWeight, c.weight);
  if (given(vm, "a-bits")) c.act.bits = parse_bits(vm["a-bits"].as<std::string>(), "--a-bits");
  if (given(vm, "a-granularity"))
    parse_granularity(vm["a-granularity"].as<std::string>(), TensorRole::kActivation, c.act);
  if (given(vm, "act-scale")) c.act.source = parse_scale_source(vm["act-scale"].as<std::string>());
  if (given(vm, "smooth")) c.smooth = vm["smooth"].as<bool>();
  if (vm["smooth-all"].as<bool>()) c.smooth_all = true;
  if (given(vm, "moe-stats")) {
    const std::string m = vm["moe-stats"].as<std::string>();
    if (m != "all" && m != "routed") throw Error("--moe-stats '" + m + "': expected all or routed");
    c.moe_routed_stats = m == "routed";
  }
  const bool bmm_given = given(vm, "bmm") || vm["quantize-bmm"].as<bool>() || given(vm, "bmm-operands") ||
                         given(vm, "bmm-point") || given(vm, "bmm-granularity") || given(vm, "bmm-bits") ||
                         given(vm, "bmm-p");
  if (bmm_given) c.bmm = bmm_scheme_from_options(vm);
  if (vm["kv-int8"].as<bool>()) c.kv_int8 = true;
  if (given(vm, "layers")) c.layers = vm["layers"].as<std::string>();
  if (given(vm, "w8-layers")) c.w8_layers = vm["w8-layers"].as<std::string>();
  if (given(vm, "observer")) c.act_observer = parse_observer(vm["observer"].as<std::string>(), "--observer");
  if (given(vm, "observer-bins")) {
    c.act_observer.bins = vm["observer-bins"].as<int>();
    validate_observer_bins(c.act_observer.bins, "--observer-bins");
  }
  if (given(vm, "token-clip-quantile")) {
    if (!c.token_clipping)
      throw Error("--token-clip-quantile: --quant " + c.name + " does not clip token-wise (outlier-suppression does)");
    c.token_clip_quantile = vm["token-clip-quantile"].as<double>();
  }
  if (given(vm, "llm-int8-threshold") || vm["llm-int8-fp16"].as<bool>()) {
    if (!c.llm_int8)
      throw Error("--llm-int8-threshold / --llm-int8-fp16: --quant " + c.name + " is not an LLM.int8() preset "
                  "(llm-int8, sq-llm-int8)");
    if (given(vm, "llm-int8-threshold")) c.llm_int8_threshold = vm["llm-int8-threshold"].as<float>();
    if (vm["llm-int8-fp16"].as<bool>()) c.llm_int8_fp16 = true;
  }
  const bool gptq = c.weight_method == ModelQuantConfig::WeightMethod::kGptq;
  const bool awq = c.weight_method == ModelQuantConfig::WeightMethod::kAwq;
  if ((given(vm, "gptq-damp") || vm["gptq-act-order"].as<bool>()) && !gptq)
    throw Error("--gptq-damp / --gptq-act-order: --quant " + c.name + " is not a GPTQ preset (gptq-g64/g128/g256)");
  if (given(vm, "awq-grid") && !awq)
    throw Error("--awq-grid: --quant " + c.name + " is not an AWQ preset (awq-g64/g128/g256)");
  if (given(vm, "gptq-inputs") && !gptq)
    throw Error("--gptq-inputs: --quant " + c.name + " is not a GPTQ preset (gptq-g64/g128/g256)");
  if (given(vm, "awq-objective") && !awq)
    throw Error("--awq-objective: --quant " + c.name + " is not an AWQ preset (awq-g64/g128/g256)");
  if (given(vm, "gptq-inputs")) {
    const std::string v = vm["gptq-inputs"].as<std::string>();
    if (v != "float" && v != "sequential") throw Error("--gptq-inputs '" + v + "': expected float or sequential");
    c.gptq_inputs = v == "float" ? ModelQuantConfig::GptqInputs::kFloat : ModelQuantConfig::GptqInputs::kSequential;
  }
  if (given(vm, "awq-objective")) {
    const std::string v = vm["awq-objective"].as<std::string>();
    if (v != "module" && v != "linear") throw Error("--awq-objective '" + v + "': expected module or linear");
    c.awq_objective = v == "linear" ? ModelQuantConfig::AwqObjective::kLinear : ModelQuantConfig::AwqObjective::kModule;
  }
  if (given(vm, "gptq-damp")) c.gptq_damp = vm["gptq-damp"].as<double>();
  if (vm["gptq-act-order"].as<bool>()) c.gptq_act_order = true;
  if (given(vm, "awq-grid")) c.awq_grid = vm["awq-grid"].as<int>();
  // Quantizer variants: the preset's symmetry stays unless overridden.
  for (QuantSpec* s : {&c.weight, &c.act}) {
    if (given(vm, "rounding")) s->rounding = parse_rounding(vm["rounding"].as<std::string>());
    if (given(vm, "scale-rule")) s->scale_rule = parse_scale_rule(vm["scale-rule"].as<std::string>());
    if (given(vm, "clamp")) s->clamp = parse_clamp(vm["clamp"].as<std::string>());
    if (given(vm, "seed")) s->seed = vm["seed"].as<unsigned long long>();
  }
  if (given(vm, "w-symmetric")) c.weight.symmetric = vm["w-symmetric"].as<bool>();
  if (given(vm, "a-symmetric")) c.act.symmetric = vm["a-symmetric"].as<bool>();
  if (c.act.enabled() && c.act.source == ScaleSource::kStatic && c.act.granularity != Granularity::kPerTensor &&
      c.act.granularity != Granularity::kPerColumn)
    throw Error("--act-scale static with --a-granularity " + granularity_name(c.act, TensorRole::kActivation) +
                ": static scales cannot follow tokens they have not seen (expected per-tensor or per-channel)");
  c.validate();
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

bool is_named_preset(const std::string& name) {
  const std::vector<std::string> names = preset_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

ModelQuantConfig preset_file_config(const std::string& path) {
  const std::string text = read_file(path, "--quant preset file");
  po::options_description d;
  add_model_quant_options(d);
  d.add_options()("preset", po::value<std::string>(), "the named preset the file starts from");
  // Line by line first, so that an error names the line: 'name = value',
  // a known override (not --quant), no %word% (reserved by Boost's messages).
  std::istringstream lines(text);
  std::string line, preset;
  for (int n = 1; std::getline(lines, line); ++n) {
    const std::string where = path + ":" + std::to_string(n);
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) throw Error(where + ": expected 'name = value', got '" + line + "'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "quant" || !d.find_nothrow(key, false))
      throw Error(where + ": unknown key '" + key + "' (expected 'preset' or a --quant override such as w-bits, "
                  "layers, w8-layers)");
    if (line.find('%') != std::string::npos) throw Error(where + ": '%' is not accepted in a preset file");
    if (key == "preset") preset = value;
  }
  if (preset.empty()) throw Error(path + ": no 'preset = NAME' line (the named preset the file starts from)");
  if (!is_named_preset(preset))
    throw Error(path + ": preset '" + preset + "' is not a named preset (a preset file cannot start from another)");
  po::variables_map fvm;
  try {
    std::istringstream in(text);
    po::store(po::parse_config_file(in, d), fvm);
    po::notify(fvm);
  } catch (const po::error& e) {
    throw Error(path + ": " + e.what());
  }
  ModelQuantConfig c = preset_config(preset);
  c.name = std::filesystem::path(path).stem().string();
  try {
    apply_overrides(fvm, c);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return c;
}

namespace {

// An option's value as a preset file writes it, or "" for a type it does not know.
std::string option_text(const boost::any& v) {
  if (const auto* x = boost::any_cast<std::string>(&v)) return *x;
  if (const auto* x = boost::any_cast<bool>(&v)) return *x ? "true" : "false";
  if (const auto* x = boost::any_cast<int>(&v)) return std::to_string(*x);
  if (const auto* x = boost::any_cast<unsigned long long>(&v)) return std::to_string(*x);
  std::ostringstream o;
  o.precision(17);
  if (const auto* x = boost::any_cast<double>(&v)) o << *x;
  if (const auto* x = boost::any_cast<float>(&v)) o << *x;
  return o.str();
}

}  // namespace

std::string preset_file_lines(const po::variables_map& vm) {
  const std::string q = vm["quant"].as<std::string>();
  std::string out;
  po::options_description d;
  add_model_quant_options(d);
  const auto skipped = [](const std::string& key) { return key == "quant" || key == "layers" || key == "w8-layers"; };
  if (is_named_preset(q)) {
    out = "preset = " + q + "\n";
  } else {  // a preset file: its lines but the layer lists
    std::istringstream lines(read_file(expand_path(q), "--quant preset file"));
    std::string line;
    while (std::getline(lines, line)) {
      const size_t eq = line.find('=');
      const std::string key = eq == std::string::npos ? "" : trim(line.substr(0, eq));
      if (!key.empty() && !skipped(key) && line[line.find_first_not_of(" \t")] != '#') out += line + "\n";
    }
  }
  for (const auto& opt : d.options()) {
    const std::string key = opt->long_name();
    if (skipped(key) || !vm.count(key) || vm[key].defaulted()) continue;
    if (const auto* b = boost::any_cast<bool>(&vm[key].value()); b && !*b) continue;  // a switch not given
    out += key + " = " + option_text(vm[key].value()) + "\n";
  }
  return out;
}

ModelQuantConfig model_quant_config(const po::variables_map& vm) {
  return model_quant_config(vm, vm["quant"].as<std::string>());
}

ModelQuantConfig model_quant_config(const po::variables_map& vm, const std::string& preset) {
  // A named preset, else a file; a name that is neither lists the presets.
  const bool file = !is_named_preset(preset) &&
                    (preset.find('/') != std::string::npos || std::filesystem::exists(expand_path(preset)));
  ModelQuantConfig c = file ? preset_file_config(expand_path(preset)) : preset_config(preset);
  apply_overrides(vm, c);
  return c;
}

std::string preset_help() {
  std::string out = "Presets (--quant):\n";
  for (const std::string& n : preset_names()) {
    const ModelQuantConfig c = preset_config(n);
    out += "  " + n + std::string(n.size() < 12 ? 12 - n.size() : 1, ' ') + c.describe() + "\n" +
           std::string(14, ' ') + preset_source(n) + "\n";
  }
  return out;
}

std::vector<float> parse_alpha_grid(const std::string& text, const std::string& option) {
  std::vector<float> out;
  for (const std::string& a : expand_alpha_list(text, option)) {
    const Alpha v = parse_alpha(a, option);
    if (!v) throw Error(option + ": 'none' is not a migration strength here");
    out.push_back(*v);
  }
  return out;
}

void add_eval_options(po::options_description& o) {
  o.add_options()(
      "calib-text", po::value<std::string>()->default_value("${SQSIM_DATA}/ptb/ptb.valid.txt"),
      "calibration text (never evaluated): smoothing, static scales, alpha search")(
      "calib-samples", po::value<int>()->default_value(512), "calibration windows")(
      "calib-seq-len", po::value<int>()->default_value(512), "tokens per calibration window")(
      "holdout-tokens", po::value<long>()->default_value(16384),
      "tail of the calibration text kept out of calibration, for --alpha search")(
      "alpha-grid", po::value<std::string>()->default_value("0:1:0.05"), "values tried by --alpha search / per-layer")(
      "search-windows", po::value<int>()->default_value(64),
      "GPTQ / AWQ presets: calibration windows (of --calib-seq-len tokens) of their own calibration pass")(
      "search-rows", po::value<long>()->default_value(512), "AWQ presets: input rows kept per layer for the clip search")(
      "search-cache", po::value<std::string>()->default_value(""),
      "GPTQ / AWQ presets: directory of saved searches (<dir>/<preset>.search), reused when model, calibration "
      "and settings match, refused when they differ");
}

EvalOptions eval_options(const po::variables_map& vm, const std::string& model) {
  EvalOptions e;
  e.model_path = model;
  e.calib_text = vm["calib-text"].as<std::string>();
  e.calib_samples = vm["calib-samples"].as<int>();
  e.calib_seq_len = vm["calib-seq-len"].as<int>();
  e.holdout_tokens = vm["holdout-tokens"].as<long>();
  e.search_windows = vm["search-windows"].as<int>();
  e.search_rows = vm["search-rows"].as<long>();
  e.search_cache = vm["search-cache"].as<std::string>();
  if (e.calib_samples < 1) throw Error("--calib-samples must be at least 1");
  if (e.search_windows < 1) throw Error("--search-windows must be at least 1");
  if (e.search_rows < 1) throw Error("--search-rows must be at least 1");
  if (!e.search_cache.empty()) {
    // Made now, not after a search of minutes that then has nowhere to go.
    std::error_code ec;
    std::filesystem::create_directories(e.search_cache, ec);
    if (ec || !std::filesystem::is_directory(e.search_cache))
      throw Error("--search-cache " + e.search_cache + ": not a directory and cannot be created" +
                  (ec ? " (" + ec.message() + ")" : std::string()));
  }
  if (e.calib_seq_len < 2) throw Error("--calib-seq-len must be at least 2");
  if (e.holdout_tokens < e.calib_seq_len)
    throw Error("--holdout-tokens must hold at least one window of --calib-seq-len tokens");
  const RunOptions run = run_options(vm);
  e.mode = run.mode;
  e.path = run.kernel;
  return e;
}


}  // namespace sqsim::cli
