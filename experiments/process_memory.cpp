#include "experiments/process_memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc (<features.h>): without a libc header first, the test below was always false

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sqsim::cli {

void keep_freed_memory_in_process() {
#if defined(__GLIBC__)
  // Blocks up to 1 GiB come from the heap, and the heap is only trimmed when
  // 1 GiB is free at its top. A mapped block is unmapped when freed, and each
  // page of the next one faults on its first write: with the old 32 MiB
  // threshold, the logits of an evaluation's packs (tens of MB each) were
  // 62% of its page faults.
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
#endif
}

}  // namespace sqsim::cli
