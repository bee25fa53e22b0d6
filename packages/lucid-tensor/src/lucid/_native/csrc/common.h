// Shared helpers of Lucid's native CPU primitives: thread count, input checks, and the
// pattern every primitive follows (NativePrimitive: allocate outputs in eval_cpu, run the
// kernel in a task dispatched to the CPU stream's worker thread).
#pragma once

#include <omp.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "mlx/allocator.h"
#include "mlx/array.h"
#include "mlx/backend/common/utils.h"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/ops.h"
#include "mlx/primitives.h"
#include "mlx/utils.h"

namespace lucid_native {

namespace mx = mlx::core;

// One thread count for every OpenMP team and oneDNN primitive of this module.
int num_threads();
void set_num_threads(int n);

// omp_set_num_threads only reaches the thread that calls it: call this first thing in every
// dispatched task, which runs on MLX's worker thread.
inline void use_threads() {
  int n = num_threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

// The stream an op is recorded on: the default one, which must be on the CPU.
inline mx::Stream cpu_stream(const char* op) {
  mx::Stream s = mx::to_stream({});
  if (s.device.type != mx::Device::DeviceType::cpu)
    throw std::invalid_argument(std::string(op) + ": native kernels run on the CPU only");
  return s;
}

// A float32, row-contiguous copy of a (only when it is not one already).
inline mx::array dense_f32(const mx::array& a, const char* op, mx::Stream s) {
  if (a.dtype() != mx::float32)
    throw std::invalid_argument(std::string(op) + ": native kernels take float32 only");
  return mx::contiguous(a, false, s);
}

using Arrays = std::vector<mx::array>;

// Give every output its own buffer (outputs never alias inputs here), its data starting on a
// 64-byte boundary: MLX's CPU allocator returns addresses 8 bytes past malloc's 16-byte
// alignment, so a 64-byte vector load or store on its buffers spans two cache lines (oneDNN's
// reorders out of the channel-blocked layout ran 1.3x slower on them). The buffer is
// allocated 64 bytes larger and the array's data starts at the first aligned element.
constexpr size_t kAlign = 64;

inline void allocate(mx::array& o) {
  auto data = mx::allocator::malloc(o.nbytes() + kAlign);
  auto address = reinterpret_cast<uintptr_t>(data.buffer().raw_ptr());
  size_t skip = (kAlign - address % kAlign) % kAlign;  // bytes (set_data's offset unit)
  int spread = 0;  // dimensions longer than 1: a row-major array is also column-major
  for (auto d : o.shape()) spread += d > 1;
  mx::array::Flags flags{true, true, spread <= 1};
  o.set_data(std::move(data), o.size(), mx::make_contiguous_strides(o.shape()), flags,
             static_cast<int64_t>(skip));
}

inline void allocate(std::vector<mx::array>& outputs) {
  for (auto& o : outputs) allocate(o);
}

// The arrays a dispatched task reads and writes: registered with the CPU encoder (which
// keeps their buffers alive until the task has run) and copied as weak references the
// task's closure may hold.
struct TaskArrays {
  std::vector<mx::array> in, out;
};

inline TaskArrays task_arrays(mx::cpu::CommandEncoder& encoder,
                              const std::vector<mx::array>& inputs,
                              std::vector<mx::array>& outputs) {
  TaskArrays t;
  for (auto& a : inputs) {
    encoder.set_input_array(a);
    t.in.push_back(mx::array::unsafe_weak_copy(a));
  }
  for (auto& a : outputs) {
    encoder.set_output_array(a);
    t.out.push_back(mx::array::unsafe_weak_copy(a));
  }
  return t;
}

// The base of every native primitive (CRTP: Derived is the primitive's own class). It runs on
// the CPU only: the ops are recorded on the CPU stream (cpu_stream), so eval_gpu is never
// reached. `name` is fixed at construction; two primitives are equivalent when their
// Derived::key() (a tuple of everything that changes the result) are equal, and a Derived
// without key() is never equivalent to another (MLX's default).
template <class Derived>
class NativePrimitive : public mx::Primitive {
 public:
  NativePrimitive(mx::Stream stream, const char* name) : mx::Primitive(stream), name_(name) {}

  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error(std::string(name_) + ": lucid native kernels have no GPU "
                             "implementation");
  }

  const char* name() const override { return name_; }

  bool is_equivalent(const mx::Primitive& other) const override {
    if constexpr (requires(const Derived& d) { d.key(); })
      return static_cast<const Derived&>(*this).key() == static_cast<const Derived&>(other).key();
    else
      return false;
  }

 protected:
  // Runs task(Arrays& in, Arrays& out) on the CPU stream's worker thread, after use_threads();
  // in and out are the weak copies of task_arrays. The outputs must have their buffers already.
  template <class Task>
  void dispatch(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs,
                Task task) {
    auto& encoder = mx::cpu::get_command_encoder(stream());
    auto t = task_arrays(encoder, inputs, outputs);
    encoder.dispatch([t = std::move(t), task = std::move(task)]() mutable {
      use_threads();
      task(t.in, t.out);
    });
  }

 private:
  const char* name_;
};

// Kernels read inputs through raw pointers: they must be dense row-major.
inline void require_dense(const std::vector<mx::array>& inputs, const char* op) {
  for (auto& a : inputs)
    if (!a.flags().row_contiguous || a.dtype() != mx::float32)
      throw std::runtime_error(std::string(op) + ": expected dense float32 inputs");
}

// oneDNN's own (library) scratchpad lives in the thread that created the primitive, and
// primitives are created where ops are recorded but run on MLX's worker thread: they use
// user scratchpads instead, from one buffer per thread that grows to the largest asked for.
// `slot` keeps buffers needed at the same time apart (0: the scratchpad, 1+: reordered copies).
// Each starts on a kAlign boundary, as the outputs do.
inline void* scratch(size_t bytes, int slot = 0) {
  thread_local std::vector<char> buffers[8];
  auto& buffer = buffers[slot];
  if (buffer.size() < bytes + kAlign) buffer.resize(bytes + kAlign);
  auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + (kAlign - address % kAlign) % kAlign;
}

}  // namespace lucid_native
