"""An exponential moving average of the trained weights (`--ema DECAY`).

After every step, average = d * average + (1 - d) * weight, with
d = min(decay, (1 + n) / (10 + n)) after n updates: TensorFlow's
`tf.train.ExponentialMovingAverage` with `num_updates` (early steps average
over fewer steps, so a short run is not dominated by its initial weights).
Batch-norm moving statistics are not averaged (they are averages already),
as in Keras's `use_ema` and TF-Slim's `moving_average_decay`.

How the average is used: a run's checkpoints hold the averaged weights
under the net's own names (what eval, predict, export, features, quantize,
convert and `train --checkpoint` read, unchanged) and the weights being
trained under `train_state/live/<name>` (what a resume reads back), so a
resumed run continues exactly. Validation, and so best/, run on the
averaged weights (`swapped`).
"""

import contextlib

import tensorflow as tf

LIVE_PREFIX = 'train_state/live/'


class WeightAverage:
  """Shadow copies of `variables` and their update.

  Args:
    variables: {name: trained variable}.
    decay: The average's decay (e.g. 0.999).

  Create it in the strategy's scope: the shadows are mirrored like the
  weights.
  """

  def __init__(self, variables, decay):
    self.decay = decay
    self.variables = dict(variables)
    self.shadows = {
        name: tf.Variable(variable.read_value(), trainable=False,
                          name='ema/' + name.replace(':', '_'),
                          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        for name, variable in self.variables.items()}
    self._swap = tf.function(self._swap_values, autograph=False)

  def reset(self):
    """Sets the average to the weights (a new run, after any restore)."""
    for name, variable in self.variables.items():
      self.shadows[name].assign(variable.read_value())

  def update(self, updates_done):
    """The averaging op of one step (replica context or not).

    Args:
      updates_done: Steps already averaged, an int tensor (the global
        step before this one).
    """
    count = tf.cast(updates_done, tf.float32)
    decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
    return tf.group([
        self.shadows[name].assign(decay * self.shadows[name] +
                                  (1.0 - decay) * variable.read_value())
        for name, variable in self.variables.items()])

  def _swap_values(self):
    for name, variable in self.variables.items():
      weight = variable.read_value()
      variable.assign(self.shadows[name].read_value())
      self.shadows[name].assign(weight)

  @contextlib.contextmanager
  def swapped(self):
    """The averaged weights in the net's variables, inside the block."""
    self._swap()
    try:
      yield
    finally:
      self._swap()

  def checkpoint_names(self):
    """{checkpoint name: variable}: the averages under the net's names,
    the weights being trained under `LIVE_PREFIX` + name."""
    names = {}
    for name, variable in self.variables.items():
      names[name] = self.shadows[name]
      names[LIVE_PREFIX + name] = variable
    return names
