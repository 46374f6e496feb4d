"""``nn.MultiheadAttention`` as separate q/k/v/proj layers, so that its heads can be removed.

``nn.MultiheadAttention`` packs q/k/v into one ``in_proj_weight`` and ties the head layout
to ``embed_dim`` (``head_dim = embed_dim // num_heads``), so heads cannot be removed from
it in place. :class:`SplitHeadAttention` computes the same function with ``q``, ``k``,
``v`` and ``proj`` ``nn.Linear`` layers and a head count that may shrink;
:func:`convert_multihead_attention` swaps it in everywhere (torchvision's ViT included).

Supported: batched and unbatched inputs, ``batch_first`` either way, self- and
cross-attention (``kdim``/``vdim``), boolean or additive ``attn_mask`` (2-D, or 3-D per
head while no head was removed) and ``key_padding_mask``, ``need_weights``,
``is_causal``, attention dropout. Not supported: ``add_bias_kv`` and ``add_zero_attn``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A boolean mask (True = not allowed) or an additive one, as an additive float mask."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf")
        )
    return mask.to(dtype)


class SplitHeadAttention(nn.Module):
    """Multi-head attention with separate ``q``/``k``/``v``/``proj`` and removable heads.

    Attributes:
        num_heads: heads present (lowered when heads are removed).
        head_dim: width of each head.
        batch_first: inputs are ``(batch, seq, feature)`` (else ``(seq, batch, feature)``).
        dropout: dropout probability on the attention weights in training mode.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kdim: int | None = None,
        vdim: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide embed_dim={embed_dim}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        self.dropout = dropout
        self.q = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k = nn.Linear(kdim or embed_dim, embed_dim, bias=bias)
        self.v = nn.Linear(vdim or embed_dim, embed_dim, bias=bias)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    @classmethod
    @torch.no_grad()
    def from_torch(cls, mha: nn.MultiheadAttention) -> SplitHeadAttention:
        """The same attention as ``mha`` (weights copied).

        Raises:
            ValueError: ``mha`` uses ``add_bias_kv`` or ``add_zero_attn``.
        """
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError(
                "nn.MultiheadAttention with add_bias_kv/add_zero_attn is not supported"
            )
        has_bias = mha.in_proj_bias is not None
        module = cls(
            mha.embed_dim, mha.num_heads, mha.kdim, mha.vdim, has_bias, mha.dropout, mha.batch_first
        )
        if mha._qkv_same_embed_dim:
            weights = mha.in_proj_weight.chunk(3)
        else:
            weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
        for layer, weight in zip((module.q, module.k, module.v), weights, strict=True):
            layer.weight.copy_(weight)
        if mha.in_proj_bias is not None:
            for layer, bias in zip(
                (module.q, module.k, module.v), mha.in_proj_bias.chunk(3), strict=True
            ):
                layer.bias.copy_(bias)
        module.proj.weight.copy_(mha.out_proj.weight)
        if mha.out_proj.bias is not None:
            module.proj.bias.copy_(mha.out_proj.bias)
        else:
            module.proj.bias = None
        return module.to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)

    def _heads(self, x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        batch, length, _ = x.shape
        return layer(x).reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _mask(
        self,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
        batch: int,
        dtype: torch.dtype,
    ) -> torch.Tensor | None:
        """One additive mask broadcastable to ``(batch, heads, L, S)``."""
        mask = _additive(attn_mask, dtype)
        if mask is not None and mask.dim() == 3:
            if mask.shape[0] != batch * self.num_heads:
                raise ValueError("a per-head attn_mask must have batch * num_heads entries")
            mask = mask.reshape(batch, self.num_heads, *mask.shape[1:])
        padding = _additive(key_padding_mask, dtype)
        if padding is not None:
            padding = padding[:, None, None, :]
            mask = padding if mask is None else mask + padding
        return mask

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Same contract as ``nn.MultiheadAttention.forward``."""
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query[None], key[None], value[None]
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask[None]
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, _ = query.shape
        q, k, v = self._heads(query, self.q), self._heads(key, self.k), self._heads(value, self.v)
        mask = self._mask(attn_mask, key_padding_mask, batch, q.dtype)
        if is_causal and mask is None:
            causal = torch.ones(length, k.shape[2], dtype=torch.bool, device=q.device).triu(1)
            mask = _additive(causal, q.dtype)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            logits = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
            weights = torch.softmax(logits if mask is None else logits + mask, dim=-1)
            out = F.dropout(weights, dropout, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = self.proj(out.transpose(1, 2).reshape(batch, length, -1))
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        if unbatched:
            return out[0], None if weights is None else weights[0]
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights


def convert_multihead_attention(model: nn.Module) -> list[str]:
    """Replace every ``nn.MultiheadAttention`` in ``model`` by a :class:`SplitHeadAttention`.

    Returns:
        The names of the converted modules (the model computes the same function).
    """
    names = [
        name for name, module in model.named_modules() if isinstance(module, nn.MultiheadAttention)
    ]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, SplitHeadAttention.from_torch(model.get_submodule(name)))  # type: ignore[arg-type]
    return names
