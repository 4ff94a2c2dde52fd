"""Figure 1's attack diagnostic on one trained run: one JSON line and a PNG (``dat-attack``;
``python bin/attack.py`` in a checkout).

    python bin/attack.py --run_dir=runs/attack_dat --num=64 --seed=0 --out=runs/attack_dat.png
    python bin/attack.py --run_dir=runs/attack_dat --step_size=0.0157   # 2 grey levels of a [0, 1] image

Attacks ``num`` fakes ``G(z)`` towards the D score of paired reals and the
reals towards the fakes' scores (paper Eq. 1, targeted PGD of Eq. 7) and
prints ``{"k_fake", "k_real", "success_fake", "success_real", ...}``: the mean
number of sign-gradient steps until ``|s(x_adv) - s(x_other)| <= tol`` (failures
count ``--max_iters``), the fraction that got there, and beside them K per unit
of initial score gap and the score change per step.  The PNG has Figure 1's
rows: clean fakes, adversarial fakes, clean reals, adversarial reals.  See
``dat_tf/metrics/attack.py`` (the attack) and ``dat_tf/train/attack.py`` (on a run folder) for the
choices the paper leaves open.  D is
attacked in inference mode: for a D with BatchNorm that is not the function it
was trained as (the study's Figure 1 trains a BatchNorm-free D for this reason).

The study's Figure 1 (both arms trained and attacked at several step sizes) is
``python bin/results.py --sections=figure1``.
"""

import json
import math
import os
import sys

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

from dat_tf.commands import program, start  # noqa: E402
from dat_tf.metrics.attack import SCORES  # noqa: E402  (TensorFlow loads on first use, not here)

flags.DEFINE_string("run_dir", None, "Run directory of bin/train.py (config.json and gan.keras or checkpoints/).")
flags.DEFINE_string(
    "checkpoint", "", "Model to attack: empty for the final gan.keras, a generator step (checkpoints/ckpt-STEP) or a path."
)
flags.DEFINE_integer("num", 64, "Fakes and reals attacked (pairs).")
flags.DEFINE_integer("seed", 0, "Evaluation seed: latents of the fakes and the shuffle of the reals.")
flags.DEFINE_float("step_size", 2.0 / 255.0, "Step alpha in the models' [-1, 1] units (2/255 = 1/255 of [0, 1]).")
flags.DEFINE_float("tol", 0.02, "Success when |s(x_adv) - s(x_other)| <= tol (paper Eq. 1: 0.02).")
flags.DEFINE_integer("max_iters", 200, "Cap on the attack steps; failures count as max_iters.")
flags.DEFINE_string("score", "auto", f"D's score s: one of {list(SCORES)} (auto: sigmoid for ns/minimax, else logit).")
flags.DEFINE_string("out", None, "PNG to write (Figure 1 layout); none if empty.")
flags.DEFINE_integer("png_columns", 16, "Pairs shown in the PNG (the first ones).")
flags.DEFINE_integer("png_scale", 4, "Pixel upscaling of the PNG.")
FLAGS = flags.FLAGS


def _validate():
    if not FLAGS.run_dir:
        raise app.UsageError("--run_dir is required (a run directory written by bin/train.py).")
    if not os.path.isdir(FLAGS.run_dir):
        raise app.UsageError(f"--run_dir={FLAGS.run_dir!r} is not a directory.")
    if not os.path.isfile(os.path.join(FLAGS.run_dir, "config.json")):
        raise app.UsageError(f"--run_dir={FLAGS.run_dir!r} has no config.json; is it a bin/train.py run directory?")
    for name, low in (("num", 1), ("seed", 0), ("max_iters", 0), ("png_columns", 1), ("png_scale", 1)):
        if getattr(FLAGS, name) < low:
            raise app.UsageError(f"--{name}={getattr(FLAGS, name)} is not allowed; expected an integer >= {low}.")
    if not (math.isfinite(FLAGS.step_size) and FLAGS.step_size > 0):
        raise app.UsageError(f"--step_size={FLAGS.step_size} is not allowed; expected a finite number > 0.")
    if not (math.isfinite(FLAGS.tol) and FLAGS.tol >= 0):
        raise app.UsageError(f"--tol={FLAGS.tol} is not allowed; expected a finite number >= 0.")
    if FLAGS.score not in SCORES:
        raise app.UsageError(f"--score={FLAGS.score!r} is not allowed; expected one of {list(SCORES)}.")
    if FLAGS.checkpoint.startswith("-") and FLAGS.checkpoint[1:].isdigit():
        raise app.UsageError(f"--checkpoint={FLAGS.checkpoint!r} is not allowed; expected a generator step >= 0 or a path.")
    if FLAGS.out and not FLAGS.out.lower().endswith(".png"):
        raise app.UsageError(f"--out={FLAGS.out!r} is not allowed; expected a path ending in .png.")


def _checkpoint():
    text = FLAGS.checkpoint
    if not text:
        return None
    return int(text) if text.isdigit() else text


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _validate()
    from dat_tf.train.attack import attack_line

    try:
        result = attack_line(
            FLAGS.run_dir, checkpoint=_checkpoint(), png=FLAGS.out or None, png_columns=FLAGS.png_columns,
            png_scale=FLAGS.png_scale, num=FLAGS.num, seed=FLAGS.seed, step=FLAGS.step_size, tol=FLAGS.tol,
            max_iters=FLAGS.max_iters, score=FLAGS.score,
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


def run():
    """The ``dat-attack`` entry point (``bin/attack.py`` calls it too)."""
    start(main, __name__, program("bin/attack.py", "dat-attack"))
