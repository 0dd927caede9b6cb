"""Which data trains and which validates: the policy `resnet-v2 train`
and the `Trainer` follow, kept with the data."""

from resnet_v2.data import inputs
from resnet_v2.data import sources
from resnet_v2.data import tfrecords


def training_sources(data, val_data=None, val_fraction=0.1, seed=0):
  """The training and validation sources of a dataset.

  Validation is `val_data` (its test split) when given, else what the
  source's kind says (`sources.SourceKind.validation`): CIFAR-10's
  test_batch; a seeded `val_fraction` held out of class folders or of
  IDX's train split (IDX's t10k-* is the test set: held out, never chosen
  on); TF-Slim's validation-* TFRecords beside train-*; else none.
  `val_fraction` 0 holds nothing out: all of it trains, nothing validates,
  best/ is not kept and later commands read the last checkpoint (for a
  recipe fixed beforehand, where validation would choose nothing).

  Args:
    data: What `inputs.open_source` reads.
    val_data: Optional validation data.
    val_fraction: Share of class folders / IDX train held out, in [0, 1).
    seed: Seeds the held-out choice.

  Returns:
    (train source, validation source or None, a note for the user or
    None).

  Raises:
    ValueError: on unreadable data, naming it, or a `val_fraction` outside
      [0, 1).
  """
  if not 0 <= val_fraction < 1:
    raise ValueError('`val_fraction` is %g: give a share of the training '
                     'data from 0 (none held out) up to, not including, 1.'
                     % val_fraction)
  train = inputs.open_source(data)
  if val_data:
    return train, inputs.open_source(val_data, split='test'), None
  found = sources.kind_of(train).validation
  if found == 'test split':
    return train, inputs.open_source(data, split='test'), None
  if found == 'held out' and not val_fraction:
    return train, None, (
        'note: `val_fraction` 0: all of %s trains and nothing validates; '
        'best/ is not kept, and later commands read the last checkpoint'
        % data)
  if found == 'held out':
    train, val = sources.split_source(train, val_fraction, seed)
    return train, val, None
  val = tfrecords.validation_beside(train) if found == 'beside' else None
  if val is None:
    return train, None, (
        'note: no validation data (no `val_data`, and no validation-* '
        'beside %s): training without it, best/ is not kept' % data)
  return train, val, 'validating on %s' % val.path
