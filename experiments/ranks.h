#pragma once
// The processes of one sqsim run (docs/mpi.md). Launched by mpirun or srun in
// a build with MPI (SQSIM_MPI), a command's items are split across the ranks
// of MPI_COMM_WORLD and gathered to rank 0, which alone writes the output;
// otherwise, and always in a build without MPI, the run is rank 0 of 1 and
// every call below is the trivial one (no MPI is initialized at all).
//
// Every collective call must be made by every rank in the same order; the
// commands make them in straight-line code outside their item loops, so a rank
// that throws inside a collective phase (all_or_none) is reported by rank 0 as
// "rank R: <error>", and one that throws elsewhere (out of memory in an item)
// prints that line itself and ends the whole job (main.cpp: abort_job).
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "experiments/interrupt.h"

namespace sqsim::cli {

// The error every rank throws when some rank's phase failed. Its message is
// "rank R: <what>" of the lowest failing rank; only rank 0 prints it.
class RankFailure : public Error {
 public:
  RankFailure(const std::string& message, bool print) : Error(message), print_(print) {}
  bool print() const { return print_; }

 private:
  bool print_;
};

class Ranks {
 public:
  // This job's ranks. In an MPI build started by an MPI launcher (its
  // environment names a rank), MPI is initialized on the first call and the
  // executables of all ranks are compared (a rank running another build is an
  // error naming it); otherwise rank 0 of 1.
  static const Ranks& world();
  // Rank 0 of 1 whatever launched the process: for work that one process
  // does alone, through code written for ranks. Never calls MPI.
  static const Ranks& single();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }
  // "rank R: " when distributed, else "" (for messages a rank prints itself).
  std::string prefix() const;

  // Every rank passes its error ("" for none); when any is non-empty, every
  // rank throws RankFailure with "rank R: <error>" of the lowest such rank.
  void check(const std::string& error) const;
  // Runs fn on every rank, then check() with what it threw; a SIGINT/SIGTERM
  // on any rank becomes Interrupted on all. In a one-process run, just fn().
  template <class F>
  void all_or_none(F&& fn) const {
    if (!distributed()) {
      fn();
      return;
    }
    std::string error;
    int sig = 0;
    try {
      fn();
    } catch (const Interrupted& e) {
      sig = e.signal();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
    check(error);
    if (const int s = max(sig)) throw Interrupted(s, "stopped on every rank; rerun with --resume to continue");
  }

  // Rank 0 gets every rank's bytes in rank order (its own first); the others get {}.
  std::vector<std::string> gather(const std::string& bytes) const;
  // Every rank gets rank 0's bytes.
  std::string broadcast(const std::string& bytes) const;
  // The largest of every rank's value (e.g. an interrupt signal, 0 for none).
  int max(int value) const;
  void barrier() const;

  // For main's error line, without starting MPI: "rank R: " when this
  // process is one of several ranks (from the launcher's environment before
  // world() ran), else "".
  static std::string error_prefix();
  // After an error outside a collective phase: ends every rank of the job
  // with `status` (MPI_Abort) when MPI was started; otherwise returns (an MPI
  // launcher ends the job when one of its processes exits non-zero).
  static void abort_job(int status);
  // MPI_Finalize when MPI was initialized (main, before returning).
  static void finish();

 private:
  Ranks();
  struct Alone {};
  explicit Ranks(Alone) {}
  int rank_ = 0, size_ = 1;
};

// Every rank must run the same job: rank 0's `text` (e.g. a journal's
// settings) is sent to all, and a rank whose own differs fails the check with
// "rank R: its <what> differ from rank 0's: 'LINE' where rank 0 has 'LINE'".
void require_same(const Ranks& ranks, const std::string& what, const std::string& text);

// Items (key, fields) as bytes for gather()/broadcast() and back.
std::string pack_items(const std::vector<std::pair<std::string, std::vector<std::string>>>& items);
std::vector<std::pair<std::string, std::vector<std::string>>> unpack_items(const std::string& bytes);

// Whether this executable was built with MPI (sqsim info prints it).
bool built_with_mpi();

}  // namespace sqsim::cli
