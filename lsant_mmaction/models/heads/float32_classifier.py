"""The heads' dropout + linear classifier, always in float32."""
import torch
from torch import nn


class Float32Classifier(nn.Sequential):
    """``nn.Sequential`` (dropout, linear) whose logits are float32 even
    under autocast (``--amp``).

    In bfloat16 a logit keeps 8 bits of mantissa, so among thousands of
    classes the 5th and 6th largest logits are often equal, and a tie counts
    as a miss (``evaluation.functional``): a bfloat16 classifier biases
    top-5 accuracy down. This one runs with autocast off on its input cast
    to float32 (a no-op without autocast: float32 runs are unchanged bit for
    bit). Parameter names are those of ``nn.Sequential`` (``1.weight``), as
    in RU-LSTM's ``classifier.1.*``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float())
