// Max and average pooling (NCHW) through oneDNN, as MLX primitives:
//
//   max: out[n,c,u,v] = max_{i,j} x_pad[n,c, s_h u + d_h i, s_w v + d_w j]   (pad = -inf)
//        dx: each window's gradient goes to its maximum, recorded by the forward in a
//        oneDNN workspace (an extra uint8 output, passed back to the backward)
//   avg: out[n,c,u,v] = (1 / count) sum_{i,j} x_pad[n,c, s_h u + i, s_w v + j]   (pad = 0)
//        count = kh kw (include_pad) or the number of real pixels; dx spreads g / count
//
// Primitives are cached by shape and made when the op is recorded (errors raise in Python).
#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "ops.h"

namespace lucid_native {
namespace {

using dnnl::memory;

struct PoolShape {
  int64_t n, c, h, w, ho, wo;
  Pair kernel, stride, dil;
  Pads pads;
  int alg;  // PoolAlg
  auto key() const { return std::tie(n, c, h, w, ho, wo, kernel, stride, dil, pads, alg); }
  bool operator<(const PoolShape& o) const { return key() < o.key(); }

  memory::desc src() const {
    return {{n, c, h, w}, memory::data_type::f32, memory::format_tag::nchw};
  }
  memory::desc dst() const {
    return {{n, c, ho, wo}, memory::data_type::f32, memory::format_tag::nchw};
  }
  dnnl::algorithm algorithm() const {
    return alg == 0   ? dnnl::algorithm::pooling_max
           : alg == 1 ? dnnl::algorithm::pooling_avg_include_padding
                      : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  memory::dims strides() const { return {stride[0], stride[1]}; }
  memory::dims kernels() const { return {kernel[0], kernel[1]}; }
  memory::dims dilates() const { return {dil[0] - 1, dil[1] - 1}; }
  memory::dims pad_l() const { return {pads[0], pads[2]}; }
  memory::dims pad_r() const { return {pads[1], pads[3]}; }
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct PoolPrimitives {
  dnnl::pooling_forward::primitive_desc fwd_pd;
  dnnl::pooling_forward fwd;
  std::unique_ptr<dnnl::pooling_backward> bwd;
  size_t scratch_fwd = 0, scratch_bwd = 0;  // bytes
};

dnnl::primitive_attr user_scratchpad() {  // see scratch() in common.h
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::mutex cache_mutex;
std::map<PoolShape, std::shared_ptr<PoolPrimitives>> cache;

std::shared_ptr<PoolPrimitives> primitives(const PoolShape& s, bool backward) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto& p = cache[s];
  if (!p) {
    auto q = std::make_shared<PoolPrimitives>();
    q->fwd_pd = dnnl::pooling_forward::primitive_desc(
        engine(), dnnl::prop_kind::forward_training, s.algorithm(), s.src(), s.dst(),
        s.strides(), s.kernels(), s.dilates(), s.pad_l(), s.pad_r(), user_scratchpad());
    q->fwd = dnnl::pooling_forward(q->fwd_pd);
    q->scratch_fwd = q->fwd_pd.scratchpad_desc().get_size();
    p = q;
  }
  if (backward && !p->bwd) {
    dnnl::pooling_backward::primitive_desc pd(engine(), s.algorithm(), s.src(), s.dst(),
                                              s.strides(), s.kernels(), s.dilates(), s.pad_l(),
                                              s.pad_r(), p->fwd_pd, user_scratchpad());
    p->bwd = std::make_unique<dnnl::pooling_backward>(pd);
    p->scratch_bwd = pd.scratchpad_desc().get_size();
  }
  return p;
}

memory wrap(const memory::desc& md, const mx::array& a) {
  return memory(md, engine(), const_cast<void*>(static_cast<const void*>(a.data<uint8_t>())));
}

void add_scratchpad(std::unordered_map<int, memory>& args, size_t bytes) {
  memory::desc md({(int64_t)bytes}, memory::data_type::u8, memory::format_tag::x);
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(md, engine(), scratch(bytes)));
}

// forward: (x) -> (out, workspace);  backward: (g[, workspace]) -> dx
class Pool2d : public NativePrimitive<Pool2d> {
 public:
  Pool2d(mx::Stream stream, PoolShape shape, bool backward)
      : NativePrimitive(stream, backward ? "LucidPool2dBackward" : "LucidPool2d"),
        s_(shape), backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& inputs,
                std::vector<mx::array>& outputs) override {
    for (auto& a : inputs)
      if (!a.flags().row_contiguous) throw std::runtime_error("pool2d: expected dense inputs");
    allocate(outputs);
    dispatch(inputs, outputs, [s = s_, backward = backward_](Arrays& in, Arrays& out) {
      auto p = primitives(s, backward);
      dnnl::stream strm(engine());
      if (!backward) {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(s.src(), in[0])},
                                             {DNNL_ARG_DST, wrap(s.dst(), out[0])}};
        if (s.alg == 0) args.emplace(DNNL_ARG_WORKSPACE, wrap(p->fwd_pd.workspace_desc(), out[1]));
        add_scratchpad(args, p->scratch_fwd);
        p->fwd.execute(strm, args);
      } else {
        std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, wrap(s.dst(), in[0])},
                                             {DNNL_ARG_DIFF_SRC, wrap(s.src(), out[0])}};
        if (s.alg == 0) args.emplace(DNNL_ARG_WORKSPACE, wrap(p->fwd_pd.workspace_desc(), in[1]));
        add_scratchpad(args, p->scratch_bwd);
        p->bwd->execute(strm, args);
      }
      strm.wait();
    });
  }

  auto key() const { return std::tuple(backward_, s_.key()); }

 private:
  PoolShape s_;
  bool backward_;
};

PoolShape make_shape(int64_t n, int64_t c, int64_t h, int64_t w, Pair kernel, Pair stride,
                     Pads pads, Pair dil, int alg) {
  if (alg < 0 || alg > 2) throw std::invalid_argument("pool2d: alg must be 0, 1 or 2");
  auto out = [](int64_t size, int k, int st, int d, int a, int b) {
    return (size + a + b - d * (k - 1) - 1) / st + 1;
  };
  PoolShape s{n, c, h, w,
              out(h, kernel[0], stride[0], dil[0], pads[0], pads[1]),
              out(w, kernel[1], stride[1], dil[1], pads[2], pads[3]),
              kernel, stride, dil, pads, alg};
  if (s.ho < 1 || s.wo < 1) throw std::invalid_argument("pool2d: empty output");
  return s;
}

}  // namespace

std::tuple<mx::array, mx::array> pool2d(const mx::array& x_, int alg, Pair kernel, Pair stride,
                                        Pads pads, Pair dilation) {
  const char* op = "pool2d";
  auto st = cpu_stream(op);
  if (x_.ndim() != 4) throw std::invalid_argument("pool2d: input must be (N, C, H, W)");
  auto x = dense_f32(x_, op, st);
  auto s = make_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), kernel, stride, pads,
                      dilation, alg);
  auto p = primitives(s, false);
  int ws = alg == 0 ? (int)p->fwd_pd.workspace_desc().get_size() : 0;
  auto outs = mx::array::make_arrays({{(int)s.n, (int)s.c, (int)s.ho, (int)s.wo}, {ws}},
                                     {mx::float32, mx::uint8},
                                     std::make_shared<Pool2d>(st, s, false), {x});
  return {outs[0], outs[1]};
}

mx::array pool2d_backward(const mx::array& g_, const mx::array& workspace, int alg, Pair in_hw,
                          Pair kernel, Pair stride, Pads pads, Pair dilation) {
  const char* op = "pool2d_backward";
  auto st = cpu_stream(op);
  if (g_.ndim() != 4) throw std::invalid_argument("pool2d_backward: g must be (N, C, Ho, Wo)");
  auto g = dense_f32(g_, op, st);
  auto s = make_shape(g.shape(0), g.shape(1), in_hw[0], in_hw[1], kernel, stride, pads,
                      dilation, alg);
  if (s.ho != g.shape(2) || s.wo != g.shape(3))
    throw std::invalid_argument("pool2d_backward: gradient shape disagrees");
  primitives(s, true);
  std::vector<mx::array> inputs{g};
  if (alg == 0) inputs.push_back(mx::contiguous(workspace, false, st));
  return mx::array({(int)s.n, (int)s.c, (int)s.h, (int)s.w}, mx::float32,
                   std::make_shared<Pool2d>(st, s, true), inputs);
}

}  // namespace lucid_native
