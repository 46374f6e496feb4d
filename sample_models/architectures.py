"""Model definitions for the shipped digits sample models.

All three models take a float32 batch of shape ``(B, 1, 8, 8)`` and return logits of
shape ``(B, 10)``. They are kept structurally plain on purpose so that pruning tools
(e.g. Torch-Pruning's dependency graph) can trace them, and so that hidden widths are
multiples of 64.
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 10
IMAGE_SIZE = 8


class DigitsCNN(nn.Module):
    """Small conv net with BatchNorm for 1x8x8 digits.

    ``features`` maps ``(B, 1, 8, 8)`` to ``(B, 64, 2, 2)``; ``classifier`` flattens that
    to 256 values and maps it to 10 logits.
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        """Build the layers.

        Args:
            num_classes: Number of output logits.
        """
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, kernel_size=3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(B, num_classes)`` for images ``(B, 1, 8, 8)``."""
        return self.classifier(self.features(x))


class DigitsMLP(nn.Module):
    """Fully connected network on the 64 flattened pixels (hidden widths 256-256-128)."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        """Build the layers.

        Args:
            num_classes: Number of output logits.
        """
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(IMAGE_SIZE * IMAGE_SIZE, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(B, num_classes)`` for images ``(B, 1, 8, 8)``."""
        return self.net(x)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with separate ``q``, ``k``, ``v`` and ``proj`` layers.

    The head layout is derived from ``self.num_heads`` and ``self.head_dim`` at every
    call, so removing whole heads (dropping rows of ``q``/``k``/``v``, the matching
    columns of ``proj``, and lowering ``num_heads``) leaves a working module.

    Attributes:
        num_heads: Number of attention heads.
        head_dim: Width of each head.
    """

    def __init__(self, dim: int = 64, num_heads: int = 4) -> None:
        """Build the projections.

        Args:
            dim: Token width (input and output).
            num_heads: Number of heads; must divide ``dim``.

        Raises:
            ValueError: If ``num_heads`` does not divide ``dim``.
        """
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        inner = self.num_heads * self.head_dim
        self.q = nn.Linear(dim, inner)
        self.k = nn.Linear(dim, inner)
        self.v = nn.Linear(dim, inner)
        self.proj = nn.Linear(inner, dim)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """Reshape ``(B, T, H*D)`` to ``(B, H, T, D)``."""
        b, n, _ = t.shape
        return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the tokens of ``x`` ``(B, T, dim)``; returns ``(B, T, dim)``."""
        b, n, _ = x.shape
        q = self._split_heads(self.q(x))
        k = self._split_heads(self.k(x))
        v = self._split_heads(self.v(x))
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim)
        return self.proj(out)


class Mlp(nn.Module):
    """Transformer feed-forward block: ``fc1`` -> GELU -> ``fc2``."""

    def __init__(self, dim: int = 64, hidden_dim: int = 128) -> None:
        """Build the layers.

        Args:
            dim: Token width (input and output).
            hidden_dim: Hidden width.
        """
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the feed-forward map to ``x`` ``(B, T, dim)``."""
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int = 64, num_heads: int = 4, mlp_dim: int = 128) -> None:
        """Build the block.

        Args:
            dim: Token width.
            num_heads: Attention heads.
            mlp_dim: Hidden width of the feed-forward block.
        """
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` ``(B, T, dim)``."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DigitsViT(nn.Module):
    """Tiny vision transformer: 16 patches of 2x2 pixels, width 64, mean-pooled tokens."""

    def __init__(
        self,
        dim: int = 64,
        depth: int = 3,
        num_heads: int = 4,
        mlp_dim: int = 128,
        patch_size: int = 2,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        """Build the model.

        Args:
            dim: Token width.
            depth: Number of transformer blocks.
            num_heads: Attention heads per block.
            mlp_dim: Hidden width of each feed-forward block.
            patch_size: Side of the square patches.
            num_classes: Number of output logits.
        """
        super().__init__()
        num_patches = (IMAGE_SIZE // patch_size) ** 2
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(B, num_classes)`` for images ``(B, 1, 8, 8)``."""
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens).mean(dim=1))
