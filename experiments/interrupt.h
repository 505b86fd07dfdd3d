#pragma once
// Ctrl-C / SIGTERM for long runs: the first signal asks the run to stop after
// the items in flight (keeping everything already journaled); a second one
// kills the process at once.
#include <string>

#include "base/error.h"

namespace sqsim::cli {

// Thrown to leave a run between its steps after SIGINT / SIGTERM. main()
// catches it apart from other errors: one line
// "sqsim CMD: interrupted by SIGINT: MESSAGE" and exit status 128 + signal.
class Interrupted : public Error {
 public:
  Interrupted(int sig, const std::string& message) : Error(message), sig_(sig) {}
  int signal() const { return sig_; }

 private:
  int sig_;
};

// "SIGINT", "SIGTERM" or "signal N".
std::string signal_name(int sig);

// Installs the SIGINT and SIGTERM handlers (idempotent).
void install_interrupt_handlers();
// 0 while running, else the signal number that asked for a stop.
int interrupt_signal();

}  // namespace sqsim::cli
