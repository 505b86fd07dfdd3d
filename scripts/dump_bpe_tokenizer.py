#!/usr/bin/env python3
"""Dumps a GGUF file's BPE tokenizer into sqsim's plain fixture format
(docs/tokenizer.md) and, optionally, reference token ids made by HF `tokenizers`.

  python3 scripts/dump_bpe_tokenizer.py MODEL.gguf OUT_PREFIX [--ref TEXT_FILE LINES OUT_IDS]

Writes OUT_PREFIX.vocab.txt and OUT_PREFIX.merges.txt. With --ref, the first
LINES lines of TEXT_FILE (CRLF -> LF, 0 = all) are encoded with no special
tokens added and the ids written whitespace-separated to OUT_IDS.
Needs: pip install gguf tokenizers numpy
"""
import sys
from gguf import GGUFReader


def field_strings(r, key):
    f = r.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def load(path):
    r = GGUFReader(path)
    toks = field_strings(r, "tokenizer.ggml.tokens")
    merges = field_strings(r, "tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[r.fields["tokenizer.ggml.pre"].data[0]]).decode()
    return toks, merges, types, pre


def hf_tokenizer(toks, merges, types, pre):
    # SmolLM2's tokenizer.json: Digits(individual) then ByteLevel (GPT-2 regex),
    # BPE without unk, ByteLevel decoder; control tokens are added specials.
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken
    bpe = models.BPE({t: i for i, t in enumerate(toks)}, [tuple(m.split(" ")) for m in merges])
    tk = Tokenizer(bpe)
    seq = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if pre == "smollm":
        seq.insert(0, pre_tokenizers.Digits(individual_digits=True))
    elif pre != "gpt2":
        raise SystemExit("unsupported pre-tokenizer " + pre)
    tk.pre_tokenizer = pre_tokenizers.Sequence(seq)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(toks, types) if ty == 3])
    return tk


def main():
    toks, merges, types, pre = load(sys.argv[1])
    prefix = sys.argv[2]
    if len(sys.argv) == 3 or "--ref" not in sys.argv:
        with open(prefix + ".vocab.txt", "w", encoding="utf-8", newline="\n") as out:
            out.write("sqsim-bpe-vocab 1 pre=%s count=%d\n" % (pre, len(toks)))
            for t, ty in zip(toks, types):
                out.write("%d\t%s\n" % (ty, escape(t)))
        with open(prefix + ".merges.txt", "w", encoding="utf-8", newline="\n") as out:
            out.write("sqsim-bpe-merges 1 count=%d\n" % len(merges))
            for m in merges:
                out.write(m + "\n")
    if "--ref" in sys.argv:
        i = sys.argv.index("--ref")
        text_path, lines, out_ids = sys.argv[i + 1], int(sys.argv[i + 2]), sys.argv[i + 3]
        text = open(text_path, "rb").read().decode("utf-8").replace("\r\n", "\n")
        if lines > 0:
            text = "".join(text.splitlines(keepends=True)[:lines])
        ids = hf_tokenizer(toks, merges, types, pre).encode(text, add_special_tokens=False).ids
        with open(out_ids, "w") as out:
            out.write(" ".join(map(str, ids)) + "\n")
        print("%s: %d lines, %d bytes, %d tokens" % (text_path, lines, len(text.encode()), len(ids)))


if __name__ == "__main__":
    main()
