#!/usr/bin/env python3
"""Outside oracle: Hugging Face transformers' own GPT-2 / Qwen2 / Llama against our reference.

For each checkpoint directory, runs random token ids through transformers'
AutoModelForCausalLM (float64, eager attention) and through tests/reference/reference_model.py,
the numpy model our C++ forward pass is tested against (test_model_parity: 1e-4), and prints the
largest |log-prob difference|. The CUDA backend is in turn tested against the CPU backend, so a
pass here closes the chain to transformers. Needs torch and transformers (the GPU machine has
them); exits 1 when a difference exceeds --tolerance.

  hf_oracle.py [--tolerance 1e-6] [--length 40] DIR...
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
from reference_model import ReferenceModel  # noqa: E402


def transformers_logprobs(model_dir, ids):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float64,
                                                 attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits, dim=-1).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="checkpoint directories")
    ap.add_argument("--tolerance", type=float, default=1e-6,
                    help="largest |log-prob difference| accepted (both sides are float64)")
    ap.add_argument("--length", type=int, default=40, help="tokens per random sequence")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    failed = False
    print(f"{'checkpoint':<28} {'architecture':<20} {'max |dlogprob|':>15}")
    for d in a.dirs:
        ref = ReferenceModel(d)
        vocab = ref.config["vocab_size"]
        length = min(a.length, ref.config.get("max_position_embeddings",
                                              ref.config.get("n_positions", a.length)))
        ids = rng.integers(0, vocab, size=length).tolist()
        diff = float(np.max(np.abs(ref.logprobs(ids) - transformers_logprobs(d, ids))))
        failed |= not diff <= a.tolerance
        arch = ref.config["architectures"][0]
        print(f"{os.path.basename(os.path.normpath(d)):<28} {arch:<20} {diff:>15.3e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
