#pragma once
// Process-wide allocator settings for the command-line tool and the benchmarks.

namespace sqsim::cli {

// Keeps freed memory in the process for the next allocation instead of handing
// it back to the kernel. The sweep and the forward pass allocate and free
// same-sized megabyte buffers (outputs, packed operands) thousands of times;
// with glibc's defaults every one came back as fresh zeroed pages (page faults
// and brk/munmap were ~14% of a sweep's time). No effect on results. A no-op
// on other C libraries.
void keep_freed_memory_in_process();

}  // namespace sqsim::cli
