#pragma once
// Ctrl-C / SIGTERM for long runs: the first signal asks the run to stop after
// the items in flight (keeping everything already journaled); a second one
// kills the process at once.
namespace sqsim::cli {

// Installs the SIGINT and SIGTERM handlers (idempotent).
void install_interrupt_handlers();
// 0 while running, else the signal number that asked for a stop.
int interrupt_signal();

}  // namespace sqsim::cli
