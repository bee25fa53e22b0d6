// conv2d through oneDNN, as three MLX primitives (NCHW, weights (O, C/G, kh, kw)):
//
//   forward:          out[n,o,u,v] = b[o] + sum_{c,i,j} W[o,c,i,j] x_pad[n,c, s_h u + d_h i, s_w v + d_w j]
//   backward data:    dx = the transposed map applied to g = dL/dout
//   backward weights: dW[o,c,i,j] = sum_{n,u,v} g[n,o,u,v] x_pad[n,c, s_h u + d_h i, s_w v + d_w j],
//                     db[o] = sum_{n,u,v} g[n,o,u,v]
//   inference with an epilogue (conv2d_affine): y[n,o,u,v] = act(out[n,o,u,v] a[o] + s[o]),
//                     act = ReLU or identity, applied by oneDNN as post-ops before the
//                     result leaves its blocked layout (a BatchNorm with running statistics
//                     and its ReLU, without a pass of their own)
//
// (c runs over the group of o.) Creating a oneDNN primitive costs far more than running a
// small one, so primitives are cached by shape; they are made when the op is recorded, so
// a shape oneDNN cannot take raises in Python (and the caller falls back), never inside
// MLX's worker thread. The API's memory is NCHW / (G)OIHW; each primitive picks its own
// layout (oneDNN's format "any", usually channel-blocked, where its fastest kernels run),
// and inputs and outputs are reordered into and out of it around the call when it differs.
#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>

#include "ops.h"

namespace lucid_native {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct ConvShape {
  int64_t n, c, h, w, o, kh, kw, ho, wo;
  Pair stride, dil;
  Pads pads;
  int groups;
  bool bias;
  bool affine = false, relu = false;  // the inference epilogue (forward only)
  auto key() const {
    return std::tie(n, c, h, w, o, kh, kw, ho, wo, stride, dil, pads, groups, bias, affine,
                    relu);
  }
  bool operator<(const ConvShape& other) const { return key() < other.key(); }

  // the API's layouts; with any = true, "whatever the primitive prefers"
  memory::desc src(bool any = false) const {
    return {{n, c, h, w}, memory::data_type::f32, any ? tag::any : tag::nchw};
  }
  memory::desc dst(bool any = false) const {
    return {{n, o, ho, wo}, memory::data_type::f32, any ? tag::any : tag::nchw};
  }
  memory::desc weights(bool any = false) const {
    if (groups == 1) return {{o, c, kh, kw}, memory::data_type::f32, any ? tag::any : tag::oihw};
    return {{groups, o / groups, c / groups, kh, kw}, memory::data_type::f32,
            any ? tag::any : tag::goihw};
  }
  memory::desc bias_md() const {
    return bias ? memory::desc({o}, memory::data_type::f32, tag::x) : memory::desc();
  }
  memory::desc channel_md() const {  // a[o] or s[o], broadcast over (n, u, v)
    return {{1, o, 1, 1}, memory::data_type::f32, tag::nchw};
  }
  bool epilogue() const { return affine || relu; }
  // the attributes of the forward: a user scratchpad and the epilogue's post-ops
  dnnl::primitive_attr forward_attr() const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    if (affine) {
      ops.append_binary(dnnl::algorithm::binary_mul, channel_md());
      ops.append_binary(dnnl::algorithm::binary_add, channel_md());
    }
    if (relu) ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
    return attr;
  }
  memory::dims strides() const { return {stride[0], stride[1]}; }
  memory::dims dilates() const { return {dil[0] - 1, dil[1] - 1}; }  // oneDNN: 0 = dense
  memory::dims pad_l() const { return {pads[0], pads[2]}; }
  memory::dims pad_r() const { return {pads[1], pads[3]}; }
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The three primitives of one shape, each made the first time it is needed.
struct ConvPrimitives {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  std::unique_ptr<dnnl::convolution_forward> fwd;
  std::unique_ptr<dnnl::convolution_backward_data> bwd_data;
  std::unique_ptr<dnnl::convolution_backward_weights> bwd_weights;
  size_t scratch_fwd = 0, scratch_data = 0, scratch_weights = 0;  // bytes
  // the layouts each direction works in: (in, in, out) in the order of Conv2d's arrays
  std::vector<memory::desc> fwd_layouts, data_layouts, weights_layouts;
};

std::mutex cache_mutex;
std::map<ConvShape, std::shared_ptr<ConvPrimitives>> cache;

std::shared_ptr<ConvPrimitives> primitives(const ConvShape& s) {
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  auto p = std::make_shared<ConvPrimitives>();
  // forward_training for the epilogue too: for inference oneDNN 3.2 picks brgconv in NHWC,
  // whose reorders from and to NCHW cost more than the channel-blocked kernels' (measured)
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(
      engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
      s.src(true), s.weights(true), s.bias_md(), s.dst(true), s.strides(), s.dilates(),
      s.pad_l(), s.pad_r(), s.forward_attr());
  p->scratch_fwd = p->fwd_pd.scratchpad_desc().get_size();
  p->fwd_layouts = {p->fwd_pd.src_desc(), p->fwd_pd.weights_desc(), p->fwd_pd.dst_desc()};
  cache.emplace(s, p);
  return p;
}

// backward: both halves in one primitive, g reordered into the blocked layout once for both
enum class Kind { forward, backward_data, backward_weights, backward };

// The primitive of one direction, its scratchpad size in bytes and its layouts.
struct Plan {
  dnnl::primitive* prim;
  size_t scratch_bytes;
  std::vector<memory::desc> layouts;
};

Plan get(const ConvShape& s, Kind kind) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto p = primitives(s);
  switch (kind) {
    case Kind::forward:
      if (!p->fwd) p->fwd = std::make_unique<dnnl::convolution_forward>(p->fwd_pd);
      return {p->fwd.get(), p->scratch_fwd, p->fwd_layouts};
    case Kind::backward_data:
      if (!p->bwd_data) {
        dnnl::convolution_backward_data::primitive_desc pd(
            engine(), dnnl::algorithm::convolution_direct, s.src(true), s.weights(true),
            s.dst(true),
            s.strides(), s.dilates(), s.pad_l(), s.pad_r(), p->fwd_pd, user_scratchpad());
        p->bwd_data = std::make_unique<dnnl::convolution_backward_data>(pd);
        p->data_layouts = {pd.diff_dst_desc(), pd.weights_desc(), pd.diff_src_desc()};
        p->scratch_data = pd.scratchpad_desc().get_size();
      }
      return {p->bwd_data.get(), p->scratch_data, p->data_layouts};
    case Kind::backward:  // made by its two halves; run by the primitive itself
      return {nullptr, 0, {}};
    default:
      if (!p->bwd_weights) {
        dnnl::convolution_backward_weights::primitive_desc pd(
            engine(), dnnl::algorithm::convolution_direct, s.src(true), s.weights(true),
            s.bias_md(), s.dst(true), s.strides(), s.dilates(), s.pad_l(), s.pad_r(), p->fwd_pd,
            user_scratchpad());
        p->bwd_weights = std::make_unique<dnnl::convolution_backward_weights>(pd);
        p->weights_layouts = {pd.src_desc(), pd.diff_dst_desc(), pd.diff_weights_desc()};
        p->scratch_weights = pd.scratchpad_desc().get_size();
      }
      return {p->bwd_weights.get(), p->scratch_weights, p->weights_layouts};
  }
}

memory wrap(const memory::desc& md, const mx::array& a) {
  return memory(md, engine(), const_cast<float*>(a.data<float>()));
}

// Binds the API's NCHW buffers to a primitive's arguments, through reordered copies in the
// primitive's own layout where it differs: inputs are reordered before, outputs after.
struct Binder {
  dnnl::stream& strm;
  std::unordered_map<int, memory> args;
  std::vector<std::pair<memory, memory>> outputs;  // (primitive's copy, API buffer)
  int slot = 1;

  // Binds `arg` to the API buffer of `a` when the primitive's layout `want` is the API's
  // `plain`; else to a scratch copy in `want`, returned with the API buffer (copy, user).
  std::optional<std::pair<memory, memory>> bind(int arg, const memory::desc& plain,
                                                const memory::desc& want, const mx::array& a) {
    memory user = wrap(plain, a);
    if (want == plain) {
      args.emplace(arg, user);
      return std::nullopt;
    }
    memory copy(want, engine(), scratch(want.get_size(), slot++));
    args.emplace(arg, copy);
    return std::pair{copy, user};
  }

  void input(int arg, const memory::desc& plain, const memory::desc& want, const mx::array& a) {
    if (auto c = bind(arg, plain, want, a)) dnnl::reorder(c->second, c->first).execute(
        strm, c->second, c->first);
  }

  void output(int arg, const memory::desc& plain, const memory::desc& want, const mx::array& a) {
    if (auto c = bind(arg, plain, want, a)) outputs.push_back(*c);
  }

  void run(dnnl::primitive& prim, size_t scratch_bytes) {
    memory::desc pad({(int64_t)scratch_bytes}, memory::data_type::u8, memory::format_tag::x);
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(pad, engine(), scratch(scratch_bytes)));
    prim.execute(strm, args);
    for (auto& [copy, user] : outputs) dnnl::reorder(copy, user).execute(strm, copy, user);
    strm.wait();
  }
};

// One primitive class for the three directions: inputs and outputs differ by `kind`.
//   forward:          inputs (x, w[, b][, a, s]) -> out
//   backward_data:    inputs (g, w)      -> dx
//   backward_weights: inputs (x, g)      -> dw[, db]
//   backward:         inputs (x, g, w)   -> dx, dw[, db]
class Conv2d : public NativePrimitive<Conv2d> {
 public:
  Conv2d(mx::Stream stream, ConvShape shape, Kind kind)
      : NativePrimitive(stream, names[int(kind)]), s_(shape), kind_(kind) {}

  void eval_cpu(const std::vector<mx::array>& inputs,
                std::vector<mx::array>& outputs) override {
    require_dense(inputs, name());
    allocate(outputs);
    dispatch(inputs, outputs, [s = s_, kind = kind_](Arrays& in, Arrays& out) {
      Plan plan = get(s, kind);
      auto& l = plan.layouts;
      dnnl::stream strm(engine());
      Binder b{strm};
      if (kind == Kind::forward) {
        b.input(DNNL_ARG_SRC, s.src(), l[0], in[0]);
        b.input(DNNL_ARG_WEIGHTS, s.weights(), l[1], in[1]);
        b.output(DNNL_ARG_DST, s.dst(), l[2], out[0]);
        if (s.bias) b.args.emplace(DNNL_ARG_BIAS, wrap(s.bias_md(), in[2]));
        if (s.affine) {
          size_t k = s.bias ? 3 : 2;
          b.args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                         wrap(s.channel_md(), in[k]));
          b.args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1,
                         wrap(s.channel_md(), in[k + 1]));
        }
      } else if (kind == Kind::backward) {
        backward_both(s, strm, in, out);
        return;
      } else if (kind == Kind::backward_data) {
        b.input(DNNL_ARG_DIFF_DST, s.dst(), l[0], in[0]);
        b.input(DNNL_ARG_WEIGHTS, s.weights(), l[1], in[1]);
        b.output(DNNL_ARG_DIFF_SRC, s.src(), l[2], out[0]);
      } else {
        b.input(DNNL_ARG_SRC, s.src(), l[0], in[0]);
        b.input(DNNL_ARG_DIFF_DST, s.dst(), l[1], in[1]);
        b.output(DNNL_ARG_DIFF_WEIGHTS, s.weights(), l[2], out[0]);
        if (s.bias) b.args.emplace(DNNL_ARG_DIFF_BIAS, wrap(s.bias_md(), out[1]));
      }
      b.run(*plan.prim, plan.scratch_bytes);
    });
  }

  auto key() const { return std::tuple(kind_, s_.key()); }

 private:
  // dx from (g, w), then dw[, db] from (x, g), sharing g's reordered copy when both halves
  // take it in the same layout (they do for oneDNN's blocked kernels)
  static void backward_both(const ConvShape& s, dnnl::stream& strm, Arrays& in, Arrays& out) {
    Plan data = get(s, Kind::backward_data), weights = get(s, Kind::backward_weights);
    Binder d{strm};
    d.input(DNNL_ARG_DIFF_DST, s.dst(), data.layouts[0], in[1]);
    d.input(DNNL_ARG_WEIGHTS, s.weights(), data.layouts[1], in[2]);
    d.output(DNNL_ARG_DIFF_SRC, s.src(), data.layouts[2], out[0]);
    d.run(*data.prim, data.scratch_bytes);
    Binder w{strm};
    w.slot = d.slot;  // keeps d's copy of g
    if (weights.layouts[1] == data.layouts[0])
      w.args.emplace(DNNL_ARG_DIFF_DST, d.args.at(DNNL_ARG_DIFF_DST));
    else
      w.input(DNNL_ARG_DIFF_DST, s.dst(), weights.layouts[1], in[1]);
    w.input(DNNL_ARG_SRC, s.src(), weights.layouts[0], in[0]);
    w.output(DNNL_ARG_DIFF_WEIGHTS, s.weights(), weights.layouts[2], out[1]);
    if (s.bias) w.args.emplace(DNNL_ARG_DIFF_BIAS, wrap(s.bias_md(), out[2]));
    w.run(*weights.prim, weights.scratch_bytes);
  }

  static constexpr const char* names[] = {"LucidConv2d", "LucidConv2dBackwardData",
                                          "LucidConv2dBackwardWeights", "LucidConv2dBackward"};
  ConvShape s_;
  Kind kind_;
};

int64_t out_size(int64_t size, int64_t k, int stride, int dil, int pad_a, int pad_b) {
  return (size + pad_a + pad_b - dil * (k - 1) - 1) / stride + 1;
}

ConvShape make_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh,
                     int64_t kw, Pair stride, Pads pads, Pair dil, int groups, bool bias,
                     const char* op) {
  if (groups < 1 || c % groups || o % groups)
    throw std::invalid_argument(std::string(op) + ": groups must divide the channels");
  ConvShape s{n, c, h, w, o, kh, kw,
              out_size(h, kh, stride[0], dil[0], pads[0], pads[1]),
              out_size(w, kw, stride[1], dil[1], pads[2], pads[3]),
              stride, dil, pads, groups, bias};
  if (s.ho < 1 || s.wo < 1) throw std::invalid_argument(std::string(op) + ": empty output");
  return s;
}

void check_ndim(const mx::array& a, int ndim, const char* what, const char* op) {
  if (a.ndim() != ndim)
    throw std::invalid_argument(std::string(op) + ": " + what + " must be " +
                                std::to_string(ndim) + "-D");
}

// The two 4-D arguments of an op, checked (ranks first), as dense float32 arrays.
std::pair<mx::array, mx::array> dense_4d(const char* op, mx::Stream st, const mx::array& a,
                                         const char* a_is, const mx::array& b,
                                         const char* b_is) {
  check_ndim(a, 4, a_is, op);
  check_ndim(b, 4, b_is, op);
  return {dense_f32(a, op, st), dense_f32(b, op, st)};
}

}  // namespace

namespace {

mx::array forward(const char* op, const mx::array& x_, const mx::array& w_,
                  std::optional<mx::array> b_, Pair stride, Pads pads, Pair dilation,
                  int groups, std::optional<std::pair<mx::array, mx::array>> affine, bool relu) {
  auto st = cpu_stream(op);
  auto [x, w] = dense_4d(op, st, x_, "input", w_, "weight");
  auto s = make_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2),
                      w.shape(3), stride, pads, dilation, groups, b_.has_value(), op);
  if (w.shape(1) * groups != x.shape(1))
    throw std::invalid_argument(std::string(op) + ": weight and input channels disagree");
  std::vector<mx::array> inputs{x, w};
  if (b_) inputs.push_back(dense_f32(*b_, op, st));
  if (affine) {
    for (auto* a : {&affine->first, &affine->second}) {
      if (a->size() != (size_t)s.o)
        throw std::invalid_argument(std::string(op) + ": scale and shift need one value per "
                                    "output channel");
      inputs.push_back(mx::reshape(dense_f32(*a, op, st), {(int)s.o}, st));
    }
  }
  s.affine = affine.has_value();
  s.relu = relu;
  get(s, Kind::forward);
  return mx::array({(int)s.n, (int)s.o, (int)s.ho, (int)s.wo}, mx::float32,
                   std::make_shared<Conv2d>(st, s, Kind::forward), inputs);
}

}  // namespace

mx::array conv2d(const mx::array& x, const mx::array& w, std::optional<mx::array> b,
                 Pair stride, Pads pads, Pair dilation, int groups) {
  return forward("conv2d", x, w, b, stride, pads, dilation, groups, std::nullopt, false);
}

mx::array conv2d_affine(const mx::array& x, const mx::array& w, std::optional<mx::array> b,
                        const mx::array& scale, const mx::array& shift, bool relu, Pair stride,
                        Pads pads, Pair dilation, int groups) {
  return forward("conv2d_affine", x, w, b, stride, pads, dilation, groups,
                 std::pair{scale, shift}, relu);
}

mx::array conv2d_backward_data(const mx::array& g_, const mx::array& w_, Pair in_hw,
                               Pair stride, Pads pads, Pair dilation, int groups) {
  const char* op = "conv2d_backward_data";
  auto st = cpu_stream(op);
  auto [g, w] = dense_4d(op, st, g_, "gradient", w_, "weight");
  auto s = make_shape(g.shape(0), w.shape(1) * groups, in_hw[0], in_hw[1], w.shape(0),
                      w.shape(2), w.shape(3), stride, pads, dilation, groups, false, op);
  if (s.ho != g.shape(2) || s.wo != g.shape(3) || g.shape(1) != s.o)
    throw std::invalid_argument("conv2d_backward_data: gradient shape disagrees");
  get(s, Kind::backward_data);
  return mx::array({(int)s.n, (int)s.c, (int)s.h, (int)s.w}, mx::float32,
                   std::make_shared<Conv2d>(st, s, Kind::backward_data), {g, w});
}

std::tuple<mx::array, mx::array> conv2d_backward_weights(
    const mx::array& x_, const mx::array& g_, Pair kernel, Pair stride, Pads pads,
    Pair dilation, int groups) {
  const char* op = "conv2d_backward_weights";
  auto st = cpu_stream(op);
  auto [x, g] = dense_4d(op, st, x_, "input", g_, "gradient");
  auto s = make_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), g.shape(1), kernel[0],
                      kernel[1], stride, pads, dilation, groups, true, op);
  if (s.ho != g.shape(2) || s.wo != g.shape(3) || g.shape(0) != s.n)
    throw std::invalid_argument("conv2d_backward_weights: gradient shape disagrees");
  get(s, Kind::backward_weights);
  auto outs = mx::array::make_arrays(
      {{(int)s.o, (int)(s.c / groups), (int)s.kh, (int)s.kw}, {(int)s.o}},
      {mx::float32, mx::float32}, std::make_shared<Conv2d>(st, s, Kind::backward_weights),
      {x, g});
  return {outs[0], outs[1]};
}

std::tuple<mx::array, mx::array, mx::array> conv2d_backward(
    const mx::array& x_, const mx::array& g_, const mx::array& w_, Pair stride, Pads pads,
    Pair dilation, int groups) {
  const char* op = "conv2d_backward";
  auto st = cpu_stream(op);
  auto [x, g] = dense_4d(op, st, x_, "input", g_, "gradient");
  check_ndim(w_, 4, "weight", op);
  auto w = dense_f32(w_, op, st);
  auto s = make_shape(x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2),
                      w.shape(3), stride, pads, dilation, groups, true, op);
  if (s.ho != g.shape(2) || s.wo != g.shape(3) || g.shape(0) != s.n || g.shape(1) != s.o ||
      w.shape(1) * groups != x.shape(1))
    throw std::invalid_argument("conv2d_backward: input, gradient and weight shapes disagree");
  get(s, Kind::backward_data);
  get(s, Kind::backward_weights);
  auto outs = mx::array::make_arrays(
      {x.shape(), w.shape(), {(int)s.o}}, {mx::float32, mx::float32, mx::float32},
      std::make_shared<Conv2d>(st, s, Kind::backward), {x, g, w});
  return {outs[0], outs[1], outs[2]};
}

}  // namespace lucid_native
