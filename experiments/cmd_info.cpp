// sqsim info: what this build and this CPU can do.
#include <Eigen/Core>
#include <H5public.h>
#include <boost/version.hpp>
#include <iostream>
#include <oneapi/tbb/version.h>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "kernels/cpu_features.h"
#include "kernels/kernel_path.h"

namespace sqsim::cli {

int run_info(int argc, char** argv) {
  po::options_description options("info");
  po::variables_map vm;
  if (!parse(argc, argv, "usage: sqsim info\n\nPrints versions, CPU features and the integer GEMM paths.", options, vm))
    return 0;
  unsigned h5maj = 0, h5min = 0, h5rel = 0;
  H5get_libversion(&h5maj, &h5min, &h5rel);
  std::cout << "sqsim " << SQSIM_VERSION << "\n"
            << "eigen " << EIGEN_WORLD_VERSION << "." << EIGEN_MAJOR_VERSION << "." << EIGEN_MINOR_VERSION << "\n"
            << "hdf5 " << h5maj << "." << h5min << "." << h5rel << "\n"
            << "boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100
            << "\n"
            << "tbb " << TBB_VERSION_MAJOR << "." << TBB_VERSION_MINOR << "\n"
            << "cpu features: " << kernels::describe(kernels::cpu_features()) << "\n"
            << "kernel paths:";
  for (auto p : kernels::available_kernel_paths()) std::cout << " " << kernels::kernel_path_name(p);
  // AMX needs the CPU, the OS (XCR0) and Linux's tile permission, asked for once.
  const kernels::AmxState& amx = kernels::amx_state();
  std::cout << "\namx: " << (amx.granted ? "usable" : "not usable") << " (cpu " << (amx.cpu ? "yes" : "no")
            << ", os tile state " << (amx.os ? "yes" : "no") << ", " << amx.detail << ")";
  std::cout << "\nkernel chosen: " << kernels::kernel_path_name(kernels::resolve_kernel_path(kernels::KernelPath::kAuto))
            << "\n";
  return 0;
}

}  // namespace sqsim::cli
