#include "sim/formats/trace_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include "base/error.h"

namespace sqsim {

VectorF LayerTrace::activation_absmax() const {
  if (input_absmax) return *input_absmax;
  return input.cwiseAbs().colwise().maxCoeff().transpose();
}

namespace {

// Owns one HDF5 identifier and closes it with the matching function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void silence_hdf5_errors() {
  // Errors are reported through sqsim::Error with context, not HDF5's stack dump.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string where(const std::string& file, const std::string& dataset) { return file + ": " + dataset; }

// Reads a float dataset of rank 1 or 2 into a row-major float buffer. Float16
// and float32 are accepted (HDF5 converts float16 to float on read).
std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::vector<float> read_float_dataset(hid_t group, const std::string& file, hsize_t file_size, const std::string& path,
                                      const char* name, int rank, std::vector<hsize_t>& dims) {
  Handle ds(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(where(file, path) + ": cannot open the dataset");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    throw Error(where(file, path) + ": dataset is not floating point (expected float16 or float32)");
  }
  const size_t size = H5Tget_size(type.get());
  if (size != 2 && size != 4) {
    throw Error(where(file, path) + ": " + std::to_string(size * 8) +
                "-bit floats (expected float16 or float32)");
  }
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int got_rank = H5Sget_simple_extent_ndims(space.get());
  if (got_rank != rank) {
    throw Error(where(file, path) + ": rank " + std::to_string(got_rank) + " (expected " + std::to_string(rank) + ")");
  }
  dims.assign(rank, 0);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  hsize_t count = 1;
  for (hsize_t d : dims) {
    if (d == 0) throw Error(where(file, path) + ": empty dataset");
    // Checked per factor: a product that wraps around would pass the limits below.
    if (count > (hsize_t(1) << 33) / d) {
      throw Error(where(file, path) + ": dataset too large (shape " + shape_text(dims) + ", over 2^33 elements)");
    }
    count *= d;
  }
  // The shape is a size field the file may lie about: refuse to allocate more
  // than the stored bytes can hold. Compressed data may legitimately exceed the
  // file size, but deflate expands at most ~1032:1, so 1100 x what is stored
  // (never more than the file itself) bounds any honest dataset.
  const hsize_t stored = std::min<hsize_t>(H5Dget_storage_size(ds.get()), file_size);
  if (stored == 0 || count * sizeof(float) > stored * 1100) {
    throw Error(where(file, path) + ": shape " + shape_text(dims) + " needs " + std::to_string(count) +
                " values but only " + std::to_string(stored) + " bytes of data are stored (truncated or damaged?)");
  }
  std::vector<float> data(count);
  if (H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0) {
    throw Error(where(file, path) + ": cannot read the data (truncated file or unsupported filter?)");
  }
  return data;
}

MatrixF read_matrix(hid_t group, const std::string& file, hsize_t file_size, const std::string& path,
                    const char* name) {
  std::vector<hsize_t> dims;
  const std::vector<float> data = read_float_dataset(group, file, file_size, path, name, 2, dims);
  MatrixF m(static_cast<long>(dims[0]), static_cast<long>(dims[1]));
  std::copy(data.begin(), data.end(), m.data());
  require_finite(m, where(file, path));
  return m;
}

VectorF read_vector(hid_t group, const std::string& file, hsize_t file_size, const std::string& path,
                    const char* name) {
  std::vector<hsize_t> dims;
  const std::vector<float> data = read_float_dataset(group, file, file_size, path, name, 1, dims);
  VectorF v(static_cast<long>(dims[0]));
  std::copy(data.begin(), data.end(), v.data());
  require_finite(v, where(file, path));
  return v;
}

std::optional<std::string> read_string_attribute(hid_t obj, const char* name, const std::string& context) {
  if (H5Aexists(obj, name) <= 0) return std::nullopt;
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) throw Error(context + ": attribute '" + name + "' is not a string");
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  // h5py writes UTF-8; HDF5 will not convert between character sets.
  H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* value = nullptr;
    if (H5Aread(attr.get(), mem.get(), &value) < 0) throw Error(context + ": cannot read attribute '" + name + "'");
    std::string out = value ? value : "";
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, &value);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size > (1u << 20)) throw Error(context + ": attribute '" + std::string(name) + "' is too long");
  // One more byte than stored: the memory type is null-terminated.
  std::string out(size + 1, '\0');
  H5Tset_size(mem.get(), size + 1);
  if (H5Aread(attr.get(), mem.get(), out.data()) < 0) throw Error(context + ": cannot read attribute '" + name + "'");
  out.resize(std::find(out.begin(), out.end(), '\0') - out.begin());
  return out;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

}  // namespace

namespace {

// The file opened read-only, its size, and /layers; every refusal names the file.
struct OpenTrace {
  std::unique_ptr<Handle> file, layers;
  hsize_t file_size = 0;
};

OpenTrace open_trace(const std::string& path) {
  silence_hdf5_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error(path + ": cannot open the file");
    std::fclose(f);
    throw Error(path + ": not an HDF5 file (expected trace format v1, docs/trace-format.md)");
  }
  OpenTrace o;
  o.file = std::make_unique<Handle>(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!o.file->ok()) throw Error(path + ": cannot open the HDF5 file (truncated or damaged?)");
  if (H5Fget_filesize(o.file->get(), &o.file_size) < 0) throw Error(path + ": cannot determine the file size");
  return o;
}

void open_layers(OpenTrace& o, const std::string& path) {
  if (H5Lexists(o.file->get(), "layers", H5P_DEFAULT) <= 0) throw Error(path + ": missing group /layers");
  o.layers = std::make_unique<Handle>(H5Gopen2(o.file->get(), "layers", H5P_DEFAULT), H5Gclose);
  if (!o.layers->ok()) throw Error(path + ": /layers is not a group");
}

// The dimensions of a dataset, without reading it.
std::vector<hsize_t> dataset_dims(hid_t group, const std::string& file, const std::string& path, const char* name) {
  Handle ds(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(where(file, path) + ": cannot open the dataset");
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 2) throw Error(where(file, path) + ": rank " + std::to_string(rank) + " (expected 2)");
  std::vector<hsize_t> dims(size_t(rank), 0);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

// Reads the data of one layer (its group already known to exist) into l.
void read_layer_data(hid_t layers, const std::string& path, hsize_t file_size, LayerTrace& l) {
  const std::string gpath = "/layers/" + l.name;
  Handle g(H5Gopen2(layers, l.name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) throw Error(where(path, gpath) + ": expected a group per layer");
  l.weight = read_matrix(g.get(), path, file_size, gpath + "/weight", "weight");
  l.input = read_matrix(g.get(), path, file_size, gpath + "/input", "input");
  if (l.input.cols() != l.weight.cols()) {
    throw Error(where(path, gpath + "/input") + ": " + std::to_string(l.input.cols()) +
                " columns (expected in_features = " + std::to_string(l.weight.cols()) + " from weight)");
  }
  l.bias.reset();
  if (H5Lexists(g.get(), "bias", H5P_DEFAULT) > 0) {
    l.bias = read_vector(g.get(), path, file_size, gpath + "/bias", "bias");
    if (l.bias->size() != l.weight.rows()) {
      throw Error(where(path, gpath + "/bias") + ": " + std::to_string(l.bias->size()) +
                  " values (expected out_features = " + std::to_string(l.weight.rows()) + ")");
    }
  }
  l.input_absmax.reset();
  if (H5Lexists(g.get(), "input_absmax", H5P_DEFAULT) > 0) {
    l.input_absmax = read_vector(g.get(), path, file_size, gpath + "/input_absmax", "input_absmax");
    if (l.input_absmax->size() != l.weight.cols()) {
      throw Error(where(path, gpath + "/input_absmax") + ": " + std::to_string(l.input_absmax->size()) +
                  " values (expected in_features = " + std::to_string(l.weight.cols()) + ")");
    }
    if ((l.input_absmax->array() < 0).any()) {
      throw Error(where(path, gpath + "/input_absmax") + ": negative values (expected absolute maxima)");
    }
  }
  l.out_features = l.weight.rows();
  l.in_features = l.weight.cols();
  l.input_rows = l.input.rows();
}

}  // namespace

TraceFile read_trace_index(const std::string& path) {
  OpenTrace o = open_trace(path);
  const hid_t file = o.file->get();
  TraceFile t;
  t.path = path;
  if (H5Aexists(file, "sqsim_trace_version") <= 0) {
    throw Error(path + ": missing file attribute sqsim_trace_version (expected 1)");
  }
  {
    Handle attr(H5Aopen(file, "sqsim_trace_version", H5P_DEFAULT), H5Aclose);
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    long long version = -1;
    if (H5Tget_class(type.get()) != H5T_INTEGER ||
        H5Aread(attr.get(), H5T_NATIVE_LLONG, &version) < 0) {
      throw Error(path + ": attribute sqsim_trace_version is not an integer (expected 1)");
    }
    if (version != 1) throw Error(path + ": sqsim_trace_version = " + std::to_string(version) + " (expected 1)");
  }
  t.model = read_string_attribute(file, "model", path).value_or("");
  open_layers(o, path);
  std::vector<std::string> names;
  if (H5Literate(o.layers->get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names) < 0) {
    throw Error(path + ": cannot list /layers");
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) throw Error(path + ": /layers holds no layer");
  for (const std::string& name : names) {
    const std::string gpath = "/layers/" + name;
    Handle g(H5Gopen2(o.layers->get(), name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) throw Error(where(path, gpath) + ": expected a group per layer");
    LayerTrace l;
    l.name = name;
    for (const char* required : {"weight", "input"}) {
      if (H5Lexists(g.get(), required, H5P_DEFAULT) <= 0) {
        throw Error(where(path, gpath) + ": missing dataset '" + required + "'");
      }
    }
    const std::vector<hsize_t> w = dataset_dims(g.get(), path, gpath + "/weight", "weight");
    const std::vector<hsize_t> x = dataset_dims(g.get(), path, gpath + "/input", "input");
    l.out_features = long(w[0]);
    l.in_features = w.size() > 1 ? long(w[1]) : 0;
    l.input_rows = long(x[0]);
    l.smooth_group = read_string_attribute(g.get(), "smooth_group", where(path, gpath)).value_or("");
    t.layers.push_back(std::move(l));
  }
  return t;
}

void load_trace_layers(TraceFile& traces, const std::vector<size_t>& which) {
  if (which.empty()) return;
  OpenTrace o = open_trace(traces.path);
  open_layers(o, traces.path);
  for (size_t i : which) {
    if (i >= traces.layers.size()) throw Error(traces.path + ": no layer " + std::to_string(i));
    LayerTrace& l = traces.layers[i];
    if (!l.loaded()) read_layer_data(o.layers->get(), traces.path, o.file_size, l);
  }
}

void unload_trace_layers(TraceFile& traces, const std::vector<size_t>& which) {
  for (size_t i : which) {
    LayerTrace& l = traces.layers.at(i);
    l.weight = MatrixF();
    l.input = MatrixF();
    l.bias.reset();
    l.input_absmax.reset();
  }
}

TraceFile read_trace_file(const std::string& path) {
  TraceFile t = read_trace_index(path);
  std::vector<size_t> all(t.layers.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  load_trace_layers(t, all);
  return t;
}

namespace {

void write_dataset(hid_t group, const char* name, const float* data, int rank, const hsize_t* dims,
                   const std::string& context) {
  Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
  Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  std::vector<hsize_t> chunk(dims, dims + rank);
  if (rank == 2) chunk[0] = std::min<hsize_t>(dims[0], std::max<hsize_t>(1, (1u << 18) / std::max<hsize_t>(1, dims[1])));
  H5Pset_chunk(plist.get(), rank, chunk.data());
  H5Pset_obj_track_times(plist.get(), 0);  // no timestamps: the same traces give the same bytes
  H5Pset_shuffle(plist.get());
  H5Pset_deflate(plist.get(), 4);
  Handle ds(H5Dcreate2(group, name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok() || H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    throw Error(context + ": cannot write dataset '" + name + "'");
  }
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value, const std::string& context) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0) {
    throw Error(context + ": cannot write attribute '" + name + "'");
  }
}

}  // namespace

void write_trace_file(const std::string& path, const TraceFile& traces) {
  silence_hdf5_errors();
  const std::string tmp = path + ".tmp";
  try {
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) throw Error(tmp + ": cannot create the file");
    {
      Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      Handle attr(H5Acreate2(file.get(), "sqsim_trace_version", H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
      const long long version = 1;
      if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_LLONG, &version) < 0) {
        throw Error(tmp + ": cannot write sqsim_trace_version");
      }
    }
    if (!traces.model.empty()) write_string_attribute(file.get(), "model", traces.model, tmp);
    Handle group_plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
    H5Pset_obj_track_times(group_plist.get(), 0);
    Handle layers(H5Gcreate2(file.get(), "layers", H5P_DEFAULT, group_plist.get(), H5P_DEFAULT), H5Gclose);
    for (const LayerTrace& l : traces.layers) {
      const std::string context = tmp + ": /layers/" + l.name;
      if (l.name.empty() || l.name.find('/') != std::string::npos) {
        throw Error(context + ": layer names must be non-empty and contain no '/'");
      }
      if (l.input.cols() != l.weight.cols()) throw Error(context + ": input and weight widths differ");
      Handle g(H5Gcreate2(layers.get(), l.name.c_str(), H5P_DEFAULT, group_plist.get(), H5P_DEFAULT), H5Gclose);
      if (!g.ok()) throw Error(context + ": cannot create the group (duplicate name?)");
      const hsize_t wd[2] = {hsize_t(l.weight.rows()), hsize_t(l.weight.cols())};
      write_dataset(g.get(), "weight", l.weight.data(), 2, wd, context);
      const hsize_t xd[2] = {hsize_t(l.input.rows()), hsize_t(l.input.cols())};
      write_dataset(g.get(), "input", l.input.data(), 2, xd, context);
      if (l.bias) {
        const hsize_t bd[1] = {hsize_t(l.bias->size())};
        write_dataset(g.get(), "bias", l.bias->data(), 1, bd, context);
      }
      if (l.input_absmax) {
        const hsize_t ad[1] = {hsize_t(l.input_absmax->size())};
        write_dataset(g.get(), "input_absmax", l.input_absmax->data(), 1, ad, context);
      }
      if (!l.smooth_group.empty()) write_string_attribute(g.get(), "smooth_group", l.smooth_group, context);
    }
  } catch (...) {
    std::remove(tmp.c_str());  // never leave a half-written file behind
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " into place");
  }
}

}  // namespace sqsim
