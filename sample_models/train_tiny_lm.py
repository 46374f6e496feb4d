"""Train the shipped tiny language model ``tiny_lm`` reproducibly (seeded, CPU, minutes).

Usage::

    python -m sample_models.train_tiny_lm [--out DIR] [--steps N]

1. Text: Python's bundled documentation, ``pydoc_data.topics.topics`` (standard library,
   no download), every topic in sorted order joined by a blank line, written to
   ``DIR/pydoc_topics.txt``: the model's default data, so the split never depends on the
   Python version that reads it later.
2. Tokenizer: byte-level BPE, vocabulary 2048, trained on the first 80% of the characters
   (the training part; validation and test text are never seen).
3. Split: the engine's own ``data: {kind: text}`` loader (seq_len 128, 10% validation,
   10% test, in token order: :mod:`pruning_core.models.text_data`), so training uses exactly
   the windows a run calibrates on and never the validation or test windows.
4. Model: a Llama (6 layers, width 160, 5 heads, MLP 448, tied embeddings, ~2.2M
   parameters), AdamW with linear warmup and cosine decay, batches of 16 random training
   windows, one thread, seed 0; validation perplexity every 50 steps and the best
   checkpoint kept (100K training tokens: a few epochs already overfit). Saved in fp16
   (``model.safetensors`` < 5 MiB) with the tokenizer in Hugging Face layout, so
   ``AutoModelForCausalLM.from_pretrained(DIR)`` loads it.
5. ``DIR/training.json``: settings, losses, wall-clock, and validation/test perplexity of
   the saved (fp16) weights as the engine loads them (fp32), i.e. the dense numbers every run
   of ``model: tiny_lm`` reports.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from pruning_core.environment import machine_metadata
from pruning_core.models.hf import engine_view, load_causal_lm, transformers_module
from pruning_core.models.lm_metrics import next_token_loss, perplexity
from pruning_core.models.text_data import text_splits
from sample_models.language import (
    SEQ_LEN,
    TEST_FRACTION,
    TEXT_FILE,
    TINY_LM_DIR,
    VAL_FRACTION,
    tiny_lm_data_config,
)

SEED = 0
EOS = "<|endoftext|>"
MODEL = {
    "vocab_size": 2048,
    "hidden_size": 160,
    "intermediate_size": 448,
    "num_hidden_layers": 6,
    "num_attention_heads": 5,
    "num_key_value_heads": 5,
    "max_position_embeddings": 256,
    "tie_word_embeddings": True,
}
TRAIN = {"steps": 400, "batch": 16, "lr": 3e-3, "warmup": 30, "weight_decay": 0.05}
EVAL_EVERY = 50  # steps between validation checks; the best validation checkpoint is kept


def pydoc_text() -> str:
    """Every ``pydoc_data`` topic, sorted by name, joined by a blank line."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip() for name in sorted(topics)) + "\n"


def train_tokenizer(text: str, out: Path) -> None:
    """Byte-level BPE on the training characters, saved in HF layout into ``out``."""
    from tokenizers import ByteLevelBPETokenizer

    train_chars = text[: round(len(text) * (1 - VAL_FRACTION - TEST_FRACTION))]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [train_chars], vocab_size=MODEL["vocab_size"], min_frequency=2, special_tokens=[EOS]
    )
    fast = transformers_module().PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS
    )
    fast.model_max_length = MODEL["max_position_embeddings"]
    fast.save_pretrained(str(out))


def learning_rate(step: int, steps: int) -> float:
    """Linear warmup, then cosine decay to 0 over ``steps`` (step counts from 0)."""
    if step < TRAIN["warmup"]:
        return TRAIN["lr"] * (step + 1) / TRAIN["warmup"]
    progress = (step - TRAIN["warmup"]) / max(steps - TRAIN["warmup"], 1)
    return TRAIN["lr"] * 0.5 * (1 + math.cos(math.pi * progress))


def train(out: Path, steps: int) -> dict[str, object]:
    """Write text, tokenizer and fp16 weights into ``out``; return the training record."""
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    text = pydoc_text()
    (out / TEXT_FILE).write_text(text, encoding="utf-8")
    train_tokenizer(text, out)
    splits = text_splits(tiny_lm_data_config(out), out)
    windows = splits["train"].x
    hf = transformers_module()
    config = hf.LlamaConfig(**MODEL, eos_token_id=0, bos_token_id=0)
    model = hf.LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=TRAIN["lr"], weight_decay=TRAIN["weight_decay"], betas=(0.9, 0.95)
    )
    generator = torch.Generator().manual_seed(SEED)
    losses: list[float] = []
    checks: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    started = time.perf_counter()
    for step in range(steps):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps)
        batch = windows[torch.randint(len(windows), (int(TRAIN["batch"]),), generator=generator)]
        loss = next_token_loss(model(input_ids=batch, use_cache=False).logits, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(round(loss.item(), 4))
        if (step + 1) % EVAL_EVERY == 0 or step == steps - 1:
            val_ppl = perplexity(engine_view(model), splits["val"].x)[0]
            model.__class__ = hf.LlamaForCausalLM  # back to the plain class for training
            checks.append({"step": step + 1, "train_loss": losses[-1], "val_perplexity": val_ppl})
            print(
                f"step {step + 1:4d} loss {losses[-1]:.3f} val ppl {val_ppl:.2f} "
                f"{time.perf_counter() - started:.0f}s"
            )
            if best is None or val_ppl < best[0]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = (val_ppl, step + 1, state)
    seconds = time.perf_counter() - started
    assert best is not None
    model.load_state_dict(best[2])
    model.half().save_pretrained(str(out), safe_serialization=True)
    loaded = load_causal_lm(out)  # what the engine sees: fp16 weights loaded as fp32
    val_ppl, _ = perplexity(loaded, splits["val"].x)
    test_ppl, test_nll = perplexity(loaded, splits["test"].x)
    params = sum(p.numel() for p in loaded.parameters())
    record = {
        "model": MODEL,
        "training": {**TRAIN, "steps": steps, "seq_len": SEQ_LEN, "seed": SEED, "threads": 1},
        "data": {
            "text": TEXT_FILE,
            "tokens": {name: int(split.x.numel()) for name, split in splits.items()},
            "windows": {name: len(split) for name, split in splits.items()},
        },
        "parameters": params,
        "weights_bytes": (out / "model.safetensors").stat().st_size,
        "train_seconds": round(seconds, 1),
        "kept_step": best[1],
        "checks": checks,
        "dense_val_perplexity": round(val_ppl, 3),
        "dense_test_perplexity": round(test_ppl, 3),
        "dense_test_nll": round(test_nll, 4),
        "machine": machine_metadata(),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TINY_LM_DIR)
    parser.add_argument("--steps", type=int, default=TRAIN["steps"])
    args = parser.parse_args()
    record = train(args.out, args.steps)
    print(
        f"{args.out}: {record['parameters']:,} parameters, {record['weights_bytes']:,} bytes, "
        f"val perplexity {record['dense_val_perplexity']}, "
        f"test perplexity {record['dense_test_perplexity']} ({record['train_seconds']} s)"
    )


if __name__ == "__main__":
    main()
