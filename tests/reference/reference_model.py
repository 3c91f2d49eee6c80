#!/usr/bin/python3
"""Independent reference forward pass for llmserve's model tests.

A dense, cache-free numpy implementation written from the Hugging Face model definitions
(transformers' modeling_gpt2.py, modeling_qwen2.py and modeling_llama.py). Every sequence is
run on its own from position 0, all positions at once with a causal mask; everything is computed
in float64 from the stored weights (bf16/f16/f32 widened exactly). It reads safetensors itself
(header + np.frombuffer), follows model.safetensors.index.json and accepts tensor names with or
without the `transformer.` / `model.` prefixes. It shares no code with the fixture generator.

  reference_model.py --model DIR --input IN.json --output OUT.bin [--logprobs]

IN.json: {"sequences": [[id, ...], ...]}. OUT.bin: for each sequence in order, a [len, vocab]
row-major block of little-endian float32 logits (or log-softmax with --logprobs), concatenated.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# ----------------------------------------------------------------------------- safetensors


def _widen(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2")
    elif dtype == "BF16":
        # bfloat16 is the top half of a float32: shift the bits left by 16.
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)).view(np.float32)
    else:
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    return a.astype(np.float64).reshape(shape)


def read_safetensors_file(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack_from("<Q", blob, 0)
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} past end of file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        width = {"F32": 4, "F16": 2, "BF16": 2}[info["dtype"]]
        if not (0 <= begin <= end <= len(data)) or end - begin != width * math.prod(shape):
            raise ValueError(f"{path}: bad data_offsets for {name}")
        out[name] = _widen(data[begin:end], info["dtype"], shape)
    return out


def load_weights(model_dir):
    """All tensors of a checkpoint, keyed by name with any `transformer.`/`model.` prefix
    removed (lm_head.weight stays as is)."""
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        files = sorted(set(weight_map.values()))
    else:
        weight_map = None
        files = ["model.safetensors"]
    raw = {}
    for fn in files:
        for name, t in read_safetensors_file(os.path.join(model_dir, fn)).items():
            if weight_map is not None and weight_map.get(name) != fn:
                continue
            raw[name] = t
    if weight_map is not None:
        missing = set(weight_map) - set(raw)
        if missing:
            raise KeyError(f"index names tensors absent from their shard: {sorted(missing)[:5]}")
    weights = {}
    for name, t in raw.items():
        short = name
        for prefix in ("transformer.", "model."):
            if short.startswith(prefix):
                short = short[len(prefix):]
                break
        if short in weights:
            raise KeyError(f"tensor {short} present both with and without prefix")
        weights[short] = t
    return weights


class Weights:
    def __init__(self, d):
        self.d = d

    def __call__(self, name):
        if name not in self.d:
            raise KeyError(f"missing tensor {name}")
        return self.d[name]

    def has(self, name):
        return name in self.d


# ----------------------------------------------------------------------------- shared math


def softmax_last(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax_last(x):
    m = x.max(axis=-1, keepdims=True)
    s = x - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def causal_attention(q, k, v, scale):
    """q: [heads, T, d], k/v: [heads, T, d] (kv already repeated). Returns [T, heads*d]."""
    T = q.shape[1]
    scores = np.einsum("htd,hsd->hts", q, k) * scale
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future[None, :, :], -np.inf, scores)
    probs = softmax_last(scores)
    ctx = np.einsum("hts,hsd->htd", probs, v)
    return ctx.transpose(1, 0, 2).reshape(T, -1)


# ----------------------------------------------------------------------------- GPT-2


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_forward(cfg, W, ids):
    H = cfg["n_embd"]
    nh = cfg["n_head"]
    hd = H // nh
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    if cfg.get("activation_function", "gelu_new") != "gelu_new":
        raise NotImplementedError(f"activation {cfg['activation_function']}")
    if cfg.get("scale_attn_by_inverse_layer_idx") or cfg.get("reorder_and_upcast_attn"):
        raise NotImplementedError("scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn")
    scale = 1.0 / math.sqrt(hd) if cfg.get("scale_attn_weights", True) else 1.0
    T = len(ids)
    if T > cfg["n_positions"]:
        raise ValueError(f"sequence of {T} tokens exceeds n_positions {cfg['n_positions']}")
    x = W("wte.weight")[ids] + W("wpe.weight")[np.arange(T)]
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(x, W(p + "ln_1.weight"), W(p + "ln_1.bias"), eps)
        qkv = a @ W(p + "attn.c_attn.weight") + W(p + "attn.c_attn.bias")  # Conv1D: x @ W + b
        q, k, v = np.split(qkv, 3, axis=-1)
        heads = lambda t: t.reshape(T, nh, hd).transpose(1, 0, 2)  # noqa: E731
        ctx = causal_attention(heads(q), heads(k), heads(v), scale)
        x = x + ctx @ W(p + "attn.c_proj.weight") + W(p + "attn.c_proj.bias")
        m = layer_norm(x, W(p + "ln_2.weight"), W(p + "ln_2.bias"), eps)
        m = gelu_new(m @ W(p + "mlp.c_fc.weight") + W(p + "mlp.c_fc.bias"))
        x = x + m @ W(p + "mlp.c_proj.weight") + W(p + "mlp.c_proj.bias")
    x = layer_norm(x, W("ln_f.weight"), W("ln_f.bias"), eps)
    head = W("wte.weight") if cfg.get("tie_word_embeddings", True) else W("lm_head.weight")
    return x @ head.T


# ----------------------------------------------------------------------------- Qwen2 / Llama


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope_cos_sin(T, hd, theta):
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(T, dtype=np.float64), inv_freq)  # [T, hd/2]
    emb = np.concatenate([freqs, freqs], axis=-1)  # [T, hd]
    return np.cos(emb), np.sin(emb)


def silu(x):
    return x / (1.0 + np.exp(-x))


def qwen2_forward(cfg, W, ids):
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or H // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    if cfg.get("rope_scaling"):
        raise NotImplementedError("rope_scaling")
    if cfg.get("use_sliding_window"):
        raise NotImplementedError("sliding window attention")
    if cfg.get("hidden_act", "silu") != "silu":
        raise NotImplementedError(f"hidden_act {cfg['hidden_act']}")
    T = len(ids)
    cos, sin = rope_cos_sin(T, hd, theta)
    group = nh // nkv
    scale = 1.0 / math.sqrt(hd)

    # Qwen2: bias on q/k/v only. Llama: attention_bias puts one on q/k/v/o, else none anywhere.
    llama = cfg["architectures"][0] == "LlamaForCausalLM"
    attention_bias = cfg.get("attention_bias", False)
    qkv_bias = attention_bias if llama else True
    o_bias = llama and attention_bias
    if cfg.get("mlp_bias"):
        raise NotImplementedError("mlp_bias")

    def linear(x, name, bias=False):
        y = x @ W(name + ".weight").T  # nn.Linear: weight is [out, in]
        if bias:
            y = y + W(name + ".bias")
        elif W.has(name + ".bias"):
            raise ValueError(f"unexpected tensor {name}.bias")
        return y

    x = W("embed_tokens.weight")[ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"layers.{i}."
        a = rms_norm(x, W(p + "input_layernorm.weight"), eps)
        q = linear(a, p + "self_attn.q_proj", qkv_bias).reshape(T, nh, hd).transpose(1, 0, 2)
        k = linear(a, p + "self_attn.k_proj", qkv_bias).reshape(T, nkv, hd).transpose(1, 0, 2)
        v = linear(a, p + "self_attn.v_proj", qkv_bias).reshape(T, nkv, hd).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, group, axis=0)  # repeat_kv: query head h uses kv head h // group
        v = np.repeat(v, group, axis=0)
        x = x + linear(causal_attention(q, k, v, scale), p + "self_attn.o_proj", o_bias)
        m = rms_norm(x, W(p + "post_attention_layernorm.weight"), eps)
        m = silu(linear(m, p + "mlp.gate_proj")) * linear(m, p + "mlp.up_proj")
        x = x + linear(m, p + "mlp.down_proj")
    x = rms_norm(x, W("norm.weight"), eps)
    head = W("embed_tokens.weight") if cfg.get("tie_word_embeddings", False) \
        else W("lm_head.weight")
    return x @ head.T


ARCHITECTURES = {
    "GPT2LMHeadModel": gpt2_forward,
    "Qwen2ForCausalLM": qwen2_forward,
    "LlamaForCausalLM": qwen2_forward,  # modeling_llama.py: the same layers, biases per config
}


# ----------------------------------------------------------------------------- API / CLI


class ReferenceModel:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        arch = (self.config.get("architectures") or [None])[0]
        if arch not in ARCHITECTURES:
            raise NotImplementedError(f"architecture {arch}")
        self.forward_fn = ARCHITECTURES[arch]
        self.weights = Weights(load_weights(model_dir))

    def logits(self, ids):
        """float64 [len(ids), vocab]."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or len(ids) == 0:
            raise ValueError("a sequence must be a non-empty list of token ids")
        vocab = self.config["vocab_size"]
        if ids.min() < 0 or ids.max() >= vocab:
            raise ValueError(f"token id out of range [0, {vocab})")
        return self.forward_fn(self.config, self.weights, ids)

    def logprobs(self, ids):
        return log_softmax_last(self.logits(ids))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--input", required=True, help='JSON {"sequences": [[id, ...], ...]}')
    ap.add_argument("--output", required=True, help="little-endian float32 output")
    ap.add_argument("--logprobs", action="store_true", help="write log-softmax, not logits")
    a = ap.parse_args(argv)
    with open(a.input, encoding="utf-8") as f:
        sequences = json.load(f)["sequences"]
    model = ReferenceModel(a.model)
    with open(a.output, "wb") as out:
        for seq in sequences:
            r = model.logprobs(seq) if a.logprobs else model.logits(seq)
            out.write(np.ascontiguousarray(r, dtype="<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
