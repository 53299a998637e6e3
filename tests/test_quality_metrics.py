"""Quality metrics: each can tell good from bad, and bad input gets one clear message."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.probes.quality import (QualityError, clip_score, distribution_distance, fidelity, load_reference_folder,
                           shared_inception, to_tensor)
import inprocess  # noqa: F401  (OpenVINO loaded before pytester's in-process runs: see inprocess.py)


def _images(count=6, size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(count, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear")  # smooth, image-like


def _noisy(images, amount, seed=1):
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    return (images + amount * noise).clamp(0, 1)


def test_fidelity_is_perfect_for_identical_and_falls_with_damage():
    images = _images()
    same = fidelity(images, images.clone(), torch.zeros(2), torch.zeros(2))
    assert same == {"psnr": 100.0, "ssim": pytest.approx(1.0), "latent_mad": 0.0}
    slight, heavy = fidelity(images, _noisy(images, 0.02)), fidelity(images, _noisy(images, 0.3))
    assert 100 > slight["psnr"] > heavy["psnr"] + 10 and slight["ssim"] > heavy["ssim"]


def test_mixed_sizes_are_refused():
    with pytest.raises(QualityError, match="mixed sizes"):
        to_tensor([np.zeros((8, 8, 3), np.uint8), np.zeros((16, 8, 3), np.uint8)])


def test_inception_features_are_2048d_and_fid_ranks_damage():
    features = shared_inception()(_images(2))
    assert features.shape == (2, 2048)
    reference = _images(12)
    # Inception is very sensitive to pixel noise on smooth images; a slight tone change barely moves it
    close = distribution_distance(reference, reference * 0.98 + 0.01)
    far = distribution_distance(reference, _noisy(reference, 0.4))
    assert close.fid < 1 and far.fid > close.fid + 50 and far.kid > close.kid + 0.1
    assert close.samples == 12 and close.kid_subset == 12 and "12 images" in close.warning
    # one subset of 12 from sets of 12 is both whole sets every time: a spread of 0 would be a false claim
    assert close.kid_std is None
    larger = distribution_distance(_images(16), reference * 0.98 + 0.01)
    assert larger.kid_subset == 12 and larger.kid_std is not None and larger.kid_std > 0


def test_a_set_against_itself_is_exactly_zero():
    reference = _images(6)
    itself = distribution_distance(reference, reference.clone(), feature=torch.nn.Identity())
    assert (itself.fid, itself.kid, itself.kid_std) == (0.0, 0.0, None)


def test_the_small_sample_warning_reaches_users(pytester):
    """pyproject ignores UserWarning from the libraries, but not this one."""
    test = pytester.makepyfile(test_warns="import warnings\nfrom bench.probes.quality import SmallSampleWarning\n"
                               "def test_it():\n    warnings.warn(SmallSampleWarning('FID/KID from 4 images'))\n")
    root = Path(__file__).resolve().parents[1]
    result = pytester.runpytest_inprocess(str(test), "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
                                          "-c", str(root / "pyproject.toml"))
    assert result.ret == 0 and "SmallSampleWarning: FID/KID from 4 images" in result.stdout.str(), \
        result.stdout.str()


def test_custom_feature_extractor_and_too_few_images():
    class MeanColor(torch.nn.Module):
        num_features = 3

        def forward(self, images):
            return images.float().mean(dim=(2, 3))
    reference = _images(8)
    assert distribution_distance(reference, reference, MeanColor()).fid == pytest.approx(0, abs=1e-3)
    with pytest.raises(QualityError, match="at least 2 images"):
        distribution_distance(reference[:1], reference[:1], MeanColor())


def test_the_reference_set_goes_through_the_network_once_and_in_batches():
    """A run scores every variant against the same reference images: their features are computed once, and a
    changed reference (one pixel) is not mistaken for the cached one."""
    class CountingMeanColor(torch.nn.Module):
        num_features = 3

        def __init__(self):
            super().__init__()
            self.batches = []

        def forward(self, images):
            self.batches.append(len(images))
            return images.float().mean(dim=(2, 3))
    feature, reference = CountingMeanColor(), _images(40)
    first = distribution_distance(reference, _noisy(reference, 0.1), feature)
    second = distribution_distance(reference.clone(), _noisy(reference, 0.1), feature)
    assert second.fid == pytest.approx(first.fid)
    assert feature.batches == [32, 8, 32, 8, 32, 8]  # reference once, then each generated set, 32 at a time
    changed = reference.clone()
    changed[0, 0, 0, 0] += 0.5
    third = distribution_distance(changed, _noisy(reference, 0.1), feature)
    assert len(feature.batches) == 10 and third.fid != first.fid


def test_reference_folder_errors_and_resizing(tmp_path):
    with pytest.raises(QualityError, match="not a folder"):
        load_reference_folder(tmp_path / "missing")
    with pytest.raises(QualityError, match="holds no"):
        load_reference_folder(tmp_path)
    Image.new("RGB", (40, 30), "red").save(tmp_path / "a.png")
    Image.new("RGB", (64, 64), "blue").save(tmp_path / "b.jpg")
    assert load_reference_folder(tmp_path, (64, 64)).shape == (2, 3, 64, 64)
    (tmp_path / "c.png").write_text("not an image")
    with pytest.raises(QualityError, match="c.png is not a readable image"):
        load_reference_folder(tmp_path, (64, 64))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A CLIPModel with random weights saved locally: proves the CLIP path end to end without a download."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor
    from sdopt.tokenizer import write_tokenizer
    folder = tmp_path_factory.mktemp("tiny-clip")
    tokenizer = write_tokenizer(folder / "vocab")
    torch.manual_seed(0)
    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77),
                        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=4, image_size=32, patch_size=8), projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder


def test_clip_score_with_a_local_model(tiny_clip):
    images = _images(2)
    score = clip_score(images, ["a cat", "a lighthouse"], str(tiny_clip))
    assert 0 <= score <= 100
    assert score == clip_score(images, ["a cat", "a lighthouse"], str(tiny_clip))  # deterministic


def test_clip_model_that_is_not_clip(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(QualityError, match="could not be loaded as a CLIP model"):
        clip_score(_images(1), ["x"], str(tmp_path))
