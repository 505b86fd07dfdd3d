#!/usr/bin/env python3
"""sqsim eval against EleutherAI's lm-evaluation-harness itself, item by item.

Runs `sqsim eval --out DIR` (per-item log-likelihoods in DIR/items.jsonl) and
lm-eval's `simple_evaluate` with --log_samples on the same items: transformers
loading the same GGUF in float32 (its own dequantization and Llama code), with
SmolLM2's real pre-tokenizer (digits split before byte-level BPE; the
tokenizer transformers builds from the GGUF leaves that step out,
../shared/data/tasks/README.md), and local task YAMLs that copy the official
lambada_openai / hellaswag / piqa / winogrande definitions (written here from
their documentation) reading the local data files: no network at run time.
Compares per item: the chosen answer (acc's argmax; LAMBADA: greedy), each
task's acc, and every per-choice log-likelihood. Prints a Markdown report
(stdout, or --report FILE) and exits 1 when a goal is missed:
agreement >= 99.5%, |acc difference| <= 0.3 points, max |loglik difference| <= 1e-3.

  scripts/lm-eval-compare.py --limit 200 --report results/eval/lm-eval-comparison.md
  scripts/lm-eval-compare.py --tasks piqa --limit 200 --float64 10

--float64 N recomputes the N requests where the two disagree most in float64
(transformers' model cast to double, lm-eval's own context/continuation
split), to say which side a difference comes from.

Exits 77 (skipped) when lm_eval, torch, transformers, the model, the data or
the sqsim binary are absent. Install: scripts/install-python-refs.sh.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    import accelerate  # noqa: F401  (transformers asks for it to load a GGUF)
    import gguf  # noqa: F401
    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from tokenizers import pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
DATA = os.environ.get("SQSIM_DATA", os.path.join(os.path.dirname(SRC), "shared", "data"))
if not os.path.isdir(os.path.join(DATA, "tasks")):
    DATA = "/work/shared/data"
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TASKS = ["lambada_openai", "hellaswag", "piqa", "winogrande"]

# The official task definitions (lm-eval's lambada/lambada_openai.yaml,
# hellaswag/hellaswag.yaml + utils.py, piqa/piqa.yaml,
# winogrande/default.yaml + preprocess_winogrande.py), with the Hub dataset
# replaced by the local JSON file; PIQA's labels come from its labels file.
YAML = {
    "lambada_openai": """task: lambada_openai_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/tasks/lambada_openai/lambada_test.jsonl
output_type: loglikelihood
test_split: test
doc_to_text: "{{{{text.split(' ')[:-1]|join(' ')}}}}"
doc_to_target: "{{{{' '+text.split(' ')[-1]}}}}"
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
  - metric: acc
    aggregation: mean
    higher_is_better: true
""",
    "hellaswag": """task: hellaswag_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}/tasks/hellaswag/hellaswag_val.jsonl
output_type: multiple_choice
validation_split: validation
process_docs: !function local_utils.hellaswag_docs
doc_to_text: "{{{{query}}}}"
doc_to_target: "{{{{label}}}}"
doc_to_choice: "choices"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
""",
    "piqa": """task: piqa_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}/tasks/piqa/valid.jsonl
output_type: multiple_choice
validation_split: validation
process_docs: !function local_utils.piqa_docs
doc_to_text: "Question: {{{{goal}}}}\\nAnswer:"
doc_to_target: label
doc_to_choice: "{{{{[sol1, sol2]}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
""",
    "winogrande": """task: winogrande_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}/tasks/winogrande/winogrande_xl_dev.jsonl
output_type: multiple_choice
validation_split: validation
doc_to_text: !function local_utils.winogrande_text
doc_to_target: !function local_utils.winogrande_target
doc_to_choice: !function local_utils.winogrande_choice
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""",
}

UTILS = '''import re

PIQA_LABELS = {labels!r}


def _preprocess(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\\\[.*?\\\\]", "", text)
    text = text.replace("  ", " ")
    return text


def hellaswag_docs(dataset):
    def one(doc):
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        return {{"query": _preprocess(doc["activity_label"] + ": " + ctx),
                "choices": [_preprocess(e) for e in doc["endings"]], "gold": int(doc["label"])}}
    return dataset.map(one)


def piqa_docs(dataset):
    with open(PIQA_LABELS) as f:
        labels = [int(x) for x in f.read().split()]
    return dataset.map(lambda doc, i: {{"label": labels[i]}}, with_indices=True)


def winogrande_text(doc):
    return {{"1": 0, "2": 1}}[doc["answer"]]


def winogrande_target(doc):
    i = doc["sentence"].index("_") + 1
    return doc["sentence"][i:].strip()


def winogrande_choice(doc):
    i = doc["sentence"].index("_")
    return [doc["sentence"][:i] + o for o in (doc["option1"], doc["option2"])]
'''


def run_sqsim(limit, out):
    cmd = [BIN, "eval", "--tasks", ",".join(TASKS), "--limit", str(limit), "--threads", "2", "--json",
           "--model", GGUF, "--out", out, "--force"]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}")
    items = {}
    with open(os.path.join(out, "items.jsonl")) as f:
        for line in f:
            x = json.loads(line)
            items[(x["task"], x["position"])] = x
    shown = ["sqsim"] + cmd[1:]
    shown[shown.index("--model") + 1] = os.path.relpath(GGUF, SRC)
    shown[shown.index("--out") + 1] = "DIR"
    return items, time.time() - t0, " ".join(shown)


def smollm2_tokenizer(d, name):
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    # SmolLM2's tokenizer.json: Digits(individual) then ByteLevel with the GPT-2 regex.
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return tok


def run_lm_eval(limit, workdir):
    tasks_dir = os.path.join(workdir, "tasks")
    os.makedirs(tasks_dir, exist_ok=True)
    for t, text in YAML.items():
        with open(os.path.join(tasks_dir, t + "_local.yaml"), "w") as f:
            f.write(text.format(data=DATA))
    with open(os.path.join(tasks_dir, "local_utils.py"), "w") as f:
        f.write(UTILS.format(labels=os.path.join(DATA, "tasks", "piqa", "valid-labels.lst")))
    d, name = os.path.split(GGUF)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).eval()
    lm = HFLM(pretrained=model, tokenizer=smollm2_tokenizer(d, name), batch_size=16, device="cpu",
              add_bos_token=False)  # SmolLM2 adds no BOS (sqsim: tokenize_document)
    t0 = time.time()
    res = lm_eval.simple_evaluate(model=lm, tasks=[t + "_local" for t in TASKS], limit=limit, log_samples=True,
                                  task_manager=TaskManager(include_path=tasks_dir), num_fewshot=0)
    samples = {}
    for t in TASKS:
        for s in res["samples"][t + "_local"]:
            lls = [float(r[0]) for r in s["filtered_resps"]]
            greedy = [bool(r[1]) for r in s["filtered_resps"]]
            samples[(t, int(s["doc_id"]))] = {"loglik": lls, "greedy": greedy, "target": s["target"],
                                               "args": [tuple(a[:2]) for a in s["arguments"]]}
    return samples, res["results"], time.time() - t0, lm


def float64_check(lm, sq, le, n):
    """The n requests with the largest |sqsim - lm-eval| log-likelihood, again in float64."""
    diffs = []
    for k, a in sq.items():
        for j, (x, y) in enumerate(zip(a["loglik"], le[k]["loglik"])):
            diffs.append((abs(x - y), k, j))
    diffs.sort(key=lambda d: -d[0])
    m64 = copy.deepcopy(lm.model).double().eval()
    lines = ["| task | item | choice | continuation tokens | sqsim | lm-eval (float32) | float64 | "
             "sqsim - float64 | lm-eval - float64 |", "|---|---|---|---|---|---|---|---|---|"]
    for _, k, j in diffs[:n]:
        ctx, cont = le[k]["args"][j]
        ce, co = lm._encode_pair(ctx, cont)
        ids = torch.tensor([ce + co])
        with torch.no_grad():
            lp = torch.log_softmax(m64(ids[:, :-1]).logits[0].double(), -1)[len(ce) - 1:]
        ll = float(lp.gather(-1, torch.tensor(co)[:, None]).sum())
        x, y = sq[k]["loglik"][j], le[k]["loglik"][j]
        lines.append(f"| {k[0]} | {k[1]} | {j} | {len(co)} | {x:.6f} | {y:.6f} | {ll:.6f} | {x - ll:+.2e} | "
                     f"{y - ll:+.2e} |")
    return lines


def argmax_first(v):
    best = 0
    for i, x in enumerate(v):
        if x > v[best]:
            best = i
    return best


def compare(sq, le, le_results):
    rows, worst, ok = [], 0.0, True
    for t in TASKS:
        keys = sorted(k for k in sq if k[0] == t)
        agree, n, max_diff, acc_sq, acc_le = 0, 0, 0.0, 0, 0
        for k in keys:
            a, b = sq[k], le.get(k)
            if b is None or len(a["loglik"]) != len(b["loglik"]):
                raise SystemExit(f"{t} item {k[1]}: lm-eval has no matching sample")
            n += 1
            for x, y in zip(a["loglik"], b["loglik"]):
                max_diff = max(max_diff, abs(x - y))
            if t == "lambada_openai":
                ca, cb = a["greedy"][0], b["greedy"][0]
                acc_sq += ca
                acc_le += cb
            else:
                ca, cb = argmax_first(a["loglik"]), argmax_first(b["loglik"])
                acc_sq += ca == a["gold"]
                acc_le += cb == a["gold"]
            agree += ca == cb
        share = agree / n
        d_acc = 100.0 * (acc_sq - acc_le) / n
        lm_acc = le_results[t + "_local"].get("acc,none")
        rows.append((t, n, share, acc_sq / n, acc_le / n, lm_acc, d_acc, max_diff))
        ok = ok and share >= 0.995 and abs(d_acc) <= 0.3 and max_diff <= 1e-3
        worst = max(worst, max_diff)
    return rows, ok


def main():
    global TASKS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=200, help="first N items of each task")
    ap.add_argument("--report", help="write the Markdown report here (default: stdout)")
    ap.add_argument("--tasks", default=",".join(TASKS), help="a subset of " + ",".join(TASKS))
    ap.add_argument("--float64", type=int, default=0, metavar="N",
                    help="recompute the N most different requests in float64")
    a = ap.parse_args()
    TASKS = [t for t in a.tasks.split(",") if t]
    unknown = [t for t in TASKS if t not in YAML]
    if unknown:
        raise SystemExit(f"--tasks: unknown {unknown}; expected a subset of {list(YAML)}")
    for p in (GGUF, BIN, os.path.join(DATA, "tasks", "hellaswag", "hellaswag_val.jsonl")):
        if not os.path.exists(p):
            print(f"skipped: {p} absent")
            sys.exit(77)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as td:
        sq, sq_s, sq_cmd = run_sqsim(a.limit, os.path.join(td, "sqsim"))
        le, le_results, le_s, lm = run_lm_eval(a.limit, td)
    rows, ok = compare(sq, le, le_results)
    lines = [
        f"Command: `scripts/lm-eval-compare.py {' '.join(sys.argv[1:])}` (lm_eval {lm_eval.__version__}, "
        f"torch {torch.__version__}); sqsim side: `{sq_cmd}` ({sq_s:.0f} s); lm-eval side {le_s:.0f} s.",
        "",
        "| task | items | chosen answer agrees | acc sqsim | acc lm-eval (per item) | acc lm-eval (its report) "
        "| acc difference (points) | max abs loglik difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, n, share, acc_sq, acc_le, lm_acc, d_acc, md in rows:
        lines.append(f"| {t} | {n} | {100 * share:.2f}% | {acc_sq:.4f} | {acc_le:.4f} | {lm_acc:.4f} | {d_acc:+.2f} "
                     f"| {md:.2e} |")
    lines += ["", "Goals: agreement >= 99.5%, |acc difference| <= 0.3 points, max |loglik difference| <= 1e-3: "
              + ("all met." if ok else "NOT all met.")]
    if a.float64 > 0:
        lines += ["", f"The {a.float64} requests with the largest log-likelihood difference, recomputed in float64:",
                  ""] + float64_check(lm, sq, le, a.float64)
    text = "\n".join(lines) + "\n"
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)
    print(text, end="")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
