"""The MS-SSIM + L1 mix of Zhao, Gallo, Frosio and Kautz (2017).

``loss = alpha * (1 - MS-SSIM) + (1 - alpha) * L1_G`` with alpha = 0.84,
where L1_G is the absolute error weighted by a Gaussian window.

MS-SSIM follows Wang, Simoncelli and Bovik (2003): an 11-tap Gaussian window
(sigma 1.5) at five scales of a dyadic pyramid (2x2 average pooling), the
contrast-structure term at every scale and the luminance term at the
coarsest, with the standard exponents. Each colour channel is scored on its
own and the channels averaged at every scale, so channels are never paired
with the wrong scale's weight (the bug of the widely copied class). Filtering
is separable with reflect padding: measured on this CPU, far cheaper than
Zhao's full-resolution formulation with windows up to sigma 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
C1, C2 = 0.01**2, 0.03**2


def gaussian_kernel(sigma: float = 1.5, size: int = 11) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return (k / k.sum()).float()


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable depthwise Gaussian filter with reflect padding, (N, C, H, W)."""
    c, r = x.shape[1], kernel.numel() // 2
    kx = kernel.to(x).view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = kernel.to(x).view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), ky, groups=c)


def ssim_terms(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel luminance and contrast-structure maps, (N, C, H, W)."""
    mx, my = _blur(x, kernel), _blur(y, kernel)
    sxx = _blur(x * x, kernel) - mx * mx
    syy = _blur(y * y, kernel) - my * my
    sxy = _blur(x * y, kernel) - mx * my
    lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    return lum, cs


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int = 5) -> torch.Tensor:
    """MS-SSIM per image, (N,), for data range 1. Inputs (N, C, H, W)."""
    weights = torch.tensor(MS_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    kernel = gaussian_kernel()
    values = []
    for s in range(scales):
        lum, cs = ssim_terms(x, y, kernel)
        if s == scales - 1:
            values.append((lum * cs).mean(dim=(2, 3)))
        else:
            values.append(cs.mean(dim=(2, 3)))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    # Clamping keeps fractional powers of a (rare) negative cs finite and differentiable.
    stack = torch.stack(values, dim=0).clamp_min(1e-6)  # (scales, N, C)
    per_channel = torch.prod(stack ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(dim=1)


def min_size(scales: int = 5) -> int:
    """Smallest patch side the pyramid supports (reflect pad < size at the top)."""
    return 6 * 2 ** (scales - 1)


class MixLoss(torch.nn.Module):
    """alpha * (1 - MS-SSIM) + (1 - alpha) * Gaussian-weighted L1."""

    def __init__(self, alpha: float = 0.84, scales: int = 5):
        super().__init__()
        self.alpha, self.scales = alpha, scales
        # Zhao et al. weight L1 with the coarsest scale's Gaussian (sigma 1.5 * 2**(M-1)).
        self.l1_sigma = 1.5 * 2 ** (scales - 1)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        msssim = ms_ssim(pred, target, self.scales).mean()
        err = (pred - target).abs()
        # Cheap Gaussian weighting: a centre-weighted mean per image (separable outer product).
        h, w = err.shape[-2:]
        wy = _window(self.l1_sigma, h).to(err)
        wx = _window(self.l1_sigma, w).to(err)
        l1 = torch.einsum("nchw,h,w->nc", err, wy, wx).mean()
        return self.alpha * (1 - msssim) + (1 - self.alpha) * l1


def _window(sigma: float, n: int) -> torch.Tensor:
    """A length-``n`` Gaussian weight vector (summing to 1) centred on the patch."""
    x = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()
