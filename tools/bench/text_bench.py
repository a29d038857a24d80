"""Text benchmark, all in one run: warm latency per tier (Rust, `cargo bench`), onnxruntime on the same inputs (1
thread) on our model file (int8 weights behind DequantizeLinear: onnxruntime folds them and computes in f32), on
its integer-compute rewrite (`tools/text/dynamic_int8.py`: DynamicQuantizeLinear + MatMulInteger over the same int8
weights) and on the fp32 file when it was built; cold start of the `emosense` binary (process start to first answer,
model load included) and its peak RSS. Prints a Markdown table and writes target/bench/text_bench.json.

    tools/.venv/bin/python tools/bench/text_bench.py [--iterations 200]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "text"))
import dynamic_int8  # noqa: E402
MODELS = os.path.join(REPO, "models-quantized", "text")
WINDOW = 128


def rust_bench(iterations):
    out = subprocess.run(["cargo", "bench", "--locked", "-q", "-p", "emosense-core", "--bench", "text_latency", "--", str(iterations)],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ort_latency(model, texts, iterations):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(MODELS, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    rows = []
    for tokens, text in texts:
        def run():
            ids = tok.encode(text, add_special_tokens=False).ids
            pieces = [[cls] + ids[i:i + WINDOW - 2] + [sep] for i in range(0, len(ids), WINDOW - 2)]
            width = max(len(p) for p in pieces)
            batch = np.zeros((len(pieces), width), np.int64)
            mask = np.zeros_like(batch)
            for r, p in enumerate(pieces):
                batch[r, :len(p)] = p
                mask[r, :len(p)] = 1
            return session.run(None, {"input_ids": batch, "attention_mask": mask})[0]
        for _ in range(10):
            run()
        times = []
        for _ in range(iterations):
            t = time.perf_counter()
            run()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        rows.append({"tokens": tokens, "p50_ms": round(float(np.percentile(times, 50)), 3),
                     "p95_ms": round(float(np.percentile(times, 95)), 3)})
    return rows


def cold_start(runs=7):
    subprocess.run(["cargo", "build", "--locked", "-q", "--release", "-p", "emosense-cli"], cwd=REPO, check=True)
    binary = os.path.join(REPO, "target", "release", "emosense")
    walls, rss = [], []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.Popen([binary, "analyze", "text", "I can't believe how well this turned out!"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append((time.perf_counter() - t) * 1000)
        rss.append(usage.ru_maxrss / 1024)
        answer = json.loads(proc.stdout.read())
        assert status == 0 and answer["metadata"]["tier"] == "primary", answer
    return {"runs": runs, "median_ms": round(statistics.median(walls), 1), "max_ms": round(max(walls), 1),
            "peak_rss_mb": round(max(rss), 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    rust = rust_bench(args.iterations)
    texts = [(r["tokens"], r["text"]) for r in rust["primary"]["latency"]]
    os.makedirs(os.path.join(REPO, "target", "bench"), exist_ok=True)
    integer_compute = os.path.join(REPO, "target", "bench", "model.dynamic-int8.onnx")
    dynamic_int8.rewrite(os.path.join(MODELS, "model.int8.onnx"), integer_compute)
    report = {
        "rust": rust,
        "onnxruntime": {
            "version": ort.__version__,
            "int8": ort_latency(os.path.join(MODELS, "model.int8.onnx"), texts, args.iterations),
            "dynamic_int8": ort_latency(integer_compute, texts, args.iterations),
        },
        "cold_start": cold_start(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
    }
    fp32 = os.path.join(MODELS, "model.fp32.onnx")
    if os.path.exists(fp32):
        report["onnxruntime"]["fp32"] = ort_latency(fp32, texts, args.iterations)
    json.dump(report, open(os.path.join(REPO, "target", "bench", "text_bench.json"), "w"), indent=1)

    print(f"CPU: {report['cpu']}; one thread; {args.iterations} iterations per row\n")
    print("| tokens | tract, our file p50 / p95 (ms) | secondary p50 | fallback p50 | ORT, our file p50 / p95 | ORT integer compute p50 / p95 | ORT fp32 p50 | tract / ORT our file | tract / ORT integer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(rust["primary"]["latency"]):
        ours, integer = report["onnxruntime"]["int8"][i], report["onnxruntime"]["dynamic_int8"][i]
        o32 = report["onnxruntime"].get("fp32", [None] * len(texts))[i]
        sec, fb = rust["secondary"]["latency"][i], rust["fallback"]["latency"][i]
        print(f"| {row['tokens']} | {row['p50_ms']} / {row['p95_ms']} | {sec['p50_ms']} | {fb['p50_ms']} | "
              f"{ours['p50_ms']} / {ours['p95_ms']} | {integer['p50_ms']} / {integer['p95_ms']} | {o32['p50_ms'] if o32 else '-'} | "
              f"{row['p50_ms'] / ours['p50_ms']:.2f} | {row['p50_ms'] / integer['p50_ms']:.2f} |")
    c = report["cold_start"]
    print(f"\nCold start (process start to first primary answer, model load included): median {c['median_ms']} ms, "
          f"max {c['max_ms']} ms over {c['runs']} runs; peak RSS {c['peak_rss_mb']} MB; "
          f"first call in a warm process (load + optimise): {rust['primary']['first_call_ms']} ms")


if __name__ == "__main__":
    sys.exit(main())
