#pragma once
// Shared plumbing of the sqsim subcommands: option parsing where every option
// can come from the command line or from a config file (--config FILE, lines
// "name = value" with the same names), --help, and one-line errors.
#include <boost/program_options.hpp>
#include <string>

#include "base/str.h"  // split_list: comma lists, one rule everywhere
#include <utility>
#include <vector>

#include "experiments/run_options.h"

namespace sqsim::cli {

namespace po = boost::program_options;

// Parses argv (argv[0] is the subcommand name). Returns false when --help was
// given (usage and options already printed to stdout). Throws sqsim::Error
// for unknown or malformed options, naming them.
bool parse(int argc, char** argv, const std::string& usage, const po::options_description& options,
           po::variables_map& vm);

// The shared vocabulary (run_options.h), declared here once for every command.
// --threads (0 = all cores); with `engine` also --mode and --kernel.
void add_run_options(po::options_description& d, bool engine = true);
// What add_run_options declared; an unavailable --kernel is refused here.
RunOptions run_options(const po::variables_map& vm);
// --out with `out_help` saying what it is (required unless `optional`),
// --force, and --resume when `resumable`.
void add_output_options(po::options_description& d, const std::string& out_help, bool resumable,
                        bool optional = false);
// What add_output_options declared (out empty when optional and absent).
OutputOptions output_options(const po::variables_map& vm);

// Every option that has a value, as "name=value" lines in name order, leaving
// out `skip` (e.g. out, force, resume, threads): the settings a journal
// records. A value the user did not give ends in kDefaultMark, so that a
// journal written before an option existed still resumes while the option
// keeps its default (journal.h, "Settings").
std::string option_settings(const po::variables_map& vm, const std::vector<std::string>& skip);
// The options' values as (name, JSON value text) in name order, for summary.json.
std::vector<std::pair<std::string, std::string>> option_values_json(const po::variables_map& vm);

// "none,0:1:0.05,0.85" -> the listed values with ranges expanded
// (start:stop:step, stop included when the steps land on it). Empty optional = none.
std::vector<std::string> expand_alpha_list(const std::string& text, const std::string& option);

}  // namespace sqsim::cli
