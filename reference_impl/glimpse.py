"""The retina ("glimpse sensor") of the Recurrent Attention Model (Mnih et al., 2014, "Recurrent
Models of Visual Attention", NIPS): k square patches of growing size around one location, each
average-pooled down to the smallest patch's size, so that the centre is seen sharply and the
surroundings coarsely (a fovea).

Notation: N batch, C channels, H, W image height and width, K scales, P base patch size.

Locations ``l`` are in [-1, 1]^2 and ordered **(x, y)**: ``l[:, 0]`` is the horizontal coordinate
(the column), ``l[:, 1]`` the vertical one (the row); (-1, -1) is the top-left corner of the image,
(1, 1) the bottom-right, (0, 0) the centre. This is the order of ``torch.nn.functional.grid_sample``
and of the paper's figures.

Pixel alignment (exact, no interpolation):

    centre column  c_x = clamp(floor((x + 1) / 2 * W), 0, W - 1)      (the same for rows with y, H)
    patch k        rows c_y - S_k // 2 ... c_y - S_k // 2 + S_k - 1,   S_k = P * scale**k
                   columns likewise; pixels outside the image read as 0 (zero padding)
    retina output  avg_pool(patch k, kernel scale**k) for k = 0 .. K-1   -> (N, K, C, P, P)

So x = -1 centres the glimpse on column 0 and x = 1 on column W - 1: at the border half of every
patch lies outside the image and is zero. The sensor is not differentiable in ``l`` (it selects
pixels), which is why the locations are trained with REINFORCE.

    glimpse(images, locations, patch_size, n_scales, scale)   -> (N, K, C, P, P)   batched, no Python loop
    glimpse_centres(locations, height, width)                  -> (N, 2) integer (row, col) pixel centres
    glimpse_boxes(locations, height, width, patch_size, ...)   -> (N, K, 4) boxes for drawing
"""
import torch

__all__ = ["glimpse", "glimpse_centres", "glimpse_boxes", "pixel_to_location"]


def glimpse_centres(locations: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel centres of glimpses at ``locations``.

    Inputs:
        locations: (N, 2) in [-1, 1], ordered (x, y) = (column, row); values outside are clamped.
        height, width: image size H, W.
    Returns:
        (N, 2) int64 tensor of (row, col) pixel indices, row in [0, H), col in [0, W).
    """
    if locations.ndim != 2 or locations.shape[1] != 2:
        raise ValueError(f"locations must have shape (N, 2) ordered (x, y), got {tuple(locations.shape)}")
    loc = locations.detach().to(torch.float64)
    col = torch.floor((loc[:, 0] + 1) / 2 * width).long().clamp(0, width - 1)
    row = torch.floor((loc[:, 1] + 1) / 2 * height).long().clamp(0, height - 1)
    return torch.stack([row, col], dim=1)


def pixel_to_location(row, col, height: int, width: int) -> torch.Tensor:
    """The (x, y) location in [-1, 1]^2 whose glimpse centre is pixel (row, col): the inverse of
    :func:`glimpse_centres` (it returns the middle of the pixel).

    Inputs:
        row, col: tensors (or numbers) of pixel indices, broadcastable.
    Returns:
        (..., 2) float32 tensor ordered (x, y).
    """
    row = torch.as_tensor(row, dtype=torch.float64)
    col = torch.as_tensor(col, dtype=torch.float64)
    x = (2 * col + 1) / width - 1
    y = (2 * row + 1) / height - 1
    return torch.stack(torch.broadcast_tensors(x, y), dim=-1).float()


def glimpse(images: torch.Tensor, locations: torch.Tensor, patch_size: int = 8, n_scales: int = 3,
            scale: int = 2) -> torch.Tensor:
    """Multi-scale retina: ``n_scales`` concentric square patches around each location, patch k of
    side ``patch_size * scale**k``, each average-pooled to ``patch_size`` x ``patch_size``.

    Vectorized over the batch: one gather of the largest patch for the whole batch; the smaller
    patches are its centre crops (all patches share the centre pixel).

    Inputs:
        images: (N, C, H, W) float tensor.
        locations: (N, 2) in [-1, 1], ordered (x, y) = (column, row).
        patch_size: P, side of the finest patch (and of every pooled output).
        n_scales: K >= 1.
        scale: integer factor between successive patch sides.
    Returns:
        (N, K, C, P, P) tensor of the images' dtype; out-of-image pixels count as 0 in the averages.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    N, C, H, W = images.shape
    if locations.shape != (N, 2):
        raise ValueError(f"locations must have shape ({N}, 2) ordered (x, y), got {tuple(locations.shape)}")
    if patch_size < 1 or n_scales < 1 or scale < 1:
        raise ValueError(f"need patch_size, n_scales, scale >= 1, got {patch_size}, {n_scales}, {scale}")
    sizes = [patch_size * scale ** k for k in range(n_scales)]
    big = sizes[-1]
    centres = glimpse_centres(locations, H, W).to(images.device)  # (N, 2) row, col
    offsets = torch.arange(big, device=images.device) - big // 2  # (S,), S = largest side
    rows = centres[:, 0:1] + offsets  # (N, S) may fall outside [0, H)
    cols = centres[:, 1:2] + offsets  # (N, S)
    inside = ((rows >= 0) & (rows < H))[:, :, None] & ((cols >= 0) & (cols < W))[:, None, :]  # (N, S, S)
    # One gather of the largest patch for the whole batch, from flat indices into the contiguous
    # images (clamped into the image, then zeroed where they were outside: the same as reading a
    # zero-padded image, without copying it).
    base = torch.arange(N * C, device=images.device).view(N, C, 1, 1) * (H * W)  # (N, C, 1, 1)
    flat = (rows.clamp(0, H - 1) * W)[:, None, :, None] + cols.clamp(0, W - 1)[:, None, None, :]
    largest = images.contiguous().view(-1)[base + flat]  # (N, C, S, S)
    largest = largest * inside[:, None].to(images.dtype)
    out = []
    for k, size in enumerate(sizes):
        start = big // 2 - size // 2  # patch k is concentric with the largest one
        patch = largest[:, :, start:start + size, start:start + size]  # (N, C, S_k, S_k)
        f = scale ** k
        patch = patch.reshape(N, C, patch_size, f, patch_size, f).mean(dim=(3, 5))  # avg-pool f x f
        out.append(patch)  # (N, C, P, P)
    return torch.stack(out, dim=1)

def glimpse_boxes(locations: torch.Tensor, height: int, width: int, patch_size: int = 8,
                  n_scales: int = 3, scale: int = 2) -> torch.Tensor:
    """Pixel boxes of every patch of the retina, for drawing glimpses over images.

    Inputs:
        locations: (N, 2) in [-1, 1], ordered (x, y).
    Returns:
        (N, K, 4) int64 tensor of (top row, left col, height, width) in the unpadded image frame
        (boxes may extend past the image).
    """
    centres = glimpse_centres(locations, height, width)
    boxes = []
    for k in range(n_scales):
        size = patch_size * scale ** k
        top_left = centres - size // 2
        boxes.append(torch.cat([top_left, torch.full_like(top_left, size)], dim=1))
    return torch.stack(boxes, dim=1)
