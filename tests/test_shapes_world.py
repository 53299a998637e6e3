"""The shapes world and its exact scorer: the split, the grammar, and a scorer that is right about the truth."""
import random
from dataclasses import replace

import numpy as np
import pytest

from bench.probes import adherence
from sdopt.shapes import world


def test_the_same_seed_draws_the_same_images_and_another_seed_others():
    captions, images = world.training_mixture(24, seed=3)
    again_captions, again = world.training_mixture(24, seed=3)
    other_captions, other = world.training_mixture(24, seed=4)
    assert captions == again_captions and np.array_equal(images, again)
    assert captions != other_captions and not np.array_equal(images, other)
    assert images.shape == (24, world.SIZE, world.SIZE, 3) and images.dtype == np.uint8
    assert 4 <= sum(world.parse(c).kind == "pair" for c in captions) <= 12


def test_evaluation_prompts_are_never_training_captions():
    for kind in ("single", "pair"):
        training = {world.caption(p) for p in world.training_prompts(kind)}
        evaluation = [p.text for p in world.evaluation_prompts(kind)]
        assert training and evaluation and not training & set(evaluation)
    single = world.evaluation_prompts("single")
    assert len(single) >= 200
    unseen = [p for p in single if world.names_unseen_pair(p)]
    assert 20 <= len(unseen) < len(single) / 4
    seen_pairs = {(t.color, t.shape) for kind in ("single", "pair") for p in world.training_prompts(kind)
                  for t in p.things}
    assert not seen_pairs & set(world.UNSEEN_PAIRS)
    assert world.evaluation_prompts("single", 10) == single[:10]  # a fixed order, whatever the count
    with pytest.raises(ValueError, match="holds out"):
        world.evaluation_prompts("single", 10_000)


def test_every_caption_parses_back_and_anything_else_is_not_scorable():
    for kind in ("single", "pair"):
        for prompt in world.training_prompts(kind) + world.evaluation_prompts(kind):
            assert world.parse(world.caption(prompt)) == prompt
    assert world.parse("an orange circle above a red square").relation == "above"
    for text in ("a huge red circle on the left", "a small red dog on the left", "a red circle", "",
                 "a small red circle on the left and a blue square"):
        assert world.parse(text) is None, text
    words = set(world.vocabulary())
    assert all(set(world.caption(p).split()) <= words for p in world.training_prompts("pair"))


def test_the_scorer_is_right_about_rendered_truth():
    """At least 99% all-correct on 1,000 rendered images of every kind of prompt."""
    rng = random.Random(7)
    prompts = [p for kind in ("single", "pair") for p in world.training_prompts(kind) + world.evaluation_prompts(kind)]
    right = 0
    for _ in range(1000):
        prompt = prompts[rng.randrange(len(prompts))]
        right += adherence.score(world.caption(prompt), world.render(world.place(prompt, rng)))["all"]
    assert right >= 990, right


def test_paired_change_counts_prompts_lost_and_gained_against_the_reference():
    rng = random.Random(3)
    prompts = world.evaluation_prompts("single", 40)
    truth = [world.render(world.place(p, rng)) for p in prompts]
    blank = np.full_like(truth[0], truth[0][0, 0])
    worse = [blank if i < 12 else image for i, image in enumerate(truth)]  # 12 lost, none gained
    change = adherence.paired_change([p.text for p in prompts], truth, worse)
    assert change["lost"] == 12 and change["gained"] == 0 and change["p"] < 0.001
    back = adherence.paired_change([p.text for p in prompts], worse, truth)
    assert back["lost"] == 0 and back["gained"] == 12
    same = adherence.paired_change([p.text for p in prompts], truth, truth)
    assert same == {"lost": 0, "gained": 0, "p": 1.0}
    with pytest.raises(adherence.AdherenceError, match="3 prompts for 40 reference"):
        adherence.paired_change([p.text for p in prompts[:3]], truth, truth)


def test_noise_scores_near_zero():
    rng = np.random.default_rng(0)
    prompts = world.evaluation_prompts("single", 100)
    noise = [rng.integers(0, 256, (world.SIZE, world.SIZE, 3), dtype=np.uint8) for _ in prompts]
    summary = adherence.summarize([p.text for p in prompts], noise)
    assert summary["all"]["rate"] <= 0.02 and summary["count"]["rate"] <= 0.05


@pytest.mark.parametrize("attribute, change", [
    ("color", lambda t: replace(t, color="green" if t.color != "green" else "red")),
    ("shape", lambda t: replace(t, shape="square" if t.shape != "square" else "circle")),
    ("size", lambda t: replace(t, size="small" if t.size == "large" else "large")),
])
def test_each_attribute_is_judged_on_its_own(attribute, change):
    rng = random.Random(1)
    for prompt in world.evaluation_prompts("single", 30):
        image = world.render(world.place(prompt, rng))
        asked = world.caption(replace(prompt, things=(change(prompt.things[0]),)))
        result = adherence.score(asked, image)
        assert not result[attribute] and not result["all"], (asked, result)
        assert all(v for k, v in result.items() if k not in (attribute, "all")), (asked, result)


def test_position_count_and_relation_are_judged():
    rng = random.Random(2)
    prompt = world.evaluation_prompts("single", 1)[0]
    image = world.render(world.place(prompt, rng))
    elsewhere = next(p for p in world.POSITIONS if p != prompt.position)
    moved = adherence.score(world.caption(replace(prompt, position=elsewhere)), image)
    assert not moved["position"] and moved["color"] and moved["shape"]
    pair = world.evaluation_prompts("pair", 1)[0]
    pair_image = world.render(world.place(pair, rng))
    assert adherence.score(pair.text, pair_image)["all"]
    opposite = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}[pair.relation]
    flipped = adherence.score(world.caption(replace(pair, relation=opposite)), pair_image)
    assert not flipped["relation"] and flipped["count"] and flipped["color"] and flipped["shape"]


def test_an_extra_object_fails_the_count():
    prompt = next(p for p in world.evaluation_prompts("single") if p.position == "left")
    rng = random.Random(3)
    extra = world.Placed(world.Thing("square", "blue", "small"), world.POSITIONS["right"][0])
    image = world.render(world.place(prompt, rng) + (extra,))
    result = adherence.score(prompt.text, image)
    assert not result["count"] and not result["all"]


def test_blank_and_all_foreground_images_score_nothing_and_bad_input_is_refused():
    prompt = world.evaluation_prompts("single", 1)[0].text
    blank = np.full((world.SIZE, world.SIZE, 3), world.BACKGROUND, np.uint8)
    filled = np.full((world.SIZE, world.SIZE, 3), world.COLORS["red"], np.uint8)
    for image in (blank, filled):
        assert adherence.find_objects(image) == []
        assert not any(adherence.score(prompt, image).values())
    with pytest.raises(adherence.AdherenceError, match="64x64x3"):
        adherence.find_objects(np.zeros((128, 128, 3), np.uint8))
    summary = adherence.summarize([prompt, "a photo of a cat"], [blank, blank])
    assert summary["not_scorable"] == 1 and summary["images"] == 1 and summary["all"]["rate"] == 0


def test_the_interval_covers_the_rate_and_narrows_with_images():
    low, high = adherence.wilson_interval(180, 200)
    assert low < 0.9 < high and high - low < 0.1
    assert adherence.wilson_interval(200, 200)[1] == 1.0 and adherence.wilson_interval(200, 200)[0] > 0.98
    wide = adherence.wilson_interval(18, 20)
    assert wide[1] - wide[0] > high - low


def test_the_tokenizer_gives_every_word_of_the_world_one_token(tmp_path):
    from sdopt.tokenizer import _MERGES, write_tokenizer
    tokenizer = write_tokenizer(tmp_path / "shapes", words=world.vocabulary())
    for word in world.vocabulary():
        assert len(tokenizer.tokenize(word)) == 1, (word, tokenizer.tokenize(word))
    text = world.evaluation_prompts("pair", 1)[0].text
    assert tokenizer.tokenize(text) == [w + "</w>" for w in text.split()]
    plain = write_tokenizer(tmp_path / "plain")  # the built-ins' tokenizer is unchanged by the option
    assert (tmp_path / "plain" / "merges.txt").read_text().splitlines()[1:] == _MERGES
    assert len(plain.tokenize("circle")) > 1

