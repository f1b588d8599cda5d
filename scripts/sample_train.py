"""The training script scripts/screenshots runs in its sample project: per-step loss, accuracy and learning
rate, a validation AUC every 25 steps, parameters and a name tag, and outputs logged as artifacts (JSON,
CSV, a PNG) and a model. Not part of Kiln: it stands for an analyst's own code."""

import argparse
import json
import math
import random
import struct
import sys
import time
import zlib
from pathlib import Path

import kiln.track as kt

STEPS_PER_EPOCH = 200


def png(width: int, height: int, pixels: bytes) -> bytes:
    """A greyscale PNG (the confusion-matrix picture), without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + pixels[y * width : (y + 1) * width] for y in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def train(a: argparse.Namespace) -> float:
    step, loss = 0, 0.9
    for epoch in range(1, a.epochs + 1):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            speed = min(1.0, 60 * a.lr) * (256 / a.batch) ** 0.3
            loss = 0.08 + 0.82 * math.exp(-speed * step / 400) + random.uniform(-0.02, 0.02)
            if a.lr >= 0.2:
                loss = 0.9 * math.exp(step / 150)
            lr_now = a.lr * 0.5 * (1 + math.cos(math.pi * step / (STEPS_PER_EPOCH * a.epochs)))
            kt.log_metrics({"loss": loss, "acc": max(0.0, min(0.99, 1 - loss * 0.8)), "lr": lr_now}, step=step)
            if step % 25 == 0:
                auc = max(0.5, min(0.99, 0.985 - 0.4 * loss + random.uniform(-0.004, 0.004)))
                kt.log_metric("val_auc", auc, step=step)
        print(f"epoch {epoch:4d}/{a.epochs}  step {step}  loss {loss:.4f}", flush=True)
        if loss > 5:
            print("loss diverged: lower the learning rate", file=sys.stderr)
            sys.exit(1)
        time.sleep(a.pause)
    return loss


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--name", default="")
    p.add_argument("--pause", type=float, default=0.2, help="seconds between epochs")
    a = p.parse_args()
    kt.log_params({"lr": a.lr, "epochs": a.epochs, "batch_size": a.batch, "optimizer": "adam", "dropout": 0.1})
    kt.set_tag("team", "retention")
    if a.name:
        kt.set_tag("name", a.name)
    print(f"training churn model: lr={a.lr} epochs={a.epochs} batch={a.batch}", flush=True)
    random.seed(int(a.lr * 1000) + a.batch)
    loss = train(a)
    Path("model.txt").write_text(f"lr={a.lr} loss={loss:.4f}\n")
    Path("metrics.json").write_text(json.dumps({"lr": a.lr, "loss": round(loss, 4), "steps": a.epochs * 200}))
    predictions = "".join(f"{i},{random.random():.3f},{random.randint(0, 1)}\n" for i in range(500))
    Path("predictions.csv").write_text("customer,churn_probability,label\n" + predictions)
    pixels = bytes(int(255 * ((x // 40 + y // 40) % 2 * 0.6 + 0.2)) for y in range(160) for x in range(160))
    Path("confusion.png").write_bytes(png(160, 160, pixels))
    for name in ("metrics.json", "predictions.csv", "confusion.png"):
        kt.log_artifact(name)
    kt.log_model("model.txt", name="churn", flavor="text")
    print("saved model.txt")


if __name__ == "__main__":
    main()
