#pragma once
// Shared plumbing of the sqsim subcommands: option parsing where every option
// can come from the command line or from a config file (--config FILE, lines
// "name = value" with the same names), --help, and one-line errors.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace sqsim::cli {

namespace po = boost::program_options;

// Parses argv (argv[0] is the subcommand name). Returns false when --help was
// given (usage and options already printed to stdout). Throws sqsim::Error
// for unknown or malformed options, naming them.
bool parse(int argc, char** argv, const std::string& usage, const po::options_description& options,
           po::variables_map& vm);

// Comma-separated list, empty items refused; `option` names it in errors.
std::vector<std::string> split_list(const std::string& text, const std::string& option);

// "none,0:1:0.05,0.85" -> the listed values with ranges expanded
// (start:stop:step, stop included when the steps land on it). Empty optional = none.
std::vector<std::string> expand_alpha_list(const std::string& text, const std::string& option);

}  // namespace sqsim::cli
