"""Train the MNIST feature network behind `fid_mnist`, `kid_mnist`, `is_mnist` and P/R.

    python -m experiments.mnist_classifier --out=ganjax/metrics/weights/mnist_classifier.msgpack

The weights ship with ganjax, so evaluation never trains or downloads anything; this file
says exactly how they were made. Refuses to write weights under 99% test accuracy.
"""

from __future__ import annotations

import json
import os
import sys

from ganjax import cli
from ganjax.errors import UsageError

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "ganjax", "metrics", "weights", "mnist_classifier.msgpack")


def parse(argv):
  parser = cli.Parser(description=__doc__)
  parser.add_argument("--steps", type=int, default=2400, help="updates (about 5 epochs at 128)")
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--lr", type=float, default=1e-3)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--data_dir", default="")
  parser.add_argument("--out", default=os.path.normpath(DEFAULT_OUT))
  parser.add_argument("--accelerator", default="auto")
  args = parser.parse_args(argv)
  if args.steps <= 0 or args.batch_size <= 0 or not args.lr > 0:
    raise UsageError("--steps, --batch_size and --lr must be positive.")
  return args


def main(argv=None) -> None:
  args = parse(argv)
  cli.start_backend(args.accelerator)
  import flax.serialization
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax
  from tqdm import tqdm

  from ganjax import rng
  from ganjax.data.pipeline import Batches, BatchSpec, load_source, to_model_range
  from ganjax.models.classifier import MnistClassifier

  train = load_source("mnist", "train", args.data_dir or None)
  test = load_source("mnist", "test", args.data_dir or None)
  model = MnistClassifier()
  key = jax.random.key(args.seed)
  params = model.init(rng.stream(key, "init"), jnp.zeros((1, 28, 28, 1)))["params"]
  tx = optax.adam(optax.cosine_decay_schedule(args.lr, args.steps))
  opt_state = tx.init(params)

  @jax.jit
  def train_step(params, opt_state, images, labels, step):
    def loss_fn(p):
      _, logits = model.apply(
        {"params": p}, images, train=True, rngs={"dropout": jax.random.fold_in(rng.stream(key, "dropout"), step)}
      )
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  predict = jax.jit(lambda p, x: jnp.argmax(model.apply({"params": p}, x)[1], -1))
  batches = Batches(train, BatchSpec(args.batch_size, 1), seed=args.seed)
  try:
    bar = tqdm(range(args.steps), unit="step", mininterval=1.0)
    for step in bar:
      batch = next(batches)
      params, opt_state, loss = train_step(params, opt_state, batch["image"][0], batch["label"][0], step)
      if step % 100 == 0:
        bar.set_postfix(loss=f"{float(loss):.4f}")
  finally:
    batches.close()

  raw = test.read(np.arange(len(test)))
  predictions = np.concatenate(
    [np.asarray(predict(params, to_model_range(raw["image"][i : i + 1000]))) for i in range(0, len(test), 1000)]
  )
  accuracy = float(np.mean(predictions == raw["label"]))
  print(f"MNIST test accuracy: {accuracy:.4f} ({len(test)} images)")
  if accuracy < 0.99:
    raise UsageError(f"Test accuracy {accuracy:.4f} is under 0.99; weights not written (train longer).")
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, "wb") as f:
    f.write(flax.serialization.to_bytes(params))
  with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
    json.dump(
      {
        "test_accuracy": accuracy,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "command": "python -m experiments.mnist_classifier",
      },
      f,
      indent=2,
    )
  print(f"Wrote {args.out}.")


if __name__ == "__main__":
  sys.exit(cli.run(main))
