#pragma once
// std::vector storage aligned to a cache line (64 bytes). The packed weight
// blocks are read with 64-byte vector loads; from a plain std::vector (16-byte
// aligned; large ones sit 16 bytes past a page start) every such load straddles
// two cache lines.
#include <cstddef>
#include <new>
#include <vector>

namespace sqsim::kernels {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept { return true; }
};

template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace sqsim::kernels
