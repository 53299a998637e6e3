"""A CLIP tokenizer written from scratch, so the offline models need no download.

CLIPTokenizer loads from a folder holding only vocab.json and merges.txt. The vocabulary is the
byte-level alphabet, each symbol's end-of-word form, one token per merge, and the two special tokens.
"""
import json
from pathlib import Path

# A few frequent English merges so prompts tokenize into more than single characters.
_MERGES = ["t h", "th e</w>", "a n", "i n", "o n", "e r", "a t", "r e", "e n", "o r", "s t", "a r",
           "o f</w>", "an d</w>", "in g</w>", "e d</w>"]
MAX_LENGTH = 77  # CLIP's context; padding breaks without it (tokenizer_config is absent)


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table: printable bytes map to themselves, the rest above 255."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _bpe(word: str, ranks: dict) -> list[str]:
    """CLIP's byte-pair encoding of one lower-case ASCII word: merge the best-ranked adjacent pair until none
    is left."""
    tokens = list(word[:-1]) + [word[-1] + "</w>"]
    while len(tokens) > 1:
        pairs = [(ranks.get((a, b), float("inf")), i) for i, (a, b) in enumerate(zip(tokens, tokens[1:]))]
        rank, i = min(pairs)
        if rank == float("inf"):
            break
        tokens[i:i + 2] = [tokens[i] + tokens[i + 1]]
    return tokens


def _word_merges(words, merges: list[str]) -> list[str]:
    """Merges, appended after `merges`, that make each of `words` one token. Each new merge ranks below every
    earlier one, so a word already made whole is never split differently by a later word's merges."""
    merges = list(merges)
    for word in words:
        ranks = {tuple(m.split()): r for r, m in enumerate(merges)}
        tokens = _bpe(word, ranks)
        while len(tokens) > 1:
            merges.append(f"{tokens[0]} {tokens[1]}")
            tokens[0:2] = [tokens[0] + tokens[1]]
    return merges


def write_tokenizer(folder: Path, words=()):
    """`words`: lower-case ASCII words to give one token each (a small model learns words faster than letters)."""
    folder.mkdir(parents=True, exist_ok=True)
    merges = _word_merges(words, _MERGES)
    symbols = _byte_symbols()
    vocab_list = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return load_tokenizer(folder)


def load_tokenizer(folder: Path):
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=MAX_LENGTH)
