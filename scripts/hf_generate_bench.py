#!/usr/bin/env python3
"""Hugging Face transformers generate() on a checkpoint directory: the baseline that llmserve's
served numbers are put beside (scripts/gpu_check.sh `hf`, docs/benchmarks.md).

AutoModelForCausalLM in bfloat16 on CUDA, default attention and cache, greedy, one static batch
of prompts of random token ids (uniform in 100..5000, as llmserve-loadgen draws them), exactly
--output-tokens new tokens each (min_new_tokens = max_new_tokens: EOS cannot end a row early).
Per batch size: one warm-up call, then --repeats timed calls of the full length and of one new
token (prefill + first token), each closed by torch.cuda.synchronize(). From the medians:
  output_tokens_per_s = batch x output tokens / full time
  ttft_s              = the one-token call (a static batch gets every first token at once)
  tpot_s              = (full time - ttft_s) / (output tokens - 1)
JSON out: {"tool": "hf-transformers-generate", versions, device, "runs": [{"batch",
"prompt_tokens", "output_tokens", "repeats", "metrics": {...}}]}; the metric names are those of
llmserve-loadgen's runs, whose ttft_s / tpot_s are distributions where these are one number.

  hf_generate_bench.py --model DIR [--batch 1,16] [--prompt-tokens 512] [--output-tokens 128]
                       [--repeats 3] [--out FILE.json]
"""

import argparse
import json
import statistics
import sys
import time


def timed(fn):
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--batch", default="1,16", help="batch sizes, comma-separated")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--output-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON file (default: stdout only)")
    a = ap.parse_args(argv)
    if a.output_tokens < 2:
        ap.error("--output-tokens must be at least 2 (TPOT needs two tokens)")

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    # `dtype` is the current name of the argument; the explicit .to() makes it bf16 either way.
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.bfloat16)
    model = model.to("cuda", torch.bfloat16).eval()
    eos = model.config.eos_token_id
    pad = eos[0] if isinstance(eos, list) else eos
    generator = torch.Generator().manual_seed(a.seed)

    def generate(ids, new_tokens):
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             pad_token_id=pad)
        if out.shape[1] != ids.shape[1] + new_tokens:
            sys.exit(f"generate() returned {out.shape[1] - ids.shape[1]} new tokens, "
                     f"not {new_tokens}")

    runs = []
    print(f"{'batch':>5} {'prompt':>6} {'output':>6} {'out tok/s':>10} {'TTFT ms':>8} "
          f"{'TPOT ms':>8}")
    for batch in (int(b) for b in a.batch.split(",")):
        ids = torch.randint(100, 5001, (batch, a.prompt_tokens), generator=generator).to("cuda")
        with torch.inference_mode():
            generate(ids, 2)  # warm-up: kernels, cuBLAS heuristics, the allocator's pools
            full = [timed(lambda: generate(ids, a.output_tokens)) for _ in range(a.repeats)]
            first = [timed(lambda: generate(ids, 1)) for _ in range(a.repeats)]
        full_s, ttft_s = statistics.median(full), statistics.median(first)
        metrics = {
            "duration_s": full_s,
            "output_tokens": batch * a.output_tokens,
            "output_tokens_per_s": batch * a.output_tokens / full_s,
            "total_tokens_per_s": batch * (a.prompt_tokens + a.output_tokens) / full_s,
            "ttft_s": ttft_s,
            "tpot_s": (full_s - ttft_s) / (a.output_tokens - 1),
            "full_runs_s": full,
            "first_token_runs_s": first,
        }
        runs.append({"batch": batch, "prompt_tokens": a.prompt_tokens,
                     "output_tokens": a.output_tokens, "repeats": a.repeats, "metrics": metrics})
        print(f"{batch:>5} {a.prompt_tokens:>6} {a.output_tokens:>6} "
              f"{metrics['output_tokens_per_s']:>10.1f} {1e3 * ttft_s:>8.1f} "
              f"{1e3 * metrics['tpot_s']:>8.2f}", flush=True)

    result = {
        "tool": "hf-transformers-generate",
        "model": a.model,
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": "bfloat16",
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "runs": runs,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
