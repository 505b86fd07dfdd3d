#pragma once
// The table of sqsim subcommands. Each lives in experiments/cmd_<name>.cpp and
// takes argv with argv[0] = its own name; it returns the process exit code.
#include <string>
#include <vector>

namespace sqsim::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

const std::vector<Command>& commands();

int run_info(int argc, char** argv);
int run_layer_error(int argc, char** argv);
int run_outliers(int argc, char** argv);
int run_observers(int argc, char** argv);
int run_gptq(int argc, char** argv);
int run_sweep_command(int argc, char** argv);
int run_check(int argc, char** argv);
int run_make_traces(int argc, char** argv);
int run_model_info(int argc, char** argv);
int run_ppl(int argc, char** argv);
int run_sensitivity(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_paper_tables(int argc, char** argv);
int run_trace(int argc, char** argv);
int run_logits(int argc, char** argv);
int run_tokenize(int argc, char** argv);

}  // namespace sqsim::cli
