"""Block-by-block pruning through a decoder stack equals the generic sequential path.

:func:`decoder_prune` captures the inputs of block 0 once and propagates the pruned
blocks' outputs; :func:`sequential_prune` reruns the whole model up to each block. Both
calibrate every block on the outputs of the already pruned blocks, so they must choose
the same masks and (SparseGPT) the same updated weights.
"""

from __future__ import annotations

import copy

import pytest
import torch
from tiny_llama import make_llama_dir

from pruning_core.criteria import CRITERIA
from pruning_core.masks.parametrize import current_mask
from pruning_core.models.layers import prunable_layers
from pruning_core.models.registry import build_model, spec_for
from pruning_core.pruning.decoder import capture_block_inputs, decoder_prune, find_decoder_stack
from pruning_core.pruning.sequential import sequential_prune
from pruning_core.recipe import Structure


@pytest.fixture(scope="module")
def llama_model(tmp_path_factory: pytest.TempPathFactory) -> torch.nn.Module:
    root = make_llama_dir(tmp_path_factory.mktemp("llama3"), layers=3)
    return build_model(spec_for(f"hf:{root / 'model'}"))


def _batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    ids = torch.randint(0, 320, (12, 24), generator=torch.Generator().manual_seed(seed))
    return [(ids[i : i + 4], ids[i : i + 4]) for i in range(0, 12, 4)]


def test_the_stack_is_the_module_list_of_blocks(llama_model: torch.nn.Module) -> None:
    layers = prunable_layers(llama_model)
    stack = find_decoder_stack(llama_model, layers)
    assert stack is not None and stack.name == "model.layers" and len(stack.blocks) == 3
    assert stack.block_of("model.layers.2.mlp.up_proj") == 2 and stack.block_of("lm_head") is None
    inputs = capture_block_inputs(llama_model, stack, _batches(), torch.device("cpu"))
    assert len(inputs) == 3 and inputs[0][0][0].shape == (4, 24, 32)
    assert "position_embeddings" in inputs[0][1]
    assert all(isinstance(block, torch.nn.Module) for block in stack.blocks)
    assert type(stack.blocks[0]).__name__ == "LlamaDecoderLayer"  # restored after capture


@pytest.mark.parametrize(
    ("criterion", "structure"),
    [
        ("sparsegpt", "2:4"),
        ("sparsegpt", "unstructured"),
        ("wanda", "4:8"),
        ("wanda", "unstructured"),
    ],
)
def test_decoder_prune_equals_the_sequential_path(
    llama_model: torch.nn.Module, criterion: str, structure: str
) -> None:
    chosen = CRITERIA.get(criterion)
    shape = Structure.model_validate(structure)
    models = [copy.deepcopy(llama_model), copy.deepcopy(llama_model)]
    blocks: list[str] = []
    for model, prune in zip(models, (decoder_prune, sequential_prune), strict=True):
        layers = [layer for layer in prunable_layers(model) if layer.name != "lm_head"]
        targets = {layer.name: 0.5 for layer in layers}
        on_block = (lambda i, n, name: blocks.append(name)) if prune is decoder_prune else None
        notes = prune(model, layers, _batches(), chosen, shape, targets, on_block=on_block)
        assert notes == {}
    assert blocks == ["model.layers.0", "model.layers.1", "model.layers.2"]
    fast, generic = (dict(m.named_modules()) for m in models)
    for name in [layer.name for layer in prunable_layers(models[0]) if layer.name != "lm_head"]:
        assert torch.equal(current_mask(fast[name]), current_mask(generic[name])), name
        torch.testing.assert_close(fast[name].weight, generic[name].weight, rtol=1e-4, atol=1e-6)
    ids = _batches()[0][0]
    torch.testing.assert_close(models[0](ids), models[1](ids), rtol=1e-4, atol=1e-5)


def test_layers_outside_the_stack_are_pruned_after_it(llama_model: torch.nn.Module) -> None:
    model = copy.deepcopy(llama_model)
    layers = prunable_layers(model)  # lm_head included
    targets = {layer.name: 0.5 for layer in layers}
    notes = decoder_prune(
        model, layers, _batches(), CRITERIA.get("wanda"), Structure(), targets, device="cpu"
    )
    assert notes == {}
    head = current_mask(model.lm_head)
    assert head is not None and float(head.mean()) == pytest.approx(0.5)


@pytest.mark.gpu
def test_decoder_prune_on_cuda_moves_one_block_at_a_time(llama_model: torch.nn.Module) -> None:
    on_cpu, on_gpu = copy.deepcopy(llama_model), copy.deepcopy(llama_model)
    chosen, shape = CRITERIA.get("sparsegpt"), Structure.model_validate("2:4")
    seen: list[str] = []

    def where(index: int, total: int, name: str) -> None:
        seen.append(str(next(on_gpu.parameters()).device))

    for model, device in ((on_cpu, None), (on_gpu, "cuda")):
        layers = [layer for layer in prunable_layers(model) if layer.name != "lm_head"]
        targets = {layer.name: 0.5 for layer in layers}
        decoder_prune(
            model,
            layers,
            _batches(),
            chosen,
            shape,
            targets,
            device=device,
            on_block=where if device else None,
        )
    assert set(seen) == {"cpu"}  # the model stays home; only the block visits the GPU
    assert all(p.device.type == "cpu" for p in on_gpu.parameters())
    for (name, a), (_, b) in zip(on_cpu.named_modules(), on_gpu.named_modules(), strict=True):
        mask_a, mask_b = current_mask(a), current_mask(b)
        if mask_a is not None and mask_b is not None:
            agree = float((mask_a == mask_b).float().mean())
            assert agree > 0.99, name  # float64 sums on two devices: rare ties may differ


class _Block(torch.nn.Module):
    """A block called with keyword hidden states, returning a tuple (as some HF models do)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.up = torch.nn.Linear(width, 2 * width)
        self.down = torch.nn.Linear(2 * width, width)

    def forward(self, hidden_states: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, None]:
        return hidden_states + scale * self.down(torch.relu(self.up(hidden_states))), None


class _Decoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(50, 16)
        self.blocks = torch.nn.ModuleList([_Block(16) for _ in range(3)])
        self.head = torch.nn.Linear(16, 50)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(ids)
        for block in self.blocks:
            hidden = block(hidden_states=hidden, scale=0.5)[0]
        return self.head(hidden)


def test_blocks_taking_keyword_hidden_states_and_returning_tuples() -> None:
    models = [_Decoder(), _Decoder()]
    ids = torch.randint(0, 50, (8, 10), generator=torch.Generator().manual_seed(1))
    batches = [(ids[:4], ids[:4]), (ids[4:], ids[4:])]
    for model, prune in zip(models, (decoder_prune, sequential_prune), strict=True):
        layers = [layer for layer in prunable_layers(model) if layer.name != "head"]
        targets = {layer.name: 0.5 for layer in layers}
        prune(model, layers, batches, CRITERIA.get("sparsegpt"), Structure(), targets)
    torch.testing.assert_close(models[0](ids), models[1](ids), rtol=1e-4, atol=1e-5)
    assert current_mask(models[0].blocks[2].down) is not None
