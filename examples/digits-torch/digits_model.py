"""The network of the digits-torch example: 64 pixels -> hidden -> 10 classes.

mvctl imports it by the path in `with.module` (digits_model.DigitsMLP); steps run in the project
root, so this file is importable as it stands.
"""

from __future__ import annotations

import torch


class DigitsMLP(torch.nn.Module):
    def __init__(self, hidden: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(64, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
