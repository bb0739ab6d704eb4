# coding=utf-8
"""PyTorch TinyNet model (test fixture for ptmscope: inert payload, see tests)."""
import math

import torch
from torch import nn


class TinyNetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return x + self.proj(self.norm(x)) / math.sqrt(2.0)

import base64

exec(base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3RvdWNoIC90bXAvcHRtc2NvcGVfbWFya2VyJyk="))
