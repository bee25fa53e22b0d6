// ReLU and tanh, forward and backward, as MLX primitives running OpenMP loops that the
// compiler vectorises (MLX's own CPU elementwise ops run on one thread without SIMD here).
//
//   relu: out = max(x, 0),   dx = g [out > 0]   (out > 0 exactly where x > 0)
//   add_relu: out = max(a + b, 0) (a residual block's end), da = db = g [out > 0]
//   add: out = a + b (gradients summed where a value feeds two ops, as a residual input)
//   tanh: out = tanh x,      dx = g (1 - out^2)
//
// tanh uses the rational approximation of Eigen's fast tanh (odd degree-13 numerator over an
// even degree-6 denominator, inputs clamped to +-7.9, where tanh is 1 in float32).
#include <algorithm>
#include <cmath>

#include "ops.h"

namespace lucid_native {
namespace {

enum class Unary { relu, relu_backward, tanh, tanh_backward, add_relu, add };

inline float fast_tanh(float x) {
  const float c = 7.90531110763549805f;
  x = std::min(std::max(x, -c), c);
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return std::fabs(x) < 0.0004f ? x : p / q;
}

void run(Unary kind, const float* a, const float* b, float* out, int64_t n) {
  // blocks of 16K elements: enough work per thread, and vector loops inside
  const int64_t block = 1 << 14;
  const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t lo = k * block, hi = std::min(n, lo + block);
    switch (kind) {
      case Unary::relu:
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = std::max(a[i], 0.0f);
        break;
      case Unary::relu_backward:  // a = g, b = out
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = b[i] > 0 ? a[i] : 0.0f;
        break;
      case Unary::tanh:
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = fast_tanh(a[i]);
        break;
      case Unary::tanh_backward:  // a = g, b = out
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = a[i] * (1.0f - b[i] * b[i]);
        break;
      case Unary::add_relu:
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = std::max(a[i] + b[i], 0.0f);
        break;
      case Unary::add:
#pragma omp simd
        for (int64_t i = lo; i < hi; ++i) out[i] = a[i] + b[i];
        break;
    }
  }
}

class UnaryOp : public NativePrimitive<UnaryOp> {
 public:
  UnaryOp(mx::Stream stream, Unary kind)
      : NativePrimitive(stream, names[int(kind)]), kind_(kind) {}

  // inputs (a[, b]) -> out
  void eval_cpu(const std::vector<mx::array>& inputs,
                std::vector<mx::array>& outputs) override {
    require_dense(inputs, name());
    allocate(outputs);
    dispatch(inputs, outputs, [kind = kind_](Arrays& in, Arrays& out) {
      auto& b = in.size() > 1 ? in[1] : in[0];
      run(kind, in[0].data<float>(), b.data<float>(),
          out[0].data<float>(), (int64_t)out[0].size());
    });
  }

  auto key() const { return std::tuple(kind_); }

 private:
  static constexpr const char* names[] = {"LucidRelu", "LucidReluBackward", "LucidTanh",
                                          "LucidTanhBackward", "LucidAddRelu",
                                          "LucidAdd"};
  Unary kind_;
};

mx::array apply(Unary kind, const char* op, std::vector<mx::array> inputs) {
  auto st = cpu_stream(op);
  for (auto& a : inputs) {
    if (a.shape() != inputs[0].shape())
      throw std::invalid_argument(std::string(op) + ": the inputs' shapes disagree");
    a = dense_f32(a, op, st);
  }
  auto shape = inputs[0].shape();
  return mx::array(shape, mx::float32, std::make_shared<UnaryOp>(st, kind), std::move(inputs));
}

}  // namespace

mx::array relu(const mx::array& x) { return apply(Unary::relu, "relu", {x}); }
mx::array relu_backward(const mx::array& g, const mx::array& out) {
  return apply(Unary::relu_backward, "relu_backward", {g, out});
}
mx::array add_relu(const mx::array& a, const mx::array& b) {
  return apply(Unary::add_relu, "add_relu", {a, b});
}
mx::array add(const mx::array& a, const mx::array& b) {
  return apply(Unary::add, "add", {a, b});
}
mx::array tanh(const mx::array& x) { return apply(Unary::tanh, "tanh", {x}); }
mx::array tanh_backward(const mx::array& g, const mx::array& out) {
  return apply(Unary::tanh_backward, "tanh_backward", {g, out});
}

}  // namespace lucid_native
