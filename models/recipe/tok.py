"""BERT-style tokenizer (lowercase, CJK characters as single tokens, WordPiece over whole words).

The Python side is used to build the vocabulary and to tokenize captions during training; the
shipped tokenizer/tokenizer.json is the same tokenizer for @huggingface/tokenizers, and the data stage
checks that both agree on every caption fragment.
"""
import json
import unicodedata

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIALS = [PAD, UNK, CLS, SEP]


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def normalize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat == "Zs":
            out.append(" ")
            continue
        if cat in ("Cc", "Cf"):
            continue
        if _is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    s = unicodedata.normalize("NFD", "".join(out))
    s = "".join(c for c in s if unicodedata.category(c) != "Mn")
    return s.lower()


def pretokenize(text):
    words = []
    for w in normalize(text).split():
        cur = ""
        for ch in w:
            if _is_punct(ch):
                if cur:
                    words.append(cur)
                    cur = ""
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


class Tok:
    def __init__(self, vocab, max_len=16):
        self.vocab = vocab
        self.max_len = max_len
        self.pad_id = vocab[PAD]
        self.unk_id = vocab[UNK]
        self.cls_id = vocab[CLS]
        self.sep_id = vocab[SEP]

    def word_ids(self, word):
        if word in self.vocab:
            return [self.vocab[word]]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    found = self.vocab[sub]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def ids(self, text):
        out = []
        for w in pretokenize(text):
            out += self.word_ids(w)
        return out

    def frame(self, ids):
        """[CLS] ids [SEP] padded with [PAD] to max_len (truncated to fit)."""
        ids = [self.cls_id] + list(ids)[: self.max_len - 2] + [self.sep_id]
        return ids + [self.pad_id] * (self.max_len - len(ids))


def build_vocab(texts):
    words = set()
    for t in texts:
        words.update(pretokenize(t))
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for w in sorted(words):
        if w not in vocab:
            vocab[w] = len(vocab)
    return vocab


def tokenizer_json(vocab, max_len):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for s in SPECIALS
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": [SEP, vocab[SEP]], "cls": [CLS, vocab[CLS]]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": UNK, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def tokenizer_config(max_len):
    return {
        "tokenizer_class": "BertTokenizer",
        "model_max_length": max_len,
        "do_lower_case": True,
        "tokenize_chinese_chars": True,
        "pad_token": PAD,
        "unk_token": UNK,
        "cls_token": CLS,
        "sep_token": SEP,
        "padding_side": "right",
        "pad_token_id": 0,
        "clean_up_tokenization_spaces": True,
    }


def save(vocab, max_len, folder):
    import os
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, max_len), f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(max_len), f, ensure_ascii=False, indent=2)
    with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump({"pad_token": PAD, "unk_token": UNK, "cls_token": CLS, "sep_token": SEP}, f, indent=2)
