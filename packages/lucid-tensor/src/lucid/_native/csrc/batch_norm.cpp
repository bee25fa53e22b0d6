// Batch normalisation over axis 1 of x viewed as (N, C, S), optionally fused with a
// following ReLU, as MLX primitives running OpenMP loops over the N*C rows of S elements
// (blocks over batch and channel: a per-channel loop alone starves threads on small images).
//
// Training, per channel c over its M = N*S elements:
//   mean = sum(x) / M,  var = sum((x - mean)^2) / M  (two passes, for precision)
//   r = 1 / sqrt(var + eps),  scale = w r,  y = (x - mean) scale + b   [y = max(y, 0)]
// Backward, with g' = g (masked by y > 0 when fused with ReLU), sg = sum(g'),
// sgx = sum(g' (x - mean)):
//   db = sg,  dw = sgx r,  dx = scale (g' - sg / M - (x - mean) r^2 sgx / M)
// Inference: y = x scale + shift per channel [then ReLU].
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "ops.h"

namespace lucid_native {
namespace {

enum class BN { train, train_backward, eval };

struct Dims {
  int64_t n, c, s;
};

Dims dims_of(const mx::array& x) {
  int64_t s = 1;
  for (int i = 2; i < x.ndim(); ++i) s *= x.shape(i);
  return {x.shape(0), x.shape(1), s};
}

// part[n*C + c] = sum over the row (n, c) of f(row pointer, c), rows spread over threads.
template <class F>
void row_sums(const Dims& d, double* part, F f) {
  const int64_t rows = d.n * d.c;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < rows; ++nc) part[nc] = f(nc, nc % d.c);
}

// Sum the per-row partials over the batch: out[c] = sum_n part[n*C + c].
void over_batch(const Dims& d, const double* part, double* out) {
  for (int64_t c = 0; c < d.c; ++c) out[c] = 0;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c) out[c] += part[n * d.c + c];
}

// y = x a[c] + b[c] over every row, then ReLU if asked.
void affine(const Dims& d, const float* x, float* y, const float* a, const float* b, bool relu) {
  const int64_t rows = d.n * d.c, s = d.s;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < rows; ++nc) {
    const float ac = a[nc % d.c], bc = b[nc % d.c];
    const float* xr = x + nc * s;
    float* yr = y + nc * s;
    if (relu) {
#pragma omp simd
      for (int64_t i = 0; i < s; ++i) yr[i] = std::max(xr[i] * ac + bc, 0.0f);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < s; ++i) yr[i] = xr[i] * ac + bc;
    }
  }
}

// inputs (x[, w][, b]) -> (y, mean, var)
void train_forward(const Dims& d, const float* x, const float* w, const float* b, float eps,
                   bool relu, float* y, float* mean_out, float* var_out) {
  const int64_t s = d.s;
  const double m = double(d.n * s);
  std::vector<double> part(d.n * d.c), tot(d.c);
  row_sums(d, part.data(), [&](int64_t nc, int64_t) {
    const float* xr = x + nc * s;
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < s; ++i) acc += xr[i];
    return double(acc);
  });
  over_batch(d, part.data(), tot.data());
  std::vector<float> mean(d.c);
  for (int64_t c = 0; c < d.c; ++c) mean[c] = float(tot[c] / m);
  row_sums(d, part.data(), [&](int64_t nc, int64_t c) {
    const float* xr = x + nc * s;
    const float mu = mean[c];
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < s; ++i) acc += (xr[i] - mu) * (xr[i] - mu);
    return double(acc);
  });
  over_batch(d, part.data(), tot.data());
  std::vector<float> scale(d.c), shift(d.c);
  for (int64_t c = 0; c < d.c; ++c) {
    const double var = tot[c] / m;
    const double r = 1.0 / std::sqrt(var + eps);
    scale[c] = float((w ? w[c] : 1.0f) * r);
    shift[c] = float((b ? b[c] : 0.0f) - mean[c] * scale[c]);
    mean_out[c] = mean[c];
    var_out[c] = float(var);
  }
  affine(d, x, y, scale.data(), shift.data(), relu);
}

// inputs (g, x[, y], mean, var[, w]) -> (dx, dw, db)
void train_backward(const Dims& d, const float* g, const float* x, const float* y,
                    const float* mean, const float* var, const float* w, float eps, float* dx,
                    float* dw, float* db) {
  const int64_t s = d.s;
  const double m = double(d.n * s);
  std::vector<double> part_g(d.n * d.c), part_gx(d.n * d.c), sg(d.c), sgx(d.c);
  const int64_t rows = d.n * d.c;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < rows; ++nc) {
    const float* gr = g + nc * s;
    const float* xr = x + nc * s;
    const float mu = mean[nc % d.c];
    float a = 0, ax = 0;
    if (y) {
      const float* yr = y + nc * s;
#pragma omp simd reduction(+ : a, ax)
      for (int64_t i = 0; i < s; ++i) {
        const float gi = yr[i] > 0 ? gr[i] : 0.0f;
        a += gi;
        ax += gi * (xr[i] - mu);
      }
    } else {
#pragma omp simd reduction(+ : a, ax)
      for (int64_t i = 0; i < s; ++i) {
        a += gr[i];
        ax += gr[i] * (xr[i] - mu);
      }
    }
    part_g[nc] = a;
    part_gx[nc] = ax;
  }
  over_batch(d, part_g.data(), sg.data());
  over_batch(d, part_gx.data(), sgx.data());
  // dx = a[c] g' + k[c] x + c0[c]
  std::vector<float> a(d.c), k(d.c), c0(d.c);
  for (int64_t c = 0; c < d.c; ++c) {
    const double r = 1.0 / std::sqrt(double(var[c]) + eps);
    const double scale = (w ? w[c] : 1.0f) * r;
    const double kk = -scale * r * r * sgx[c] / m;
    a[c] = float(scale);
    k[c] = float(kk);
    c0[c] = float(-scale * sg[c] / m - kk * mean[c]);
    dw[c] = float(sgx[c] * r);
    db[c] = float(sg[c]);
  }
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < rows; ++nc) {
    const int64_t c = nc % d.c;
    const float ac = a[c], kc = k[c], cc = c0[c];
    const float* gr = g + nc * s;
    const float* xr = x + nc * s;
    float* out = dx + nc * s;
    if (y) {
      const float* yr = y + nc * s;
#pragma omp simd
      for (int64_t i = 0; i < s; ++i) out[i] = ac * (yr[i] > 0 ? gr[i] : 0.0f) + kc * xr[i] + cc;
    } else {
#pragma omp simd
      for (int64_t i = 0; i < s; ++i) out[i] = ac * gr[i] + kc * xr[i] + cc;
    }
  }
}

class BatchNorm : public NativePrimitive<BatchNorm> {
 public:
  // has: which optional inputs are present (train: w, b; backward: y, w).
  BatchNorm(mx::Stream stream, BN kind, float eps, bool relu, bool has1, bool has2)
      : NativePrimitive(stream, names[int(kind)]), kind_(kind), eps_(eps), relu_(relu),
        has1_(has1), has2_(has2) {}

  void eval_cpu(const std::vector<mx::array>& inputs,
                std::vector<mx::array>& outputs) override {
    require_dense(inputs, name());
    allocate(outputs);
    dispatch(inputs, outputs, [kind = kind_, eps = eps_, relu = relu_, has1 = has1_,
                               has2 = has2_](Arrays& in, Arrays& out) {
      auto p = [&](size_t i) { return in[i].data<float>(); };
      auto q = [&](size_t i) { return out[i].data<float>(); };
      if (kind == BN::train) {
        size_t i = 1;
        const float* w = has1 ? p(i++) : nullptr;
        const float* b = has2 ? p(i++) : nullptr;
        train_forward(dims_of(in[0]), p(0), w, b, eps, relu, q(0), q(1), q(2));
      } else if (kind == BN::train_backward) {
        size_t i = 2;
        const float* y = has1 ? p(i++) : nullptr;
        const float* mean = p(i++);
        const float* var = p(i++);
        const float* w = has2 ? p(i++) : nullptr;
        train_backward(dims_of(in[1]), p(0), p(1), y, mean, var, w, eps, q(0), q(1), q(2));
      } else {
        affine(dims_of(in[0]), p(0), q(0), p(1), p(2), relu);
      }
    });
  }

  auto key() const { return std::tuple(kind_, eps_, relu_, has1_, has2_); }

 private:
  static constexpr const char* names[] = {"LucidBatchNorm", "LucidBatchNormBackward",
                                          "LucidBatchNormEval"};
  BN kind_;
  float eps_;
  bool relu_, has1_, has2_;
};

void check_vector(const std::optional<mx::array>& v, int64_t c, const char* op) {
  if (v && (v->ndim() != 1 || v->shape(0) != c))
    throw std::invalid_argument(std::string(op) + ": per-channel vectors must have shape (C,)");
}

void check_input(const mx::array& x, const char* op) {
  if (x.ndim() < 2) throw std::invalid_argument(std::string(op) + ": input must be (N, C, *)");
}

}  // namespace

std::tuple<mx::array, mx::array, mx::array> batch_norm_train(
    const mx::array& x_, std::optional<mx::array> weight, std::optional<mx::array> bias,
    float eps, bool relu) {
  const char* op = "batch_norm";
  auto st = cpu_stream(op);
  check_input(x_, op);
  const int c = x_.shape(1);
  check_vector(weight, c, op);
  check_vector(bias, c, op);
  std::vector<mx::array> inputs{dense_f32(x_, op, st)};
  if (weight) inputs.push_back(dense_f32(*weight, op, st));
  if (bias) inputs.push_back(dense_f32(*bias, op, st));
  auto outs = mx::array::make_arrays(
      {x_.shape(), {c}, {c}}, {mx::float32, mx::float32, mx::float32},
      std::make_shared<BatchNorm>(st, BN::train, eps, relu, weight.has_value(),
                                  bias.has_value()),
      inputs);
  return {outs[0], outs[1], outs[2]};
}

std::tuple<mx::array, mx::array, mx::array> batch_norm_train_backward(
    const mx::array& g, const mx::array& x, std::optional<mx::array> y, const mx::array& mean,
    const mx::array& var, std::optional<mx::array> weight, float eps) {
  const char* op = "batch_norm_backward";
  auto st = cpu_stream(op);
  check_input(x, op);
  if (g.shape() != x.shape() || (y && y->shape() != x.shape()))
    throw std::invalid_argument("batch_norm_backward: gradient and input shapes disagree");
  const int c = x.shape(1);
  check_vector(mean, c, op);
  check_vector(var, c, op);
  check_vector(weight, c, op);
  std::vector<mx::array> inputs{dense_f32(g, op, st), dense_f32(x, op, st)};
  if (y) inputs.push_back(dense_f32(*y, op, st));
  inputs.push_back(dense_f32(mean, op, st));
  inputs.push_back(dense_f32(var, op, st));
  if (weight) inputs.push_back(dense_f32(*weight, op, st));
  auto outs = mx::array::make_arrays(
      {x.shape(), {c}, {c}}, {mx::float32, mx::float32, mx::float32},
      std::make_shared<BatchNorm>(st, BN::train_backward, eps, y.has_value(), y.has_value(),
                                  weight.has_value()),
      inputs);
  return {outs[0], outs[1], outs[2]};
}

mx::array batch_norm_eval(const mx::array& x, const mx::array& scale, const mx::array& shift,
                          bool relu) {
  const char* op = "batch_norm";
  auto st = cpu_stream(op);
  check_input(x, op);
  check_vector(scale, x.shape(1), op);
  check_vector(shift, x.shape(1), op);
  return mx::array(x.shape(), mx::float32,
                   std::make_shared<BatchNorm>(st, BN::eval, 0.0f, relu, false, false),
                   {dense_f32(x, op, st), dense_f32(scale, op, st), dense_f32(shift, op, st)});
}

}  // namespace lucid_native
