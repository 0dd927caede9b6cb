"""Weights to and from Keras's ResNet V2: the converted net computes Keras's
logits, the round trip gives back Keras's net, bad files are named."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_v2 import checkpoint_files
from resnet_v2 import cli
from resnet_v2 import record as record_lib
from resnet_v2.nets import module as module_lib
from resnet_v2.serve import convert
from resnet_v2.serve import model as model_lib

SIZE = 32


def keras_net(classes, seed=0):
  """Keras's ResNet50V2 with seeded random weights and batch-norm
  statistics far from 0 and 1 (so that epsilon and pooling matter)."""
  keras.utils.set_random_seed(seed)
  net = keras.applications.ResNet50V2(weights=None, classes=classes,
                                      input_shape=(SIZE, SIZE, 3))
  rng = np.random.default_rng(seed)
  for layer in net.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      shape = layer.get_weights()[0].shape
      layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, .2, shape),
                         rng.normal(0, .2, shape), rng.uniform(.5, 2, shape)])
  return net


def keras_logits(net, images):
  features = keras.Model(net.input, net.get_layer('avg_pool').output)(
      images).numpy()
  kernel, bias = net.get_layer('predictions').get_weights()
  return features @ kernel + bias


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
  """(Keras net, its .keras file, the model dir converted from it)."""
  folder = tmp_path_factory.mktemp('convert')
  net = keras_net(10)
  path = str(folder / 'resnet50v2.keras')
  net.save(path)
  output = str(folder / 'converted')
  record = convert.from_keras(path, output)
  return net, path, output, record


IMAGES = np.random.default_rng(1).uniform(-1, 1, (3, SIZE, SIZE, 3)).astype(
    np.float32)


def test_the_converted_net_computes_keras_logits(converted):
  net, _, output, record = converted
  assert record.model == 'resnet_v2_50' and record.conventions == 'keras'
  assert record.num_classes == 10 and record.image_size == SIZE
  expected = keras_logits(net, IMAGES)
  model = model_lib.Model.load(output)
  got = model.run(IMAGES, ('logits',))['logits']
  scale = np.abs(expected).max()
  assert np.abs(got - expected).max() <= 1e-4 * scale
  # TF-Slim's conventions on the same weights move the logits: the
  # recorded conventions are what makes them match.
  slim = model_lib.Model(model.record.replace(conventions='tf_slim'))
  moved = slim.run(IMAGES, ('logits',))['logits']
  assert np.abs(moved - expected).max() > 100 * np.abs(got - expected).max()


@pytest.mark.parametrize('suffix', ['.keras', '.weights.h5'])
def test_the_round_trip_gives_keras_its_net_back(converted, tmp_path, suffix):
  net, _, output, _ = converted
  path = str(tmp_path / ('back' + suffix))
  info = convert.to_keras(path, model_dir=output)
  assert info == {'model': 'resnet_v2_50', 'keras': 'ResNet50V2',
                  'classes': 10, 'conventions': 'keras'}
  if suffix == '.keras':
    back = keras.saving.load_model(path)
  else:
    back = keras.applications.ResNet50V2(weights=path, classes=10,
                                         input_shape=(SIZE, SIZE, 3))
  np.testing.assert_allclose(back(IMAGES).numpy(), net(IMAGES).numpy(),
                             rtol=0, atol=1e-6)
  # And into a model dir again: the same weights under the same names.
  again = str(tmp_path / 'again')
  assert convert.from_keras(path, again).conventions == 'keras'
  first, second = (tf.train.load_checkpoint(
      record_lib.Record.from_model_dir(d).checkpoint()) for d in (output, again))
  names = first.get_variable_to_shape_map()
  assert names == second.get_variable_to_shape_map() and len(names) == 272
  for name in names:
    np.testing.assert_array_equal(first.get_tensor(name),
                                  second.get_tensor(name))


def test_background_gives_tf_slims_1001_classes_and_is_dropped_back(
    converted, tmp_path):
  net, path, _, _ = converted
  output = str(tmp_path / 'with_background')
  record = convert.from_keras(path, output, background=True)
  assert record.num_classes == 11
  logits = model_lib.Model.load(output).run(IMAGES, ('logits',))['logits']
  expected = keras_logits(net, IMAGES)
  np.testing.assert_allclose(logits[:, 1:], expected, atol=1e-4 *
                             np.abs(expected).max())
  assert (logits[:, 0] < logits[:, 1:].min(1) - 50).all()


def test_imagenet_classes_are_named_and_background_dropped_for_keras(
    tmp_path):
  net = keras_net(1000, seed=2)
  path = str(tmp_path / 'imagenet.weights.h5')
  net.save_weights(path)
  output = str(tmp_path / 'slim')
  record = convert.from_keras(path, output, background=True)
  # A weights-only file: the net is recognised by its layers.
  assert record.num_classes == 1001 and record.class_names[:2] == [
      'background', 'tench']
  assert record.image_size == 224
  back = str(tmp_path / 'back.keras')
  assert convert.to_keras(back, model_dir=output)['classes'] == 1000
  restored = keras.saving.load_model(back)
  assert restored.input_shape == (None, 224, 224, 3)
  for got, expected in zip(restored.get_weights(), net.get_weights()):
    np.testing.assert_array_equal(got, expected)


def test_keras_2s_weights_only_h5_as_keras_downloads_it(converted, tmp_path):
  # keras.applications' ImageNet files (resnet50v2_weights_tf_dim_ordering_
  # tf_kernels.h5) are Keras 2 weights-only HDF5, stored by layer name.
  import h5py  # pylint: disable=g-import-not-at-top
  from keras.src.legacy.saving import legacy_h5_format  # pylint: disable=g-import-not-at-top
  net = converted[0]
  path = str(tmp_path / 'resnet50v2_weights_tf_dim_ordering_tf_kernels.h5')
  with h5py.File(path, 'w') as handle:
    legacy_h5_format.save_weights_to_hdf5_group(handle, net)
  output = str(tmp_path / 'from_h5')
  record = convert.from_keras(path, output)
  assert (record.model, record.num_classes, record.conventions) == (
      'resnet_v2_50', 10, 'keras')
  reader = tf.train.load_checkpoint(
      record_lib.Record.from_model_dir(output).checkpoint())
  kernel, bias = net.get_layer('predictions').get_weights()
  np.testing.assert_array_equal(
      reader.get_tensor('resnet_v2_50/logits/weights')[0, 0], kernel)
  np.testing.assert_array_equal(
      reader.get_tensor('resnet_v2_50/block3/unit_6/bottleneck_v2/conv2/'
                        'BatchNorm/moving_variance'),
      net.get_layer('conv4_block6_2_bn').get_weights()[3])


def test_a_tf_slim_checkpoint_goes_to_keras_with_its_weights(tmp_path,
                                                               capsys):
  module = module_lib.ResNetModule('resnet_v2_50', 7)
  prefix = str(tmp_path / 'slim.ckpt')
  checkpoint_files.save_by_name(module.variables_by_name, prefix)
  path = str(tmp_path / 'net.keras')
  assert cli.main(['convert', '--model', 'resnet_v2_50', '--checkpoint',
                   prefix, '--output', path]) == 0
  assert 'Keras computes with its own' in capsys.readouterr().err
  net = keras.saving.load_model(path)
  for layer, names in convert.layer_map('resnet_v2_50'):
    for value, name in zip(net.get_layer(layer).get_weights(), names):
      expected = module.variables_by_name[name].numpy()
      np.testing.assert_array_equal(value, expected.reshape(value.shape))


def test_converted_weights_run_in_eval_and_predict(converted, tmp_path,
                                                   capsys):
  net, _, output, _ = converted
  rng = np.random.default_rng(4)
  data = tmp_path / 'data'
  for label in range(2):
    (data / str(label)).mkdir(parents=True)
    for index in range(3):
      tf.io.write_file(str(data / str(label) / ('%d.png' % index)),
                       tf.io.encode_png(rng.integers(0, 256, (40, 40, 3),
                                                     np.uint8)))
  model = model_lib.Model.load(output)
  paths = sorted(str(p) for p in data.rglob('*.png'))
  images = np.stack([model.read_image(p) for p in paths])
  expected = keras_logits(net, images).argmax(1)
  assert cli.main(['predict', '--model-dir', output, '--top', '1'] +
                  paths) == 0
  printed = capsys.readouterr().out.split('\n')
  top = [int(line.split()[1]) for line in printed if line.startswith('  ')]
  assert top == list(expected)
  # Class folders '0' and '1' hold the converted net's first two classes.
  record = record_lib.Record.read(output)
  record.replace(class_names=[str(i) for i in range(10)]).write(output)
  try:
    assert cli.main(['eval', '--model-dir', output, '--data', str(data),
                     '--output', str(tmp_path / 'eval')]) == 0
  finally:
    record.write(output)
  labels = np.array([int(os.path.basename(os.path.dirname(p)))
                     for p in paths])
  assert ('top-1 %.4f' % (expected == labels).mean()) in (
      capsys.readouterr().out)


@pytest.mark.parametrize('make, message', [
    (lambda path: path.write_text('x'), 'give a Keras file ending in'),
    (lambda path: keras.Sequential([keras.Input([4]), keras.layers.Dense(2)]
                                   ).save(str(path)),
     'not a Keras ResNet50V2, ResNet101V2 or ResNet152V2'),
])
def test_a_file_that_is_not_a_keras_resnet_v2_is_named(tmp_path, make,
                                                       message, capsys):
  path = tmp_path / ('model.txt' if 'ending' in message else 'model.keras')
  make(path)
  assert cli.main(['convert', '--keras', str(path), '--output',
                   str(tmp_path / 'out')]) == 1
  error = capsys.readouterr().err
  assert message in error and str(path) in error
  assert not os.path.exists(tmp_path / 'out')
