"""One worker of a two-worker MultiWorkerMirroredStrategy job on 127.0.0.1.

Usage: TF_CONFIG=... KERAS_BACKEND=tensorflow \
       python tf_multi_worker.py OUT_DIR MODE
MODE "train": train common.STEPS steps with a `ResumableCheckpoint` in
multi-worker mode (the chief's checkpoint only remains), write this worker's
weights to OUT_DIR/worker<i>.npz.
MODE "kill": worker 1 dies after the first step; worker 0 must fail with
`WorkerFailureError` (exit code 3), not hang.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import keras  # noqa: E402

import common  # noqa: E402
from keras_gan_stable import distribute  # noqa: E402
from keras_gan_stable.callbacks import ResumableCheckpoint  # noqa: E402

TIMEOUT = 20.0


class DieAfterFirstStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print("worker 1 stops now", flush=True)
        os._exit(1)


def main(out_dir, mode):
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = distribute.get_strategy(timeout_seconds=TIMEOUT)
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    with strategy.scope():
        gan = common.build_gan("none")
    data = distribute.distribute_dataset(
        strategy, common.tf_dataset(common.global_batches(True)),
        n_critic=common.N_CRITIC)
    callbacks = [ResumableCheckpoint(os.path.join(out_dir, "ckpt"),
                                     strategy=strategy, verbose=0)]
    if mode == "kill" and index == 1:
        callbacks.append(DieAfterFirstStep())
    try:
        with distribute.worker_failure_errors(TIMEOUT):
            gan.fit(data, epochs=1, steps_per_epoch=common.STEPS, verbose=0,
                    callbacks=callbacks)
    except distribute.WorkerFailureError as e:
        with open(os.path.join(out_dir, f"error{index}.txt"), "w") as f:
            f.write(str(e))
        print(e, flush=True)
        os._exit(3)
    weights = {f"{i:03d}": np.asarray(keras.ops.convert_to_numpy(v.value))
               for i, v in enumerate(gan.weights)}
    np.savez(os.path.join(out_dir, f"worker{index}.npz"), **weights)
    print(f"worker {index} done, chief={distribute.is_chief(strategy)}",
          flush=True)
    # Collective shutdown of a multi-worker job can block; the work is done.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
