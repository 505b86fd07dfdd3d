// Trace format v1: the writer's files read back exactly; malformed files are
// refused with the file, the dataset and what was expected.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "base/error.h"
#include "sim/eval/synthetic_layer.h"
#include "sim/formats/trace_file.h"

namespace sqsim {
namespace {

// ctest runs tests in parallel processes: every path carries the pid.
std::string temp_path(const std::string& name) {
  return testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

TraceFile small_traces() {
  TraceFile t;
  t.model = "synthetic";
  SyntheticLayerSpec spec;
  spec.tokens = 16;
  spec.in_features = 64;
  spec.out_features = 32;
  for (const char* name : {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"}) {
    const SyntheticLayer s = make_synthetic_layer(spec);
    LayerTrace l;
    l.name = name;
    l.weight = s.w;
    l.input = s.x;
    l.smooth_group = "model.layers.0.qkv";
    t.layers.push_back(l);
    spec.seed++;
  }
  t.layers[1].bias = VectorF::Random(32);
  t.layers[1].input_absmax = (t.layers[1].input.cwiseAbs().colwise().maxCoeff().transpose().array() * 2).matrix();
  return t;
}

std::string error_of(const std::string& path) {
  try {
    read_trace_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TraceFile, RoundTripIsExact) {
  const std::string path = temp_path("roundtrip.h5");
  const TraceFile t = small_traces();
  write_trace_file(path, t);
  const TraceFile r = read_trace_file(path);
  EXPECT_EQ(r.model, "synthetic");
  ASSERT_EQ(r.layers.size(), 2u);
  // Sorted by name: k_proj before q_proj.
  EXPECT_EQ(r.layers[0].name, "model.layers.0.self_attn.k_proj");
  EXPECT_EQ(r.layers[0].weight, t.layers[1].weight);
  EXPECT_EQ(r.layers[0].input, t.layers[1].input);
  EXPECT_EQ(*r.layers[0].bias, *t.layers[1].bias);
  EXPECT_EQ(r.layers[0].activation_absmax(), *t.layers[1].input_absmax);
  EXPECT_EQ(r.layers[1].smooth_group, "model.layers.0.qkv");
  EXPECT_FALSE(r.layers[1].bias.has_value());
  EXPECT_EQ(r.layers[1].activation_absmax(), t.layers[0].input.cwiseAbs().colwise().maxCoeff().transpose());
  std::ifstream tmp(path + ".tmp");
  EXPECT_FALSE(tmp.good());
}

TEST(TraceFile, RefusesNonHdf5AndTruncatedFiles) {
  const std::string text = temp_path("not.h5");
  std::ofstream(text) << "hello";
  EXPECT_NE(error_of(text).find("not an HDF5 file"), std::string::npos);
  EXPECT_NE(error_of(temp_path("missing.h5")).find("cannot open"), std::string::npos);

  const std::string good = temp_path("full.h5"), cut = temp_path("cut.h5");
  write_trace_file(good, small_traces());
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t keep : {bytes.size() / 2, bytes.size() - 100, size_t(600)}) {
    std::ofstream(cut, std::ios::binary).write(bytes.data(), keep);
    const std::string e = error_of(cut);
    EXPECT_FALSE(e.empty()) << keep;
    EXPECT_NE(e.find(cut), std::string::npos) << e;
  }
}

// Builds a file by hand with the HDF5 C API to plant one defect.
void write_raw(const std::string& path, long long version, bool with_layers, hsize_t input_cols,
               hid_t weight_type, bool nan_in_input) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "sqsim_trace_version", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_LLONG, &version);
  H5Aclose(a);
  H5Sclose(s);
  if (with_layers) {
    hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(layers, "fc1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t wd[2] = {4, 8}, xd[2] = {3, input_cols};
    std::vector<double> w(32, 0.5);
    std::vector<float> x(3 * input_cols, 1.0f);
    if (nan_in_input) x[5] = std::nanf("");
    hid_t ws = H5Screate_simple(2, wd, nullptr), xs = H5Screate_simple(2, xd, nullptr);
    hid_t wds = H5Dcreate2(g, "weight", weight_type, ws, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(wds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.data());
    hid_t xds = H5Dcreate2(g, "input", H5T_IEEE_F32LE, xs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(xds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data());
    H5Dclose(wds);
    H5Dclose(xds);
    H5Sclose(ws);
    H5Sclose(xs);
    H5Gclose(g);
    H5Gclose(layers);
  }
  H5Fclose(f);
}

TEST(TraceFile, RefusesMalformedContentNamingTheDataset) {
  const std::string p = temp_path("bad.h5");
  write_raw(p, 2, true, 8, H5T_IEEE_F32LE, false);
  EXPECT_NE(error_of(p).find("sqsim_trace_version = 2 (expected 1)"), std::string::npos);
  write_raw(p, 1, false, 8, H5T_IEEE_F32LE, false);
  EXPECT_NE(error_of(p).find("missing group /layers"), std::string::npos);
  write_raw(p, 1, true, 7, H5T_IEEE_F32LE, false);
  EXPECT_NE(error_of(p).find("/layers/fc1/input: 7 columns (expected in_features = 8"), std::string::npos)
      << error_of(p);
  write_raw(p, 1, true, 8, H5T_IEEE_F64LE, false);
  EXPECT_NE(error_of(p).find("/layers/fc1/weight: 64-bit floats (expected float16 or float32)"), std::string::npos)
      << error_of(p);
  write_raw(p, 1, true, 8, H5T_STD_I32LE, false);
  EXPECT_NE(error_of(p).find("not floating point"), std::string::npos) << error_of(p);
  write_raw(p, 1, true, 8, H5T_IEEE_F32LE, true);
  EXPECT_NE(error_of(p).find("/layers/fc1/input: NaN at row 0, channel 5"), std::string::npos) << error_of(p);
}

// Per-layer reading (what each rank of an MPI sweep does): the index knows
// every layer's name, group and shapes without data; loading one layer gives
// exactly what the whole read gives; unloading frees it; a damaged layer is
// refused when it is loaded, with the whole read's message.
TEST(TraceFile, IndexThenOneLayerAtATimeEqualsTheWholeRead) {
  const std::string path = temp_path("index.h5");
  write_trace_file(path, small_traces());
  const TraceFile whole = read_trace_file(path);
  TraceFile t = read_trace_index(path);
  ASSERT_EQ(t.layers.size(), 2u);
  for (const LayerTrace& l : t.layers) {
    EXPECT_FALSE(l.loaded()) << l.name;
    EXPECT_EQ(l.weight.size(), 0) << l.name;
    EXPECT_EQ(l.out_features, 32) << l.name;
    EXPECT_EQ(l.in_features, 64) << l.name;
    EXPECT_EQ(l.input_rows, 16) << l.name;
    EXPECT_EQ(l.smooth_group, "model.layers.0.qkv") << l.name;
  }
  load_trace_layers(t, {0});
  ASSERT_TRUE(t.layers[0].loaded());
  EXPECT_FALSE(t.layers[1].loaded());
  EXPECT_EQ(t.layers[0].weight, whole.layers[0].weight);
  EXPECT_EQ(t.layers[0].input, whole.layers[0].input);
  EXPECT_EQ(*t.layers[0].bias, *whole.layers[0].bias);
  EXPECT_EQ(*t.layers[0].input_absmax, *whole.layers[0].input_absmax);
  unload_trace_layers(t, {0});
  EXPECT_FALSE(t.layers[0].loaded());
  EXPECT_FALSE(t.layers[0].bias.has_value());

  const std::string bad = temp_path("index_bad.h5");
  write_raw(bad, 1, true, 7, H5T_IEEE_F32LE, false);
  TraceFile b = read_trace_index(bad);
  ASSERT_EQ(b.layers.size(), 1u);
  try {
    load_trace_layers(b, {0});
    ADD_FAILURE() << "a layer whose input has 7 columns for 8 in_features loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/layers/fc1/input: 7 columns (expected in_features = 8"), std::string::npos)
        << e.what();
  }
}

TEST(TraceFile, WriterKeepsTheOldFileWhenItFails) {
  const std::string p = temp_path("keep.h5");
  write_trace_file(p, small_traces());
  TraceFile bad = small_traces();
  bad.layers[0].name = "a/b";
  EXPECT_THROW(write_trace_file(p, bad), Error);
  EXPECT_EQ(read_trace_file(p).layers.size(), 2u);
  std::ifstream tmp(p + ".tmp");
  EXPECT_FALSE(tmp.good());
}

}  // namespace
}  // namespace sqsim
