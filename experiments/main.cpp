// sqsim: the command-line tool over the sqsim library. It only dispatches to a
// subcommand and turns every error into one line on stderr with a non-zero exit.
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include "experiments/commands.h"
#include "experiments/interrupt.h"
#include "experiments/process_memory.h"
#include "experiments/ranks.h"
#include "base/error.h"

namespace {

void print_usage(std::ostream& out) {
  out << "sqsim " << SQSIM_VERSION
      << " - SmoothQuant / SmoothQuant+ quantization simulator\n\n"
         "usage: sqsim <command> [options]     (sqsim <command> --help for its options)\n\n"
         "commands:\n";
  for (const auto& c : sqsim::cli::commands()) {
    out << "  " << c.name << std::string(c.name && std::strlen(c.name) < 14 ? 14 - std::strlen(c.name) : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nEvery option can also be given in a config file: --config FILE, lines 'name = value'.\n"
         "Formulas: docs/quantization.md.\n";
}

}  // namespace

int main(int argc, char** argv) {
  sqsim::cli::keep_freed_memory_in_process();
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "sqsim " << SQSIM_VERSION << "\n";
    return 0;
  }
  for (const auto& c : sqsim::cli::commands()) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    // Under mpirun (docs/mpi.md) every rank runs this; an error one rank meets
    // alone names the rank and ends the job, since the others may be waiting
    // for it in a collective call.
    const auto finish = [](int status) {
      sqsim::cli::Ranks::finish();
      return status;
    };
    const auto failed = [&](const std::string& what) {
      std::cerr << "sqsim " << c.name << ": error: " << sqsim::cli::Ranks::error_prefix() << what << std::endl;
      sqsim::cli::Ranks::abort_job(1);
      return finish(1);
    };
    try {
      // Under an MPI launcher every rank starts MPI here, whatever the command,
      // so that no rank waits in a collective call for one that never joins.
      const sqsim::cli::Ranks& ranks = sqsim::cli::Ranks::world();
      // Commands whose items are not split would run whole on every rank,
      // each writing the same files: refused, once, by rank 0.
      const bool split = !std::strcmp(c.name, "sweep") || !std::strcmp(c.name, "ppl") ||
                         !std::strcmp(c.name, "eval") || !std::strcmp(c.name, "trace") ||
                         !std::strcmp(c.name, "paper-tables");
      if (ranks.distributed() && !split)
        ranks.check(std::string(c.name) + " runs on one rank only (docs/mpi.md: sweep, ppl, eval, trace and "
                    "paper-tables are split "
                    "across ranks); start it without mpirun or with -n 1");
      return finish(c.run(argc - 1, argv + 1));
    } catch (const sqsim::cli::RankFailure& e) {  // already agreed by every rank: rank 0 tells
      if (e.print()) std::cerr << "sqsim " << c.name << ": error: " << e.what() << "\n";
      return finish(1);
    } catch (const sqsim::cli::Interrupted& e) {
      std::cerr << "sqsim " << c.name << ": interrupted by " << sqsim::cli::signal_name(e.signal()) << ": " << e.what()
                << "\n";
      return finish(128 + e.signal());
    } catch (const sqsim::Error& e) {
      return failed(e.what());
    } catch (const std::bad_alloc&) {
      return failed("out of memory");
    } catch (const std::exception& e) {
      return failed(e.what());
    }
  }
  std::cerr << "sqsim: error: unknown command '" << argv[1] << "' (sqsim --help lists them)\n";
  return 2;
}
