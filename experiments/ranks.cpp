#include "experiments/ranks.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>

#include "experiments/interrupt.h"
#include "experiments/sha256.h"

#ifdef SQSIM_HAVE_MPI
#include <mpi.h>
#endif

namespace sqsim::cli {

const Ranks& Ranks::single() {
  static const Ranks alone{Alone{}};
  return alone;
}

bool built_with_mpi() {
#ifdef SQSIM_HAVE_MPI
  return true;
#else
  return false;
#endif
}

#ifdef SQSIM_HAVE_MPI

namespace {

bool g_initialized = false;

// An MPI launcher names the rank in the environment (Open MPI's mpirun, a PMI
// or PMIx launcher such as srun). Without one, MPI is never initialized: a
// plain `sqsim ...` of an MPI build starts exactly as one without MPI.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

void mpi_ok(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed (error " + std::to_string(rc) + ")");
}

int as_int(size_t n, const char* what) {
  if (n > size_t(INT_MAX)) throw Error(std::string("MPI: ") + what + " of " + std::to_string(n) + " bytes exceeds 2 GiB");
  return int(n);
}

}  // namespace

Ranks::Ranks() {
  if (!launched_by_mpi()) return;
  // Calls are made from one thread at a time (the caller's), never from the
  // TBB workers of an item loop.
  int provided = 0;
  mpi_ok(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_initialized = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

const Ranks& Ranks::world() {
  static const Ranks* ranks = [] {
    auto* r = new Ranks();  // lives until exit: MPI_Finalize comes from finish()
    if (r->distributed()) {
      // Every rank must run the same program: compare the executables' bytes.
      std::string self;
      try {
        self = sha256_file("/proc/self/exe");
      } catch (const std::exception& e) {
        self = std::string("unreadable: ") + e.what();
      }
      const std::string root = r->broadcast(self);
      r->check(self == root ? "" : "this rank runs another sqsim build than rank 0 (executable sha256 " +
                                       self.substr(0, 12) + " vs " + root.substr(0, 12) +
                                       "); install one build on every node");
    }
    return r;
  }();
  return *ranks;
}

void Ranks::check(const std::string& error) const {
  if (!distributed()) {
    if (!error.empty()) throw RankFailure(error, true);
    return;
  }
  int mine = error.empty() ? size_ : rank_, first = size_;
  mpi_ok(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
  if (first == size_) return;
  uint64_t n = error.size();
  mpi_ok(MPI_Bcast(&n, 1, MPI_UINT64_T, first, MPI_COMM_WORLD), "MPI_Bcast");
  std::string text = rank_ == first ? error : std::string(n, '\0');
  mpi_ok(MPI_Bcast(text.data(), as_int(n, "an error message"), MPI_CHAR, first, MPI_COMM_WORLD), "MPI_Bcast");
  throw RankFailure("rank " + std::to_string(first) + ": " + text, root());
}

std::vector<std::string> Ranks::gather(const std::string& bytes) const {
  if (!distributed()) return {bytes};
  int n = as_int(bytes.size(), "a rank's results");
  std::vector<int> sizes(root() ? size_t(size_) : 0), offsets(sizes.size());
  mpi_ok(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  size_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = as_int(total, "the gathered results");
    total += size_t(sizes[r]);
  }
  std::string all(total, '\0');
  mpi_ok(MPI_Gatherv(bytes.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0,
                     MPI_COMM_WORLD),
         "MPI_Gatherv");
  std::vector<std::string> out;
  for (size_t r = 0; r < sizes.size(); ++r) out.push_back(all.substr(size_t(offsets[r]), size_t(sizes[r])));
  return out;
}

std::string Ranks::broadcast(const std::string& bytes) const {
  if (!distributed()) return bytes;
  uint64_t n = bytes.size();
  mpi_ok(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string out = root() ? bytes : std::string(n, '\0');
  mpi_ok(MPI_Bcast(out.data(), as_int(n, "a broadcast"), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return out;
}

int Ranks::max(int value) const {
  if (!distributed()) return value;
  int out = value;
  mpi_ok(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

void Ranks::barrier() const {
  if (distributed()) mpi_ok(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void Ranks::abort_job(int status) {
  if (g_initialized) MPI_Abort(MPI_COMM_WORLD, status);
}

void Ranks::finish() {
  if (g_initialized) {
    g_initialized = false;
    MPI_Finalize();
  }
}

#else  // a build without MPI: always rank 0 of 1

Ranks::Ranks() = default;

const Ranks& Ranks::world() {
  static const Ranks ranks;
  return ranks;
}

void Ranks::check(const std::string& error) const {
  if (!error.empty()) throw RankFailure(error, true);
}
std::vector<std::string> Ranks::gather(const std::string& bytes) const { return {bytes}; }
std::string Ranks::broadcast(const std::string& bytes) const { return bytes; }
int Ranks::max(int value) const { return value; }
void Ranks::barrier() const {}
void Ranks::abort_job(int) {}
void Ranks::finish() {}

#endif

std::string Ranks::prefix() const { return distributed() ? "rank " + std::to_string(rank_) + ": " : std::string(); }

std::string Ranks::error_prefix() {
  if (!built_with_mpi()) return "";
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size) size = std::getenv("PMI_SIZE");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMIX_RANK");
  if (!rank) rank = std::getenv("PMI_RANK");
  if (!rank || (size && std::string(size) == "1")) return "";
  return std::string("rank ") + rank + ": ";
}

void require_same(const Ranks& ranks, const std::string& what, const std::string& text) {
  const std::string root = ranks.broadcast(text);
  std::string error;
  if (root != text) {
    // The first line that differs, so the message says what to fix.
    const auto lines = [](const std::string& t) {
      std::vector<std::string> out;
      for (size_t a = 0; a <= t.size();) {
        const size_t e = std::min(t.find('\n', a), t.size());
        out.push_back(t.substr(a, e - a));
        a = e + 1;
      }
      return out;
    };
    const std::vector<std::string> mine = lines(text), theirs = lines(root);
    size_t i = 0;
    while (i < mine.size() && i < theirs.size() && mine[i] == theirs[i]) ++i;
    const auto quoted = [&](const std::vector<std::string>& v) { return i < v.size() ? "'" + v[i] + "'" : "nothing"; };
    error = "its " + what + " differ from rank 0's: " + quoted(mine) + " where rank 0 has " + quoted(theirs);
  }
  ranks.check(error);
}

namespace {

void put(std::string& out, const std::string& s) { out += std::to_string(s.size()) + ":" + s; }

std::string take(const std::string& in, size_t& at) {
  const size_t colon = in.find(':', at);
  if (colon == std::string::npos) throw Error("MPI: a truncated message of items");
  const size_t n = std::stoul(in.substr(at, colon - at));
  if (colon + 1 + n > in.size()) throw Error("MPI: a truncated message of items");
  at = colon + 1 + n;
  return in.substr(colon + 1, n);
}

}  // namespace

std::string pack_items(const std::vector<std::pair<std::string, std::vector<std::string>>>& items) {
  std::string out;
  for (const auto& [key, fields] : items) {
    put(out, key);
    put(out, std::to_string(fields.size()));
    for (const std::string& f : fields) put(out, f);
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> unpack_items(const std::string& bytes) {
  std::vector<std::pair<std::string, std::vector<std::string>>> items;
  for (size_t at = 0; at < bytes.size();) {
    std::string key = take(bytes, at);
    const size_t n = std::stoul(take(bytes, at));
    std::vector<std::string> fields;
    for (size_t i = 0; i < n; ++i) fields.push_back(take(bytes, at));
    items.emplace_back(std::move(key), std::move(fields));
  }
  return items;
}

}  // namespace sqsim::cli
