"""The main job of the README (`keras-gan-stable train`, no arguments) makes
digits a person recognises: checked by an independent classifier."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from digit_check import digit_classifier, digit_coverage


@pytest.mark.slow
def test_main_job_samples_cover_all_ten_digits(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "keras_gan_stable", "train", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.time() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(f"\nmain job: {wall:.0f} s wall (target: 180 s on 2 idle cores)")
    run = tmp_path / "runs" / "recommended"
    summary = json.loads((run / "summary.json").read_text())
    # The run's own class check (its feature classifier) is in the summary.
    assert summary["metrics"]["classes"] == 10

    from keras_gan_stable.data.loaders import load_arrays
    from keras_gan_stable.run import load_gan

    gan, _ = load_gan(str(run))
    fake = gan.generate(1000, seed=1)
    clf = digit_classifier()
    classes, kl, confidence, shares = digit_coverage(fake, clf)
    real = load_arrays("digits")[:1000]
    _, real_kl, real_confidence, _ = digit_coverage(real, clf)
    print(f"main job digits: {classes}/10 classes, KL {kl:.4f}, confidence "
          f"{confidence:.3f} (real: KL {real_kl:.4f}, confidence "
          f"{real_confidence:.3f}), shares {np.round(shares, 3).tolist()}")
    assert classes == 10 and shares.min() >= 0.03
    assert kl <= 0.05
    assert confidence >= real_confidence - 0.1
