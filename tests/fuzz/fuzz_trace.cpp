// libFuzzer harness for the trace reader (sim/formats/trace_file.h). The first byte
// picks the mode:
//  even: the rest is written as the file and read (damaged HDF5; much of the
//        parsing is libhdf5's own, which is not instrumented);
//  odd:  the rest drives a FuzzedDataProvider that writes a well-formed HDF5
//        file with fuzzed content through the HDF5 API: version attribute of
//        any type, layers with datasets of any rank, shape, float/int type and
//        values (NaN, Inf, negatives), smooth_group attributes of other types.
//        This reaches the trace reader's own validation, which raw bytes
//        rarely get past HDF5 to.
// Any sqsim::Error is a correct refusal.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "base/error.h"
#include "sim/formats/trace_file.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

hid_t pick_type(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: return H5T_IEEE_F32LE;
    case 1: return H5T_IEEE_F64LE;
    case 2: return H5T_STD_I32LE;
    case 3: return H5T_STD_U8LE;
    case 4: return H5T_IEEE_F32BE;
    default: return H5T_IEEE_F32LE;
  }
}

float pick_value(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -1.0f;
    default: return p.ConsumeFloatingPointInRange<float>(-1e6f, 1e6f);
  }
}

void put_dataset(FuzzedDataProvider& p, hid_t g, const char* name, int default_rank) {
  const int rank = p.ConsumeBool() ? default_rank : p.ConsumeIntegralInRange<int>(0, 3);
  hsize_t dims[3] = {1, 1, 1};
  hsize_t count = 1;
  for (int d = 0; d < rank; ++d) {
    dims[d] = p.ConsumeIntegralInRange<hsize_t>(0, 6);
    count *= dims[d];
  }
  const hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr);
  const hid_t type = pick_type(p);
  const hid_t ds = H5Dcreate2(g, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> v(count);
  for (float& x : v) x = pick_value(p);
  if (ds >= 0 && count > 0) H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
}

void put_attribute(FuzzedDataProvider& p, hid_t obj, const char* name) {
  const hid_t space = H5Screate(H5S_SCALAR);
  const int kind = p.ConsumeIntegralInRange<int>(0, 3);
  if (kind == 0) {  // integer
    const long long v = p.ConsumeIntegral<long long>();
    const hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) { H5Awrite(a, H5T_NATIVE_LLONG, &v); H5Aclose(a); }
  } else if (kind == 1) {  // double
    const double v = p.ConsumeFloatingPoint<double>();
    const hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) { H5Awrite(a, H5T_NATIVE_DOUBLE, &v); H5Aclose(a); }
  } else {  // fixed (2) or variable-length (3) string
    const std::string s = p.ConsumeRandomLengthString(32);
    const hid_t t = H5Tcopy(H5T_C_S1);
    if (kind == 2) H5Tset_size(t, s.size() + 1); else H5Tset_size(t, H5T_VARIABLE);
    const hid_t a = H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* cs = s.c_str();
    if (a >= 0) { kind == 2 ? H5Awrite(a, t, cs) : H5Awrite(a, t, &cs); H5Aclose(a); }
    H5Tclose(t);
  }
  H5Sclose(space);
}

void write_structured(FuzzedDataProvider& p, const std::string& path) {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) __builtin_trap();
  if (p.ConsumeIntegralInRange<int>(0, 7) != 0) put_attribute(p, f, "sqsim_trace_version");
  if (p.ConsumeBool()) put_attribute(p, f, "model");
  if (p.ConsumeIntegralInRange<int>(0, 7) != 0) {
    const hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const int n = p.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < n; ++i) {
      const std::string name = "l" + std::to_string(i);
      if (p.ConsumeIntegralInRange<int>(0, 7) == 0) {  // a dataset where a group belongs
        put_dataset(p, layers, name.c_str(), 1);
        continue;
      }
      const hid_t g = H5Gcreate2(layers, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      for (const char* ds : {"weight", "input"})
        if (p.ConsumeIntegralInRange<int>(0, 7) != 0) put_dataset(p, g, ds, 2);
      for (const char* ds : {"bias", "input_absmax"})
        if (p.ConsumeBool()) put_dataset(p, g, ds, 1);
      if (p.ConsumeBool()) put_attribute(p, g, "smooth_group");
      H5Gclose(g);
    }
    H5Gclose(layers);
  }
  H5Fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string path = sqsim::fuzz::scratch_path("trace.h5");
  if ((data[0] & 1) == 0) {
    sqsim::fuzz::write_bytes(path, data + 1, size - 1);
  } else {
    FuzzedDataProvider p(data + 1, size - 1);
    write_structured(p, path);
  }
  try {
    const sqsim::TraceFile t = sqsim::read_trace_file(path);
    // What the reader accepts must be usable: finite values, consistent widths.
    for (const sqsim::LayerTrace& l : t.layers) {
      if (l.input.cols() != l.weight.cols() || !l.weight.allFinite() || !l.input.allFinite()) __builtin_trap();
      l.activation_absmax();
    }
  } catch (const sqsim::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
