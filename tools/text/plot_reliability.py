"""Reliability plots of every text tier on every source's test split, from the `emosense eval` reports that
build.sh writes (target/modelgen/text/eval_<source>_test_<tier>.json): accuracy against confidence per bin, the
diagonal is perfect calibration. Writes docs/text/reliability_<tier>.png."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import BUILD, REPO, SOURCES  # noqa: E402


def main():
    for tier in ("primary", "secondary", "fallback"):
        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for source in SOURCES:
            report = json.load(open(os.path.join(BUILD, f"eval_{source}_test_{tier}.json")))
            bins = [b for b in report["reliability"] if b["rows"] >= 10]
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                    label=f"{source}: ECE {report['ece']:.3f}, macro-F1 {report['macro_f1']:.3f}")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", ylabel="accuracy",
               title=f"text {tier} tier, test splits")
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        os.makedirs(os.path.join(REPO, "docs", "text"), exist_ok=True)
        path = os.path.join(REPO, "docs", "text", f"reliability_{tier}.png")
        fig.savefig(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
