// Fused optimizer updates (Adam/AdamW, SGD) as MLX primitives with several outputs: one
// OpenMP pass reads parameter, gradient and state once and writes the new parameter and
// state (MLX's compiled element-wise kernels run on one thread on the CPU).
//
//   adam: g = -g (maximize); p = p * decay (decoupled) or g = g + wd p (L2);
//         m = m + (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2;  v_max = max(v_max, v) (amsgrad)
//         p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
//   sgd:  g = -g (maximize); g = g + wd p;  buf = g (first) or mu buf + (1 - tau) g;
//         d = g + mu buf (nesterov) or buf;  p = p - lr d
//
// The formulas, in this order, are the ones of lucid.optim's MLX rules. Inputs nobody else
// holds donate their buffers to the matching outputs (the update runs in place).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include <immintrin.h>

#include "ops.h"

namespace lucid_native {
namespace {

enum class Rule { adam, sgd };

struct Config {
  Rule rule;
  std::vector<float> s;  // the scalars, in the order of the Python rule's ``hyper``
  bool weight_decay, maximize;
  bool decoupled = false, amsgrad = false;                 // adam
  bool momentum = false, nesterov = false, first = false;  // sgd
};

template <typename F>
void with_bool(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// sqrt over a tile, in place, in vector registers: GCC does not vectorise std::sqrt in a
// loop unless -fno-math-errno (it keeps a scalar call per element, for errno).
inline void sqrt_tile(float* x, int64_t n) {
  int64_t i = 0;
#ifdef __AVX__
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

// in: p, g, m, v[, vmax]; out: p, m, v[, vmax]. Tiles of 256: moments (vector loop), sqrt,
// then the parameter (vector loop); out may be in (donated buffers): each element is read
// before it is written.
template <bool WD, bool DEC, bool MAX, bool AMS>
void adam(const float* s, const float* const* in, float* const* out, int64_t lo, int64_t hi) {
  const float step_size = s[0], bc2_sqrt = s[1], one_minus_b1 = s[2], b2 = s[3];
  const float one_minus_b2 = s[4], eps = s[5], wd = s[6], decay = s[7];
  const float *p = in[0], *g = in[1], *m = in[2], *v = in[3], *vmax = in[AMS ? 4 : 3];
  float *po = out[0], *mo = out[1], *vo = out[2], *vmaxo = out[AMS ? 3 : 2];
  constexpr int64_t tile = 256;
  float root[tile];
  for (int64_t t = lo; t < hi; t += tile) {
    const int64_t e = std::min(hi, t + tile);
#pragma omp simd
    for (int64_t i = t; i < e; ++i) {
      float gi = MAX ? -g[i] : g[i];
      if constexpr (WD && !DEC) gi = gi + wd * p[i];
      const float mi = m[i] + one_minus_b1 * (gi - m[i]);
      const float vi = v[i] * b2 + one_minus_b2 * gi * gi;
      float d = vi;
      if constexpr (AMS) {
        d = vmax[i] > vi ? vmax[i] : vi;
        vmaxo[i] = d;
      }
      mo[i] = mi;
      vo[i] = vi;
      root[i - t] = d;
    }
    sqrt_tile(root, e - t);
#pragma omp simd
    for (int64_t i = t; i < e; ++i) {
      const float pi = WD && DEC ? p[i] * decay : p[i];
      po[i] = pi - step_size * (mo[i] / (root[i - t] / bc2_sqrt + eps));
    }
  }
}

// in: p, g[, buf]; out: p[, buf]
template <bool WD, bool MAX, bool MOM, bool NES, bool FIRST>
void sgd(const float* s, const float* const* in, float* const* out, int64_t lo, int64_t hi) {
  const float lr = s[0], wd = s[1], mu = s[2], one_minus_tau = s[3];
  const float *p = in[0], *g = in[1], *buf = in[MOM && !FIRST ? 2 : 1];
  float *po = out[0], *bufo = out[MOM ? 1 : 0];
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    float gi = MAX ? -g[i] : g[i];
    if constexpr (WD) gi = gi + wd * p[i];
    if constexpr (MOM) {
      const float b = FIRST ? gi : buf[i] * mu + one_minus_tau * gi;
      bufo[i] = b;
      gi = NES ? gi + mu * b : b;
    }
    po[i] = p[i] - lr * gi;
  }
}

using Kernel = void (*)(const float*, const float* const*, float* const*, int64_t, int64_t);

Kernel choose(const Config& c) {
  Kernel k = nullptr;
  if (c.rule == Rule::adam) {
    with_bool(c.weight_decay, [&](auto wd) { with_bool(c.decoupled, [&](auto dec) {
      with_bool(c.maximize, [&](auto mx_) { with_bool(c.amsgrad, [&](auto ams) {
        k = &adam<wd(), dec(), mx_(), ams()>;
      }); }); }); });
  } else {
    with_bool(c.weight_decay, [&](auto wd) { with_bool(c.maximize, [&](auto mx_) {
      with_bool(c.momentum, [&](auto mom) { with_bool(c.nesterov, [&](auto nes) {
        with_bool(c.first, [&](auto first) { k = &sgd<wd(), mx_(), mom(), nes(), first()>; });
      }); }); }); });
  }
  return k;
}

// A dense copy of a strided array (rare: a gradient made by a transpose or a broadcast).
void gather(const mx::array& a, float* dst) {
  const auto& shape = a.shape();
  const auto& strides = a.strides();
  const float* src = a.data<float>();
  const int nd = (int)shape.size();
  std::vector<int64_t> idx(nd, 0);
  for (size_t i = 0, n = a.size(); i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) off += idx[d] * strides[d];
    dst[i] = src[off];
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// No key(): two updates are never equivalent (MLX's default).
class FusedUpdate : public NativePrimitive<FusedUpdate> {
 public:
  FusedUpdate(mx::Stream stream, Config c)
      : NativePrimitive(stream, c.rule == Rule::adam ? "LucidAdamUpdate" : "LucidSgdUpdate"),
        c_(std::move(c)) {}

  void eval_cpu(const std::vector<mx::array>& inputs,
                std::vector<mx::array>& outputs) override {
    // output k takes the buffer of input source(k) when nothing else holds that input
    for (size_t k = 0; k < outputs.size(); ++k) {
      size_t src = k == 0 ? 0 : k + 1;
      if (c_.rule == Rule::sgd && c_.first) src = k == 0 ? 0 : inputs.size();  // buf = g
      auto& o = outputs[k];
      if (src < inputs.size() && inputs[src].is_donatable() &&
          inputs[src].flags().row_contiguous && inputs[src].data_size() == o.size())
        o.copy_shared_buffer(inputs[src]);
      else
        allocate(o);
    }
    dispatch(inputs, outputs, [c = c_](Arrays& in, Arrays& out) {
      const int64_t n = (int64_t)out[0].size();
      std::vector<std::vector<float>> copies;
      std::vector<const float*> ip;
      for (auto& a : in) {
        if (a.flags().row_contiguous) {
          ip.push_back(a.data<float>());
        } else {
          copies.emplace_back(a.size());
          gather(a, copies.back().data());
          ip.push_back(copies.back().data());
        }
      }
      std::vector<float*> op;
      for (auto& o : out) op.push_back(o.data<float>());
      const Kernel kernel = choose(c);
      const float* s = c.s.data();
      const int64_t block = 1 << 14;
      const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static) if (blocks > 1)
      for (int64_t b = 0; b < blocks; ++b)
        kernel(s, ip.data(), op.data(), b * block, std::min(n, (b + 1) * block));
    });
  }

 private:
  Config c_;
};

std::vector<mx::array> apply(Config c, const char* op, std::vector<mx::array> inputs,
                             size_t n_state, size_t n_scalars) {
  auto st = cpu_stream(op);
  if (c.s.size() != n_scalars)
    throw std::invalid_argument(std::string(op) + ": expected " + std::to_string(n_scalars) +
                                " scalars, got " + std::to_string(c.s.size()));
  if (inputs.size() != 2 + n_state)
    throw std::invalid_argument(std::string(op) + ": expected " + std::to_string(n_state) +
                                " state arrays, got " + std::to_string(inputs.size() - 2));
  for (auto& a : inputs) {
    if (a.shape() != inputs[0].shape())
      throw std::invalid_argument(std::string(op) + ": parameter, gradient and state shapes "
                                  "disagree");
    if (a.dtype() != mx::float32)
      throw std::invalid_argument(std::string(op) + ": native kernels take float32 only");
  }
  const size_t n_out = 1 + (c.rule == Rule::adam ? n_state : (c.momentum ? 1 : 0));
  std::vector<mx::Shape> shapes(n_out, inputs[0].shape());
  std::vector<mx::Dtype> dtypes(n_out, mx::float32);
  return mx::array::make_arrays(std::move(shapes), std::move(dtypes),
                                std::make_shared<FusedUpdate>(st, std::move(c)),
                                std::move(inputs));
}

}  // namespace

std::vector<mx::array> adam_update(const mx::array& p, const mx::array& g,
                                   const std::vector<mx::array>& state,
                                   const std::vector<float>& scalars, bool weight_decay,
                                   bool decoupled, bool maximize, bool amsgrad) {
  Config c{Rule::adam, scalars, weight_decay, maximize};
  c.decoupled = decoupled;
  c.amsgrad = amsgrad;
  std::vector<mx::array> inputs{p, g};
  inputs.insert(inputs.end(), state.begin(), state.end());
  return apply(std::move(c), "adam_update", std::move(inputs), amsgrad ? 3 : 2, 8);
}

std::vector<mx::array> sgd_update(const mx::array& p, const mx::array& g,
                                  const std::vector<mx::array>& state,
                                  const std::vector<float>& scalars, bool weight_decay,
                                  bool maximize, bool momentum, bool nesterov, bool first) {
  Config c{Rule::sgd, scalars, weight_decay, maximize};
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.first = first;
  std::vector<mx::array> inputs{p, g};
  inputs.insert(inputs.end(), state.begin(), state.end());
  return apply(std::move(c), "sgd_update", std::move(inputs), momentum && !first ? 1 : 0, 4);
}

}  // namespace lucid_native
